"""Delivery queue consumer: one message = one order x one destination.

The batch's deliveries run concurrently; each failure is reported alone
(ReportBatchItemFailures) after setting that message's visibility to its wait. A message that
has come back very often, or is old enough to near the queue's retention, is replaced by a fresh
one of a new generation instead, so a delivery held for weeks keeps exactly one live message.
"""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge import forwarding_root as root
from signbridge.logic.forwarding import RetryLater
from signbridge.logic.outbox import DeliveryMessage, message_body, parse_message
from signbridge.observability import count, logger, metrics
from signbridge.tracing import tracer

root.settings()  # cold start: a missing or malformed setting fails here, by name
root.warm()  # boto3 clients are built here, once, not lazily in the worker threads
root.announce_destinations()  # cold start: says once which destinations cannot be used yet
processor = AsyncBatchProcessor(event_type=EventType.SQS)
sqs = boto3.client("sqs")
MAX_VISIBILITY_SECONDS = 43_200  # SQS's limit
MAX_DELAY_SECONDS = 900  # SendMessage's DelaySeconds limit
# Far below the queue's maxReceiveCount (1000) and its 14-day retention.
REPLACE_AFTER_RECEIVES = 500
REPLACE_AFTER_SECONDS = 7 * 86_400
BATCH_SIZE = 10  # the SQS event source's BatchSize in template.yaml
_pool = ThreadPoolExecutor(max_workers=BATCH_SIZE, thread_name_prefix="delivery")


def _dead_letter(record: SQSRecord, reason: str) -> None:
    """A message nobody can act on goes to the DLQ at once (its alarm fires), not 1000 receives later."""
    logger.error("unreadable delivery message sent to the DLQ", extra={"reason": reason, "body": record.body[:500]})
    sqs.send_message(QueueUrl=root.settings().delivery_dlq_url, MessageBody=record.body)


def _replace(message: DeliveryMessage, delay: float) -> bool:
    """Send a fresh message of a new generation; the current one then ends (and would be stale)."""
    gen = root.store().replace_message(
        message.order_id, message.destination, message.gen, int(time.time()), message.event_seq
    )
    if gen is None:
        return True  # a newer message exists already, or the delivery is settled: this one is done
    replacement = DeliveryMessage(message.order_id, message.destination, gen, message.event_seq)
    sqs.send_message(
        QueueUrl=root.settings().delivery_queue_url,
        MessageBody=message_body(replacement),
        DelaySeconds=min(MAX_DELAY_SECONDS, math.ceil(delay)),
    )
    return True


def deliver(record: SQSRecord, deadline: float) -> None:
    message = parse_message(record.body)
    if message is None:
        _dead_letter(record, "not a delivery message")
        return
    # The lease covers the whole invocation: no other worker may start this delivery while this
    # one could still be sending it.
    lease = max(1, math.ceil(deadline - time.monotonic())) + root.settings().delivery_lease_margin_seconds
    try:
        root.forwarder().deliver(message, lease_seconds=lease)
    except RetryLater as later:
        if not _come_back(record, message, later):
            raise  # reported failed: SQS brings it back when its visibility runs out
    except Exception:
        # DynamoDB unreachable, a bug: the message comes back after the queue's visibility timeout
        # (the attempt's lease then tells the next one what happened). Never silent.
        count("DeliveryErrored")
        logger.exception(
            "delivery attempt failed unexpectedly",
            extra={"order_id": message.order_id, "destination": message.destination},
        )
        raise


def _come_back(record: SQSRecord, message: DeliveryMessage, later: RetryLater) -> bool:
    """Set when the message comes back; True when a fresh message replaced it (this one is done)."""
    receives = int(record.attributes.approximate_receive_count or 1)
    age = time.time() - int(record.attributes.sent_timestamp or time.time() * 1000) / 1000
    if receives >= REPLACE_AFTER_RECEIVES or age >= REPLACE_AFTER_SECONDS:
        return _replace(message, later.delay)
    sqs.change_message_visibility(
        QueueUrl=root.settings().delivery_queue_url,
        ReceiptHandle=record.receipt_handle,
        VisibilityTimeout=min(MAX_VISIBILITY_SECONDS, max(0, math.ceil(later.delay))),
    )
    return False


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000

    async def deliver_async(record: SQSRecord) -> None:
        # boto3 and httpx's sync clients are thread-safe once built; threads give the batch its
        # concurrency. The pool holds a whole batch: asyncio's default is cores + 4 threads.
        await asyncio.get_running_loop().run_in_executor(_pool, deliver, record, deadline)

    return async_process_partial_response(
        event=event, record_handler=deliver_async, processor=processor, context=context
    )


# All the cold start built stays for the container's life: keep it out of every later collection.
gc.freeze()
gc.enable()
