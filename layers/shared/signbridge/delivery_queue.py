"""The delivery queue as an adapter: everything SQS asks of a consumer, kept out of the forwarding
engine (which says only "done" or "come back in N seconds") and out of the handler (which wires).

- A batch's messages are handled concurrently, on a pool sized to the batch.
- Done: the message is finished with (the event source deletes it).
- Come back in N seconds: the message's visibility is set to N and it is handed back to the event
  source to keep (listed in ``batchItemFailures``, the only way SQS keeps a message). A wait is
  not a failure: the invocation succeeds, so the forwarder's Errors alarm means a crash.
- SQS refuses a visibility that would end more than 12 hours after the message was received
  (local engines do not check it; this adapter does). A longer wait, or a message that has
  come back very often or grown old, is replaced by a fresh message of a new generation
  (delayed up to 15 minutes, SendMessage's limit); the old one ends.
- A message nobody can read goes to the DLQ at once (its alarm fires), not 1000 receives later.
- A delivery that crashed (DynamoDB unreachable, a bug) is counted (``DeliveryErrored``) and kept:
  it comes back after the queue's visibility timeout, and the lease tells the next attempt what
  happened. A batch in which every delivery crashed fails the invocation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from signbridge.logic.outbox import DeliveryMessage, message_body, parse_message
from signbridge.observability import count, logger

MAX_VISIBILITY_SECONDS = 43_200  # SQS: at most 12 hours from the receive
MAX_DELAY_SECONDS = 900  # SendMessage's DelaySeconds limit
# The event source received the batch a little before this invocation began; how long exactly is
# not known, so the 12 hours are counted from this much before the invocation's start.
RECEIVE_MARGIN_SECONDS = 600  # above the queue's visibility timeout (360 s): a receive may wait that long
# Far below the queue's maxReceiveCount (1000) and its 14-day retention.
REPLACE_AFTER_RECEIVES = 500
REPLACE_AFTER_SECONDS = 7 * 86_400
BATCH_SIZE = 10  # the SQS event source's BatchSize in template.yaml


class BatchCrashed(Exception):
    """Every delivery of the batch crashed: the invocation fails (the forwarder's Errors alarm)."""


@dataclass(frozen=True)
class _Record:
    message_id: str
    receipt_handle: str
    body: str
    receives: int
    sent_at: float

    @classmethod
    def of(cls, record: dict[str, Any]) -> _Record:
        attributes = record.get("attributes") or {}
        return cls(
            message_id=record["messageId"],
            receipt_handle=record["receiptHandle"],
            body=record.get("body") or "",
            receives=int(attributes.get("ApproximateReceiveCount") or 1),
            sent_at=int(attributes.get("SentTimestamp") or 0) / 1000,
        )


# deliver(message) -> the engine's verdict (Done or ComeBack: anything with a ``delay`` comes back)
Deliver = Callable[[DeliveryMessage], Any]
# replace(message, delay) -> the message of a new generation that replaces it (its delivery due in
# ``delay`` seconds), or None when it is done
Replace = Callable[[DeliveryMessage, float], "DeliveryMessage | None"]

_KEPT, _CRASHED = "kept", "crashed"


class DeliveryQueue:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        dlq_url: str = "",
        *,
        clock: Callable[[], float] = time.time,
        workers: int = BATCH_SIZE,
    ):
        self.sqs = sqs
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.clock = clock
        # One worker: the batch's messages one after another in the caller's thread.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="delivery") if workers > 1 else None

    def enqueue(self, message: DeliveryMessage, delay: float = 0) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message_body(message),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, math.ceil(delay))),
        )

    def backlog(self) -> int:
        """Messages waiting to be received (not those in flight or delayed)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0))

    def handle(self, records: list[dict[str, Any]], deliver: Deliver, replace: Replace) -> dict[str, Any]:
        """One batch of the SQS event source: the partial batch response. Returns (or raises) only
        once every message of the batch is finished with: no attempt outlives its invocation."""
        started = self.clock()
        parsed = [_Record.of(r) for r in records]
        if self._pool is None:
            outcomes = [self._one(r, deliver, replace, started) for r in parsed]
        else:
            futures = [self._pool.submit(self._one, r, deliver, replace, started) for r in parsed]
            wait(futures)
            outcomes = [f.result() for f in futures]  # _one never raises
        if parsed and all(outcome == _CRASHED for outcome in outcomes):
            raise BatchCrashed(f"every delivery of a batch of {len(parsed)} crashed (see the log)")
        return {
            "batchItemFailures": [
                {"itemIdentifier": r.message_id} for r, outcome in zip(parsed, outcomes, strict=True) if outcome
            ]
        }

    def _one(self, record: _Record, deliver: Deliver, replace: Replace, started: float) -> str | None:
        try:
            message = parse_message(record.body)
            if message is None:
                self._dead_letter(record)
                return None
            verdict = deliver(message)
            delay = getattr(verdict, "delay", None)
            if delay is None:
                return None
            return self._come_back(record, message, float(delay), replace, started)
        except Exception:
            # DynamoDB or SQS unreachable, a bug: never silent. The message comes back after the
            # queue's visibility timeout; the attempt's lease then tells the next one what happened.
            count("DeliveryErrored")
            logger.exception("delivery message failed unexpectedly", extra={"message_id": record.message_id})
            return _CRASHED

    def _come_back(
        self, record: _Record, message: DeliveryMessage, delay: float, replace: Replace, started: float
    ) -> str | None:
        now = self.clock()
        budget = MAX_VISIBILITY_SECONDS - RECEIVE_MARGIN_SECONDS - math.ceil(now - started)
        worn = record.receives >= REPLACE_AFTER_RECEIVES or (
            record.sent_at and now - record.sent_at >= REPLACE_AFTER_SECONDS
        )
        wait = max(0, math.ceil(delay))
        if worn or wait > budget:
            fresh = replace(message, wait)
            if fresh is not None:  # None: a newer message exists already, or the delivery moved on
                self.enqueue(fresh, delay)
            return None
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=wait
            )
        except Exception:
            # The message still comes back, after the queue's visibility timeout instead: early
            # (and then put back until its time), never lost.
            logger.warning("the message's wait could not be set", extra={"order_id": message.order_id}, exc_info=True)
        return _KEPT

    def _dead_letter(self, record: _Record) -> None:
        logger.error("unreadable delivery message sent to the DLQ", extra={"body": record.body[:500]})
        self.sqs.send_message(QueueUrl=self.dlq_url, MessageBody=record.body)
