"""The events in events/, for ``sam local invoke``, built from the test fixtures: API Gateway REST
proxy events for the three API functions (good and bad ones), a DynamoDB stream batch for the
outbox and an SQS batch for the forwarder.

    python -m signbridge_tools.events resign [--integration-secret S] [--webhook-secret S] [--out DIR]
                                             [--stack .local/stack.json] [--order-id ID]

Signed events go stale after SIGNATURE_TOLERANCE_SECONDS (300 s by default): re-sign right
before invoking. The secrets default to the documented development values; ``--stack`` takes
them from a running local stack (`make dev`) instead.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from signbridge.logic.outbox import delivery_message, message_body
from signbridge.models.items import DeliveryRecord, DeliveryState, delivery_key
from signbridge.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from signbridge.store import to_item

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
EVENTS = ROOT / "events"
DEV_INTEGRATION_SECRET = "dev-integration-secret"
DEV_WEBHOOK_SECRET = "dev-webhook-secret"
DEV_API_KEY = "dev-api-key"
ORDER_ID = "order-123456"  # the id in canonical_order.json
# The template's default RoutePlatformOrdersTo: one delivery per destination for a platform order.
DESTINATIONS = ("signcustomiser", "dropday", "onward")
REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE_STREAM_ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/signbridge-Table/stream/2025-10-22T00:00:00.000"
DELIVERY_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:signbridge-DeliveryQueue"


def api_event(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """A REST (v1) proxy event as API Gateway hands it to the function (binary bodies base64-encoded)."""
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource or path,
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            # Stable per event, so re-signing only changes the signature headers.
            "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"signbridge:{method}:{path}")),
            "accountId": "123456789012",
            "apiId": "localapi",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": None if body is None else base64.b64encode(body).decode() if base64_encoded else body.decode(),
        "isBase64Encoded": base64_encoded,
    }


def signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, str(timestamp), body)}


def pending_delivery_image(order_id: str, destination: str, updated_at: str) -> dict[str, Any]:
    """A delivery item as POST /orders writes it (DynamoDB JSON), waiting to be sent."""
    record = DeliveryRecord(
        order_id=order_id, destination=destination, state=DeliveryState.PENDING, updated_at=updated_at
    )
    return to_item(delivery_key(order_id, destination), record)


def stream_event(images: list[dict[str, Any]], now: int) -> dict[str, Any]:
    """A DynamoDB stream batch (NEW_AND_OLD_IMAGES) in which each item is inserted."""
    records = []
    for number, image in enumerate(images, start=1):
        sequence = f"{now:012d}{number:09d}"
        records.append(
            {
                "eventID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"signbridge:stream:{sequence}")).replace("-", ""),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": REGION,
                "dynamodb": {
                    "ApproximateCreationDateTime": now,
                    "Keys": {"PK": image["PK"], "SK": image["SK"]},
                    "NewImage": image,
                    "SequenceNumber": sequence,
                    "SizeBytes": len(json.dumps(image)),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": TABLE_STREAM_ARN,
            }
        )
    return {"Records": records}


def sqs_event(bodies: list[str], now: int, receipt_handles: list[str] | None = None) -> dict[str, Any]:
    """An SQS batch as the event source mapping hands it to the function, one record per body."""
    records = []
    for number, body in enumerate(bodies):
        message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"signbridge:sqs:{body}"))
        records.append(
            {
                "messageId": message_id,
                "receiptHandle": receipt_handles[number] if receipt_handles else f"local-receipt-{message_id}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(now * 1000),
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": str(now * 1000),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": DELIVERY_QUEUE_ARN,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def delivery_bodies(stream: dict[str, Any]) -> list[str]:
    """The queue messages the outbox sends for a stream batch (its own message builder)."""
    messages = (delivery_message(record) for record in stream["Records"])
    return [message_body(message) for message in messages if message is not None]


def build_events(
    integration_secret: str, webhook_secret: str, now: int, *, order_id: str = ORDER_ID
) -> dict[str, dict[str, Any]]:
    product = (FIXTURES / "signcustomiser_product_created.json").read_bytes()
    webhook = (FIXTURES / "providers" / "signcustomiser_webhook_order_created.json").read_bytes()
    order = (FIXTURES / "canonical_order.json").read_bytes()
    if order_id != ORDER_ID:
        order = json.dumps({**json.loads(order), "id": order_id}, indent=2).encode()
    not_json = b'{"event": "product:created", "product": '
    api_key = {"x-api-key": DEV_API_KEY}
    updated_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    stream = stream_event([pending_delivery_image(order_id, d, updated_at) for d in DESTINATIONS], now)
    return {
        "product_created.json": api_event(
            "POST", "/sign-customiser/products", product, signed_headers(integration_secret, product, now)
        ),
        "product_unsigned.json": api_event("POST", "/sign-customiser/products", product),
        "webhook_order_created.json": api_event(
            "POST", "/sign-customiser/webhooks", webhook, signed_headers(webhook_secret, webhook, now)
        ),
        "webhook_malformed.json": api_event(
            "POST", "/sign-customiser/webhooks", not_json, signed_headers(webhook_secret, not_json, now)
        ),
        "order_post.json": api_event("POST", "/orders", order, api_key),
        "order_get.json": api_event(
            "GET",
            f"/orders/{order_id}",
            None,
            api_key,
            resource="/orders/{order_id}",
            path_parameters={"order_id": order_id},
        ),
        "outbox_deliveries_pending.json": stream,
        "forwarder_deliveries.json": sqs_event(delivery_bodies(stream), now),
        "sweeper_scheduled.json": scheduled_event(now),
    }


def scheduled_event(now: int) -> dict[str, Any]:
    """What an EventBridge schedule (the sweeper's `Schedule` event) hands the function."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"signbridge-sweep-{now}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/signbridge-SweeperFunctionSchedule"],
        "detail": {},
    }


def write_events(events: dict[str, dict[str, Any]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, event in events.items():
        (out / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")


def resign(args: argparse.Namespace) -> int:
    integration_secret, webhook_secret = args.integration_secret, args.webhook_secret
    if args.stack is not None:
        stack = json.loads(args.stack.read_text())
        integration_secret, webhook_secret = stack["integration_secret"], stack["webhook_secrets"][0]
    built = build_events(integration_secret, webhook_secret, int(time.time()), order_id=args.order_id)
    write_events(built, args.out)
    for name in built:
        print(f"wrote {args.out / name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m signbridge_tools.events", description="sam local invoke events")
    commands = parser.add_subparsers(dest="command", required=True)
    again = commands.add_parser("resign", help="regenerate the events from the fixtures with a fresh timestamp")
    again.add_argument("--integration-secret", default=DEV_INTEGRATION_SECRET, help="signs product_created.json")
    again.add_argument("--webhook-secret", default=DEV_WEBHOOK_SECRET, help="signs webhook_order_created.json")
    again.add_argument("--out", type=Path, default=EVENTS, help=f"directory (default {EVENTS.relative_to(ROOT)})")
    again.add_argument("--stack", type=Path, help="sign with the secrets of this local stack (.local/stack.json)")
    again.add_argument("--order-id", default=ORDER_ID, help=f"the platform order's id (default {ORDER_ID})")
    again.set_defaults(run=resign)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
