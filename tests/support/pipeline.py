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

from signbridge.destinations import Destination
from signbridge.lifecycle import DeliveryState
from signbridge_tools.fakes.wiring import WIRING
from tests.conftest import INTEGRATION_SECRET, LambdaContext, load_function
from tests.support.events import api_event, fixture_bytes, response_json, signed_headers
from tests.support.template import template


class MotoStream:
    """The table's stream as moto records it (moto's Streams API does not answer this botocore;
    moto is pinned, so reading its table's shard is stable)."""

    def __init__(self, table_name: str):
        self.table_name = table_name
        self.position = 0

    def read(self) -> list[dict[str, Any]]:
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(self.table_name)
        items = table.stream_shard.items[self.position :]
        self.position += len(items)
        return [item.to_json() for item in items]


class StreamsApi:
    """The table's stream through the DynamoDB Streams API (DynamoDB Local). The shards are listed
    again every ``describe_every`` reads (new shards are rare), not before every read."""

    def __init__(self, table_name: str, endpoint_url: str, describe_every: int = 25):
        self.client = boto3.client("dynamodbstreams", endpoint_url=endpoint_url)
        self.arn = boto3.client("dynamodb", endpoint_url=endpoint_url).describe_table(TableName=table_name)["Table"][
            "LatestStreamArn"
        ]
        self.iterators: dict[str, str] = {}
        self.describe_every = describe_every
        self.reads = 0
        self.shards: list[str] = []

    def read(self) -> list[dict[str, Any]]:
        if self.reads % self.describe_every == 0 or not self.shards:
            description = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]
            self.shards = [shard["ShardId"] for shard in description["Shards"]]
        self.reads += 1
        records: list[dict[str, Any]] = []
        for shard in self.shards:
            iterator = (
                self.iterators.get(shard)
                or self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
                    "ShardIterator"
                ]
            )
            response = self.client.get_records(ShardIterator=iterator, Limit=1000)
            records += response["Records"]
            if response.get("NextShardIterator"):
                self.iterators[shard] = response["NextShardIterator"]
        return records


class Pipeline:
    def __init__(self, table_name: str, queue_url: str, dlq_url: str, stream: Any = None):
        self.table_name = table_name
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.sqs = boto3.client("sqs")
        self.stream = stream or MotoStream(table_name)
        # A short invocation deadline keeps leases short: a "crashed" attempt's lease expires in ~1 s.
        self.context = LambdaContext(remaining_ms=1_000)
        self.forwarder_invocations = 0

    def pump_stream(self) -> int:
        """Hand every new stream record to the outbox handler, shaped as Lambda delivers them."""
        records = self.stream.read()
        for record in records:
            created = record["dynamodb"]["ApproximateCreationDateTime"]
            if not isinstance(created, int | float):
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
            record["eventSourceARN"] = "arn:aws:dynamodb:us-east-1:123456789012:table/signbridge/stream/1"
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

    def due_within(self, seconds: float) -> bool:
        """Whether a delivery still has work a message will bring: any queued delivery but one
        that waits for an earlier delivery (its message is a look again hours away: the earlier
        one wakes it), or one in doubt due within ``seconds``. A message kept for a delivery that
        has moved on (a woken wait) is not work."""
        table = boto3.resource("dynamodb").Table(self.table_name)
        horizon = time.time() + seconds
        kwargs: dict[str, Any] = {}
        while True:
            page = table.scan(**kwargs)
            for item in page["Items"]:
                if not str(item.get("SK", "")).startswith("DELIVERY#"):
                    continue
                state, due = DeliveryState(item["state"]), item.get("next_attempt_at")
                waiting = (item.get("last_error") or {}).get("code") == "waiting_for_earlier"
                if state.queued and not waiting:
                    return True
                if not state.resting and not state.queued and due is not None and float(due) <= horizon:
                    return True
            if "LastEvaluatedKey" not in page:
                return False
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def run_until_idle(self, timeout: float = 60.0) -> None:
        """Pump the stream and the queue until nothing is left in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            moved = self.pump_stream() + self.run_forwarder_once()
            if (
                not moved
                and self.pump_stream() == 0
                and (self.in_queue(self.queue_url) == 0 or not self.due_within(timeout))
            ):
                return
            if not moved:
                time.sleep(0.05)
        raise AssertionError(f"pipeline still busy after {timeout}s: {self.in_queue(self.queue_url)} queued")

    def run_until(self, done: Any, timeout: float = 60.0) -> None:
        """Pump the stream and the queue until ``done()`` holds (held deliveries never go idle)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return
            if not (self.pump_stream() + self.run_forwarder_once()):
                time.sleep(0.05)
        raise AssertionError(f"condition still false after {timeout}s: {self.in_queue(self.queue_url)} queued")

    def run_for(self, seconds: float) -> None:
        """Pump for a while, whatever happens (a destination that stays down)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not (self.pump_stream() + self.run_forwarder_once()):
                time.sleep(0.05)

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
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(receives)}),
        },
    )["QueueUrl"]
    return url, dlq_url


def wire_pipeline(
    configure: Any, fakes: tuple[Any, Any, Any], context: Any, table_name: str, stream: Any = None
) -> Pipeline:
    """Point every destination at its fake, create the queues, and map Sign Customiser product 1
    to sc-1 through the product callback (as a shopper's finished design would)."""
    queue_url, dlq_url = create_queues()
    destinations = {
        k: v
        for name, fake in zip(Destination, fakes, strict=True)
        for k, v in WIRING[name].test_environment(fake).items()
    }
    configure(
        **destinations,
        DELIVERY_QUEUE_URL=queue_url,
        DELIVERY_DLQ_URL=dlq_url,
        # The schedule's waits become about a second (SQS carries whole seconds), the lease ends
        # with the (1 s) invocation, and an unanswered Sign Customiser attempt waits 3 s.
        RETRY_BASE_SECONDS="1",
        RETRY_MAX_SECONDS="1",
        HELD_RETRY_SECONDS="1",
        DELIVERY_LEASE_MARGIN_SECONDS="0",
        DESTINATION_TIMEOUT_SECONDS="1",
        SIGNCUSTOMISER_IN_DOUBT_GRACE_SECONDS="3",
    )
    body = fixture_bytes("signcustomiser_product_created.json")
    event = api_event("POST", "/sign-customiser/products", body, signed_headers(INTEGRATION_SECRET, body))
    assert response_json(load_function("products").handler(event, context)) == {"external_id": "sc-1"}
    return Pipeline(table_name, queue_url, dlq_url, stream)
