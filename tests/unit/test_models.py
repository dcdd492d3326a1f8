"""Boundary models: Given the documented examples and our canonical order, Then they parse, keep what
they do not know, and say precisely what is wrong with money that does not add up."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from signbridge.destinations.signcustomiser.models import ScCreateOrderRequest, ScCreateOrderResponse
from signbridge.models.order import Order
from signbridge.models.signcustomiser import OrderCreated, ProductCreated

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def webhook_example() -> dict[str, Any]:
    return load("providers/signcustomiser_webhook_order_created.json")


@pytest.fixture
def canonical() -> dict[str, Any]:
    return load("canonical_order.json")


def errors_at(exc: ValidationError) -> set[tuple[Any, ...]]:
    return {tuple(error["loc"]) for error in exc.errors()}


# --------------------------------------------------------------------------- Sign Customiser
def test_the_documented_order_created_webhook_parses(webhook_example):
    delivery = OrderCreated.model_validate(webhook_example)
    order = delivery.order
    assert order.order_id == 1
    assert order.external_id == "12345"
    assert order.order_total == 120000
    assert order.shipping_address is not None and order.shipping_address.state == "Queensland"
    assert order.billing_address is not None and order.billing_address.country == "Australia"
    assert order.customer is not None and order.customer.external_id == "1234"
    [product] = order.products
    assert product.price == 10000
    # Documented as an object, delivered as [] when empty: accepted as is.
    assert product.external_data == []
    assert product.uploads[0].type == "product_image"


def test_the_documented_product_callback_parses():
    callback = ProductCreated.model_validate(load("signcustomiser_product_created.json"))
    product = callback.product
    assert product.product_id == 1
    assert product.title == "Custom Neon: Hello World"
    assert product.price == 10000
    assert product.external_id is None
    assert product.external_data == {}
    assert [upload.url for upload in product.uploads] == [
        "https://d1no4rdxmwcuog.cloudfront.net/default/app-images/demonstration_image_1.jpg"
    ]


def test_the_documented_create_order_request_and_response_validate():
    example = load("providers/signcustomiser_create_order_request.json")
    request = ScCreateOrderRequest.model_validate(example)
    assert request.integration_id == 42
    assert request.products[0].price == 2999
    assert request.model_dump(exclude_none=True) == example

    response = ScCreateOrderResponse.model_validate(load("providers/signcustomiser_create_order_response.json"))
    assert response.order.order_id == 1


def test_unknown_fields_in_a_webhook_are_kept(webhook_example):
    # Given a delivery carrying fields signbridge does not model (documented and new ones)
    webhook_example["order"]["loyalty_points"] = 12
    webhook_example["order"]["products"][0]["material"] = {"name": "acrylic"}
    # When parsed and dumped again
    dumped = OrderCreated.model_validate(webhook_example).model_dump()
    # Then nothing is lost
    assert dumped["order"]["loyalty_points"] == 12
    assert dumped["order"]["products"][0]["material"] == {"name": "acrylic"}
    assert dumped["order"]["shipping_address"]["created_at"] == "2025-10-22T00:55:09+00:00"
    assert dumped["order"]["customer"]["updated_at"] == "2025-10-22T00:55:09+00:00"


def test_unknown_fields_in_a_product_callback_are_kept():
    body = load("signcustomiser_product_created.json")
    body["product"]["size"] = "120cm"
    assert ProductCreated.model_validate(body).model_dump()["product"]["size"] == "120cm"


def test_a_numeric_external_id_from_sign_customiser_is_read_as_text(webhook_example):
    webhook_example["order"]["external_id"] = 12345
    assert OrderCreated.model_validate(webhook_example).order.external_id == "12345"


# --------------------------------------------------------------------------- canonical order
def test_the_canonical_example_adds_up(canonical):
    order = Order.model_validate(canonical)
    assert order.totals_problems() == []
    assert order.currency == "USD"
    assert order.line_items[0].total == 5998


def problem(order: Order, field: str) -> dict[str, object]:
    [found] = [p for p in order.totals_problems() if p["field"] == field]
    return found


def test_a_subtotal_that_is_not_the_sum_of_the_lines_is_named_with_both_numbers(canonical):
    canonical["subtotal"] = 8000
    canonical["total"] = 8000 - 500 + 995 + 650  # keep the total consistent with the wrong subtotal
    order = Order.model_validate(canonical)
    assert order.totals_problems() == [
        {
            "field": "subtotal",
            "expected": 7498,
            "received": 8000,
            "message": "subtotal must equal the sum of unit_price * quantity",
        }
    ]


def test_a_total_that_does_not_add_up_is_named_with_both_numbers(canonical):
    canonical["total"] = 8600
    problems = Order.model_validate(canonical).totals_problems()
    assert [(p["field"], p["expected"], p["received"]) for p in problems] == [("total", 8643, 8600)]


def test_with_taxes_included_the_tax_is_not_added_again(canonical):
    # Given line prices that already include the tax
    canonical["taxes_included"] = True
    # When the total still adds the tax on top, Then the total is named, with the rule
    order = Order.model_validate(canonical)
    found = problem(order, "total")
    assert (found["expected"], found["received"]) == (7993, 8643)
    assert "tax included" in str(found["message"])
    # When the total leaves the tax out, Then it adds up
    canonical["total"] = 7993
    assert Order.model_validate(canonical).totals_problems() == []


def test_discounts_larger_than_the_subtotal_are_named(canonical):
    canonical["discounts"] = 8000
    canonical["total"] = 0  # whatever the total, the discount alone is wrong
    found = problem(Order.model_validate(canonical), "discounts")
    assert (found["expected"], found["received"]) == ("<= 7498", 8000)


def test_an_insured_amount_larger_than_the_subtotal_is_named(canonical):
    canonical["amount_insured"] = 7499
    found = problem(Order.model_validate(canonical), "amount_insured")
    assert (found["expected"], found["received"]) == ("<= 7498", 7499)


@pytest.mark.parametrize(("given_code", "kept"), [("USD", "USD"), ("usd", "USD"), ("JPY", "JPY"), ("kwd", "KWD")])
def test_a_currency_is_an_iso_4217_code_normalised_to_upper_case(canonical, given_code, kept):
    canonical["currency"] = given_code
    assert Order.model_validate(canonical).currency == kept


@pytest.mark.parametrize("code", ["XXX", "ZZZ", "XAU", "", "US Dollar"])
def test_a_currency_that_cannot_be_charged_is_refused(canonical, code):
    canonical["currency"] = code
    with pytest.raises(ValidationError) as raised:
        Order.model_validate(canonical)
    assert ("currency",) in errors_at(raised.value)


@pytest.mark.parametrize("country", ["Australia", "AU", "AUS", "United States", "us"])
def test_a_country_is_accepted_by_name_or_code_and_kept_as_written(canonical, country):
    canonical["shipping_address"]["country"] = country
    assert Order.model_validate(canonical).shipping_address.country == country


@pytest.mark.parametrize("country", ["Narnia", "nonsense", ""])
def test_a_country_that_does_not_exist_is_refused(canonical, country):
    canonical["shipping_address"]["country"] = country
    with pytest.raises(ValidationError) as raised:
        Order.model_validate(canonical)
    assert ("shipping_address", "country") in errors_at(raised.value)


def test_a_placeholder_country_is_refused(canonical):
    canonical["shipping_address"]["country"] = "-"
    with pytest.raises(ValidationError):
        Order.model_validate(canonical)


@pytest.mark.parametrize("created_at", ["2025-10-22T00:55:09", "2025-10-22"])
def test_created_at_must_carry_a_time_zone(canonical, created_at):
    canonical["created_at"] = created_at
    with pytest.raises(ValidationError) as raised:
        Order.model_validate(canonical)
    assert ("created_at",) in errors_at(raised.value)


def test_created_at_with_an_offset_is_accepted(canonical):
    canonical["created_at"] = "2025-10-22T10:55:09+10:00"
    assert Order.model_validate(canonical).created_at.utcoffset() is not None


def test_two_lines_with_the_same_id_are_refused(canonical):
    canonical["line_items"].append(copy.deepcopy(canonical["line_items"][0]))
    with pytest.raises(ValidationError, match="line-1"):
        Order.model_validate(canonical)


@pytest.mark.parametrize(
    ("path", "value"),
    [(("subtotal",), -1), (("line_items", 0, "quantity"), 0), (("line_items", 0, "unit_price"), 29.99)],
)
def test_money_and_quantities_must_be_non_negative_integers(canonical, path, value):
    target = canonical
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as raised:
        Order.model_validate(canonical)
    assert path in errors_at(raised.value)


def test_unknown_fields_on_the_canonical_order_are_kept(canonical):
    canonical["note"] = "Please gift wrap"
    assert Order.model_validate(canonical).model_dump()["note"] == "Please gift wrap"


def test_billing_falls_back_to_the_shipping_address(canonical):
    del canonical["billing_address"]
    order = Order.model_validate(canonical)
    assert order.billing == order.shipping_address
