"""SQS in memory, on a clock the test moves: the subset of the API signbridge uses, with the limits
AWS documents and the local engines do not enforce (DelaySeconds at most 900; a message's
visibility at most 12 hours from its receipt, ChangeMessageVisibility refused beyond it; a receipt
handle valid only for the receive that gave it; redrive to the DLQ after maxReceiveCount).

It counts every request by operation, for the cost benchmarks."""

from __future__ import annotations

import hashlib
import itertools
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

MAX_VISIBILITY_SECONDS = 43_200
MAX_DELAY_SECONDS = 900


def _refused(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class _Message:
    message_id: str
    body: str
    sent_at: float
    visible_at: float
    receives: int = 0
    receipt: str | None = None
    received_at: float | None = None


@dataclass
class _Queue:
    name: str
    visibility: int
    max_receives: int | None
    dlq: str | None
    messages: dict[str, _Message] = field(default_factory=dict)


class MemorySqs:
    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self.queues: dict[str, _Queue] = {}
        self.calls: Counter[str] = Counter()
        self.refusals: list[str] = []  # every request AWS would have refused, with why
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    # ------------------------------------------------------------------ set-up (not an SQS request)
    def create(
        self, name: str, *, visibility: int = 360, max_receives: int | None = None, dlq: str | None = None
    ) -> str:
        url = f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}"
        self.queues[url] = _Queue(name, visibility, max_receives, dlq)
        return url

    def next_visible_at(self, url: str) -> float | None:
        with self._lock:
            return min((m.visible_at for m in self.queues[url].messages.values()), default=None)

    def depth(self, url: str) -> int:
        with self._lock:
            return len(self.queues[url].messages)

    def bodies(self, url: str) -> list[str]:
        with self._lock:
            return [m.body for m in self.queues[url].messages.values()]

    # ------------------------------------------------------------------ the API
    def send_message(self, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0, **_: Any) -> dict[str, Any]:
        with self._lock:
            self.calls["SendMessage"] += 1
            if not 0 <= DelaySeconds <= MAX_DELAY_SECONDS:
                self.refusals.append(f"SendMessage DelaySeconds={DelaySeconds}")
                raise _refused("InvalidParameterValue", "DelaySeconds must be 0 to 900", "SendMessage")
            now = self.clock()
            message = _Message(f"m-{next(self._ids)}", MessageBody, now, now + DelaySeconds)
            self.queues[QueueUrl].messages[message.message_id] = message
            return {"MessageId": message.message_id}

    def receive_message(self, QueueUrl: str, MaxNumberOfMessages: int = 1, **_: Any) -> dict[str, Any]:
        with self._lock:
            self.calls["ReceiveMessage"] += 1
            queue, now = self.queues[QueueUrl], self.clock()
            ready = sorted((m for m in queue.messages.values() if m.visible_at <= now), key=lambda m: m.visible_at)
            taken = []
            for message in ready:
                if len(taken) >= MaxNumberOfMessages:
                    break
                if queue.max_receives is not None and message.receives >= queue.max_receives and queue.dlq:
                    del queue.messages[message.message_id]  # redriven, as SQS does on the next receive
                    self.queues[queue.dlq].messages[message.message_id] = message
                    continue
                message.receives += 1
                message.receipt = uuid.uuid4().hex
                message.received_at = now
                message.visible_at = now + queue.visibility
                taken.append(message)
            return {
                "Messages": [
                    {
                        "MessageId": m.message_id,
                        "ReceiptHandle": m.receipt,
                        "Body": m.body,
                        "MD5OfBody": hashlib.md5(m.body.encode()).hexdigest(),
                        "Attributes": {
                            "ApproximateReceiveCount": str(m.receives),
                            "SentTimestamp": str(int(m.sent_at * 1000)),
                        },
                    }
                    for m in taken
                ]
            }

    def _by_receipt(self, url: str, receipt: str, operation: str) -> _Message:
        message = next((m for m in self.queues[url].messages.values() if m.receipt == receipt), None)
        if message is None:
            self.refusals.append(f"{operation} with a receipt handle no longer valid")
            raise _refused("ReceiptHandleIsInvalid", "The receipt handle is not valid", operation)
        return message

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int, **_: Any) -> None:
        with self._lock:
            self.calls["ChangeMessageVisibility"] += 1
            message = self._by_receipt(QueueUrl, ReceiptHandle, "ChangeMessageVisibility")
            now = self.clock()
            assert message.received_at is not None
            if not 0 <= VisibilityTimeout <= MAX_VISIBILITY_SECONDS or (
                now - message.received_at + VisibilityTimeout > MAX_VISIBILITY_SECONDS
            ):
                self.refusals.append(
                    f"ChangeMessageVisibility {VisibilityTimeout} s, {now - message.received_at:.0f} s after the receive"
                )
                raise _refused(
                    "InvalidParameterValue",
                    "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
                    "ChangeMessageVisibility",
                )
            message.visible_at = now + VisibilityTimeout

    def delete_message(self, QueueUrl: str, ReceiptHandle: str, **_: Any) -> None:
        with self._lock:
            self.calls["DeleteMessage"] += 1
            message = next((m for m in self.queues[QueueUrl].messages.values() if m.receipt == ReceiptHandle), None)
            if message is not None:  # SQS accepts a stale handle of a message received again since
                del self.queues[QueueUrl].messages[message.message_id]

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]], **_: Any) -> dict[str, Any]:
        with self._lock:
            self.calls["DeleteMessageBatch"] += 1
            for entry in Entries:
                message = next(
                    (m for m in self.queues[QueueUrl].messages.values() if m.receipt == entry["ReceiptHandle"]), None
                )
                if message is not None:
                    del self.queues[QueueUrl].messages[message.message_id]
            return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str] | None = None, **_: Any) -> dict[str, Any]:
        with self._lock:
            self.calls["GetQueueAttributes"] += 1
            now = self.clock()
            messages = list(self.queues[QueueUrl].messages.values())
            return {
                "Attributes": {
                    "ApproximateNumberOfMessages": str(sum(1 for m in messages if m.visible_at <= now)),
                    "ApproximateNumberOfMessagesNotVisible": str(
                        sum(1 for m in messages if m.visible_at > now and m.receipt)
                    ),
                    "ApproximateNumberOfMessagesDelayed": str(
                        sum(1 for m in messages if m.visible_at > now and not m.receipt)
                    ),
                }
            }

    def purge_queue(self, QueueUrl: str, **_: Any) -> None:
        with self._lock:
            self.calls["PurgeQueue"] += 1
            self.queues[QueueUrl].messages.clear()
