"""Fault injection: 1,000 orders (FAULT_ORDERS), and the lives after checkout of the first 200 of
them (FAULT_LIVES: paid, fulfilled, two shipment statuses, refunded, wholly for the insured half,
so Onward also refunds their insurance), through the whole pipeline, while every destination
fails about 30% of every kind of request at random (429, 500, 503, accepting it then dropping the connection, accepting it then
answering 502) and workers die now and then after a destination answered, before the answer was
recorded. The clock moves as the queue asks: hours of retries take no wall time.

Then every order and every change is at every destination exactly once, nothing is left
unsettled, nothing is in the DLQ, and the figures are printed. The requests that must not be sent
twice (Sign Customiser's create, Onward's shipment statuses and insurance refunds) are never sent
again by themselves: what they leave in doubt, the test settles as an operator would (looking at
the destination, then `signbridge order resolve`), and counts."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from typing import Any

import pytest

from signbridge.lifecycle import DeliveryState
from signbridge.store import Store
from tests.conftest import deliver_webhook
from tests.support import operator
from tests.support.events import fixture

pytestmark = pytest.mark.dynamodb_local

ORDERS = int(os.environ.get("FAULT_ORDERS", "1000"))
LIVES = min(ORDERS, int(os.environ.get("FAULT_LIVES", "200")))
CRASH_RATE = 0.03
STATUSES = ("in_transit", "delivered")


def order_body(n: int) -> dict[str, Any]:
    body = fixture("canonical_order.json") | {"id": f"fi-{n:04d}", "number": f"FI-{n:04d}"}
    if n < LIVES:
        body["financial_status"] = "pending"  # Dropday gets it once its paid event comes
    if n % 2:
        body.pop("onward_quote_token")
        body.pop("amount_insured")
    return body


def life(n: int) -> list[dict[str, Any]]:
    """The order's events after checkout, in order."""
    order_id = f"fi-{n:04d}"
    refund_lines = [{"line_id": "line-1", "quantity": 2, "amount": 5998}]
    if n % 2 == 0:  # insured: wholly refunded, so Onward refunds the insurance too
        refund_lines.append({"line_id": "line-2", "quantity": 1, "amount": 1500})
    return [
        {"id": f"{order_id}-paid", "type": "paid"},
        {
            "id": f"{order_id}-ship",
            "type": "fulfilled",
            "fulfilment": {
                "carrier": "UPS",
                "tracking_number": f"1Z{n:06d}",
                "lines": [{"line_id": "line-2", "quantity": 1}],
            },
        },
        *(
            {
                "id": f"{order_id}-{status}",
                "type": "shipment_updated",
                "shipment": {
                    "fulfilment_id": f"{order_id}-ship",
                    "status": status,
                    "occurred_at": f"2025-11-0{k + 1}T10:00:00Z",
                },
            }
            for k, status in enumerate(STATUSES)
        ),
        {
            "id": f"{order_id}-refund",
            "type": "refunded",
            "refund": {"lines": refund_lines, "shipping": 995 if n % 2 == 0 else 0},
        },
    ]


def operator_settles(world: Any, tally: Counter[str]) -> int:
    """What the alarm asks of an operator: look at the destination, then resolve each delivery in doubt."""
    store = Store(world.table_name)
    sc, on = world.fakes["signcustomiser"], world.fakes["onward"]
    doubts = [d for dest in world.fakes for d in store.deliveries_in_state(dest, DeliveryState.IN_DOUBT)]
    for d in doubts:
        state = store.get_order_state(d.order_id)
        assert state is not None
        event = state.event(d.event_seq) if d.event_seq else None
        if d.destination == "signcustomiser":
            there = sc.created_count(d.order_id) >= 1
        elif d.unanswered_step == "refund_insurance":
            there = on.orders[d.order_id].get("insurance_refunds", 0) >= 1
        else:  # a shipment status
            assert event is not None
            shipment = on.shipments.get(f"{d.order_id}-ship", {"events": []})
            status = event.event_id.removeprefix(f"{d.order_id}-")
            there = any(e["status"] == status for e in shipment["events"])
        tally[f"{d.unanswered_step or 'request'}: {'found there' if there else 'resent'}"] += 1
        operator.resolve(d.order_id, d.destination, delivered=there, event=event.event_id if event else None)
    return len(doubts)


def test_every_order_and_change_reaches_every_destination_exactly_once_despite_faults(world, capsys):
    sc, dd, on = (world.fakes[d] for d in ("signcustomiser", "dropday", "onward"))
    for seed, fake in enumerate(world.fakes.values()):
        fake.configure(fail_rate=0.3, seed=seed)
    sc.on_order_created = lambda order: deliver_webhook(order, world.context)  # it confirms what it made
    crashes: Counter[str] = Counter()
    chance = random.Random(42)

    def crash_sometimes(when: str, d: Any, name: str) -> None:
        if when == "before" and name in ("delivered", "acknowledged") and chance.random() < CRASH_RATE:
            crashes[d.destination] += 1
            raise RuntimeError("the worker died after the destination answered, before recording it")

    world.move_hooks.append(crash_sometimes)
    started, clock_started = time.monotonic(), world.clock()
    for n in range(ORDERS):
        assert world.post("POST", "/orders", order_body(n))["status"] == 202
        if n % 50 == 49:
            world.settle(horizon=600)  # the pipeline keeps up with the platform, roughly
    world.settle(horizon=2 * 86_400)
    created = time.monotonic() - started
    lives = {n: life(n) for n in range(LIVES)}
    for step in range(len(lives[0])):
        for n in range(LIVES):
            assert world.post("POST", f"/orders/fi-{n:04d}/events", lives[n][step])["status"] == 202
            if n % 100 == 99:
                world.settle(horizon=3_600)
    world.settle(horizon=12 * 3_600)  # hours of backoff at the most: half a day leaves only what waits for a person

    tally: Counter[str] = Counter()
    for _ in range(10):
        if not operator_settles(world, tally):
            break
        world.settle(horizon=12 * 3_600)
    seconds = time.monotonic() - started

    store = Store(world.table_name)
    order_ids = [f"fi-{n:04d}" for n in range(ORDERS)]
    states = [store.get_order_state(order_id) for order_id in order_ids]
    unsettled = [
        (s.order.order_id, d.destination, d.event_seq, d.state.value)
        for s in states
        if s
        for d in [*s.deliveries, *s.event_deliveries]
        if not d.state.settled
    ]
    lived = order_ids[:LIVES]
    refunds = Counter(on.orders[i].get("insurance_refunds", 0) for i in lived)
    statuses = Counter(
        sum(1 for e in on.shipments[f"{i}-ship"]["events"] if e["status"] == status)
        for i in lived
        for status in STATUSES
    )

    def injected(fake: Any) -> Counter[str]:
        kinds: Counter[str] = Counter()
        for r in fake.requests:
            fault = r.get("fault") or {}
            if fault.get("random"):
                kind = next(k for k in ("accept_then_drop", "accept", "status") if k in fault)
                kinds[
                    {"accept_then_drop": "accept+drop", "accept": "accept+502"}.get(kind, str(fault.get("status")))
                ] += 1
        return kinds

    with capsys.disabled():
        print(
            f"\nfault suite: {ORDERS} orders x 3 destinations ({created:.0f} s), then {len(lives[0])} events each "
            f"for {LIVES} of them, in {seconds:.0f} s in all"
        )
        print(
            f"  the clock moved {(world.clock() - clock_started) / 3_600:.0f} h; forwarder runs {world.invocations['forwarder']}"
        )
        for name, fake in world.fakes.items():
            kinds = Counter(f"{r['method']} {r['path'].split('/')[3]}" for r in fake.requests)
            print(
                f"  {name:<14} requests {len(fake.requests):>5} {dict(kinds)}  injected {dict(injected(fake))}  "
                f"worker deaths {crashes[name]:>3}"
            )
        print(f"  left in doubt, settled by the operator: {dict(tally)}")
        print(f"  insurance refunds per order {dict(refunds)}; each shipment status at Onward {dict(statuses)} times")
        print(f"  unsettled {len(unsettled)}  DLQ {world.sqs.depth(world.dlq_url)}  moves {world.moves}")

    expected = dict.fromkeys(order_ids, 1)
    assert sc.counts() == expected and dd.counts() == expected and on.counts() == expected
    assert refunds == Counter({1: LIVES // 2 + LIVES % 2, 0: LIVES // 2})
    assert statuses == Counter({1: LIVES * len(STATUSES)})
    assert all(len(on.shipments[f"{i}-ship"]["events"]) == len(STATUSES) for i in lived)
    assert not any(f"{i}-ship" in on.shipments for i in order_ids[LIVES:])
    assert unsettled == []
    assert world.sqs.depth(world.dlq_url) == 0
    assert world.moves_not_allowed == [] and world.sqs.refusals == []
    assert all(crashes[name] for name in ("dropday", "onward"))  # the deaths really happened
    assert sum(sum(injected(fake).values()) for fake in world.fakes.values()) > 0.2 * (3 * ORDERS + 5 * LIVES)
