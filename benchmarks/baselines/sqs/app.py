"""Baseline SQS consumer: Powertools' batch processor and one boto3 client (one GetItem a record)."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

processor = BatchProcessor(event_type=EventType.SQS)
dynamodb = boto3.client("dynamodb")


def read(record: SQSRecord) -> None:
    message = json.loads(record.body)
    key = {"PK": {"S": f"ORDER#{message['order_id']}"}, "SK": {"S": f"DELIVERY#{message['destination']}"}}
    dynamodb.get_item(TableName=os.environ["TABLE_NAME"], Key=key)


def handler(event: dict[str, Any], context: Any) -> Any:
    return process_partial_response(event=event, record_handler=read, processor=processor, context=context)
