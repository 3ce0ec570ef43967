"""infra/scorer.yaml's optional `scorer serve` block: absent by default; with a scheme, a load
balancer with its own /readyz health check in front of a `serve` service of 0 tasks by default.
"""

from __future__ import annotations

import boto3
from moto import mock_aws
from test_infra_cloudformation import REGION, deploy, environment, load_template, task_definition


@mock_aws
def test_no_serve_resources_by_default() -> None:
    outputs = deploy({})
    assert "ServeUrl" not in outputs
    assert (
        boto3.client("elbv2", region_name=REGION).describe_load_balancers()["LoadBalancers"] == []
    )
    ecs = boto3.client("ecs", region_name=REGION)
    (cluster,) = ecs.list_clusters()["clusterArns"]
    assert not [arn for arn in ecs.list_services(cluster=cluster)["serviceArns"] if "serve" in arn]


@mock_aws
def test_serve_service_behind_an_internal_load_balancer_checked_on_readyz() -> None:
    outputs = deploy({"ServeScheme": "internal", "ServeDesiredCount": "1"})
    elbv2 = boto3.client("elbv2", region_name=REGION)
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    assert balancer["Scheme"] == "internal"
    assert outputs["ServeUrl"] == f"http://{balancer['DNSName']}"
    (group,) = elbv2.describe_target_groups()["TargetGroups"]
    assert group["HealthCheckPath"] == "/readyz" and group["Port"] == 8000
    assert group["TargetType"] == "ip"
    (listener,) = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == group["TargetGroupArn"]

    task = task_definition("scorer-serve")
    (container,) = task["containerDefinitions"]
    assert container["command"] == ["serve"]
    assert container["portMappings"][0]["containerPort"] == 8000
    assert environment(container)["SCORER_SERVE_PORT"] == "8000"
    assert "8000/healthz" in " ".join(container["healthCheck"]["command"])

    ecs = boto3.client("ecs", region_name=REGION)
    (cluster,) = ecs.list_clusters()["clusterArns"]
    (service,) = ecs.describe_services(cluster=cluster, services=["scorer-serve"])["services"]
    assert service["desiredCount"] == 1
    # moto's CloudFormation does not keep the service's load balancers: read the template.
    (attachment,) = load_template()["Resources"]["ServeService"]["Properties"]["LoadBalancers"]
    assert attachment == {
        "ContainerName": "serve",
        "ContainerPort": 8000,
        "TargetGroupArn": {"Ref": "ServeTargetGroup"},
    }


def test_serve_runs_zero_tasks_unless_asked_and_drains_within_its_stop_timeout() -> None:
    template = load_template()
    assert template["Parameters"]["ServeScheme"]["Default"] == "none"
    assert template["Parameters"]["ServeDesiredCount"]["Default"] == 0
    serve = [name for name in template["Resources"] if name.startswith("Serve")]
    assert all(template["Resources"][name]["Condition"] == "HasServe" for name in serve)
    (container,) = template["Resources"]["ServeTaskDefinition"]["Properties"][
        "ContainerDefinitions"
    ]
    drain = {e["Name"]: e["Value"] for e in container["Environment"]}["SCORER_SERVE_DRAIN_TIMEOUT"]
    group = template["Resources"]["ServeTargetGroup"]["Properties"]
    delay = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}[
        "deregistration_delay.timeout_seconds"
    ]
    assert int(delay) < float(drain) < container["StopTimeout"]
