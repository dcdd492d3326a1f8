"""What the cold-start and warm benchmarks share: the layer as `sam build` makes it, DynamoDB Local
with the template's table, a stand-in for SQS, and the requests each function is first invoked with."""

from __future__ import annotations

import copy
import hashlib
import json
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks import ROOT
from tests.conftest import BASE_ENV, INTEGRATION_SECRET, WEBHOOK_SECRETS
from tests.support.events import api_event, fixture, signed_headers


def build_layer(artifacts: Path, *, target: str = "local", python: str = sys.executable) -> Path:
    """`make build-SharedLayer` of this checkout into ``artifacts``; returns the layer's python/ folder."""
    make = ["make", "-s", "-C", str(ROOT), "build-SharedLayer", f"LAYER_TARGET={target}"]
    subprocess.run(  # noqa: S603 - make, with our own arguments
        [*make, f"ARTIFACTS_DIR={artifacts}", f"PYTHON={python}"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return artifacts / "python"


class _SqsStandIn(BaseHTTPRequestHandler):
    """Answers SendMessage and ChangeMessageVisibility (AWS JSON protocol) as SQS does."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        answer: dict[str, str] = {}
        if self.headers.get("X-Amz-Target", "").endswith(".SendMessage"):
            digest = hashlib.md5(request["MessageBody"].encode()).hexdigest()  # noqa: S324 - SQS's own checksum
            answer = {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest}
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def sqs_stand_in() -> Iterator[str]:
    """An SQS endpoint on loopback (a free port); yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SqsStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def xray_daemon_sink() -> Iterator[str]:
    """A UDP socket that swallows the X-Ray SDK's segments; yields its address."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    try:
        yield f"127.0.0.1:{sink.getsockname()[1]}"
    finally:
        sink.close()


def _unique() -> int:
    return uuid.uuid4().int % 10**12


def product_created() -> dict[str, Any]:
    """A signed product:created callback for a product never seen before."""
    body = fixture("signcustomiser_product_created.json")
    body["product"]["product_id"] = _unique()
    raw = json.dumps(body).encode()
    return api_event("POST", "/sign-customiser/products", raw, signed_headers(INTEGRATION_SECRET, raw))


def webhook_order_created() -> dict[str, Any]:
    body = fixture("providers/signcustomiser_webhook_order_created.json")
    body["order"]["order_id"] = _unique()
    raw = json.dumps(body).encode()
    return api_event("POST", "/sign-customiser/webhooks", raw, signed_headers(WEBHOOK_SECRETS[0], raw))


def platform_order() -> dict[str, Any]:
    """POST /orders for a new order whose Sign Customiser line (sc-1) is mapped (see seed_products)."""
    body = copy.deepcopy(fixture("canonical_order.json"))
    body["id"] = f"bench-{uuid.uuid4().hex}"
    return api_event("POST", "/orders", json.dumps(body).encode(), {"content-type": "application/json"})


def pending_delivery_record() -> dict[str, Any]:
    """The stream record of a delivery item becoming pending (what the outbox turns into a message)."""
    order_id = f"bench-{uuid.uuid4().hex}"
    image = {
        "PK": {"S": f"ORDER#{order_id}"},
        "SK": {"S": "DELIVERY#dropday"},
        "state": {"S": "pending"},
        "order_id": {"S": order_id},
        "destination": {"S": "dropday"},
    }
    record = {
        "eventID": uuid.uuid4().hex,
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": BASE_ENV["AWS_DEFAULT_REGION"],
        "dynamodb": {"Keys": {"PK": image["PK"], "SK": image["SK"]}, "NewImage": image, "StreamViewType": "NEW_IMAGE"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/signbridge-test/stream/2026",
    }
    return {"Records": [record]}


def delivery_message() -> dict[str, Any]:
    """An SQS delivery message (for an order this table does not hold: a claim and a read)."""
    body = json.dumps({"order_id": f"bench-{uuid.uuid4().hex}", "destination": "dropday"}, sort_keys=True)
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "receipt",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:signbridge-deliveries",
        "awsRegion": "us-east-1",
    }
    return {"Records": [record]}


def seed_products(client: Any, table_name: str) -> None:
    """Sign Customiser product 1 mapped to sc-1, as the product callback stores it."""
    from signbridge.mappers.product import to_product_mapping
    from signbridge.models.signcustomiser import ProductCreated
    from signbridge.store import Store

    product = ProductCreated.model_validate(fixture("signcustomiser_product_created.json")).product
    Store(table_name, client).record_product(to_product_mapping(product, "sc-1", "2026-01-01T00:00:00+00:00"))


__all__ = ["ROOT", "build_layer"]
