"""The Onward fake after checkout: Given an order it holds, Then PATCH /orders/{id} needs
financial_status, refund_insurance refunds once, and shipments and their events answer
201 / 404 / 409 / 422 as documented, with the same fault injection as creates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from signbridge_tools.fakes import OnwardFake

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
HEADERS = {"X-API-Key": "onward-dev-key", "Accept": "application/json"}
HTTP = httpx.Client(timeout=2.0)


@pytest.fixture
def onward() -> Iterator[OnwardFake]:
    with OnwardFake() as fake:
        order = json.loads((FIXTURES / "onward_create_order_request.json").read_text())
        assert HTTP.post(fake.url + "/api/v1/orders", json=order, headers=HEADERS).status_code == 201
        yield fake


def shipment(**changes: Any) -> dict[str, Any]:
    return {
        "shop_order_id": "18282",
        "shop_shipment_id": "ship-1",
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
        "line_items": [{"shop_line_item_id": "816721", "quantity": 1}],
    } | changes


def test_an_update_without_financial_status_is_422(onward):
    r = HTTP.patch(onward.url + "/api/v1/orders/18282", json={"shop_order_number": "W-1"}, headers=HEADERS)
    assert r.status_code == 422 and "financial_status is required" in r.json()["errors"]


def test_an_update_with_refunded_lines_is_kept(onward):
    update = {
        "financial_status": "paid",
        "line_items": [
            {
                **json.loads((FIXTURES / "onward_create_order_request.json").read_text())["line_items"][0],
                "refunded_quantity": 1,
                "refunded_price": {"cents": 500, "currency": "USD"},
            }
        ],
    }
    r = HTTP.patch(onward.url + "/api/v1/orders/18282", json=update, headers=HEADERS)
    assert r.status_code == 200
    assert onward.orders["18282"]["current"]["line_items"][0]["refunded_quantity"] == 1


def test_refund_insurance_has_no_duplicate_rule_each_request_is_a_refund(onward):
    url = onward.url + "/api/v1/orders/18282/refund_insurance"
    assert HTTP.patch(url, json={}, headers=HEADERS).status_code == 200
    assert HTTP.patch(url, json={}, headers=HEADERS).status_code == 200
    assert onward.orders["18282"]["insurance_refunds"] == 2
    assert HTTP.patch(onward.url + "/api/v1/orders/nope/refund_insurance", json={}, headers=HEADERS).status_code == 404


def test_shipments_answer_201_then_409_404_and_422(onward):
    url = onward.url + "/api/v1/shipments"
    assert HTTP.post(url, json=shipment(), headers=HEADERS).status_code == 201
    assert HTTP.post(url, json=shipment(), headers=HEADERS).status_code == 409  # it exists
    assert (
        HTTP.post(url, json=shipment(shop_order_id="nope", shop_shipment_id="s2"), headers=HEADERS).status_code == 404
    )
    bad = HTTP.post(url, json=shipment(shop_shipment_id="s3", tracking_number=7), headers=HEADERS)
    assert bad.status_code == 422 and any("tracking_number" in e for e in bad.json()["errors"])
    unknown_line = shipment(shop_shipment_id="s4", line_items=[{"shop_line_item_id": "x", "quantity": 1}])
    assert HTTP.post(url, json=unknown_line, headers=HEADERS).status_code == 422
    assert list(onward.shipments) == ["ship-1"]


def test_shipment_updates_and_events(onward):
    HTTP.post(onward.url + "/api/v1/shipments", json=shipment(), headers=HEADERS)
    base = onward.url + "/api/v1/shipments"
    assert HTTP.patch(f"{base}/ship-1", json={"tracking_number": "NEW"}, headers=HEADERS).status_code == 200
    assert HTTP.patch(f"{base}/nope", json={"tracking_number": "NEW"}, headers=HEADERS).status_code == 404
    assert HTTP.post(f"{base}/ship-1/events", json={"status": "in_transit"}, headers=HEADERS).status_code == 201
    assert HTTP.post(f"{base}/ship-1/events", json={"status": "teleported"}, headers=HEADERS).status_code == 422
    assert HTTP.post(f"{base}/nope/events", json={"status": "delivered"}, headers=HEADERS).status_code == 404
    assert onward.shipments["ship-1"]["tracking_number"] == "NEW"
    assert onward.shipments["ship-1"]["events"] == [{"status": "in_transit"}]


def test_faults_apply_to_shipments_as_to_creates(onward):
    onward.add_faults(
        {"status": 503, "path": "/api/v1/shipments"}, {"accept_then_drop": True, "path": "/api/v1/shipments"}
    )
    url = onward.url + "/api/v1/shipments"
    assert HTTP.post(url, json=shipment(), headers=HEADERS).status_code == 503
    assert "ship-1" not in onward.shipments
    with pytest.raises(httpx.HTTPError):
        HTTP.post(url, json=shipment(), headers=HEADERS)
    assert "ship-1" in onward.shipments  # acted on, the answer lost
    assert HTTP.post(url, json=shipment(), headers=HEADERS).status_code == 409


def test_shipment_events_have_no_duplicate_rule_and_take_faults(onward):
    HTTP.post(onward.url + "/api/v1/shipments", json=shipment(), headers=HEADERS)
    url = onward.url + "/api/v1/shipments/ship-1/events"
    onward.add_faults({"status": 502, "accept": True, "path": url.removeprefix(onward.url)}, {"status": 503})
    event = {"status": "delivered", "occurred_at": "2025-10-27T15:30:00+00:00"}

    assert HTTP.post(url, json=event, headers=HEADERS).status_code == 502  # acted on, then a gateway's 502
    assert HTTP.post(url, json=event, headers=HEADERS).status_code == 503  # not acted on
    assert HTTP.post(url, json=event, headers=HEADERS).status_code == 201
    bad_time = HTTP.post(url, json={"status": "delivered", "occurred_at": "yesterday"}, headers=HEADERS)

    # The same event twice is two events: Onward documents no 409 for them.
    assert onward.shipments["ship-1"]["events"] == [event, event]
    assert bad_time.status_code == 422 and any("occurred_at" in e for e in bad_time.json()["errors"])
