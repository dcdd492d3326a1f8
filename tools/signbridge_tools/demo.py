"""`make demo`: the whole journey against the local stack that `make dev` started.

1. A signed product:created → the external_id (and the same id again on a redelivery).
2. A signed order:created webhook → {"ok": true}.
3. A platform order using that external_id → 202, then GET /orders/{id} until every destination
   is delivered, and what each provider fake received.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from signbridge.destinations import Destination
from signbridge.lifecycle import DeliveryState
from signbridge.signature import sign

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def signed(secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "x-webhook-timestamp": timestamp,
        "x-webhook-signature": sign(secret, timestamp, body),
    }


def show(step: str, response: httpx.Response) -> Any:
    print(f"\n== {step}\n{response.request.method} {response.request.url.path} -> {response.status_code}")
    body = response.json() if response.content else None
    print(json.dumps(body, indent=2))
    return body


def load_stack(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SystemExit(f"{path} not found: run `make dev` first")
    return dict(json.loads(path.read_text()))


def run(stack: dict[str, Any], timeout: float) -> int:
    client = httpx.Client(timeout=30)
    product_body = (FIXTURES / "signcustomiser_product_created.json").read_bytes()
    product = json.loads(product_body)
    product["product"]["product_id"] = int(time.time())  # a new design each run
    product_body = json.dumps(product).encode()
    first = show(
        "product:created (signed with the Integration Secret)",
        client.post(
            stack["create_product_url"], content=product_body, headers=signed(stack["integration_secret"], product_body)
        ),
    )
    again = show(
        "the same delivery again",
        client.post(
            stack["create_product_url"], content=product_body, headers=signed(stack["integration_secret"], product_body)
        ),
    )
    assert first == again, "a redelivery must get the same external_id"
    external_id = first["external_id"]

    webhook_body = (FIXTURES / "providers" / "signcustomiser_webhook_order_created.json").read_bytes()
    show(
        "order:created webhook (signed with the subscription secret)",
        client.post(
            stack["webhook_url"], content=webhook_body, headers=signed(stack["webhook_secrets"][0], webhook_body)
        ),
    )

    order = json.loads((FIXTURES / "canonical_order.json").read_text())
    order["id"] = f"demo-{uuid.uuid4().hex[:8]}"
    order["line_items"][0].update(external_id=external_id, variant_id=external_id)
    headers = {"x-api-key": stack["api_key"], "Content-Type": "application/json"}
    show(
        "platform order (POST /orders with the API key)", client.post(stack["orders_url"], json=order, headers=headers)
    )
    print(f"\nwaiting up to {timeout:.0f} s for the deliveries ...")
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"{stack['orders_url']}/{order['id']}", headers=headers).json()
        states = {name: d["state"] for name, d in view["deliveries"].items()}
        if all(DeliveryState(s).resting for s in states.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    show(f"GET /orders/{order['id']}", client.get(f"{stack['orders_url']}/{order['id']}", headers=headers))
    for name in Destination:  # every registered destination has a fake (signbridge_tools.fakes.wiring)
        counts = client.get(f"{stack['fakes'][name]['control_url']}/orders").json()["counts"]
        print(f"{name} fake holds {counts.get(order['id'], 0)} order(s) for {order['id']}")
    ok = all(state == "delivered" for state in states.values())
    print("\nall destinations delivered" if ok else f"\nnot all delivered: {states}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m signbridge_tools.demo", description=__doc__)
    parser.add_argument("--stack-file", type=Path, default=ROOT / ".local" / "stack.json")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)
    sys.exit(run(load_stack(args.stack_file), args.timeout))


if __name__ == "__main__":
    main()
