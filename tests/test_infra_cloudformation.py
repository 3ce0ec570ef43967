"""infra/scorer.yaml: cfn-lint clean, deploys into moto's CloudFormation, says what it must.

moto's CloudFormation creates SQS queues, the S3 bucket (with its encryption), IAM roles with
their inline policies, the ECS cluster, task definitions and service, the log group and the
security group. It skips, with a warning, the types it does not implement (queue and bucket
policies, Application Auto Scaling, CloudWatch alarms, the EventBridge Scheduler schedule), and
it ignores some properties it stores nowhere (the bucket's public access block and lifecycle
rules, the service's deployment settings). Those are asserted on the template itself, read
with cfn-lint's decoder, so every requirement is checked one way or the other.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import decode
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "scorer.yaml"
REGION = "us-east-1"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:0123456789abcdef"
# Resource types of the template that moto 5.2's CloudFormation does not implement.
NOT_IN_MOTO = {
    "AWS::SQS::QueuePolicy",
    "AWS::S3::BucketPolicy",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::Scheduler::Schedule",
}


def cfn_lint() -> str:
    """cfn-lint from this interpreter's environment (it comes with moto[server])."""
    found = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which(
        "cfn-lint"
    )
    if found is None:
        pytest.skip("cfn-lint is not installed (pip install 'moto[server]' or cfn-lint)")
    return found


def load_template() -> dict[str, Any]:
    template, matches = decode(str(TEMPLATE))
    assert not matches, [str(m) for m in matches]
    return template


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: res for name, res in template["Resources"].items() if res["Type"] == resource_type
    }


def statements(policy_document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # moto keeps an `!If [cond, item, !Ref AWS::NoValue]` list item as null where CloudFormation
    # drops it: skip the nulls.
    return {s["Sid"]: s for s in policy_document["Statement"] if s is not None}


def environment(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["environment"] if e is not None}


def allowed_inputs(env: dict[str, str]) -> set[str]:
    """SCORER_ALLOWED_INPUT_URIS as the worker reads it (empty entries dropped)."""
    return {part for part in env["SCORER_ALLOWED_INPUT_URIS"].split(",") if part}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- cfn-lint


def test_cfn_lint_passes_on_every_template() -> None:
    templates = sorted((ROOT / "infra").glob("*.yaml"))
    assert TEMPLATE in templates
    result = subprocess.run(
        [cfn_lint(), "--", *map(str, templates)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    """The lint test can fail: a dangling !GetAtt is reported."""
    broken = TEMPLATE.read_text().replace(
        "Resource: !GetAtt DeadLetterQueue.Arn", "Resource: !GetAtt NoSuchQueue.Arn", 1
    )
    (tmp_path / "broken.yaml").write_text(broken)
    result = subprocess.run(
        [cfn_lint(), "--", str(tmp_path / "broken.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "NoSuchQueue" in result.stdout


# ---------------------------------------------------------------- deployed into moto


def deploy(parameters: dict[str, str]) -> dict[str, Any]:
    """Create the stack in moto (inside an active mock) and return its outputs by key."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    params = {"ImageUri": IMAGE, "VpcId": vpc_id, "SubnetIds": ",".join(subnets), **parameters}
    cfn = boto3.client("cloudformation", region_name=REGION)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfn.create_stack(
            StackName="scorer",
            TemplateBody=TEMPLATE.read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
    skipped = {
        line.split("Tried to parse ")[1].split(" but")[0]
        for line in (str(w.message) for w in caught)
        if "Tried to parse" in line
    }
    # If moto learns a type, or the template gains one moto lacks, revisit the assertions.
    assert skipped <= NOT_IN_MOTO, skipped - NOT_IN_MOTO
    stack = cfn.describe_stacks(StackName="scorer")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def role_policy(role_name_part: str, policy_name: str) -> dict[str, Any]:
    iam = boto3.client("iam", region_name=REGION)
    (role,) = [r for r in iam.list_roles()["Roles"] if role_name_part in r["RoleName"]]
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=policy_name)
    # moto's CloudFormation stores an inline policy given as a mapping as its Python repr.
    text = document["PolicyDocument"]
    return ast.literal_eval(text) if isinstance(text, str) else text


def task_definition(family: str) -> dict[str, Any]:
    ecs = boto3.client("ecs", region_name=REGION)
    return ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]


@mock_aws
def test_stack_creates_queue_with_dlq_redrive_and_encrypted_private_bucket() -> None:
    outputs = deploy({})
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    dlq = sqs.get_queue_attributes(QueueUrl=outputs["DeadLetterQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(queue["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
    assert queue["SqsManagedSseEnabled"] == "true"
    assert dlq["SqsManagedSseEnabled"] == "true"
    assert queue["VisibilityTimeout"] == "120"
    assert queue["ReceiveMessageWaitTimeSeconds"] == "20"
    assert dlq["MessageRetentionPeriod"] == "1209600"

    s3 = boto3.client("s3", region_name=REGION)
    bucket = outputs["ResultsBucketName"]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # moto's CloudFormation stores no public access block: asserted on the template below.
    assert outputs["OutputUri"] == f"s3://{bucket}/results"

    ecs = boto3.client("ecs", region_name=REGION)
    (cluster_arn,) = ecs.list_clusters()["clusterArns"]
    assert cluster_arn.endswith("/" + outputs["ClusterName"])
    (service,) = ecs.describe_services(cluster=cluster_arn, services=[outputs["ServiceName"]])[
        "services"
    ]
    assert service["taskDefinition"].split("/")[-1].startswith("scorer-worker:")


@mock_aws
def test_worker_task_definition_and_role_with_defaults() -> None:
    """Defaults: the model shipped in the image, no bulk inputs, no backfill schedule."""
    outputs = deploy({})
    task = task_definition(outputs["WorkerTaskDefinitionFamily"])
    (container,) = task["containerDefinitions"]
    assert container["name"] == "worker"
    assert container["image"] == IMAGE
    env = environment(container)
    assert env["SCORER_QUEUE_URL"] == outputs["QueueUrl"]
    assert env["SCORER_DLQ_URL"] == outputs["DeadLetterQueueUrl"]
    assert env["SCORER_OUTPUT_URI"] == outputs["OutputUri"]
    assert env["SCORER_MODEL_URI"] == "/app/models/default"
    assert env["SCORER_VISIBILITY_TIMEOUT"] == "120"
    bucket = outputs["ResultsBucketName"]
    # Staged submits under {output}/{job}/_staging/ need no entry: the worker allows them.
    assert allowed_inputs(env) == {f"s3://{bucket}/staging/"}
    assert float(env["SCORER_DRAIN_TIMEOUT"]) < 120
    assert "/healthz" in " ".join(container["healthCheck"]["command"])

    policy = statements(role_policy("WorkerTaskRole", "WorkerTaskPolicy"))
    assert set(policy) == {
        "ConsumeRequestQueue",
        "SendToDeadLetterQueue",
        "ReadStagedInputs",
        "WriteResults",
        "NeverJobBookkeepingOrStagedInputs",
        "OwnTaskScaleInProtection",
    }
    assert policy["ReadStagedInputs"]["Resource"] == [
        f"arn:aws:s3:::{bucket}/results/*/_staging/*",
        f"arn:aws:s3:::{bucket}/staging/*",
    ]
    assert policy["WriteResults"]["Resource"] == f"arn:aws:s3:::{bucket}/results/*.jsonl.gz"
    deny = policy["NeverJobBookkeepingOrStagedInputs"]
    assert deny["Effect"] == "Deny"
    assert sorted(deny["Resource"]) == sorted(
        f"arn:aws:s3:::{bucket}/results/*/{name}"
        for name in ("_manifest.json", "_SUCCESS", "_staging/*")
    )
    iam = boto3.client("iam", region_name=REGION)
    assert not [r for r in iam.list_roles()["Roles"] if "Backfill" in r["RoleName"]]


@mock_aws
def test_worker_policy_with_inputs_s3_model_and_backfill() -> None:
    outputs = deploy(
        {
            "InputPrefixes": "reviews-in/incoming/,archive-bucket/2024/",
            "ModelVersion": "v7",
            "BackfillBucketName": "reviews-in",
            "BackfillKeyPrefix": "incoming/",
        }
    )
    bucket = outputs["ResultsBucketName"]
    task = task_definition(outputs["WorkerTaskDefinitionFamily"])
    env = environment(task["containerDefinitions"][0])
    assert env["SCORER_MODEL_URI"] == f"s3://{bucket}/models/v7/"
    assert allowed_inputs(env) == {
        f"s3://{bucket}/staging/",
        "s3://reviews-in/incoming/",
        "s3://archive-bucket/2024/",
    }
    backfill_env = environment(
        task_definition(outputs["BackfillTaskDefinitionFamily"])["containerDefinitions"][0]
    )
    assert backfill_env["SCORER_MODEL_URI"] == env["SCORER_MODEL_URI"]

    policy = statements(role_policy("WorkerTaskRole", "WorkerTaskPolicy"))
    assert sorted(policy["ReadInputPrefixes"]["Resource"]) == [
        "arn:aws:s3:::archive-bucket/2024/*",
        "arn:aws:s3:::reviews-in/incoming/*",
    ]
    assert policy["ReadBackfillInput"]["Resource"] == "arn:aws:s3:::reviews-in/incoming/*"
    assert policy["ReadModel"]["Resource"] == f"arn:aws:s3:::{bucket}/models/v7/*"
    assert policy["ListModel"]["Action"] == "s3:ListBucket"
    assert policy["ListModel"]["Condition"]["StringLike"]["s3:prefix"] == [
        "models/v7",
        "models/v7/*",
    ]
    cluster = outputs["ClusterName"]
    assert policy["OwnTaskScaleInProtection"]["Resource"].endswith(f":task/{cluster}/*")

    backfill = statements(role_policy("BackfillTaskRole", "BackfillTaskPolicy"))
    assert backfill["EnqueueRequests"]["Action"] == "sqs:SendMessage"
    assert backfill["ListBackfillInput"]["Resource"] == "arn:aws:s3:::reviews-in"
    assert backfill["ListBackfillInput"]["Condition"]["StringLike"]["s3:prefix"] == "incoming/*"
    # Its own job only: the stable job id of every nightly run.
    job = f"arn:aws:s3:::{bucket}/results/nightly-backfill"
    assert backfill["ReadOwnJob"]["Resource"] == f"{job}/*"
    assert backfill["WriteJobManifest"]["Resource"] == f"{job}/_manifest.json"
    assert backfill["DropSuccessMarker"]["Resource"] == f"{job}/_SUCCESS"
    assert backfill["ReadModelCard"]["Resource"] == f"arn:aws:s3:::{bucket}/models/v7/model.json"
    scheduler = statements(role_policy("SchedulerRole", "RunBackfillTask"))
    assert all(
        r.split(":")[-1].startswith("task-definition/scorer-backfill")
        or r.endswith("task-definition/scorer-backfill:*")
        for r in scheduler["RunBackfillTask"]["Resource"]
    )
    passed = scheduler["PassBackfillRoles"]["Resource"]
    assert len(passed) == 2 and any("TaskExecutionRole" in r for r in passed)
    assert (
        task_definition(outputs["BackfillTaskDefinitionFamily"])["containerDefinitions"][0]["name"]
        == "backfill"
    )


# ---------------------------------------------------------------- what moto cannot show


def test_template_resource_types_moto_skips_are_the_expected_ones() -> None:
    types = {r["Type"] for r in load_template()["Resources"].values()}
    assert types >= NOT_IN_MOTO


def test_bucket_is_private_tls_only_and_cleans_up_after_itself() -> None:
    template = load_template()
    bucket = template["Resources"]["ResultsBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"] if "Id" in r}
    days = rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"]
    assert 1 <= days["DaysAfterInitiation"] <= 7
    assert rules["ExpireStaging"]["Prefix"] == {"Ref": "StagingPrefix"}
    assert "EnableVersioning" in json.dumps(bucket["VersioningConfiguration"])
    (policy,) = resources_of(template, "AWS::S3::BucketPolicy").values()
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_service_rolls_back_failed_deployments_and_drains_on_stop() -> None:
    template = load_template()
    service = template["Resources"]["Service"]["Properties"]
    breaker = service["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
    assert breaker == {"Enable": True, "Rollback": True}
    assert service["LaunchType"] == "FARGATE"
    # moto's CloudFormation does not store the task's size or roles: check them here.
    task = template["Resources"]["WorkerTaskDefinition"]["Properties"]
    params = template["Parameters"]
    assert (task["Cpu"], task["Memory"]) == ({"Ref": "TaskCpu"}, {"Ref": "TaskMemory"})
    assert (params["TaskCpu"]["Default"], params["TaskMemory"]["Default"]) == ("2048", "4096")
    assert task["TaskRoleArn"] == {"Fn::GetAtt": ["WorkerTaskRole", "Arn"]}
    assert task["ExecutionRoleArn"] == {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]}
    # Left to autoscaling: a DesiredCount here would reset the task count on stack updates.
    assert "DesiredCount" not in service
    (container,) = template["Resources"]["WorkerTaskDefinition"]["Properties"][
        "ContainerDefinitions"
    ]
    assert container["StopTimeout"] == 120
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    log_group = template["Resources"]["WorkerLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_autoscaling_scales_from_zero_on_backlog_and_tracks_backlog_per_task() -> None:
    template = load_template()
    (target,) = resources_of(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert target["Properties"]["MinCapacity"] == {"Ref": "MinTasks"}
    assert template["Parameters"]["MinTasks"]["Default"] == 0
    policies = resources_of(template, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = policies["BacklogPerTaskTracking"]["Properties"]
    metrics = tracking["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    expressions = [m["Expression"] for m in metrics["Metrics"] if "Expression" in m]
    assert expressions == ["visible / tasks"]
    # Target tracking cannot leave 0 tasks (division by zero): a step policy does.
    from_zero = policies["ScaleOutFromZero"]["Properties"]
    assert from_zero["PolicyType"] == "StepScaling"
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    alarm = alarms["ScaleOutFromZeroAlarm"]["Properties"]
    assert alarm["AlarmActions"] == [{"Ref": "ScaleOutFromZero"}]
    assert "FILL(tasks, 0) == 0" in json.dumps(alarm["Metrics"])
    to_zero = policies["ScaleInToZero"]["Properties"]["StepScalingPolicyConfiguration"]
    assert to_zero["AdjustmentType"] == "ExactCapacity"
    assert to_zero["StepAdjustments"][0]["ScalingAdjustment"] == 0


def test_alarms_on_dlq_depth_and_oldest_message_age() -> None:
    alarms = resources_of(load_template(), "AWS::CloudWatch::Alarm")
    dlq = alarms["DeadLetterQueueAlarm"]["Properties"]
    assert dlq["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dlq["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}
    assert (dlq["ComparisonOperator"], dlq["Threshold"]) == ("GreaterThanThreshold", 0)
    age = alarms["OldestMessageAgeAlarm"]["Properties"]
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert age["Threshold"] == {"Ref": "OldestMessageAgeThresholdSeconds"}
    for alarm in (dlq, age):
        assert "HasAlarmTopic" in json.dumps(alarm["AlarmActions"])


def test_backfill_schedule_runs_scorer_backfill_as_an_ecs_task() -> None:
    template = load_template()
    (schedule,) = resources_of(template, "AWS::Scheduler::Schedule").values()
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == {"Ref": "BackfillScheduleExpression"}
    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}
    assert target["EcsParameters"]["LaunchType"] == "FARGATE"
    # The overrides are JSON with ${...} placeholders: substitute and parse them.
    text, variables = target["Input"]["Fn::Sub"]
    job_id = template["Mappings"]["Backfill"]["Job"]["Id"]
    assert variables == {"JobId": {"Fn::FindInMap": ["Backfill", "Job", "Id"]}}
    text = text.replace("${BackfillBucketName}", "b").replace("${BackfillKeyPrefix}", "p/")
    (override,) = json.loads(text.replace("${JobId}", job_id))["containerOverrides"]
    assert override["name"] == "backfill"
    # The same job on every run: what makes a second run with nothing new enqueue nothing.
    assert override["command"] == ["backfill", "s3://b/p/", "--job-id", "nightly-backfill"]


def test_outputs_name_what_deploys_and_operators_need() -> None:
    outputs = load_template()["Outputs"]
    for key in (
        "QueueUrl",
        "DeadLetterQueueUrl",
        "ResultsBucketName",
        "ClusterName",
        "ServiceName",
    ):
        assert key in outputs
