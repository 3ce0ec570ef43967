"""The stack as deployed: every user path, run as the role the template gives it, IAM enforced.

infra/scorer.yaml is deployed into moto's CloudFormation (a moto server of this test's own,
tests/moto_iam.py, which enforces IAM as AWS does for these policies). Then, from what was
deployed, never from copies here:
- the worker runs with the worker task definition's environment and the image's command,
  under WorkerTaskRole's credentials; the backfill runs the schedule's command with the
  backfill task definition's environment under BackfillTaskRole's;
- producers (`scorer submit`, `status`, `dlq list` and `redrive`, reading results) run as a
  user with nothing but the stack's ProducerPolicy, attached as docs/deployment.md says.
Any `AccessDenied` in any output fails the test.

Where the test departs from ECS, and why: the worker's model path in the image (`/app/...`) is
the same folder of this checkout; the health server listens on a free port of 127.0.0.1 (8080
may be taken); long polls last 1 s (so the worker stops quickly). moto's CloudFormation does
not create the EventBridge schedule, so its command is read from the template with the
deployed parameters substituted. What moto cannot enforce is listed in tests/moto_iam.py.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto_iam import IamMotoServer
from test_infra_cloudformation import IMAGE, TEMPLATE, load_template

from worker.local.worker_process import free_port
from worker.log_events import LogEvent

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
SCORER = str(Path(sys.executable).parent / "scorer")
BACKFILL_BUCKET = "reviews-in"
BACKFILL_PREFIX = "incoming/"
#: A review of about the length of an IMDB review (~1,300 characters): 1,000 of them make a
#: batch over SQS's 1 MiB, which `scorer submit` therefore stages in S3.
REVIEW_CHARS = 1300


def image_command() -> tuple[list[str], list[str]]:
    """The image's ENTRYPOINT (`scorer`, as this virtualenv's script) and CMD."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()

    def last(instruction: str) -> list[str]:
        found = [line.split(None, 1)[1] for line in lines if line.startswith(instruction + " ")]
        return json.loads(found[-1])

    entrypoint = last("ENTRYPOINT")
    assert entrypoint == ["scorer"], entrypoint
    return [SCORER], last("CMD")


def in_checkout(value: str) -> str:
    """The image's /app/... (models/default is copied there) as the same path in this checkout."""
    return str(ROOT / value.removeprefix("/app/")) if value.startswith("/app/") else value


def assert_no_access_denied(what: str, text: str) -> None:
    assert "AccessDenied" not in text, f"AccessDenied in {what}:\n{text[-4000:]}"


@dataclass
class Credentials:
    key: str
    secret: str
    token: str | None = None

    def env(self) -> dict[str, str]:
        env = {"AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret}
        if self.token:
            env["AWS_SESSION_TOKEN"] = self.token
        return env


class Task:
    """A container's command as a local process: its environment, its credentials, its logs."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.output: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.output.append(line)
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if isinstance(entry, dict):
                        self.logs.append(entry)
                self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        """Until predicate(logs) holds, re-checked on each line logged (no sleeps); fails at
        once when the task logs AccessDenied (it would retry until the queue gives up)."""
        deadline = time.monotonic() + 120
        with self._changed:
            while not predicate(self.logs):
                self._fail_on_access_denied(what)
                if time.monotonic() > deadline or self.process.poll() is not None:
                    tail = "".join(self.output[-30:])
                    raise AssertionError(f"timed out waiting for {what}:\n{tail}")
                self._changed.wait(timeout=1.0)

    def watch(self, other: subprocess.Popen[str], what: str, timeout: float = 120) -> None:
        """Until `other` exits; fails at once when this task logs AccessDenied meanwhile."""

        def notify_on_exit() -> None:
            other.wait()
            with self._changed:
                self._changed.notify_all()

        threading.Thread(target=notify_on_exit, daemon=True).start()
        deadline = time.monotonic() + timeout
        with self._changed:
            while other.poll() is None:
                if "AccessDenied" in "".join(self.output) or time.monotonic() > deadline:
                    other.kill()
                self._fail_on_access_denied(what)
                self._changed.wait(timeout=1.0)

    def _fail_on_access_denied(self, what: str) -> None:
        text = "".join(self.output)
        if "AccessDenied" in text:
            raise AssertionError(
                f"AccessDenied in the task's log while waiting for {what}:\n{text[-4000:]}"
            )

    def text(self) -> str:
        with self._changed:
            return "".join(self.output)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=30)


@dataclass
class Deployed:
    """What the stack created, read back from moto, and who may do what."""

    server: IamMotoServer
    outputs: dict[str, str]
    parameters: dict[str, str]
    worker_env: dict[str, str]
    worker_command: list[str]
    backfill_env: dict[str, str]
    backfill_command: list[str]
    worker: Credentials
    backfill: Credentials
    producer: Credentials
    admin: Credentials
    tasks: list[Task] = field(default_factory=list)

    @property
    def bucket(self) -> str:
        return self.outputs["ResultsBucketName"]

    def client(self, service: str, who: Credentials) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.server.endpoint,
            aws_access_key_id=who.key,
            aws_secret_access_key=who.secret,
            aws_session_token=who.token,
        )

    def base_env(self, who: Credentials) -> dict[str, str]:
        """The process environment minus any AWS_ or SCORER_ setting of the developer's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SCORER_"))}
        env.update(who.env(), AWS_ENDPOINT_URL=self.server.endpoint, AWS_DEFAULT_REGION=REGION)
        return env

    def producer_env(self) -> dict[str, str]:
        """A producer's settings, from the stack's outputs (docs/deployment.md step 4)."""
        env = self.base_env(self.producer)
        env.update(
            SCORER_QUEUE_URL=self.outputs["QueueUrl"], SCORER_OUTPUT_URI=self.outputs["OutputUri"]
        )
        return env

    def scorer(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A producer command; fails on AccessDenied in its output or in the worker's log."""
        command = [SCORER, *args]
        what = f"scorer {' '.join(args)}"
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            process = subprocess.Popen(command, env=self.producer_env(), stdout=out, stderr=err)
            self.tasks[0].watch(process, what)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        assert_no_access_denied(what, stdout + stderr)
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def run_backfill(self, image_model: Path | None = None) -> dict[str, Any]:
        """The schedule's command in the backfill task; returns its `backfill finished` line.

        `image_model`: the model folder of another image (a new model version)."""
        env = self.base_env(self.backfill)
        env.update({k: in_checkout(v) for k, v in self.backfill_env.items()})
        env.update(self.backfill.env(), AWS_ENDPOINT_URL=self.server.endpoint)
        if image_model is not None:
            assert env["SCORER_MODEL_URI"] == str(ROOT / "models" / "default")
            env["SCORER_MODEL_URI"] = str(image_model)
        done = subprocess.run(
            image_command()[0] + self.backfill_command,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert_no_access_denied("the backfill task", output)
        assert done.returncode == 0, output
        finished = [
            entry
            for entry in map(_json_or_none, done.stdout.splitlines())
            if entry and entry.get("message") == "backfill finished"
        ]
        assert len(finished) == 1, output
        return finished[0]


def _json_or_none(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def schedule_command(parameters: dict[str, str]) -> list[str]:
    """The container command the EventBridge schedule gives RunTask, as the template says."""
    template = load_template()
    (schedule,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Scheduler::Schedule"
    ]
    text, variables = schedule["Properties"]["Target"]["Input"]["Fn::Sub"]
    values = dict(parameters)
    for name, value in variables.items():
        mapping, key, item = value["Fn::FindInMap"]
        values[name] = template["Mappings"][mapping][key][item]
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, text
    (override,) = json.loads(text)["containerOverrides"]
    assert override["name"] == "backfill"
    return override["command"]


def _deploy(server: IamMotoServer) -> Deployed:
    root = Credentials("testing", "testing")
    make = lambda service: boto3.client(  # noqa: E731
        service,
        region_name=REGION,
        endpoint_url=server.endpoint,
        aws_access_key_id=root.key,
        aws_secret_access_key=root.secret,
    )
    ec2, cfn, iam, sts, ecs, s3 = (
        make(s) for s in ("ec2", "cloudformation", "iam", "sts", "ecs", "s3")
    )
    vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    parameters = {
        "ImageUri": IMAGE,
        "VpcId": vpc_id,
        "SubnetIds": ",".join(subnets),
        "BackfillBucketName": BACKFILL_BUCKET,
        "BackfillKeyPrefix": BACKFILL_PREFIX,
    }
    cfn.create_stack(
        StackName="scorer",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cfn.describe_stacks(StackName="scorer")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName="scorer")["StackResources"]
        if "LogicalResourceId" in r  # moto lists the types it skipped without one
    }

    # Which role each task definition runs as (moto's ECS does not keep taskRoleArn).
    template = load_template()["Resources"]
    assert template["WorkerTaskDefinition"]["Properties"]["TaskRoleArn"] == {
        "Fn::GetAtt": ["WorkerTaskRole", "Arn"]
    }
    assert template["BackfillTaskDefinition"]["Properties"]["TaskRoleArn"] == {
        "Fn::GetAtt": ["BackfillTaskRole", "Arn"]
    }

    def as_role(logical_id: str) -> Credentials:
        arn = iam.get_role(RoleName=resources[logical_id])["Role"]["Arn"]
        found = sts.assume_role(RoleArn=arn, RoleSessionName=logical_id)["Credentials"]
        return Credentials(found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"])

    def container(family: str) -> dict[str, Any]:
        task = ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        (definition,) = task["containerDefinitions"]
        return definition

    worker = container(outputs["WorkerTaskDefinitionFamily"])
    backfill = container(outputs["BackfillTaskDefinitionFamily"])
    assert not worker.get("command"), "the worker runs the image's own command"

    # A producer: a user with the stack's producer policy and nothing else, attached as
    # docs/deployment.md says; an admin for the test's own setup and checks.
    iam.create_user(UserName="producer")
    iam.attach_user_policy(UserName="producer", PolicyArn=outputs["ProducerPolicyArn"])
    key = iam.create_access_key(UserName="producer")["AccessKey"]
    producer = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    iam.create_user(UserName="admin")
    everything = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(everything))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    admin = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    s3.create_bucket(Bucket=BACKFILL_BUCKET)

    def environment(definition: dict[str, Any]) -> dict[str, str]:
        return {e["name"]: e["value"] for e in definition["environment"] if e is not None}

    return Deployed(
        server=server,
        outputs=outputs,
        parameters=parameters,
        worker_env=environment(worker),
        worker_command=worker.get("command") or image_command()[1],
        backfill_env=environment(backfill),
        backfill_command=schedule_command(parameters),
        worker=as_role("WorkerTaskRole"),
        backfill=as_role("BackfillTaskRole"),
        producer=producer,
        admin=admin,
    )


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    """The stack in a moto server with IAM enforced, and the worker service's task running."""
    server = IamMotoServer()
    worker: Task | None = None
    try:
        stack = _deploy(server)
        server.enforce()
        env = stack.base_env(stack.worker)
        env.update({k: in_checkout(v) for k, v in stack.worker_env.items()})
        env.update(
            stack.worker.env(),
            AWS_ENDPOINT_URL=server.endpoint,
            SCORER_HEALTH_PORT=str(free_port()),
            SCORER_HEALTH_HOST="127.0.0.1",
            SCORER_WAIT_TIME_SECONDS="1",
        )
        worker = Task(image_command()[0] + stack.worker_command, env)
        stack.tasks.append(worker)
        yield stack
        assert worker.stop() == 0, worker.text()[-3000:]
        assert_no_access_denied("the worker's log", worker.text())
    finally:
        if worker is not None:
            worker.stop()
        server.stop()


def worker_task(stack: Deployed) -> Task:
    return stack.tasks[0]


def logged(message: str, job_id: str, count: int = 1) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda logs: (
        sum(1 for e in logs if e.get("message") == message and e.get("job_id") == job_id) >= count
    )


def read_results(stack: Deployed, key: str) -> list[dict[str, Any]]:
    """Reading results, as a producer may."""
    s3 = stack.client("s3", stack.producer)
    data = s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]


def finished_status(stack: Deployed, job_id: str) -> dict[str, Any]:
    """`scorer status JOB --wait --json` as an operator runs it: the job's final status."""
    waited = stack.scorer(
        "status", job_id, "--wait", "--timeout", "120", "--interval", "0.5", "--json"
    )
    assert waited.returncode == 0, waited.stdout + waited.stderr
    return json.loads(waited.stdout)


def reviews(count: int, start: int = 0) -> list[dict[str, str]]:
    texts = [
        json.loads(line)["text"]
        for line in (ROOT / "worker" / "data" / "sample_reviews.jsonl").read_text().splitlines()
        if line.strip()
    ]
    records = []
    for number in range(start, start + count):
        text = texts[number % len(texts)]
        records.append({"id": f"r{number:05d}", "text": ((text + " ") * 20)[:REVIEW_CHARS]})
    return records


def dlq_depth(stack: Deployed) -> int:
    sqs = stack.client("sqs", stack.admin)
    attributes = sqs.get_queue_attributes(
        QueueUrl=stack.outputs["DeadLetterQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


# ---------------------------------------------------------------- the paths


def test_inline_message_is_scored_under_the_worker_role(deployed: Deployed) -> None:
    body = {
        "version": 1,
        "job_id": "inline-1",
        "batch_id": "b1",
        "records": [
            {"id": "r1", "text": "a great film"},
            {"id": "r2", "text": "dull and too long"},
        ],
    }
    sqs = deployed.client("sqs", deployed.producer)
    sqs.send_message(QueueUrl=deployed.outputs["QueueUrl"], MessageBody=json.dumps(body))
    worker = worker_task(deployed)
    worker.wait_for(logged(LogEvent.MESSAGE_DELETED, "inline-1"), "the inline message")
    lines = read_results(deployed, "results/inline-1/b1.jsonl.gz")
    assert [line["id"] for line in lines] == ["r1", "r2"]
    assert {line["label"] for line in lines} <= {"positive", "negative"}
    assert_no_access_denied("the worker's log", worker.text())


def test_staged_submit_completes_with_every_record_scored(
    deployed: Deployed, tmp_path: Path
) -> None:
    records = reviews(1100)
    source = tmp_path / "reviews.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    submitted = deployed.scorer("submit", str(source), "--job-id", "staged-1", "--json")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    summary = json.loads(submitted.stdout)
    assert (summary["staged"], summary["inline"], summary["failed"]) == (1, 1, [])
    staged = "results/staged-1/_staging/part-00000.jsonl.gz"
    admin_s3 = deployed.client("s3", deployed.admin)
    admin_s3.head_object(Bucket=deployed.bucket, Key=staged)  # it went through S3

    status = finished_status(deployed, "staged-1")
    assert status["outcome"] == "complete"
    assert (status["done"], status["batches"], status["failed"]) == (2, 2, [])
    assert status["records_scored"] == len(records)
    assert status["records_rejected"] == 0
    assert status["success_marker"]
    scored = read_results(deployed, "results/staged-1/part-00000.jsonl.gz") + read_results(
        deployed, "results/staged-1/part-00001.jsonl.gz"
    )
    assert [line["id"] for line in scored] == [r["id"] for r in records]
    assert dlq_depth(deployed) == 0
    assert_no_access_denied("the worker's log", worker_task(deployed).text())


def put_backfill_input(stack: Deployed, name: str, records: list[dict[str, str]]) -> None:
    s3 = stack.client("s3", stack.admin)
    if name.endswith(".csv"):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["id", "text"])
        writer.writeheader()
        writer.writerows(records)
        data = buffer.getvalue().encode()
    else:
        data = "".join(json.dumps(r) + "\n" for r in records).encode()
        if name.endswith(".gz"):
            data = gzip.compress(data)
    s3.put_object(Bucket=BACKFILL_BUCKET, Key=BACKFILL_PREFIX + name, Body=data)


def test_nightly_backfill_scores_each_object_once(deployed: Deployed, tmp_path: Path) -> None:
    command = deployed.backfill_command
    job_id = command[command.index("--job-id") + 1]
    put_backfill_input(deployed, "day-1.jsonl", reviews(5, 0))
    put_backfill_input(deployed, "day-2.jsonl.gz", reviews(5, 5))
    put_backfill_input(deployed, "day-3.csv", reviews(5, 10))

    first = deployed.run_backfill()
    assert (first["objects"], first["enqueued"], first["already_scored"]) == (3, 3, 0)
    status = finished_status(deployed, job_id)
    assert (status["outcome"], status["done"], status["records_scored"]) == ("complete", 3, 15)

    second = deployed.run_backfill()
    assert (second["enqueued"], second["to_enqueue"], second["already_scored"]) == (0, 0, 3)

    put_backfill_input(deployed, "day-4.jsonl", reviews(2, 15))
    third = deployed.run_backfill()
    assert (third["objects"], third["enqueued"], third["already_scored"]) == (4, 1, 3)
    status = finished_status(deployed, job_id)
    assert (status["outcome"], status["done"], status["records_scored"]) == ("complete", 4, 17)

    # An image with a new model version: its first run rescores everything.
    card = json.loads((ROOT / "models" / "default" / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps({**card, "version": "next-version"}))
    rescore = deployed.run_backfill(image_model=tmp_path)
    assert (rescore["model_version"], rescore["enqueued"], rescore["already_scored"]) == (
        "next-version",
        4,
        0,
    )
    worker = worker_task(deployed)
    # 3 + 1 scored before, 4 rescored now: each object once per model version.
    worker.wait_for(logged(LogEvent.MESSAGE_DELETED, job_id, count=8), "the rescored objects")
    deleted = [e for e in worker.logs if e.get("message") == LogEvent.MESSAGE_DELETED]
    assert sum(1 for e in deleted if e.get("job_id") == job_id) == 8
    assert_no_access_denied("the worker's log", worker.text())


def test_poison_message_reaches_the_dlq_with_its_reason(deployed: Deployed) -> None:
    poison = {
        "version": 1,
        "job_id": "poison-1",
        "records": [{"id": "1", "text": "x"}],
        "colour": "red",
    }
    sqs = deployed.client("sqs", deployed.producer)
    sqs.send_message(QueueUrl=deployed.outputs["QueueUrl"], MessageBody=json.dumps(poison))
    worker_task(deployed).wait_for(logged(LogEvent.SENT_TO_DLQ, "poison-1"), "the poison message")
    listed = deployed.scorer("dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    (letter,) = [entry for entry in letters if entry["job_id"] == "poison-1"]
    assert "colour" in letter["reason"]

    # After a fix (none here), redrive: back to the queue, and the worker dead-letters it again.
    redriven = deployed.scorer("dlq", "redrive", "--json")
    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    assert json.loads(redriven.stdout)["moved"] == len(letters)
    worker_task(deployed).wait_for(
        logged(LogEvent.SENT_TO_DLQ, "poison-1", count=2), "the redriven poison"
    )


def test_message_naming_another_jobs_results_is_refused(deployed: Deployed) -> None:
    sqs = deployed.client("sqs", deployed.producer)
    victim = {
        "version": 1,
        "job_id": "victim",
        "batch_id": "b1",
        "records": [{"id": "v1", "text": "fine"}],
    }
    sqs.send_message(QueueUrl=deployed.outputs["QueueUrl"], MessageBody=json.dumps(victim))
    worker = worker_task(deployed)
    worker.wait_for(logged(LogEvent.MESSAGE_DELETED, "victim"), "the victim's results")
    results_uri = f"s3://{deployed.bucket}/results/victim/b1.jsonl.gz"
    thief = {
        "version": 1,
        "job_id": "thief",
        "batch_id": "b1",
        "input": {"uri": results_uri, "format": "jsonl"},
    }
    sqs.send_message(QueueUrl=deployed.outputs["QueueUrl"], MessageBody=json.dumps(thief))
    worker.wait_for(logged(LogEvent.SENT_TO_DLQ, "thief"), "the thief's message")
    (entry,) = [
        e
        for e in worker.logs
        if e.get("message") == LogEvent.SENT_TO_DLQ and e.get("job_id") == "thief"
    ]
    assert "results are never read as input" in entry["reason"]
    admin_s3 = deployed.client("s3", deployed.admin)
    listed = admin_s3.list_objects_v2(Bucket=deployed.bucket, Prefix="results/thief/")
    assert listed.get("KeyCount", 0) == 0
    assert [line["id"] for line in read_results(deployed, "results/victim/b1.jsonl.gz")] == ["v1"]


@pytest.mark.parametrize(
    ("call", "key"),
    [
        ("get_object", "results/inline-1/b1.jsonl.gz"),  # another job's results
        ("put_object", "results/inline-1/_manifest.json"),
        ("put_object", "results/inline-1/_SUCCESS"),
        ("put_object", "results/inline-1/_staging/part-00000.jsonl.gz"),
        ("put_object", "results/inline-1/notes.txt"),
    ],
)
def test_worker_role_cannot_read_results_or_write_bookkeeping(
    deployed: Deployed, call: str, key: str
) -> None:
    """Even a worker told to by a message: IAM refuses, whatever the worker's code does."""
    s3 = deployed.client("s3", deployed.worker)
    arguments: dict[str, Any] = {"Bucket": deployed.bucket, "Key": key}
    if call == "put_object":
        arguments["Body"] = b"{}"
    with pytest.raises(ClientError) as refused:
        getattr(s3, call)(**arguments)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
