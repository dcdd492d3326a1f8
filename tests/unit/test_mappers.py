"""Mappers: Given the canonical order example and the product Sign Customiser created for its custom
line, When mapped to each destination, Then the request says what the destination's contract asks
for, and the destination's fake accepts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import simplejson

from signbridge.destinations.dropday.mapper import to_dropday_order
from signbridge.destinations.dropday.models import DropdayOrder
from signbridge.destinations.onward.mapper import to_onward_order
from signbridge.destinations.signcustomiser.mapper import to_signcustomiser_order
from signbridge.mappers.errors import MappingFailed
from signbridge.mappers.from_signcustomiser import order_from_webhook
from signbridge.mappers.product import to_product_mapping
from signbridge.models.items import ProductMapping
from signbridge.models.order import Order
from signbridge.models.signcustomiser import OrderCreated, ProductCreated
from signbridge.outbound_http import encode
from signbridge_tools.fakes import DropdayFake, OnwardFake, SignCustomiserFake

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CUSTOM_LINES = {"line-1"}
INTEGRATION_ID = 42
IMAGE = "https://d1no4rdxmwcuog.cloudfront.net/default/app-images/demonstration_image_1.jpg"

SC_HEADERS = {"Authorization": "Bearer sc-dev-token", "Accept": "application/json", "Content-Type": "application/json"}
DD_HEADERS = {
    "api-key": "dd-dev-key",
    "account-id": "dd-dev-account",
    "Accept": "application/json",
    "Content-Type": "application/json",
}
ON_HEADERS = {"X-API-Key": "onward-dev-key", "Accept": "application/json", "Content-Type": "application/json"}


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def canonical_order(**changes: Any) -> Order:
    body = load("canonical_order.json")
    body.update(changes)
    return Order.model_validate(body)


def with_shipping_address(**changes: Any) -> Order:
    body = load("canonical_order.json")
    body["shipping_address"].update(changes)
    return Order.model_validate(body)


@pytest.fixture
def order() -> Order:
    return canonical_order()


@pytest.fixture
def products() -> dict[str, ProductMapping]:
    """What record_product stored for the product:created callback: keyed by the external_id issued."""
    product = ProductCreated.model_validate(load("signcustomiser_product_created.json")).product
    mapping = to_product_mapping(product, "sc-1", "2025-10-22T00:55:10+00:00")
    return {mapping.external_id: mapping}


@pytest.fixture(scope="module")
def sign_customiser_fake() -> Iterator[SignCustomiserFake]:
    with SignCustomiserFake(integration_id=INTEGRATION_ID, known_product_ids=["sc-1"]) as fake:
        yield fake


@pytest.fixture(scope="module")
def dropday_fake() -> Iterator[DropdayFake]:
    with DropdayFake() as fake:
        yield fake


@pytest.fixture(scope="module")
def onward_fake() -> Iterator[OnwardFake]:
    with OnwardFake() as fake:
        yield fake


def send(fake: Any, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    fake.reset()
    return httpx.post(fake.url + path, content=body, headers=headers, timeout=5.0)


# --------------------------------------------------------------------------- Sign Customiser
def test_sign_customiser_gets_only_the_customised_lines_in_integer_cents(order):
    request = to_signcustomiser_order(order, CUSTOM_LINES, INTEGRATION_ID)
    assert request is not None
    assert [p.model_dump() for p in request.products] == [{"external_id": "sc-1", "quantity": 2, "price": 2999}]
    assert request.integration_id == INTEGRATION_ID
    assert (request.external_id, request.external_order_number, request.currency) == ("order-123456", "SC-1001", "USD")


def test_sign_customiser_addresses_carry_iso_codes(order):
    # Given a shipping address written "United States" / "California"
    request = to_signcustomiser_order(order, CUSTOM_LINES, INTEGRATION_ID)
    assert request is not None
    # Then Sign Customiser receives the codes
    assert (request.shipping_address.country, request.shipping_address.province) == ("US", "CA")
    assert (request.billing_address.country, request.billing_address.province) == ("US", "CA")


def test_sign_customiser_billing_address_matches_the_documented_example(order):
    request = to_signcustomiser_order(order, CUSTOM_LINES, INTEGRATION_ID)
    assert request is not None
    documented = load("providers/signcustomiser_create_order_request.json")
    assert request.model_dump(exclude_none=True)["billing_address"] == documented["billing_address"]
    assert request.model_dump(exclude_none=True)["customer"] == documented["customer"]


def test_an_unrecognised_province_is_sent_to_sign_customiser_as_written():
    # Sign Customiser takes free text, so a province pycountry does not know is not an error there.
    order = with_shipping_address(province="Greater Los Angeles")
    request = to_signcustomiser_order(order, CUSTOM_LINES, INTEGRATION_ID)
    assert request is not None
    assert request.shipping_address.province == "Greater Los Angeles"


def test_an_order_without_customised_lines_is_not_sent_to_sign_customiser(order):
    assert to_signcustomiser_order(order, set(), INTEGRATION_ID) is None
    assert to_signcustomiser_order(order, {"no-such-line"}, INTEGRATION_ID) is None


def test_the_sign_customiser_fake_accepts_the_mapped_order(order, sign_customiser_fake):
    request = to_signcustomiser_order(order, CUSTOM_LINES, INTEGRATION_ID)
    assert request is not None
    response = send(sign_customiser_fake, "/api/v2/orders", encode(request), SC_HEADERS)
    assert response.status_code == 200, response.text
    assert response.json()["order"]["products"] == [{"external_id": "sc-1", "quantity": 2, "price": 2999}]


# --------------------------------------------------------------------------- Dropday
def dropday(order: Order, products: dict[str, ProductMapping]) -> DropdayOrder:
    return to_dropday_order(order, products, CUSTOM_LINES, source="Example Shop", test=False)


@pytest.mark.parametrize(
    ("currency", "total", "shipping", "custom_price"),
    [
        ("USD", "86.43", "9.95", "29.99"),
        ("JPY", "8643", "995", "2999"),
        ("KWD", "8.643", "0.995", "2.999"),
    ],
)
def test_dropday_amounts_are_exact_major_units_of_the_order_currency(products, currency, total, shipping, custom_price):
    # Given the same minor-unit amounts in currencies with 2, 0 and 3 decimals
    request = dropday(canonical_order(currency=currency), products)
    # Then Dropday receives Decimal major units with the currency's decimals
    assert (str(request.total), str(request.shipping_cost)) == (total, shipping)
    assert str(request.products[0].price) == custom_price
    assert all(isinstance(amount, Decimal) for amount in (request.total, request.shipping_cost))


@pytest.mark.parametrize(
    ("currency", "literal"),
    [("USD", '"total": 86.43'), ("JPY", '"total": 8643'), ("KWD", '"total": 8.643')],
)
def test_dropday_json_carries_the_amount_digits_exactly(products, currency, literal):
    body = encode(dropday(canonical_order(currency=currency), products)).decode()
    assert literal in body
    # and a JSON reader that keeps decimals reads back the very same amount
    assert (
        simplejson.loads(body, use_decimal=True)["total"] == dropday(canonical_order(currency=currency), products).total
    )


def test_dropday_json_has_no_float_artefacts(products):
    # Amounts a float cannot hold exactly (0.30) are written with their exact digits
    body = load("canonical_order.json")
    body.update(shipping=30, total=7498 - 500 + 30 + 650)
    text = encode(dropday(Order.model_validate(body), products)).decode()
    assert '"shipping_cost": 0.30' in text
    assert "0.30000000000000004" not in text and "e-" not in text.lower()


def test_dropday_custom_line_carries_the_design(order, products):
    request = dropday(order, products)
    custom_line = request.products[0]
    assert custom_line.external_id == "sc-1"
    assert custom_line.custom is not None
    # The supplier reads the design's options from the product description, one per line
    assert custom_line.custom["text"] == "Hello World"
    assert custom_line.custom["colour"] == "Red"
    assert custom_line.custom["font"] == "Comics"
    assert custom_line.custom["image_url"] == IMAGE
    assert custom_line.custom["upload_urls"] == [IMAGE]
    assert custom_line.custom["sign_customiser_product_id"] == 1
    assert custom_line.custom["design"] == "Custom Neon: Hello World"


def test_dropday_other_lines_carry_no_design(order, products):
    plug = dropday(order, products).products[1]
    assert plug.custom is None
    assert (plug.external_id, plug.reference, plug.ean13, plug.price) == (
        "plug-au",
        "PLUG-AU",
        "8723521123546",
        Decimal("15.00"),
    )


def test_dropday_address_country_is_alpha_2(order, products):
    address = dropday(order, products).shipping_address
    assert address.country == "US"
    assert address.state == "California"


def test_dropday_test_flag_comes_from_the_setting_or_the_order(products):
    assert to_dropday_order(canonical_order(), products, CUSTOM_LINES, source="s", test=True).test is True
    assert to_dropday_order(canonical_order(test=True), products, CUSTOM_LINES, source="s", test=False).test is True
    assert to_dropday_order(canonical_order(), products, CUSTOM_LINES, source="s", test=False).test is False


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD"])
def test_the_dropday_fake_accepts_the_mapped_order(products, dropday_fake, currency):
    body = encode(dropday(canonical_order(currency=currency), products))
    response = send(dropday_fake, "/api/v1/orders", body, DD_HEADERS)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Order created"


# --------------------------------------------------------------------------- Onward
def test_onward_money_is_minor_units_in_the_order_currency(order):
    request = to_onward_order(order)
    assert request.total_price.model_dump() == {"cents": 8643, "currency": "USD"}
    assert request.subtotal_price.cents == 7498
    assert request.total_discounts_price.cents == 500
    assert request.total_shipping_price.cents == 995
    assert request.total_tax_price.cents == 650
    assert [(line.unit_price.cents, line.total_price.cents) for line in request.line_items] == [
        (2999, 5998),
        (1500, 1500),
    ]


def test_onward_money_follows_a_zero_decimal_currency():
    request = to_onward_order(canonical_order(currency="JPY"))
    assert request.total_price.model_dump() == {"cents": 8643, "currency": "JPY"}


def test_onward_address_names_become_iso_codes(order):
    # Given "United States" / "California" in the shipping address
    address = to_onward_order(order).shipping_address
    assert (address.country_code, address.province_code) == ("US", "CA")


def test_onward_address_of_the_webhook_example_becomes_au_qld():
    order = with_shipping_address(country="Australia", province="Queensland", postcode="4000", city="Brisbane")
    address = to_onward_order(order).shipping_address
    assert (address.country_code, address.province_code) == ("AU", "QLD")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("pending", "pending"),
        ("authorized", "pending"),
        ("paid", "paid"),
        ("partially_refunded", "paid"),
        ("refunded", "refunded"),
        ("voided", "voided"),
    ],
)
def test_onward_financial_status_uses_onwards_four_values(ours, theirs):
    assert to_onward_order(canonical_order(financial_status=ours)).financial_status == theirs


def test_onward_insurance_is_passed_with_the_quote_token_and_amount(order):
    request = to_onward_order(order)
    assert request.purchased_quote_token == order.onward_quote_token
    assert request.amount_insured is not None and request.amount_insured.model_dump() == {
        "cents": 7498,
        "currency": "USD",
    }
    assert [line.is_insured for line in request.line_items] == [True, True]


@pytest.mark.parametrize(
    "changes",
    [{"onward_quote_token": None}, {"amount_insured": None}, {"onward_quote_token": None, "amount_insured": None}],
    ids=["no-token", "no-amount", "neither"],
)
def test_onward_without_a_complete_quote_insures_nothing(changes):
    request = to_onward_order(canonical_order(**changes))
    assert request.purchased_quote_token is None
    assert request.amount_insured is None
    assert [line.is_insured for line in request.line_items] == [False, False]


def test_onward_insures_only_shippable_lines():
    body = load("canonical_order.json")
    body["line_items"][1]["shippable"] = False
    request = to_onward_order(Order.model_validate(body))
    assert [line.is_insured for line in request.line_items] == [True, False]


@pytest.mark.parametrize(
    "province", ["Narnia", "Queensland", None, ""], ids=["unknown", "other-country", "none", "empty"]
)
def test_onward_refuses_an_address_without_a_usable_province(province):
    order = with_shipping_address(province=province)
    with pytest.raises(MappingFailed) as raised:
        to_onward_order(order)
    assert raised.value.field == "shipping_address.province"


def test_the_onward_fake_accepts_the_mapped_order(order, onward_fake):
    response = send(onward_fake, "/api/v1/orders", encode(to_onward_order(order)), ON_HEADERS)
    assert response.status_code == 201, response.text
    assert response.json()["shipping_address"]["province_code"] == "CA"


def test_the_onward_fake_accepts_an_uninsured_order(onward_fake):
    request = to_onward_order(canonical_order(onward_quote_token=None, amount_insured=None))
    response = send(onward_fake, "/api/v1/orders", encode(request), ON_HEADERS)
    assert response.status_code == 201, response.text


def test_a_line_without_any_image_fails_the_onward_mapping_naming_the_line():
    body = load("canonical_order.json")
    del body["line_items"][1]["image_url"]
    with pytest.raises(MappingFailed) as failed:
        to_onward_order(Order.model_validate(body))
    assert failed.value.field == "line_items.1.image_url"


def test_a_sign_line_without_its_own_image_gets_the_designs_image(onward_fake):
    body = load("canonical_order.json")
    del body["line_items"][0]["image_url"]
    design = ProductMapping(
        product_id=1,
        external_id="sc-1",
        title="Neon",
        price=10000,
        snapshot="{}",
        image_url="https://cdn.example/design.png",
        created_at="2025-10-22T00:55:09Z",
    )
    request = to_onward_order(Order.model_validate(body), {"sc-1": design})
    assert request.line_items[0].image_url == "https://cdn.example/design.png"
    response = send(onward_fake, "/api/v1/orders", encode(request), ON_HEADERS)
    assert response.status_code == 201, response.text


# --------------------------------------------------------------------------- webhook → canonical
@pytest.fixture
def webhook_example() -> dict[str, Any]:
    return load("providers/signcustomiser_webhook_order_created.json")


def test_the_documented_webhook_order_becomes_a_canonical_order(webhook_example):
    order = order_from_webhook(OrderCreated.model_validate(webhook_example).order)
    # Named by the platform's id, so both routes name the order alike
    assert order.id == "12345"
    assert order.number == "SIGN-12345"
    # The signs alone (app_total): the rest of order_total is not a sign, and not shipping
    assert (order.total, order.shipping, order.currency) == (100000, 0, "USD")
    assert order.shipping_address.province == "Queensland"
    assert order.shipping_address.country == "Australia"
    assert order.customer.id == "1234"
    [line] = order.line_items
    assert (line.external_id, line.unit_price, line.quantity) == ("1234", 10000, 10)  # app_total / price
    assert order.created_at.utcoffset() is not None
    assert order.totals_problems() == []


def test_a_webhook_order_without_an_external_id_is_named_after_sign_customisers_id(webhook_example):
    del webhook_example["order"]["external_id"]
    order = order_from_webhook(OrderCreated.model_validate(webhook_example).order)
    assert order.id == "sc-order-1"


def test_a_webhook_order_maps_on_to_onward_with_iso_codes(webhook_example):
    order = order_from_webhook(OrderCreated.model_validate(webhook_example).order)
    address = to_onward_order(order).shipping_address
    assert (address.country_code, address.province_code) == ("AU", "QLD")
