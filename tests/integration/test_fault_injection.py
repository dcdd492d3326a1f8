"""Fault injection: 1,000 orders (FAULT_ORDERS) through the whole pipeline while every destination
fails about 30% of requests at random (429, 500, 503, accepting the order and dropping the
connection, or accepting it and answering 502), and the forwarder dies now and then between a
destination's "accepted" and recording it. Then every order is at every destination exactly once,
nothing is left unsettled, and nothing is in the DLQ; the figures are printed.

Sign Customiser documents no duplicate rule, so its unanswered attempts are never resent blindly:
those it acted on are settled by its order:created webhook; those it never saw (a plain 500/503)
stay in doubt until an operator settles them, which the test does as an operator would (looking
the order up in Sign Customiser, here its fake), and counts."""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import pytest

from signbridge import forwarding_root
from signbridge.models.items import DeliveryState
from signbridge.store import Store
from tests.conftest import deliver_webhook, load_function
from tests.support.events import api_event, fixture
from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.dynamodb_local

ORDERS = int(os.environ.get("FAULT_ORDERS", "1000"))
CRASH_RATE = 0.03


def settle_in_doubt(store: Store, sc: Any, tally: dict[str, int]) -> int:
    """What an operator does for each in-doubt delivery: look the order up in Sign Customiser,
    then `signbridge order resolve ... --delivered` if it is there, `--resend` if not."""
    in_doubt = list(store.deliveries_in_state("signcustomiser", DeliveryState.IN_DOUBT))
    for delivery in in_doubt:
        tally["in doubt"] += 1
        if delivery.order_id in sc.counts():
            assert store.resolve_delivered(delivery.order_id, "signcustomiser", "now", "checked-by-operator")
            tally["found there"] += 1
        else:
            assert store.requeue_delivery(
                delivery.order_id,
                "signcustomiser",
                "now",
                int(time.time()),
                states=(DeliveryState.IN_DOUBT,),
                forget_doubt=True,
            )
            tally["resent"] += 1
    return len(in_doubt)


def test_every_order_reaches_every_destination_exactly_once_despite_faults(
    local_pipeline: Pipeline, fakes, lambda_context, monkeypatch, capsys
):
    started = time.monotonic()
    sc, dd, on = fakes
    for number, fake in enumerate(fakes):
        fake.configure(fail_rate=0.3, seed=number)
    # Sign Customiser confirms every order it creates with its signed order:created webhook.
    sc.on_order_created = lambda order: deliver_webhook(order, lambda_context)
    crashes: dict[str, int] = {"signcustomiser": 0, "dropday": 0, "onward": 0}
    chance = random.Random(42)
    finish_attempt = Store.finish_attempt

    def crash_sometimes(self: Store, order_id: str, destination: str, attempt_id: str, change: Any) -> bool:
        if change.state is DeliveryState.DELIVERED and chance.random() < CRASH_RATE:
            crashes[destination] += 1
            raise RuntimeError("worker died after the destination accepted, before recording it")
        return finish_attempt(self, order_id, destination, attempt_id, change)

    monkeypatch.setattr(Store, "finish_attempt", crash_sometimes)

    order_ids = []
    for n in range(ORDERS):
        order = fixture("canonical_order.json") | {"id": f"fi-{n:04d}", "number": f"FI-{n:04d}"}
        response = load_function("orders").handler(api_event("POST", "/orders", json.dumps(order)), lambda_context)
        assert response["statusCode"] == 202
        order_ids.append(order["id"])

    local_pipeline.run_until_idle(timeout=900)

    # The operator settles what Sign Customiser left in doubt, as the alarm asks (a resend may meet
    # another fault and be in doubt again: until none is left).
    store = forwarding_root.store()
    resolved = {"in doubt": 0, "found there": 0, "resent": 0}
    for _ in range(10):
        if not settle_in_doubt(store, sc, resolved):
            break
        local_pipeline.run_until_idle(timeout=300)

    expected = dict.fromkeys(order_ids, 1)
    lost = {
        name: sum(1 for i in order_ids if i not in fake.counts()) for name, fake in zip(crashes, fakes, strict=False)
    }
    extra = {
        name: sum(n - 1 for n in fake.counts().values() if n > 1) for name, fake in zip(crashes, fakes, strict=False)
    }
    unsettled = [
        (order_id, d.destination, d.state)
        for order_id in order_ids
        for d in store.get_order_state(order_id).deliveries
        if d.state is not DeliveryState.DELIVERED
    ]
    dlq = local_pipeline.dlq_messages()

    def injected(fake: Any) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for r in fake.requests:
            fault = r.get("fault") or {}
            if fault.get("random"):
                kind = next(k for k in ("accept_then_drop", "accept", "status") if k in fault)
                label = {"accept_then_drop": "accept+drop", "accept": "accept+502"}.get(kind, str(fault.get("status")))
                kinds[label] = kinds.get(label, 0) + 1
        return kinds

    with capsys.disabled():
        print(f"\nfault suite: {ORDERS} orders x 3 destinations in {time.monotonic() - started:.0f} s")
        for name, fake in zip(crashes, fakes, strict=False):
            duplicates = sum(
                1
                for r in fake.requests
                if r["response"]
                and (
                    r["response"]["status"] == 409
                    or (
                        isinstance(r["response"]["body"], dict)
                        and r["response"]["body"].get("message") == "Order already exists"
                    )
                )
            )
            print(
                f"  {name:<14} requests {len(fake.requests):>5}  injected {injected(fake)}  "
                f"worker crashes {crashes[name]:>3}  answered as duplicate {duplicates:>3}  "
                f"lost {lost[name]}  extra {extra[name]}"
            )
        print(f"  sign customiser left in doubt for the operator: {resolved}")
        print(f"  unsettled {len(unsettled)}  DLQ {len(dlq)}")

    assert sc.counts() == expected
    assert dd.counts() == expected
    assert on.counts() == expected
    assert unsettled == []
    assert dlq == []
    assert all(crashes.values())  # the crashes really happened at every destination
    assert sum(sum(injected(fake).values()) for fake in fakes) > 0.2 * 3 * ORDERS  # so did the faults
