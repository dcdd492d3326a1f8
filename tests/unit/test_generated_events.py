"""AWS's own event shapes: Given the events `sam local generate-event` prints for each trigger
(tests/fixtures/sam_generated/, `make sam-events`) with signbridge's bodies and keys put into them,
When every handler runs the whole journey on them (product callback, webhook, order post and read,
the table's stream, the delivery queue, the schedule, an unsigned callback), Then everything that
lands (responses, the table, the queue, what each destination received) is what the project's own
events (signbridge_tools.events, the events/ folder) give."""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from signbridge import forwarding_root, roots
from signbridge.destinations import Destination
from signbridge_tools import events
from signbridge_tools.fakes.wiring import WIRING
from tests.conftest import BASE_ENV, INTEGRATION_SECRET, WEBHOOK_SECRETS, LambdaContext, load_function
from tests.support.pipeline import create_queues
from tests.support.template import ROOT, table_definition

GENERATED = ROOT / "tests" / "fixtures" / "sam_generated"
ORDER_ID = events.ORDER_ID


def generated(name: str) -> dict[str, Any]:
    return dict(json.loads((GENERATED / name).read_text()))


# ---------------------------------------------------------------- signbridge's content in AWS's shapes


def aws_api_event(own: dict[str, Any]) -> dict[str, Any]:
    """`apigateway aws-proxy` with the request of one of our own events: its method, path, route,
    path parameters and headers (both single and multi-value, as API Gateway sends them), and its
    body base64-encoded, as the generated event carries one. AWS's other headers, query string,
    stage variables and request context stay as generated."""
    event = generated("apigateway_aws_proxy.json")
    body = own["body"]
    event.update(
        httpMethod=own["httpMethod"],
        path=own["path"],
        resource=own["resource"],
        pathParameters=own["pathParameters"],
        body=None if body is None else base64.b64encode(body.encode()).decode(),
        isBase64Encoded=body is not None,
    )
    event["headers"] = {**event["headers"], **own["headers"]}
    event["multiValueHeaders"] = {**event["multiValueHeaders"], **{k: [v] for k, v in own["headers"].items()}}
    event["requestContext"].update(
        httpMethod=own["httpMethod"],
        resourcePath=own["resource"],
        path=f"/{event['requestContext']['stage']}{own['path']}",
    )
    return event


def aws_stream_event(deliveries: list[dict[str, Any]], order: dict[str, Any]) -> dict[str, Any]:
    """`dynamodb update` (an INSERT, a MODIFY and a REMOVE) with our keys and images: each delivery
    inserted as pending, in the INSERT record's shape; the order item modified, in the MODIFY
    record's; a delivery removed, in the REMOVE record's. Only the pending deliveries are work."""
    insert, modify, remove = generated("dynamodb_update.json")["Records"]
    records = []
    for number, image in enumerate(deliveries):
        record = copy.deepcopy(insert)
        record["eventID"] = f"{number:032x}"
        record["dynamodb"].update(Keys={"PK": image["PK"], "SK": image["SK"]}, NewImage=image)
        record["dynamodb"]["SequenceNumber"] = str(int(insert["dynamodb"]["SequenceNumber"]) + number)
        records.append(record)
    modify["dynamodb"].update(Keys={"PK": order["PK"], "SK": order["SK"]}, NewImage=order, OldImage=order)
    gone = deliveries[0]
    remove["dynamodb"].update(Keys={"PK": gone["PK"], "SK": gone["SK"]}, OldImage=gone)
    return {"Records": [*records, modify, remove]}


def aws_sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """`sqs receive-message` with each message received from the queue: its id, receipt handle,
    body and digest, and the queue's ARN."""
    shape = generated("sqs_receive_message.json")["Records"][0]
    records = []
    for message in messages:
        record = copy.deepcopy(shape)
        record.update(
            messageId=message["MessageId"],
            receiptHandle=message["ReceiptHandle"],
            body=message["Body"],
            md5OfBody=message["MD5OfBody"],
            eventSourceARN=queue_arn,
        )
        records.append(record)
    return {"Records": records}


def aws_scheduled_event(now: int) -> dict[str, Any]:
    """`cloudwatch scheduled-event` (EventBridge), at this time."""
    event = generated("cloudwatch_scheduled_event.json")
    event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return event


# ---------------------------------------------------------------- the journey, and what it leaves


TIME_KEYS = re.compile(r"(_at|_since|_time|timestamp|expires|^ts$)", re.I)


def timeless(value: Any) -> Any:
    """The value with its clock readings blanked (two runs differ by when they ran, nothing else)."""
    if isinstance(value, dict):
        return {k: "<time>" if TIME_KEYS.search(k) else timeless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [timeless(v) for v in value]
    return value


def api_result(response: dict[str, Any]) -> tuple[int, Any]:
    return response["statusCode"], timeless(json.loads(response["body"]) if response.get("body") else None)


def table_items() -> list[dict[str, Any]]:
    scanned = boto3.client("dynamodb").scan(TableName=BASE_ENV["TABLE_NAME"])["Items"]
    return sorted((timeless(item) for item in scanned), key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def key_items(prefix: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    return [
        item
        for item in client.scan(TableName=BASE_ENV["TABLE_NAME"], ConsistentRead=True)["Items"]
        if item["PK"]["S"] == f"ORDER#{ORDER_ID}" and item["SK"]["S"].startswith(prefix)
    ]


@pytest.fixture
def journey(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict[str, Any]]:
    """Run the whole journey on one kind of event ("own" or "aws") in a fresh account and fresh
    fakes; return what landed."""

    @mock_aws()
    def run(shapes: str) -> dict[str, Any]:
        aws = shapes == "aws"
        fakes = tuple(WIRING[name].test_fake().start() for name in Destination)
        try:
            boto3.client("dynamodb").create_table(TableName=BASE_ENV["TABLE_NAME"], **table_definition())
            queue_url, dlq_url = create_queues()
            sqs = boto3.client("sqs")
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            for name, fake in zip(Destination, fakes, strict=True):
                for key, value in WIRING[name].test_environment(fake).items():
                    monkeypatch.setenv(key, value)
            monkeypatch.setenv("DELIVERY_QUEUE_URL", queue_url)
            monkeypatch.setenv("DELIVERY_DLQ_URL", dlq_url)
            roots.reset()
            forwarding_root.reset()
            context = LambdaContext()
            now = int(time.time())
            own = events.build_events(INTEGRATION_SECRET, WEBHOOK_SECRETS[0], now)
            api: Callable[[str], dict[str, Any]] = (lambda n: aws_api_event(own[n])) if aws else own.__getitem__
            landed: dict[str, Any] = {}

            def call(function: str, event_name: str) -> tuple[int, Any]:
                return api_result(load_function(function).handler(api(event_name), context))

            landed["product"] = call("products", "product_created.json")
            landed["webhook"] = call("webhooks", "webhook_order_created.json")
            landed["order_post"] = call("orders", "order_post.json")
            landed["order_get"] = call("orders", "order_get.json")
            landed["unsigned"] = call("products", "product_unsigned.json")

            deliveries = sorted(key_items("DELIVERY#"), key=lambda item: item["SK"]["S"])
            (order,) = key_items("ORDER")
            stream = aws_stream_event(deliveries, order) if aws else events.stream_event(deliveries, now)
            landed["outbox"] = load_function("outbox").handler(stream, context)
            received = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            landed["queued"] = sorted(json.loads(m["Body"])["destination"] for m in received)

            batch = (
                aws_sqs_event(received, queue_arn)
                if aws
                else events.sqs_event([m["Body"] for m in received], now, [m["ReceiptHandle"] for m in received])
            )
            landed["forwarder"] = load_function("forwarder").handler(batch, context)
            landed["received"] = {
                name.value: timeless(fake.all_orders) for name, fake in zip(Destination, fakes, strict=True)
            }

            schedule = aws_scheduled_event(now) if aws else events.scheduled_event(now)
            landed["sweeper"] = timeless(load_function("sweeper").handler(schedule, context))
            landed["table"] = table_items()
            return landed
        finally:
            for fake in fakes:
                fake.stop()
            roots.reset()
            forwarding_root.reset()

    return run


@pytest.fixture
def own_and_aws(journey: Callable[[str], dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    yield journey("own"), journey("aws")


def test_the_generated_shapes_are_what_sam_cli_prints():
    assert generated("sqs_receive_message.json")["Records"][0]["eventSource"] == "aws:sqs"
    assert [r["eventName"] for r in generated("dynamodb_update.json")["Records"]] == ["INSERT", "MODIFY", "REMOVE"]
    assert generated("apigateway_aws_proxy.json")["isBase64Encoded"] is True
    assert generated("cloudwatch_scheduled_event.json")["detail-type"] == "Scheduled Event"


def test_the_api_functions_answer_aws_shaped_requests_as_they_answer_our_own(own_and_aws):
    own, aws = own_and_aws

    assert own["product"] == aws["product"] == (200, {"external_id": "sc-1"})
    assert own["webhook"] == aws["webhook"] == (200, {"ok": True})
    assert own["order_post"] == aws["order_post"]
    assert own["order_post"][0] == 202
    assert own["order_get"] == aws["order_get"]
    assert own["order_get"][1]["order_id"] == ORDER_ID
    assert own["unsigned"] == aws["unsigned"]
    assert own["unsigned"][0] == 401 and own["unsigned"][1]["error"]["code"] == "signature_missing"


def test_the_outbox_queues_the_same_deliveries_from_a_generated_stream_batch(own_and_aws):
    """The generated batch's MODIFY (the order item) and REMOVE records are not work."""
    own, aws = own_and_aws

    assert own["outbox"] == aws["outbox"] == {"batchItemFailures": []}
    assert own["queued"] == aws["queued"] == sorted(d for d in events.DESTINATIONS)


def test_the_forwarder_delivers_the_same_orders_from_a_generated_sqs_batch(own_and_aws):
    own, aws = own_and_aws

    assert own["forwarder"] == aws["forwarder"] == {"batchItemFailures": []}
    assert own["received"] == aws["received"]
    assert all(len(orders) == 1 for orders in aws["received"].values()), aws["received"]


def test_the_sweeper_reports_the_same_from_a_generated_schedule(own_and_aws):
    own, aws = own_and_aws

    assert own["sweeper"] == aws["sweeper"]
    assert aws["sweeper"]["awaiting_operator"] == 0


def test_the_table_holds_the_same_items_after_either_journey(own_and_aws):
    own, aws = own_and_aws
    states = {
        item["destination"]["S"]: item["state"]["S"] for item in aws["table"] if item["SK"]["S"].startswith("DELIVERY#")
    }

    assert own["table"] == aws["table"]
    assert states == dict.fromkeys(events.DESTINATIONS, "delivered")
