"""Make moto's SQS as safe and as cheap as SQS itself: demo, local stacks, tests, benchmarks.

- moto 5.2's `Queue.delete_message` rebuilds the queue's message list without the lock that
  `send_message` appends under, so a message sent while another is being deleted can vanish
  (seen here: 3 of 250 messages lost while a worker deleted finished ones).
- Its `receive_message` checks each returned message's retention period by computing all of
  the queue's attributes, which counts every message in the queue: a receive costs
  O(messages in queue) per message returned (profiled: 13 ms of moto CPU per 130 KB message
  received from a queue of 250). The fix reads the one attribute it needs.
- The rest is CPU that real SQS and S3 spend on their own servers but moto spends on the
  cores the worker and the benchmarks share (profiled with py-spy during 250 inline messages
  of 130 KB: moto used 2.6-3.4 of the ~9 CPU-seconds): every message's visibility check
  builds two datetimes; a message's MD5 is recomputed at every send and receive; every
  response body, JSON included, is scanned by a look-behind regex for an XML `<RequestId>`;
  every request lists moto's package folder to find its backend; every JSON body is also
  unquoted as a query string; werkzeug logs every request.
  Each fix below gives the same answers, cheaper.
Real SQS does none of this; without these the tests and benchmarks would measure moto, not us.
"""

from __future__ import annotations

import functools
import hashlib
import urllib.parse
from typing import Any


def make_sqs_deletes_atomic() -> None:
    from moto.sqs.models import Queue

    original = Queue.delete_message
    if getattr(original, "_holds_queue_lock", False):
        return

    @functools.wraps(original)
    def delete_message(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            original(self, receipt_handle)

    delete_message._holds_queue_lock = True  # type: ignore[attr-defined]
    Queue.delete_message = delete_message  # type: ignore[method-assign]


def make_sqs_retention_check_cheap() -> None:
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    if getattr(SQSBackend.is_message_valid_based_on_retention_period, "_cheap", False):
        return

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    is_message_valid_based_on_retention_period._cheap = True  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )


def make_sqs_message_checks_cheap() -> None:
    """Visibility and delay from `time.time()` (what moto's datetime arithmetic computes), and
    the body's MD5 computed once per message (bodies never change)."""
    import time

    from moto.sqs.models import Message

    if getattr(Message, "_cheap_checks", False):
        return

    def body_md5(self: Any) -> str:
        cached = self.__dict__.get("_body_md5")
        if cached is None or cached[0] is not self.body:
            cached = (self.body, hashlib.md5(self.body.encode("utf-8")).hexdigest())
            self.__dict__["_body_md5"] = cached
        return cached[1]

    Message.visible = property(lambda self: time.time() * 1000.0 > self.visible_at)  # type: ignore[method-assign,assignment]
    Message.delayed = property(lambda self: time.time() * 1000.0 < self.delayed_until)  # type: ignore[method-assign,assignment]
    Message.body_md5 = property(body_md5)  # type: ignore[method-assign,assignment]
    Message._cheap_checks = True  # type: ignore[attr-defined]


def make_request_dispatch_cheap() -> None:
    """Skip the `<RequestId>` regex on bodies without one (JSON answers, S3 objects), and list
    moto's backends once instead of once per request."""
    from moto import backends
    from moto.core import responses as moto_responses
    from moto.core.responses import BaseResponse
    from moto.utilities.aws_headers import gen_amzn_requestid_long

    if getattr(BaseResponse._enrich_response, "_cheap", False):
        return
    original = BaseResponse._enrich_response

    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if isinstance(body, str | bytes) and (
            ("<RequestId>" if isinstance(body, str) else b"<RequestId>") not in body
        ):
            if "status" in headers:
                headers["status"] = str(headers["status"])
            gen_amzn_requestid_long(headers)  # what the original does, minus the regex
            return headers, body
        return original(headers, body)

    _enrich_response._cheap = True  # type: ignore[attr-defined]
    BaseResponse._enrich_response = staticmethod(_enrich_response)  # type: ignore[method-assign,assignment]
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]

    # Every request body is also parsed as a query string; a JSON body (SQS's protocol) gives
    # only junk keys, after unquoting the whole megabyte of SendMessageBatch. One junk key
    # keeps moto's "the query string is not empty" branch as it was.
    def parse_qsl(qs: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, Any]]:
        if isinstance(qs, str) and qs.startswith("{"):
            return [(qs[:64], "")]
        return urllib.parse.parse_qsl(qs, *args, **kwargs)

    moto_responses.parse_qsl = parse_qsl  # type: ignore[attr-defined]


MOTO_VERSION = "5.2.5"
"""The moto release these fixes patch (private internals): pinned in pyproject.toml."""


def check_moto_version() -> None:
    """Fail loudly on another moto: the patched internals may have moved or been fixed."""
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"moto {moto.__version__} is installed; worker/local/moto_fixes.py patches moto "
            f"{MOTO_VERSION}'s internals. Install moto[server]=={MOTO_VERSION}, or re-check "
            "each fix against the new release and change MOTO_VERSION."
        )


def apply_all() -> None:
    check_moto_version()
    make_sqs_deletes_atomic()
    make_sqs_retention_check_cheap()
    make_sqs_message_checks_cheap()
    make_request_dispatch_cheap()
