"""The delivery pipeline run in-process, as Lambda's event sources would run it:
the table's stream (moto) → outbox handler → delivery queue (moto SQS, with the template's
DLQ policy) → forwarder handler, honouring ReportBatchItemFailures and visibility changes."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from tests.conftest import LambdaContext, load_function
from tests.support.template import template


class Pipeline:
    def __init__(self, table_name: str, queue_url: str, dlq_url: str):
        self.table_name = table_name
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.sqs = boto3.client("sqs")
        self.stream_arn = boto3.client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._position = 0
        self.context = LambdaContext()
        self.forwarder_invocations = 0

    def pump_stream(self) -> int:
        """Hand every new stream record to the outbox handler; the number of records read.

        moto's DynamoDB Streams API does not answer this botocore, so the records are read from
        moto's table (moto is pinned) and shaped as Lambda's event source delivers them.
        """
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(self.table_name)
        items = table.stream_shard.items[self._position :]
        self._position += len(items)
        records = []
        for item in items:
            record = item.to_json()
            created = record["dynamodb"]["ApproximateCreationDateTime"]
            record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
            record["eventSourceARN"] = self.stream_arn
            records.append(record)
        if records:
            result = load_function("outbox").handler({"Records": records}, self.context)
            assert result["batchItemFailures"] == [], result
        return len(records)

    def _sqs_event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {
                        "ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"],
                        "SentTimestamp": m["Attributes"]["SentTimestamp"],
                    },
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:signbridge-deliveries",
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }

    def run_forwarder_once(self) -> int:
        """One poll of the queue, as the event source mapping does it; the number of messages handled."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return 0
        self.forwarder_invocations += 1
        try:
            result = load_function("forwarder").handler(self._sqs_event(messages), self.context)
        except Exception:  # the invocation died: every message of the batch comes back (visibility 0 here)
            return len(messages)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if m["MessageId"] not in failed
        ]
        if entries:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return len(messages)

    def in_queue(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Pump the stream and the queue until nothing is left in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            moved = self.pump_stream() + self.run_forwarder_once()
            if not moved and self.in_queue(self.queue_url) == 0 and self.pump_stream() == 0:
                return
            if not moved:
                time.sleep(0.05)
        raise AssertionError(f"pipeline still busy after {timeout}s: {self.in_queue(self.queue_url)} queued")

    def dlq_messages(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


def create_queues(max_receive_count: int | None = None, name: str = "signbridge-deliveries") -> tuple[str, str]:
    """The template's delivery queue and DLQ; visibility 0 so retries are not waited for in tests."""
    sqs = boto3.client("sqs")
    props = template()["Resources"]["DeliveryQueue"]["Properties"]
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    receives = max_receive_count or props["RedrivePolicy"]["maxReceiveCount"]
    if isinstance(receives, dict):  # !Ref MaxDeliveryAttempts
        receives = template()["Parameters"]["MaxDeliveryAttempts"]["Default"]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(receives)}),
        },
    )["QueueUrl"]
    return url, dlq_url
