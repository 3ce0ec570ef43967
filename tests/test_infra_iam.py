"""The worker's task role allows exactly the AWS calls the worker makes: no more, no less.

The calls are recorded, not listed by hand: every boto3 client of the worker gets a
`before-call` hook, and the worker's own code paths run against moto in-process (the queue
with the DLQ URL the stack sets, receive, visibility, batched delete, dead-lettering, depth,
a streamed S3 input, small and multipart result objects, a model downloaded from S3).
tests/test_infra_deployed.py then runs the same paths with the deployed role, IAM enforced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import Stack
from test_infra_cloudformation import load_template, resources_of

from schemas.uris import parse_s3_uri
from worker import aws
from worker.model import download_model
from worker.processing import BatchProcessor
from worker.scoring import BatchingScorer
from worker.sqs import GroupedDeleter, SqsQueue

#: IAM action for each API operation (several operations share one action).
IAM_ACTION = {
    ("sqs", "GetQueueAttributes"): "sqs:GetQueueAttributes",
    ("sqs", "ReceiveMessage"): "sqs:ReceiveMessage",
    ("sqs", "DeleteMessage"): "sqs:DeleteMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibility"): "sqs:ChangeMessageVisibility",
    ("sqs", "SendMessage"): "sqs:SendMessage",
    ("s3", "GetObject"): "s3:GetObject",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "PutObject"): "s3:PutObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "AbortMultipartUpload"): "s3:AbortMultipartUpload",
}
#: Calls made outside boto3: the ECS agent's task-protection endpoint acts for the task role.
AGENT_ACTIONS = {"ecs:UpdateTaskProtection"}
#: Multipart uploads are aborted only when one fails; s3transfer does it, so allow it.
ON_FAILURE_ACTIONS = {"s3:AbortMultipartUpload"}


def _record_calls(calls: set[tuple[str, str]]) -> None:
    for service in ("sqs", "s3"):
        client = aws.client(service)
        name = service

        def hook(model: Any, name: str = name, **_: Any) -> None:
            calls.add((name, model.name))

        client.meta.events.register("before-call.*.*", hook)


def worker_actions(stack: Stack, model_dir: Path, tmp_path: Path) -> set[str]:
    calls: set[tuple[str, str]] = set()
    _record_calls(calls)
    queue = SqsQueue.connect(stack.queue_url, stack.dlq_url)  # the stack sets SCORER_DLQ_URL
    stack.send({"version": 1, "job_id": "j", "records": [{"id": "1", "text": "good"}]})
    stack.send("not json")
    messages = queue.receive(10, 0, 30)
    queue.change_visibility(messages[0], 30)
    GroupedDeleter(queue).delete(messages[0])
    queue.send_to_dlq(messages[1], "poison")
    queue.depth()

    lines = "".join(json.dumps({"id": str(i), "text": "good " * 600}) + "\n" for i in range(3000))
    uri = stack.put("inputs/big.jsonl", lines.encode())
    scorer = BatchingScorer(lambda texts: np.full(len(texts), 0.9, dtype=np.float32), 256, 1)
    processor = BatchProcessor(
        scorer,
        "v",
        0.5,
        parse_s3_uri(stack.output_uri),
        [parse_s3_uri(f"s3://{stack.bucket}/inputs")],
        100,
        10_000,
        10**9,
        131_072,
        part_size=5 * 1024 * 1024,
    )
    processor.process(
        json.dumps(
            {
                "version": 1,
                "job_id": "j",
                "batch_id": "big",
                "input": {"uri": uri, "format": "jsonl"},
            }
        )
    )
    processor.process(
        json.dumps(
            {
                "version": 1,
                "job_id": "j",
                "batch_id": "small",
                "records": [{"id": "a", "text": "x"}],
            }
        )
    )
    scorer.close()
    for path in model_dir.rglob("*"):
        if path.is_file():
            stack.put(f"models/v1/{path.relative_to(model_dir)}", path.read_bytes())
    download_model(f"s3://{stack.bucket}/models/v1", tmp_path / "model")

    unknown = {call for call in calls if call not in IAM_ACTION}
    assert not unknown, f"map these operations to IAM actions: {unknown}"
    return {IAM_ACTION[call] for call in calls}


def _branch(statement: Any) -> dict[str, Any] | None:
    """The statement as deployed with an S3 model (the `!If` true branch), None for NoValue."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        return _branch(statement["Fn::If"][1])
    if isinstance(statement, dict) and statement.get("Ref") == "AWS::NoValue":
        return None
    return statement


def policy_actions() -> set[str]:
    roles = resources_of(load_template(), "AWS::IAM::Role")
    policies = [
        policy
        for role in roles.values()
        for policy in role["Properties"].get("Policies", [])
        if policy["PolicyName"] == "WorkerTaskPolicy"
    ]
    assert len(policies) == 1
    actions: set[str] = set()
    for raw in policies[0]["PolicyDocument"]["Statement"]:
        statement = _branch(raw)
        if statement is None:
            continue
        if statement["Effect"] == "Deny":
            continue  # guards (NeverJobBookkeepingOrStagedInputs) allow nothing
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    return actions


@pytest.mark.usefixtures("inprocess_stack")
def test_task_role_allows_exactly_the_calls_the_worker_makes(
    inprocess_stack: Stack, tiny_model_dir: Path, tmp_path: Path
) -> None:
    used = worker_actions(inprocess_stack, tiny_model_dir, tmp_path)
    assert "s3:PutObject" in used and "sqs:DeleteMessage" in used  # the recording worked
    allowed = policy_actions()
    missing = used - allowed
    assert not missing, f"the worker calls these but the task role lacks them: {missing}"
    extra = allowed - used - AGENT_ACTIONS - ON_FAILURE_ACTIONS
    assert not extra, f"the task role allows calls the worker never makes: {extra}"
