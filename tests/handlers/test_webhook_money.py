"""Webhook orders' money (routing setting ForwardWebhookOrdersTo): Given Sign Customiser's documented
order:created (order_total 1200.00, app_total 1000.00, one $100 sign), When it is forwarded, Then the
destinations get ten signs and no invented shipping; an order whose totals cannot be explained is
recorded and held with its reason and a metric, and nothing is sent."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.conftest import WEBHOOK_SECRETS, load_function
from tests.handlers.test_order_events import order_view
from tests.support.events import api_event, fixture, signed_headers

ORDER_ID = "12345"  # the documented example's external_id


def deliver(payload: dict[str, Any], context: Any) -> None:
    body = json.dumps(payload).encode()
    event = api_event("POST", "/sign-customiser/webhooks", body, signed_headers(WEBHOOK_SECRETS[0], body))
    assert load_function("webhooks").handler(event, context)["statusCode"] == 200


def test_the_documented_webhook_order_reaches_the_destinations_as_ten_signs_without_invented_shipping(
    pipeline, fakes, configure, lambda_context
):
    sc, dd, on = fakes
    configure(FORWARD_WEBHOOK_ORDERS_TO="dropday,onward")
    deliver(fixture("providers/signcustomiser_webhook_order_created.json"), lambda_context)
    pipeline.run_until_idle()

    dropday = dd.requests[-1]["body"]
    assert [p["quantity"] for p in dropday["products"]] == [10]
    assert dropday["shipping_cost"] == 0 and dropday["total"] == 1000.0
    onward = on.requests[-1]["body"]
    assert onward["total_shipping_price"]["cents"] == 0
    assert onward["total_price"]["cents"] == 100000
    assert [li["quantity"] for li in onward["line_items"]] == [10]


def test_a_webhook_order_whose_money_cannot_be_explained_is_held_and_alarmed_not_sent(
    pipeline, fakes, configure, lambda_context, capsys
):
    sc, dd, on = fakes
    configure(FORWARD_WEBHOOK_ORDERS_TO="dropday,onward")
    payload = copy.deepcopy(fixture("providers/signcustomiser_webhook_order_created.json"))
    payload["order"]["app_total"] = 12345  # not a whole number of $100 signs
    capsys.readouterr()

    deliver(payload, lambda_context)
    pipeline.run_until_idle()

    assert dd.requests == [] and on.requests == []
    assert '"WebhookOrderMoneyUnexplained"' in capsys.readouterr().out
    deliveries = order_view(lambda_context, ORDER_ID)["deliveries"]
    for name in ("dropday", "onward"):
        assert deliveries[name]["state"] == "action_required"
        assert deliveries[name]["last_error"]["code"] == "money_unexplained"
        assert "app_total (12345)" in deliveries[name]["last_error"]["message"]
