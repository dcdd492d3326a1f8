"""Delivery queue consumer: one message = one order x one destination.

The batch's deliveries run concurrently; each failure is reported alone
(ReportBatchItemFailures) after setting that message's visibility to its backoff.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from functools import cache
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

from signbridge import runtime
from signbridge.logic.forwarding import RetryLater
from signbridge.observability import logger, metrics, tracer

runtime.settings()  # cold start: a missing or malformed setting fails here, by name
runtime.destinations()  # cold start: says once which destinations are disabled (no credentials)
processor = AsyncBatchProcessor(event_type=EventType.SQS)
MAX_VISIBILITY_SECONDS = 43_200
BATCH_SIZE = 10  # the SQS event source's BatchSize in template.yaml
_pool = ThreadPoolExecutor(max_workers=BATCH_SIZE, thread_name_prefix="delivery")


@cache
def _sqs() -> Any:
    return boto3.client("sqs")


def deliver(record: SQSRecord) -> None:
    message = json.loads(record.body)
    receive_count = int(record.attributes.approximate_receive_count or 1)
    try:
        runtime.forwarder().deliver(message["order_id"], message["destination"], receive_count)
    except RetryLater as later:
        _sqs().change_message_visibility(
            QueueUrl=runtime.settings().delivery_queue_url,
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=min(MAX_VISIBILITY_SECONDS, max(0, later.delay)),
        )
        raise


async def deliver_async(record: SQSRecord) -> None:
    # boto3 and httpx's sync client are thread-safe; threads give the batch its concurrency. The
    # pool holds a whole batch: asyncio's default pool is cores + 4 threads (6 on a 2-vCPU Lambda).
    await asyncio.get_running_loop().run_in_executor(_pool, deliver, record)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return async_process_partial_response(
        event=event, record_handler=deliver_async, processor=processor, context=context
    )
