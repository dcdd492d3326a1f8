"""sam local start-api, on this machine's engine: Given the API served locally against the local
stack's parameters and fakes, When real HTTP requests reach it, Then each route answers as the
deployed API does (no API key, usage plan or throttling: start-api does not emulate them)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.samlocal

DESTINATIONS = ["dropday", "onward", "signcustomiser"]


def test_a_signed_product_callback_gets_its_external_id(start_api: dict[str, Any]):
    assert start_api["product"]["status"] == 200
    assert start_api["product"]["body"] == {"external_id": "sc-1"}


def test_an_order_is_accepted_and_read_back_with_its_deliveries(start_api: dict[str, Any]):
    posted, shown = start_api["order_post"], start_api["order_get"]

    assert posted["status"] == 202
    assert shown["status"] == 200
    assert shown["body"]["order_id"] == posted["body"]["order_id"] == start_api["order_id"]
    assert sorted(shown["body"]["deliveries"]) == DESTINATIONS


def test_an_order_event_is_recorded(start_api: dict[str, Any]):
    event = start_api["order_event"]

    assert event["status"] == 202
    assert (event["body"]["type"], event["body"]["seq"]) == ("paid", 1)
    assert event["body"]["order_id"] == start_api["order_id"]


def test_an_unsigned_callback_is_refused(start_api: dict[str, Any]):
    assert start_api["product_unsigned"]["status"] == 401
    assert start_api["product_unsigned"]["body"]["error"]["code"] == "signature_missing"


def test_it_prints_the_urls_and_a_signed_curl(start_api: dict[str, Any]):
    printed = start_api["printed"]

    assert "http://127.0.0.1:3000/orders" in printed
    assert "curl -sS -X POST 'http://127.0.0.1:3000/sign-customiser/products'" in printed
    assert "x-webhook-signature: " in printed
