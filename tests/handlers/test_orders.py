"""POST /orders and GET /orders/{order_id}: Given platform orders, Then they are validated, routed and visible."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import INTEGRATION_SECRET, load_function
from tests.support.events import api_event, fixture, fixture_bytes, response_json, signed_headers


def post_order(context: Any, payload: Any) -> dict[str, Any]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return load_function("orders").handler(api_event("POST", "/orders", body, {"x-api-key": "k"}), context)


def get_order(context: Any, order_id: str) -> dict[str, Any]:
    event = api_event(
        "GET", f"/orders/{order_id}", None, resource="/orders/{order_id}", path_parameters={"order_id": order_id}
    )
    return load_function("orders").handler(event, context)


@pytest.fixture
def issued_sign(table, lambda_context) -> str:
    """Given Sign Customiser's product 1 was mapped to external_id sc-1 by the product callback."""
    body = fixture_bytes("signcustomiser_product_created.json")
    event = api_event("POST", "/sign-customiser/products", body, signed_headers(INTEGRATION_SECRET, body))
    response = load_function("products").handler(event, lambda_context)
    return str(response_json(response)["external_id"])


def order_items(table: Any, order_id: str) -> list[dict[str, Any]]:
    return [i for i in table.scan(TableName="signbridge-test")["Items"] if i["PK"]["S"] == f"ORDER#{order_id}"]


def test_order_is_accepted_and_routed_to_every_destination(table, issued_sign, lambda_context):
    response = post_order(lambda_context, fixture("canonical_order.json"))

    assert response["statusCode"] == 202
    body = response_json(response)
    assert body["order_id"] == "order-123456"
    assert {name: d["state"] for name, d in body["deliveries"].items()} == {
        "signcustomiser": "pending",
        "dropday": "pending",
        "onward": "pending",
    }
    assert sorted(i["SK"]["S"] for i in order_items(table, "order-123456")) == [
        "DELIVERY#dropday",
        "DELIVERY#onward",
        "DELIVERY#signcustomiser",
        "ORDER",
    ]
    order = next(i for i in order_items(table, "order-123456") if i["SK"]["S"] == "ORDER")
    assert [v["S"] for v in order["custom_line_ids"]["L"]] == ["line-1"]


def test_posting_the_same_order_again_returns_its_state_without_new_deliveries(table, issued_sign, lambda_context):
    post_order(lambda_context, fixture("canonical_order.json"))
    again = post_order(lambda_context, fixture("canonical_order.json"))

    assert again["statusCode"] == 200
    assert set(response_json(again)["deliveries"]) == {"signcustomiser", "dropday", "onward"}
    assert len(order_items(table, "order-123456")) == 4


def test_same_id_with_different_content_is_409(table, issued_sign, lambda_context):
    post_order(lambda_context, fixture("canonical_order.json"))
    changed = fixture("canonical_order.json") | {"number": "SC-9999"}
    response = post_order(lambda_context, changed)
    assert response["statusCode"] == 409
    assert response_json(response)["error"]["code"] == "conflict"


def test_customised_line_we_never_issued_is_422_naming_the_line(table, lambda_context):
    response = post_order(lambda_context, fixture("canonical_order.json"))  # sc-1 was never issued
    assert response["statusCode"] == 422
    error = response_json(response)["error"]
    assert error["code"] == "unknown_product"
    assert error["details"] == [
        {
            "field": "line_items.0.external_id",
            "line_id": "line-1",
            "external_id": "sc-1",
            "message": "customised is true but this external_id was never issued by a product:created callback",
        }
    ]
    assert order_items(table, "order-123456") == []


def test_order_without_signs_is_skipped_for_sign_customiser(table, lambda_context):
    order = fixture("canonical_order.json")
    order["line_items"] = order["line_items"][1:]
    order.update(subtotal=1500, discounts=0, shipping=0, tax=0, total=1500, amount_insured=None)
    body = response_json(post_order(lambda_context, order))
    assert body["deliveries"]["signcustomiser"]["state"] == "skipped"
    assert body["deliveries"]["signcustomiser"]["last_error"]["code"] == "no_customised_lines"
    assert body["deliveries"]["dropday"]["state"] == "pending"


def test_routing_is_a_setting(table, issued_sign, lambda_context, configure):
    configure(ROUTE_PLATFORM_ORDERS_TO="signcustomiser,onward")
    body = response_json(post_order(lambda_context, fixture("canonical_order.json")))
    assert set(body["deliveries"]) == {"signcustomiser", "onward"}


def test_totals_that_do_not_add_up_are_rejected_with_the_numbers(table, issued_sign, lambda_context):
    order = fixture("canonical_order.json") | {"total": 9999}
    response = post_order(lambda_context, order)
    assert response["statusCode"] == 422
    error = response_json(response)["error"]
    assert error["code"] == "totals_mismatch"
    assert error["details"][0]["field"] == "total"
    assert error["details"][0]["expected"] == 8643 and error["details"][0]["received"] == 9999


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "DOLLARS"}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"subtotal": 74.98}, "subtotal"),
        ({"total": -1}, "total"),
        ({"created_at": "2025-10-22T00:55:09"}, "created_at"),
        ({"line_items": []}, "line_items"),
    ],
)
def test_invalid_fields_are_named(table, lambda_context, change, field):
    response = post_order(lambda_context, fixture("canonical_order.json") | change)
    assert response["statusCode"] == 422
    assert field in {d["field"] for d in response_json(response)["error"]["details"]}


def test_unknown_country_is_named(table, lambda_context):
    order = fixture("canonical_order.json")
    order["shipping_address"]["country"] = "Atlantis"
    response = post_order(lambda_context, order)
    assert response["statusCode"] == 422
    assert "shipping_address.country" in {d["field"] for d in response_json(response)["error"]["details"]}


def test_malformed_json_is_400(table, lambda_context):
    assert post_order(lambda_context, b'{"id": ')["statusCode"] == 400


def test_get_order_shows_each_destination(table, issued_sign, lambda_context):
    post_order(lambda_context, fixture("canonical_order.json"))
    response = get_order(lambda_context, "order-123456")
    assert response["statusCode"] == 200
    body = response_json(response)
    assert body["deliveries"]["dropday"] == {
        "destination": "dropday",
        "state": "pending",
        "attempts": 0,
        "updated_at": body["deliveries"]["dropday"]["updated_at"],
    }


def test_get_unknown_order_is_404(table, lambda_context):
    response = get_order(lambda_context, "nope")
    assert response["statusCode"] == 404
    assert response_json(response)["error"] == {
        "code": "not_found",
        "message": "No order with this id.",
        "details": [{"field": "order_id", "message": "no order with this id", "received": "nope"}],
    }


def test_when_a_platform_secret_is_set_orders_must_also_be_signed(table, issued_sign, lambda_context, configure):
    configure(PLATFORM_ORDERS_SECRET="platform-signing-secret")
    body = json.dumps(fixture("canonical_order.json")).encode()

    unsigned = load_function("orders").handler(api_event("POST", "/orders", body), lambda_context)
    signed = load_function("orders").handler(
        api_event("POST", "/orders", body, signed_headers("platform-signing-secret", body)), lambda_context
    )

    assert unsigned["statusCode"] == 401
    assert response_json(unsigned)["error"]["code"] == "signature_missing"
    assert signed["statusCode"] == 202
