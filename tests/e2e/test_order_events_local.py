"""End to end on the local stack: one order walks paid → fulfilled → in_transit → delivered →
refunded, and each destination hears of each event once, in order (Dropday only once the order is
paid; the parcel's statuses only once Onward has the shipment)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support.events import fixture

pytestmark = pytest.mark.e2e


def wait_for(http: Any, url: str, headers: dict[str, str], done: Any, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = dict(http.get(url, headers=headers).json())
        if done(view) or time.monotonic() > deadline:
            return view
        time.sleep(1)


def events_settled(count: int) -> Any:
    final = {"delivered", "skipped", "failed", "action_required"}
    return lambda view: (
        len(view["timeline"]) == count
        and all(d["state"] in final for entry in view["timeline"] for d in entry["deliveries"].values())
    )


def requests_for(http: Any, fake: dict[str, Any], order_id: str) -> list[dict[str, Any]]:
    every = http.get(f"{fake['control_url']}/requests").json()["requests"]
    return [r for r in every if order_id in r["path"] or order_id in str(r.get("body"))]


def test_an_order_walks_paid_fulfilled_in_transit_delivered_refunded(stack, http):
    headers = {"x-api-key": stack["api_key"]}
    order = fixture("canonical_order.json") | {"id": f"e2e-ev-{uuid.uuid4().hex[:10]}", "financial_status": "pending"}
    for line in order["line_items"]:
        line["customised"] = False  # no design to map: Dropday and Onward are what this walk is about
    url = f"{stack['orders_url']}/{order['id']}"
    assert http.post(stack["orders_url"], json=order, headers=headers).status_code == 202
    view = wait_for(http, url, headers, lambda v: v["deliveries"]["onward"]["state"] == "delivered")
    assert view["deliveries"]["dropday"]["state"] == "awaiting_payment"

    walk = [
        {"id": f"{order['id']}-paid", "type": "paid"},
        {
            "id": f"{order['id']}-ship",
            "type": "fulfilled",
            "fulfilment": {
                "carrier": "UPS",
                "tracking_number": "1Z999AA10123456784",
                "lines": [{"line_id": "line-1", "quantity": 2}, {"line_id": "line-2", "quantity": 1}],
            },
        },
        {
            "id": f"{order['id']}-in-transit",
            "type": "shipment_updated",
            "shipment": {"fulfilment_id": f"{order['id']}-ship", "status": "in_transit"},
        },
        {
            "id": f"{order['id']}-delivered",
            "type": "shipment_updated",
            "occurred_at": "2025-10-27T15:30:00Z",
            "shipment": {"fulfilment_id": f"{order['id']}-ship", "status": "delivered"},
        },
        {
            "id": f"{order['id']}-refund",
            "type": "refunded",
            "refund": {"lines": [{"line_id": "line-2", "quantity": 1, "amount": 1500}]},
        },
    ]
    for event in walk:
        answer = http.post(f"{url}/events", json=event, headers=headers)
        assert answer.status_code == 202, answer.text
        assert http.post(f"{url}/events", json=event, headers=headers).status_code == 200

    view = wait_for(http, url, headers, events_settled(5))
    assert [(e["type"], e["deliveries"]["onward"]["state"]) for e in view["timeline"]] == [
        ("paid", "delivered"),
        ("fulfilled", "delivered"),
        ("shipment_updated", "delivered"),
        ("shipment_updated", "delivered"),
        ("refunded", "delivered"),
    ]
    assert [e["deliveries"]["dropday"]["state"] for e in view["timeline"][2:4]] == ["skipped", "skipped"]
    assert view["deliveries"]["dropday"]["state"] == "delivered"
    onward = requests_for(http, stack["fakes"]["onward"], order["id"])
    shipment_events = f"/api/v1/shipments/{order['id']}-ship/events"
    assert [(r["method"], r["path"]) for r in onward] == [
        ("POST", "/api/v1/orders"),
        ("PATCH", f"/api/v1/orders/{order['id']}"),
        ("POST", "/api/v1/shipments"),
        ("POST", shipment_events),
        ("POST", shipment_events),
        ("PATCH", f"/api/v1/orders/{order['id']}"),
    ]
    assert [r["body"] for r in onward[3:5]] == [
        {"status": "in_transit"},
        {"status": "delivered", "occurred_at": "2025-10-27T15:30:00+00:00"},
    ]
    counts = http.get(f"{stack['fakes']['dropday']['control_url']}/orders").json()["counts"]
    assert counts.get(order["id"]) == 1
