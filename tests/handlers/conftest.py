"""Fixtures for the forwarding tests: the three provider fakes and the in-process pipeline wired to them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signbridge_tools.fakes import DropdayFake, OnwardFake, SignCustomiserFake
from tests.conftest import INTEGRATION_SECRET, WEBHOOK_SECRETS, load_function
from tests.support.events import api_event, fixture_bytes, response_json, signed_headers
from tests.support.pipeline import Pipeline, create_queues


@pytest.fixture
def fakes():
    sc = SignCustomiserFake(token="sc-token", integration_id=42, known_product_ids=["sc-1"]).start()
    dd = DropdayFake(api_key="dd-key", account_id="dd-account").start()
    on = OnwardFake(api_key="on-key").start()
    yield sc, dd, on
    for fake in (sc, dd, on):
        fake.stop()


@pytest.fixture
def pipeline(table, fakes, configure, lambda_context) -> Pipeline:
    sc, dd, on = fakes
    queue_url, dlq_url = create_queues()
    configure(
        DELIVERY_QUEUE_URL=queue_url,
        SIGNCUSTOMISER_BASE_URL=sc.url,
        SIGNCUSTOMISER_API_TOKEN="sc-token",
        SIGNCUSTOMISER_INTEGRATION_ID="42",
        DROPDAY_BASE_URL=dd.url,
        DROPDAY_API_KEY="dd-key",
        DROPDAY_ACCOUNT_ID="dd-account",
        DROPDAY_SOURCE="Neon Shop",
        ONWARD_BASE_URL=on.url,
        ONWARD_API_KEY="on-key",
        RETRY_BASE_SECONDS="0",
        DELIVERY_LEASE_SECONDS="1",
        DESTINATION_TIMEOUT_SECONDS="1",
        SIGNCUSTOMISER_IN_DOUBT_GRACE_SECONDS="30",
    )
    body = fixture_bytes("signcustomiser_product_created.json")
    event = api_event("POST", "/sign-customiser/products", body, signed_headers(INTEGRATION_SECRET, body))
    assert response_json(load_function("products").handler(event, lambda_context)) == {"external_id": "sc-1"}
    return Pipeline("signbridge-test", queue_url, dlq_url)


def deliver_webhook(order: dict[str, Any], context: Any) -> None:
    body = json.dumps(
        {
            "order": {
                "order_id": order["order_id"],
                "external_id": order["external_id"],
                "currency": order.get("currency"),
                "products": [],
            }
        }
    ).encode()
    event = api_event("POST", "/sign-customiser/webhooks", body, signed_headers(WEBHOOK_SECRETS[0], body))
    assert load_function("webhooks").handler(event, context)["statusCode"] == 200
