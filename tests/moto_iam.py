"""moto's server with IAM enforced the way AWS enforces the policies scorer's stack uses.

moto 5.2 checks each request against the caller's IAM policies once the server has answered
`INITIAL_NO_AUTH_ACTION_COUNT` requests (`POST /moto-api/reset-auth` sets the count at run
time). Measured differences from AWS, each patched here so that a policy that works in AWS
works in this server and one that fails in AWS fails here:

- SQS batch calls are checked as `sqs:SendMessageBatch`, `sqs:DeleteMessageBatch` and
  `sqs:ChangeMessageVisibilityBatch`; AWS checks the single-message actions.
- `GetQueueUrl` is checked against `*`, and so are `StartMessageMoveTask` and
  `ListMessageMoveTasks`; AWS checks the named queue's ARN (the move task's source queue).
- Statements are matched by a regex built from the pattern without escaping (`.` matches any
  character, `?` is a regex operator), and conditions are only read for trust policies: any
  `Condition` of an identity policy makes its statement DENY, even an Allow that does not
  apply. Identity policies are evaluated here instead: `*` and `?` wildcards, Action and
  NotAction (case-insensitive), Resource and NotResource, and the condition operators the
  stack uses, with `s3:prefix` from the request (others absent, as on a call without them).
- moto's CloudFormation stores a role's inline policies as mappings, keeping an
  `!If [c, statement, !Ref AWS::NoValue]` list item as null: they are read as CloudFormation
  sends them to IAM (JSON, nulls dropped).

Not enforced here: resource-based policies. moto keeps an SQS queue policy but never consults
it (checked: a queue policy denying everyone `sqs:*` let an allowed user's SendMessage
through); moto's S3 does apply bucket policies (a deny-all bucket policy refused PutObject),
but moto's CloudFormation creates neither AWS::SQS::QueuePolicy nor AWS::S3::BucketPolicy, so
the stack's TLS-only policies are absent, and `aws:SecureTransport` would be false anyway
(the server speaks HTTP).

`python tests/moto_iam.py HOST PORT` runs the server; `IamMotoServer` starts it for a test.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from typing import Any

from worker.local.moto_fixes import apply_all
from worker.local.moto_server import wait_until_up
from worker.local.worker_process import free_port

#: SQS batch actions and the action AWS authorises each one as.
SQS_BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}

_request_context = threading.local()


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcards: `*` any run of characters (`/` included), `?` one character."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.fullmatch(regex, value, flags) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = "Not" in base
    if key not in context:
        return if_exists or negated
    actual = context[key]
    values = [str(v) for v in _as_list(expected)]
    if base in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
        match = actual in values
    elif base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        match = any(_glob(value, actual) for value in values)
    elif base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase") or base == "Bool":
        match = actual.lower() in (value.lower() for value in values)
    else:
        raise NotImplementedError(f"condition operator {operator} is not evaluated by the shim")
    return not match if negated else match


def statement_applies(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> bool:
    """Whether an identity-policy statement covers this request (its Effect then decides)."""
    if "NotAction" in statement:
        if any(_glob(p, action, ignore_case=True) for p in _as_list(statement["NotAction"])):
            return False
    elif not any(_glob(p, action, ignore_case=True) for p in _as_list(statement["Action"])):
        return False
    if "NotResource" in statement:
        if any(_glob(p, resource) for p in _as_list(statement["NotResource"])):
            return False
    elif not any(_glob(p, resource) for p in _as_list(statement.get("Resource", "*"))):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


def apply_iam_shims() -> None:
    """Patch moto's IAM checks (in this process) as the module docstring says."""
    from moto.iam import access_control
    from moto.sqs.responses import SQSResponse

    if getattr(access_control, "_scorer_shims", False):
        return
    access_control._scorer_shims = True  # type: ignore[attr-defined]
    permission = access_control.PermissionResult

    # Batch actions authorised as their single-message actions.
    original_init = access_control.IAMRequestBase.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._action = SQS_BATCH_ACTIONS.get(self._action, self._action)

    access_control.IAMRequestBase.__init__ = init  # type: ignore[method-assign]

    # GetQueueUrl authorised against the named queue, a move task against its source queue.
    original_resource = SQSResponse._determine_resource

    def determine_resource(self: Any) -> str:
        action = self._get_action()
        if action == "GetQueueUrl":
            name = self._get_param("QueueName")
            try:
                return self.sqs_backend.get_queue(name).queue_arn
            except Exception:  # no such queue: moto answers that itself
                return "*"
        if action in ("StartMessageMoveTask", "ListMessageMoveTasks"):
            return self._get_param("SourceArn") or "*"
        return original_resource(self)

    SQSResponse._determine_resource = determine_resource  # type: ignore[method-assign]

    # The request's condition keys, for the statement evaluation below.
    original_check = access_control.IAMRequestBase.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        query = urllib.parse.urlsplit(self._path).query
        params = urllib.parse.parse_qs(query, keep_blank_values=True)
        context = {}
        if self._action == "s3:ListBucket" and "prefix" in params:
            context["s3:prefix"] = params["prefix"][0]
        _request_context.value = context
        try:
            original_check(self, resource)
        finally:
            _request_context.value = {}

    access_control.IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]

    # Identity-policy statements evaluated as AWS does; trust policies as moto does.
    original_statement = access_control.IAMPolicyStatement.is_action_permitted

    def is_action_permitted(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        if principal is not None:
            return original_statement(self, action, resource, principal, incoming_condition_values)
        context = getattr(_request_context, "value", {})
        if not statement_applies(self._statement, action, resource, context):
            return permission.NEUTRAL
        return permission.PERMITTED if self._statement["Effect"] == "Allow" else permission.DENIED

    access_control.IAMPolicyStatement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]

    # Inline role policies stored by CloudFormation as mappings (with nulls).
    original_policy_init = access_control.IAMPolicy.__init__

    def policy_init(self: Any, policy: Any) -> None:
        if isinstance(policy, dict) and "Statement" in policy:
            self._policy_json = _drop_nulls(policy)
            return
        original_policy_init(self, policy)
        self._policy_json = _drop_nulls(self._policy_json)

    access_control.IAMPolicy.__init__ = policy_init  # type: ignore[method-assign]


def serve(host: str, port: int) -> None:
    """moto's server with the project's moto fixes and the IAM shims; blocks."""
    apply_all()
    apply_iam_shims()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import main

    main(["-H", host, "-p", str(port)])


class IamMotoServer:
    """The server above as a child process on 127.0.0.1; IAM off until `enforce()`."""

    def __init__(self) -> None:
        self.endpoint = f"http://127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "127.0.0.1", self.endpoint.rsplit(":", 1)[1]],
            env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "inf"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until_up(self.endpoint, self.process, timeout=60)
        except RuntimeError:
            raise RuntimeError(f"moto did not start:\n{self.stop()}") from None

    def _post(self, path: str, data: bytes = b"") -> Any:
        request = urllib.request.Request(
            f"{self.endpoint}{path}",
            data=data,
            method="POST",
            headers={"Content-Type": "text/plain"},  # a form body would be parsed away
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def enforce(self) -> None:
        """From the next request on, every call is checked against its caller's policies."""
        self._post("/moto-api/reset-auth", b"0")

    def stop(self) -> str:
        """Stops the server; returns what it printed on stderr (tracebacks included)."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err or ""


__all__ = ["IamMotoServer", "apply_iam_shims", "serve", "statement_applies"]

if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
