"""events/ for sam local invoke: Given freshly re-signed events, Then they verify and the handlers accept them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from signbridge.signature import verify_signature
from signbridge_tools import events
from tests.conftest import load_function
from tests.support.events import fixture_bytes, response_json
from tests.support.template import ROOT

SIGNED = {
    "product_created.json": ("signcustomiser_product_created.json", events.DEV_INTEGRATION_SECRET),
    "webhook_order_created.json": ("providers/signcustomiser_webhook_order_created.json", events.DEV_WEBHOOK_SECRET),
}


@pytest.fixture
def resigned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    assert events.main(["resign", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    return {path.name: json.loads(path.read_text()) for path in tmp_path.glob("*.json")}


def test_resign_writes_an_event_for_every_function(resigned):
    assert sorted(resigned) == [
        "forwarder_deliveries.json",
        "order_get.json",
        "order_post.json",
        "outbox_deliveries_pending.json",
        "product_created.json",
        "product_unsigned.json",
        "sweeper_scheduled.json",
        "webhook_malformed.json",
        "webhook_order_created.json",
    ]
    assert resigned["order_get.json"]["pathParameters"] == {"order_id": "order-123456"}
    assert resigned["order_post.json"]["headers"]["x-api-key"] == events.DEV_API_KEY
    assert resigned["order_post.json"]["body"].encode() == fixture_bytes("canonical_order.json")


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_resigned_events_verify_now_with_the_dev_secrets(resigned, name):
    fixture, secret = SIGNED[name]
    event = resigned[name]

    assert event["body"].encode() == fixture_bytes(fixture)
    verify_signature(event["body"].encode(), event["headers"], [secret], now=time.time(), tolerance_seconds=300)


@pytest.mark.parametrize("name", sorted(SIGNED))
def test_committed_events_carry_the_fixtures_signed_with_the_dev_secrets(name):
    """The committed copies go stale in time, but must stay in step with the fixtures."""
    fixture, secret = SIGNED[name]
    event = json.loads((ROOT / "events" / name).read_text())
    timestamp = int(event["headers"]["x-webhook-timestamp"])

    assert event["body"].encode() == fixture_bytes(fixture)
    verify_signature(event["body"].encode(), event["headers"], [secret], now=timestamp, tolerance_seconds=300)


def test_handlers_accept_the_resigned_events(table, resigned, configure, lambda_context):
    configure(INTEGRATION_SECRET=events.DEV_INTEGRATION_SECRET, WEBHOOK_SECRETS=events.DEV_WEBHOOK_SECRET)

    product = load_function("products").handler(resigned["product_created.json"], lambda_context)
    webhook = load_function("webhooks").handler(resigned["webhook_order_created.json"], lambda_context)
    posted = load_function("orders").handler(resigned["order_post.json"], lambda_context)
    shown = load_function("orders").handler(resigned["order_get.json"], lambda_context)

    assert (product["statusCode"], response_json(product)) == (200, {"external_id": "sc-1"})
    assert (webhook["statusCode"], response_json(webhook)) == (200, {"ok": True})
    assert posted["statusCode"] == 202
    assert shown["statusCode"] == 200
    assert response_json(shown)["order_id"] == "order-123456"


def test_the_forwarder_batch_carries_the_outbox_messages_for_the_pending_deliveries(resigned):
    """The queue message is the outbox's own (message_body), so added message fields follow."""
    stream, batch = resigned["outbox_deliveries_pending.json"], resigned["forwarder_deliveries.json"]

    states = [r["dynamodb"]["NewImage"]["state"]["S"] for r in stream["Records"]]
    bodies = [json.loads(r["body"]) for r in batch["Records"]]
    assert states == ["pending"] * 3
    assert [(b["destination"], b["order_id"]) for b in bodies] == [(d, "order-123456") for d in events.DESTINATIONS]


def test_the_sweeper_event_is_a_scheduled_event(resigned):
    event = resigned["sweeper_scheduled.json"]
    assert (event["source"], event["detail-type"]) == ("aws.events", "Scheduled Event")
