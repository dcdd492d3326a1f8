"""POST /sign-customiser/webhooks: Given signed deliveries, Then each is recorded once and acknowledged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import WEBHOOK_SECRETS, load_function
from tests.support.events import api_event, fixture, fixture_bytes, response_json, signed_headers
from tests.support.routes import routes

PATH = "/sign-customiser/webhooks"


def deliver(context: Any, body: bytes, secret: str = WEBHOOK_SECRETS[0], headers: dict[str, str] | None = None):
    event = api_event("POST", PATH, body, headers if headers is not None else signed_headers(secret, body))
    return load_function("webhooks").handler(event, context)


def items(table: Any, prefix: str) -> list[dict[str, Any]]:
    return [i for i in table.scan(TableName="signbridge-test")["Items"] if i["PK"]["S"].startswith(prefix)]


def test_order_created_is_recorded_and_acknowledged(table, lambda_context):
    response = deliver(lambda_context, fixture_bytes("providers/signcustomiser_webhook_order_created.json"))

    assert response["statusCode"] == 200
    assert response_json(response) == {"ok": True}
    [order] = items(table, "SCORDER#")
    assert order["sc_order_id"]["N"] == "1"
    assert order["order_number"]["N"] == "4"
    assert order["order_total"]["N"] == "120000"
    assert order["external_id"]["S"] == "12345"
    # linked to our order id space, so GET /orders/12345 shows Sign Customiser's order id
    assert [i["SK"]["S"] for i in items(table, "ORDER#12345")] == ["SCORDER#1"]
    [delivery] = items(table, "WEBHOOK#")
    assert delivery["topic"]["S"] == "order:created"
    assert int(delivery["expires_at"]["N"]) > 0


def test_many_deliveries_of_one_order_record_it_once(table, lambda_context):
    body = fixture_bytes("providers/signcustomiser_webhook_order_created.json")
    for _ in range(3):
        assert deliver(lambda_context, body)["statusCode"] == 200
    # a redelivery whose bytes differ (re-serialised) is still the same order
    reserialised = json.dumps(json.loads(body)).encode()
    assert deliver(lambda_context, reserialised)["statusCode"] == 200

    assert len(items(table, "SCORDER#")) == 1
    assert len(items(table, "WEBHOOK#")) == 2  # two distinct bodies


def test_any_active_secret_verifies_during_rotation(table, lambda_context):
    body = fixture_bytes("providers/signcustomiser_webhook_order_created.json")
    assert deliver(lambda_context, body, secret=WEBHOOK_SECRETS[1])["statusCode"] == 200
    assert deliver(lambda_context, body, secret="retired-secret")["statusCode"] == 401


@pytest.mark.parametrize(
    ("payload", "topic"),
    [
        ({"product": {"product_id": 7, "title": "Neon", "price": 100}}, "product:created"),
        ({"form": {"id": 3, "fields": {"name": "Ann"}}}, "form:submitted"),
        ({"something": "new"}, "unrecognised"),
    ],
)
def test_other_topics_are_stored_and_acknowledged(table, lambda_context, payload, topic):
    response = deliver(lambda_context, json.dumps(payload).encode())
    assert response_json(response) == {"ok": True}
    [delivery] = items(table, "WEBHOOK#")
    assert delivery["topic"]["S"] == topic
    assert json.loads(delivery["body"]["S"]) == payload
    assert items(table, "SCORDER#") == []


def test_unsigned_or_tampered_deliveries_are_refused(table, lambda_context):
    body = fixture_bytes("providers/signcustomiser_webhook_order_created.json")
    headers = signed_headers(WEBHOOK_SECRETS[0], body)
    tampered = body.replace(b'"order_total": 120000', b'"order_total": 1')

    assert deliver(lambda_context, tampered, headers=headers)["statusCode"] == 401
    assert deliver(lambda_context, body, headers={})["statusCode"] == 401
    assert items(table, "WEBHOOK#") == [] and items(table, "SCORDER#") == []


def test_order_created_with_a_broken_order_is_422_with_paths(table, lambda_context):
    body = json.dumps({"order": {"order_number": "four"}}).encode()
    response = deliver(lambda_context, body)
    assert response["statusCode"] == 422
    fields = {d["field"] for d in response_json(response)["error"]["details"]}
    assert fields == {"order.order_id", "order.order_number"}
    assert items(table, "WEBHOOK#") == []


def test_webhook_order_is_forwarded_when_routing_says_so(table, lambda_context, monkeypatch):
    monkeypatch.setenv("FORWARD_WEBHOOK_ORDERS_TO", "dropday,onward")
    body = fixture_bytes("providers/signcustomiser_webhook_order_created.json")
    deliver(lambda_context, body)
    deliver(lambda_context, body)  # twice: still one order

    order_items = items(table, "ORDER#12345")
    assert sorted(i["SK"]["S"] for i in order_items) == ["DELIVERY#dropday", "DELIVERY#onward", "ORDER", "SCORDER#1"]
    order = next(i for i in order_items if i["SK"]["S"] == "ORDER")
    canonical = json.loads(order["body"]["S"])
    assert order["origin"]["S"] == "signcustomiser"
    assert canonical["shipping_address"]["province"] == "Queensland"
    # app_total / price proves ten signs; the rest of order_total is not a sign and is not shipping.
    assert canonical["line_items"][0]["quantity"] == 10
    assert (canonical["subtotal"], canonical["shipping"], canonical["total"]) == (100000, 0, 100000)


def _platform_order_12345(*destinations: str) -> None:
    from signbridge.forwarding_root import store
    from signbridge.logic.orders import accept_platform_order
    from signbridge.models.order import Order

    canonical = fixture("canonical_order.json") | {"id": "12345", "number": "SIGN-12345", "currency": "USD"}
    for line in canonical["line_items"]:
        line["customised"] = None
    accept_platform_order(Order.model_validate(canonical), store(), routes(*destinations))


def test_a_webhook_order_under_the_id_of_a_platform_order_it_is_not_is_reported_not_forwarded(
    table, lambda_context, configure, capsys, caplog
):
    # Given platform order 12345, routed to Dropday only: Sign Customiser never got it from signbridge
    _platform_order_12345("dropday")
    configure(FORWARD_WEBHOOK_ORDERS_TO="dropday,onward")

    # When an order:created webhook from another channel names the same id
    response = deliver(lambda_context, fixture_bytes("providers/signcustomiser_webhook_order_created.json"))

    # Then it is acknowledged and recorded, reaches no destination, and is alarmed with its code
    assert response["statusCode"] == 200
    sks = sorted(i["SK"]["S"] for i in items(table, "ORDER#12345"))
    assert sks == ["DELIVERY#dropday", "ORDER", "SCORDER#1"]
    assert '"WebhookOrderNotForwarded"' in capsys.readouterr().out
    assert [r.code for r in caplog.records if r.getMessage() == "order:created not forwarded"] == ["order_id_taken"]


def test_a_webhook_order_that_cannot_be_forwarded_is_still_recorded_and_acknowledged(
    table, lambda_context, monkeypatch, capsys
):
    monkeypatch.setenv("FORWARD_WEBHOOK_ORDERS_TO", "dropday")
    payload = fixture("providers/signcustomiser_webhook_order_created.json")
    payload["order"]["created_at"] = "yesterday"
    response = deliver(lambda_context, json.dumps(payload).encode())

    assert response["statusCode"] == 200
    assert len(items(table, "SCORDER#")) == 1
    assert [i for i in items(table, "ORDER#12345") if i["SK"]["S"] == "ORDER"] == []
    assert '"WebhookOrderNotForwarded"' in capsys.readouterr().out
