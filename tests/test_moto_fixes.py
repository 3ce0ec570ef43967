"""The harness's moto fixes (worker/local/moto_fixes.py) change its cost, never its answers."""

from __future__ import annotations

import hashlib
from typing import Any

from moto.core.responses import BaseResponse


def test_message_checks_give_moto_answers(inprocess_stack: Any) -> None:
    stack = inprocess_stack
    body = "é" * 1000 + " a review"
    answer = stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    assert answer["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()

    received = stack.sqs.receive_message(QueueUrl=stack.queue_url, VisibilityTimeout=30)
    (message,) = received["Messages"]  # botocore checks the MD5 of the body it got
    assert message["Body"] == body
    assert "Messages" not in stack.sqs.receive_message(QueueUrl=stack.queue_url)  # in flight

    stack.sqs.change_message_visibility(
        QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    again = stack.sqs.receive_message(QueueUrl=stack.queue_url)["Messages"]
    assert [m["MessageId"] for m in again] == [message["MessageId"]]

    stack.sqs.send_message(QueueUrl=stack.queue_url, MessageBody="later", DelaySeconds=60)
    attributes = stack.sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_request_ids_are_still_written_into_xml_and_headers(inprocess_stack: Any) -> None:
    headers: dict[str, str] = {"status": 200}  # type: ignore[dict-item]
    _, xml = BaseResponse._enrich_response(headers, "<R><RequestId>old</RequestId></R>")
    request_id = headers["x-amzn-requestid"]
    assert xml == f"<R><RequestId>{request_id}</RequestId></R>"
    assert headers["status"] == "200"

    headers = {}
    _, body = BaseResponse._enrich_response(headers, '{"QueueUrl": "<q>"}')
    assert body == '{"QueueUrl": "<q>"}' and len(headers["x-amzn-requestid"]) == 52


def test_fixes_refuse_another_moto_release(monkeypatch: Any) -> None:
    """The fixes patch private internals of one release: another must fail loudly, not drift."""
    import moto
    import pytest

    from worker.local import moto_fixes

    monkeypatch.setattr(moto, "__version__", "5.3.0")
    with pytest.raises(RuntimeError, match=r"moto 5\.3\.0 is installed.*moto\[server\]==5\.2\.5"):
        moto_fixes.apply_all()
