"""The worker's log events: the `message` of the JSON log lines others read.

Tests, `scorer local up` and the benchmarks wait on these lines; all of them, and the worker
that writes them, use these names, so a reworded message cannot silently break a reader.
Values are the texts in the logs (a StrEnum is its value wherever a string is expected).
"""

from __future__ import annotations

import enum


class LogEvent(enum.StrEnum):
    HEALTH_UP = "health endpoint up"
    WORKER_READY = "worker ready"
    STOPPED_BEFORE_RECEIVE = "stopped before the first receive"
    MESSAGE_RECEIVED = "message received"
    BATCH_WRITTEN = "batch written"
    MESSAGE_DELETED = "message deleted"
    SENT_TO_DLQ = "sent to DLQ"
    BATCH_FAILED = "batch failed, will retry"
    RECEIVE_FAILED = "receive failed"
    MESSAGE_RELEASED = "message released"
    VISIBILITY_EXTENDED = "visibility extended"
    SIGNAL_RECEIVED = "signal received, draining"
    DRAINING = "draining"
    DRAIN_TIMED_OUT = "drain timed out; released unfinished messages"
    QUEUE_EMPTY = "queue is empty, exiting (exit_when_idle)"
    STOPPED = "stopped"
    MODEL_LOAD_FAILED = "the model could not be loaded"
