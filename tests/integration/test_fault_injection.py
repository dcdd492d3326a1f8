"""Fault injection: 200 orders through the whole pipeline while every destination fails about 30% of
requests at random (429, 500, 503, or accepting the order and dropping the connection), and every
worker crashes once right after a destination accepted. Then every order is at every destination
exactly once, nothing is left pending, and nothing is in the DLQ."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from signbridge import runtime
from signbridge.store.table import Store
from tests.conftest import deliver_webhook, load_function
from tests.support.events import api_event, fixture
from tests.support.pipeline import Pipeline, StreamsApi, wire_pipeline
from tests.support.template import table_definition

pytestmark = pytest.mark.dynamodb_local

ORDERS = int(__import__("os").environ.get("FAULT_ORDERS", "200"))


@pytest.fixture
def pipeline(aws, dynamodb_local, fakes, configure, lambda_context, monkeypatch) -> Pipeline:
    """SQS in moto; the table in DynamoDB Local, whose transactions (unlike moto's, which copy the
    whole table each time) keep 200 orders quick, with its stream read through the Streams API."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint_url)
    monkeypatch.setenv("TABLE_NAME", "signbridge-faults")
    runtime.reset()
    boto3.client("dynamodb").create_table(TableName="signbridge-faults", **table_definition())
    stream = StreamsApi("signbridge-faults", dynamodb_local.endpoint_url)
    return wire_pipeline(configure, fakes, lambda_context, "signbridge-faults", stream)


def test_every_order_reaches_every_destination_exactly_once_despite_faults(
    pipeline, fakes, configure, lambda_context, monkeypatch
):
    sc, dd, on = fakes
    # Enough attempts that 30% random failures cannot exhaust a delivery by chance (0.3**20).
    configure(MAX_DELIVERY_ATTEMPTS="20", SIGNCUSTOMISER_IN_DOUBT_GRACE_SECONDS="30")
    for number, fake in enumerate(fakes):
        fake.configure(fail_rate=0.3, seed=number)
    # Sign Customiser confirms every order it creates with its signed order:created webhook.
    sc.on_order_created = lambda order: deliver_webhook(order, lambda_context)
    crashed: set[str] = set()
    finish_attempt = Store.finish_attempt

    def crash_once_per_destination(self: Store, order_id: str, destination: str, *args: Any, **kwargs: Any) -> bool:
        state = args[1] if len(args) > 1 else kwargs.get("state")
        if destination not in crashed and str(state) == "delivered":
            crashed.add(destination)
            raise RuntimeError("worker died after the destination accepted, before recording it")
        return finish_attempt(self, order_id, destination, *args, **kwargs)

    monkeypatch.setattr(Store, "finish_attempt", crash_once_per_destination)

    order_ids = []
    for n in range(ORDERS):
        order = fixture("canonical_order.json") | {"id": f"fi-{n:03d}", "number": f"FI-{n:03d}"}
        response = load_function("orders").handler(api_event("POST", "/orders", json.dumps(order)), lambda_context)
        assert response["statusCode"] == 202
        order_ids.append(order["id"])

    pipeline.run_until_idle(timeout=240)

    expected = {order_id: 1 for order_id in order_ids}
    assert sc.counts() == expected
    assert dd.counts() == expected
    assert on.counts() == expected
    assert crashed == {"signcustomiser", "dropday", "onward"}
    store = runtime.store()
    unsettled = {
        (order_id, d.destination, d.state)
        for order_id in order_ids
        for d in store.get_order_state(order_id).deliveries
        if d.state != "delivered"
    }
    assert unsettled == set()
    assert pipeline.dlq_messages() == []
    injected = sum(1 for fake in fakes for r in fake.requests if (r.get("fault") or {}).get("random"))
    assert injected > 0.2 * 3 * ORDERS  # the faults really happened
