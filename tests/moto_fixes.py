"""Make moto's SQS as safe under concurrency as SQS itself, for tests and benchmarks.

moto 5.2's `Queue.delete_message` rebuilds the queue's message list without the lock that
`send_message` appends under, so a message sent while another is being deleted can vanish
(seen here: 3 of 250 messages lost while a worker deleted finished ones). Real SQS never
does that; without this fix the tests and benchmarks would measure moto's race, not ours.
"""

from __future__ import annotations

import functools
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


def serve(host: str, port: int) -> None:
    """`python tests/moto_fixes.py HOST PORT`: moto's server with the fix, as a process."""
    make_sqs_deletes_atomic()
    from moto.server import main

    main(["-H", host, "-p", str(port)])


if __name__ == "__main__":
    import sys

    serve(sys.argv[1], int(sys.argv[2]))
