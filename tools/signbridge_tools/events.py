"""The API Gateway REST proxy events in events/, for ``sam local invoke``, built from the test fixtures.

    python -m signbridge_tools.events resign [--integration-secret S] [--webhook-secret S] [--out DIR]

Signed events go stale after SIGNATURE_TOLERANCE_SECONDS (300 s by default): re-sign right
before invoking. The secrets default to the documented development values.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from signbridge.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
EVENTS = ROOT / "events"
DEV_INTEGRATION_SECRET = "dev-integration-secret"
DEV_WEBHOOK_SECRET = "dev-webhook-secret"
DEV_API_KEY = "dev-api-key"
ORDER_ID = "order-123456"  # the id in canonical_order.json


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


def build_events(integration_secret: str, webhook_secret: str, now: int) -> dict[str, dict[str, Any]]:
    product = (FIXTURES / "signcustomiser_product_created.json").read_bytes()
    webhook = (FIXTURES / "providers" / "signcustomiser_webhook_order_created.json").read_bytes()
    order = (FIXTURES / "canonical_order.json").read_bytes()
    api_key = {"x-api-key": DEV_API_KEY}
    return {
        "product_created.json": api_event(
            "POST", "/sign-customiser/products", product, signed_headers(integration_secret, product, now)
        ),
        "webhook_order_created.json": api_event(
            "POST", "/sign-customiser/webhooks", webhook, signed_headers(webhook_secret, webhook, now)
        ),
        "order_post.json": api_event("POST", "/orders", order, api_key),
        "order_get.json": api_event(
            "GET",
            f"/orders/{ORDER_ID}",
            None,
            api_key,
            resource="/orders/{order_id}",
            path_parameters={"order_id": ORDER_ID},
        ),
    }


def resign(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    for name, event in build_events(args.integration_secret, args.webhook_secret, int(time.time())).items():
        (args.out / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.out / name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m signbridge_tools.events", description="sam local invoke events")
    commands = parser.add_subparsers(dest="command", required=True)
    again = commands.add_parser("resign", help="regenerate the events from the fixtures with a fresh timestamp")
    again.add_argument("--integration-secret", default=DEV_INTEGRATION_SECRET, help="signs product_created.json")
    again.add_argument("--webhook-secret", default=DEV_WEBHOOK_SECRET, help="signs webhook_order_created.json")
    again.add_argument("--out", type=Path, default=EVENTS, help=f"directory (default {EVENTS.relative_to(ROOT)})")
    again.set_defaults(run=resign)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
