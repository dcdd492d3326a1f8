"""Order events, unit by unit: the queue message's optional event key, the Onward status an order's
events lead to, and the quantities a webhook order's totals prove."""

from __future__ import annotations

import copy
import json

import pytest

from signbridge.destinations.onward.updates import financial_status
from signbridge.logic.outbox import DeliveryMessage, delivery_message, message_body, parse_message
from signbridge.logic.standing import standing
from signbridge.mappers.from_signcustomiser import sign_quantities
from signbridge.models.events import OrderEvent
from signbridge.models.order import Order
from signbridge.models.signcustomiser import ScWebhookOrder
from tests.support.events import fixture


def test_a_message_without_an_event_is_the_orders_own_delivery_as_before():
    assert parse_message('{"order_id": "o-1", "destination": "onward", "gen": 2}') == DeliveryMessage(
        "o-1", "onward", 2
    )
    assert parse_message('{"order_id": "o-1", "destination": "onward"}') == DeliveryMessage("o-1", "onward", 0)


def test_an_event_message_round_trips_and_a_bad_event_key_is_refused():
    message = DeliveryMessage("o-1", "onward", 3, event_seq=2)
    assert parse_message(message_body(message)) == message
    assert "event_seq" not in json.loads(message_body(DeliveryMessage("o-1", "onward", 3)))
    for bad in ('"2"', "0", "-1", "true"):
        assert parse_message(f'{{"order_id": "o-1", "destination": "onward", "event_seq": {bad}}}') is None


def test_the_outbox_reads_the_event_key_from_the_stream_image():
    image = {
        "SK": {"S": "DELIVERY#onward#EVENT#000002"},
        "state": {"S": "pending"},
        "order_id": {"S": "o-1"},
        "destination": {"S": "onward"},
        "gen": {"N": "1"},
        "event_seq": {"N": "2"},
    }
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": image}}
    assert delivery_message(record) == DeliveryMessage("o-1", "onward", 1, event_seq=2)


def order(status: str = "paid") -> Order:
    return Order.model_validate(fixture("canonical_order.json") | {"financial_status": status})


def events(*raw: dict) -> list[OrderEvent]:
    return [OrderEvent.model_validate({"id": f"e{n}", **e}) for n, e in enumerate(raw)]


@pytest.mark.parametrize(
    ("status", "raw", "expected"),
    [
        ("pending", [], "pending"),
        ("pending", [{"type": "paid"}], "paid"),
        ("pending", [{"type": "cancelled"}], "voided"),
        ("paid", [{"type": "cancelled"}], "paid"),
        (
            "paid",
            [{"type": "refunded", "refund": {"lines": [{"line_id": "line-2", "quantity": 1, "amount": 1500}]}}],
            "paid",
        ),
        (
            "paid",
            [
                {
                    "type": "refunded",
                    "refund": {
                        "lines": [
                            {"line_id": "line-1", "quantity": 2, "amount": 5998},
                            {"line_id": "line-2", "quantity": 1, "amount": 1500},
                        ]
                    },
                }
            ],
            "refunded",
        ),
    ],
)
def test_the_onward_financial_status_an_orders_events_lead_to(status, raw, expected):
    placed = order(status)
    assert financial_status(placed, standing(placed, events(*raw))) == expected


def webhook(app_total: int | None, order_total: int | None, prices: list[int]) -> ScWebhookOrder:
    payload = copy.deepcopy(fixture("providers/signcustomiser_webhook_order_created.json"))["order"]
    template = payload["products"][0]
    payload["products"] = [template | {"product_id": n, "price": p} for n, p in enumerate(prices)]
    payload["app_total"], payload["order_total"] = app_total, order_total
    return ScWebhookOrder.model_validate(payload)


@pytest.mark.parametrize(
    ("app_total", "order_total", "prices", "quantities", "explained"),
    [
        (100000, 120000, [10000], [10], True),  # the documented example: ten $100 signs
        (15000, 20000, [10000, 5000], [1, 1], True),  # the listed prices add up
        (None, 10000, [10000], [1], True),
        (12345, 20000, [10000], [1], False),  # not a whole number of signs
        (30000, 40000, [10000, 5000], [1, 1], False),  # two signs: which one had more?
        (130000, 120000, [10000], [1], False),  # more signs than the order cost
    ],
)
def test_a_webhook_orders_quantities_are_derived_only_where_the_totals_prove_them(
    app_total, order_total, prices, quantities, explained
):
    derived, problem = sign_quantities(webhook(app_total, order_total, prices))
    assert derived == quantities
    assert (problem is None) is explained
