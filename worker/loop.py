"""The long-running loop: receive, hand messages to processing threads, settle each one.

Settling a message is the loop's job alone: delete after its results are written, DLQ a
poison one with its reason, release an unfinished one on shutdown, leave a transient
failure for SQS to redeliver. A heartbeat thread keeps every held message invisible.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from worker.health import HealthState
from worker.inputs import InputError
from worker.log_events import LogEvent
from worker.loop_protocols import Message, MessageProcessor, MessageQueue, Outcome
from worker.observability import WorkerMetrics
from worker.processing import BatchAborted, PoisonMessage, request_summary
from worker.protection import ScaleInProtection
from worker.sqs import GroupedDeleter, clip_reason

log = logging.getLogger(__name__)


@dataclass
class _Held:
    """A message this worker holds, with when its visibility was last renewed."""

    message: Message
    received: float
    extended: float
    abort: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class LoopSettings:
    wait_time_seconds: int
    visibility_timeout: int
    heartbeat_fraction: float
    max_in_flight: int
    retry_delay_seconds: int
    drain_timeout: float
    exit_when_idle: bool


class Worker:
    """Receives from any `MessageQueue`, processes with any `MessageProcessor`, settles.

    `clock` times visibility renewals (tests move it instead of waiting).
    """

    def __init__(
        self,
        queue: MessageQueue,
        processor: MessageProcessor,
        settings: LoopSettings,
        health: HealthState,
        metrics: WorkerMetrics,
        protection: ScaleInProtection,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.processor = processor
        self.settings = settings
        self.health = health
        self.metrics = metrics
        self.protection = protection
        self.stopping = threading.Event()
        self.drained = True
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._pool = ThreadPoolExecutor(settings.max_in_flight, thread_name_prefix="message")
        self._deleter = GroupedDeleter(queue)
        self._clock = clock
        self.counts: dict[str, int] = dict.fromkeys(Outcome, 0)  # updated under _lock

    # -- public ---------------------------------------------------------------------------

    def run(self) -> int:
        """Receive until stopped (or idle, with exit_when_idle); drain; return the exit code."""
        heartbeat = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        heartbeat.start()
        receiver = threading.Thread(target=self._receive_loop, name="receiver", daemon=True)
        receiver.start()
        # Wait in short slices: a process-directed SIGTERM may land on any thread (TensorFlow
        # has many), and a main thread blocked without a timeout would never run the handler.
        while not self.stopping.wait(timeout=0.2):
            pass
        self.health.draining = True
        deadline = time.monotonic() + self.settings.drain_timeout
        log.info(LogEvent.DRAINING, extra={"in_flight": self._in_flight()})
        self.drained = self._drain(self.settings.drain_timeout)
        # A long poll under way when the signal came may still return messages: give the
        # receiver the rest of the drain time to hand them back rather than strand them.
        receiver.join(timeout=max(0.0, deadline - time.monotonic()))
        self._pool.shutdown(wait=self.drained, cancel_futures=True)
        self.protection.release()
        scorer = self.processor.scorer
        log.info(
            LogEvent.STOPPED,
            extra={
                "drained": self.drained,
                **self.outcome_counts(),
                "model_calls": scorer.model_calls,
                "texts_scored": scorer.texts_scored,
                "model_busy_seconds": round(scorer.busy_seconds, 3),
            },
        )
        return 0

    def stop(self) -> None:
        self.stopping.set()

    def wait_for_outcomes(
        self, predicate: Callable[[dict[str, int]], bool], timeout: float
    ) -> bool:
        """Block until `predicate(outcome counts)` holds (each settled message re-checks it)."""
        with self._slot_freed:
            return self._slot_freed.wait_for(lambda: predicate(self.counts), timeout=timeout)

    def outcome_counts(self) -> dict[str, int]:
        """How many messages ended each way so far (a consistent snapshot)."""
        with self._lock:
            return {str(outcome): count for outcome, count in self.counts.items()}

    # -- receiving ------------------------------------------------------------------------

    def _in_flight(self) -> int:
        with self._lock:
            return len(self._held)

    def _receive_loop(self) -> None:
        failures = 0
        # Receive once half the slots are free (up to SQS's 10), not one message per finished
        # one: a ReceiveMessage per message cost more CPU (worker and endpoint) than the
        # scoring of a 100-review message (profiled); half the slots still keep work queued.
        refill_at = max(1, min(10, self.settings.max_in_flight // 2))
        while not self.stopping.is_set():
            self.health.tick()
            with self._lock:
                room = self.settings.max_in_flight - len(self._held)
                if room < refill_at:
                    self._slot_freed.wait(timeout=1.0)
                    continue
            try:
                messages = self.queue.receive(
                    room, self.settings.wait_time_seconds, self.settings.visibility_timeout
                )
            except Exception as error:  # botocore already retried; back off and try again
                failures += 1
                self.health.queue_reachable = False
                log.warning(
                    LogEvent.RECEIVE_FAILED, extra={"error": str(error), "failures": failures}
                )
                self.stopping.wait(min(30.0, 2.0**failures))
                continue
            failures = 0
            self.health.queue_reachable = True
            self.health.tick()
            if self.stopping.is_set():
                for message in messages:  # received during the last poll: hand back at once
                    self._release(message)
                return
            if not messages:
                if self.settings.exit_when_idle and self._in_flight() == 0 and self._queue_empty():
                    log.info(LogEvent.QUEUE_EMPTY)
                    self.stop()
                continue
            self.protection.update(busy=True)  # before any work starts, not at the next beat
            now = self._clock()
            with self._lock:
                for message in messages:
                    self._held[message.receipt_handle] = _Held(message, now, now)
                self.health.in_flight = len(self._held)
            for message in messages:
                log.info(
                    LogEvent.MESSAGE_RECEIVED,
                    extra={"message_id": message.message_id, "receives": message.receive_count},
                )
                self._pool.submit(self._handle, message)

    def _queue_empty(self) -> bool:
        depth = self.queue.depth()
        return depth["visible"] == 0 and depth["in_flight"] == 0 and depth["delayed"] == 0

    # -- settling one message -------------------------------------------------------------

    def _handle(self, message: Message) -> None:
        started = time.perf_counter()
        held = self._held.get(message.receipt_handle)
        ids = {"message_id": message.message_id}
        scored = rejected = 0
        outcome = Outcome.RETRIED
        try:
            summary = self.processor.process(message.body, held.abort if held else None)
            scored, rejected = summary.records_scored, summary.records_rejected
            # Ids from the parsed request: parsing a 256 KiB body again just to log was a hot
            # spot (profiled); the failure paths below parse it for their log lines.
            ids.update(job_id=summary.job_id, batch_id=summary.batch_id)
            log.info(
                LogEvent.BATCH_WRITTEN,
                extra={
                    **ids,
                    "records_scored": scored,
                    "records_rejected": rejected,
                    "results_uri": summary.results_uri,
                    "seconds": round(summary.seconds, 3),
                },
            )
            self._deleter.delete(message)
            log.info(LogEvent.MESSAGE_DELETED, extra=ids)
            outcome = Outcome.SCORED
        except (PoisonMessage, InputError) as error:
            ids.update(request_summary(message.body))
            outcome = self._dead_letter(message, str(error), ids)
        except BatchAborted:
            self._release(message)
            outcome = Outcome.RELEASED
        except Exception as error:
            ids.update(request_summary(message.body))
            log.warning(
                LogEvent.BATCH_FAILED,
                extra={**ids, "error": f"{type(error).__name__}: {error}"[:500]},
            )
            self._retry_later(message)
            outcome = Outcome.RETRIED
        finally:
            with self._lock:
                self._held.pop(message.receipt_handle, None)
                self.health.in_flight = len(self._held)
                self.counts[outcome] += 1
                self._slot_freed.notify_all()
        if outcome is not Outcome.RELEASED:
            try:
                self.metrics.message_done(outcome, scored, rejected, time.perf_counter() - started)
            except Exception as error:  # metrics must never hold up the queue
                log.warning("metrics failed", extra={"error": str(error)[:300]})

    def _dead_letter(self, message: Message, reason: str, ids: dict[str, str]) -> Outcome:
        reason = clip_reason(reason)  # a reason may quote input: bound it for the log too
        try:
            self.queue.send_to_dlq(message, reason)
        except Exception as error:
            log.error("could not dead-letter", extra={**ids, "error": str(error)[:500]})
            return Outcome.RETRIED
        log.warning(LogEvent.SENT_TO_DLQ, extra={**ids, "reason": reason})
        return Outcome.DEAD_LETTERED

    def _retry_later(self, message: Message) -> None:
        try:
            self.queue.change_visibility(message, self.settings.retry_delay_seconds)
        except Exception as error:  # it becomes visible again when its timeout runs out
            log.warning("could not shorten visibility", extra={"error": str(error)[:300]})

    def _release(self, message: Message) -> None:
        try:
            self.queue.change_visibility(message, 0)
            log.info(LogEvent.MESSAGE_RELEASED, extra={"message_id": message.message_id})
        except Exception as error:
            log.warning("could not release", extra={"error": str(error)[:300]})

    # -- heartbeat and shutdown -----------------------------------------------------------

    def _heartbeat(self) -> None:
        timeout = self.settings.visibility_timeout
        extend_after = timeout * self.settings.heartbeat_fraction
        interval = max(0.2, min(5.0, extend_after / 4))
        while True:
            now = self._clock()
            with self._lock:
                due = [held for held in self._held.values() if now - held.extended >= extend_after]
                busy = bool(self._held)
            for held in due:
                try:
                    self.queue.change_visibility(held.message, timeout)
                    held.extended = now
                    log.info(
                        LogEvent.VISIBILITY_EXTENDED,
                        extra={"message_id": held.message.message_id, "seconds": timeout},
                    )
                except Exception as error:
                    log.warning("heartbeat failed", extra={"error": str(error)[:300]})
            self.protection.update(busy)
            if self.stopping.wait(interval) and not busy:
                return

    def _drain(self, timeout: float) -> bool:
        """Wait for held messages; past the timeout, abort and release what is left."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._held and time.monotonic() < deadline:
                self._slot_freed.wait(timeout=max(0.0, deadline - time.monotonic()))
            left = list(self._held.values())
            self._held.clear()  # the heartbeat must not renew what is handed back
        if not left:
            return True
        for held in left:
            held.abort.set()
            self._release(held.message)
        log.warning(LogEvent.DRAIN_TIMED_OUT, extra={"released": len(left)})
        return False
