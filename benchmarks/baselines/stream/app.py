"""Baseline stream consumer: boto3 and Powertools' batch processor (one SendMessage a record)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
sqs = boto3.client("sqs")


def enqueue(record: DynamoDBRecord) -> None:
    image = record.raw_event["dynamodb"]["NewImage"]
    body = json.dumps({"order_id": image["order_id"]["S"], "destination": image["destination"]["S"]})
    sqs.send_message(QueueUrl=os.environ["DELIVERY_QUEUE_URL"], MessageBody=body)


def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(event=event, record_handler=enqueue, processor=processor, context=context)
