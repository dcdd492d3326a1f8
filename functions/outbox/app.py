"""Table stream → delivery queue (the outbox), and the start of a delivered order's follow-up. A
failed record is reported and retried alone."""

from __future__ import annotations

import gc

gc.disable()  # no garbage collection while the cold start loads modules (they live as long as the container)

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from signbridge.logic.follow_up_stream import delivered_order
from signbridge.logic.outbox import delivery_message, message_body
from signbridge.observability import logger, metrics
from signbridge.roots import outbox as root

root.settings()  # cold start: a missing setting fails here, by name

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def enqueue(record: DynamoDBRecord) -> None:
    delivered = delivered_order(record.raw_event)
    if delivered is not None:
        if root.start_follow_up(delivered):
            logger.info(
                "follow-up started", extra={"order_id": delivered.order_id, "destination": delivered.destination}
            )
            metrics.add_metric(name="FollowUpStarted", unit="Count", value=1)
        return
    message = delivery_message(record.raw_event)
    if message is None:
        return
    root.sqs().send_message(QueueUrl=root.settings().delivery_queue_url, MessageBody=message_body(message))
    logger.info(
        "delivery enqueued",
        extra={"order_id": message.order_id, "destination": message.destination, "gen": message.gen},
    )
    metrics.add_metric(name="DeliveryEnqueued", unit="Count", value=1)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=enqueue, processor=processor, context=context)


# All the cold start built stays for the container's life: keep it out of every later collection.
gc.freeze()
gc.enable()
