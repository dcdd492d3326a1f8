"""Order events on DynamoDB Local (AWS's own engine for conditions and transactions): Given an
unpaid order, When its events are posted ten times each and redelivered, Then each destination
changes once, Dropday only once paid, and a cancellation after routing is flagged. Given shipped
orders whose shipment statuses meet random Onward faults and dying workers, Then each status
reaches Onward exactly once: the unanswered ones wait in doubt for an operator, never resent."""

from __future__ import annotations

import copy
import json
import random
import time
from typing import Any

from signbridge import forwarding_root
from signbridge.models.items import DeliveryState
from signbridge.store import Store
from tests.handlers.test_order_events import (
    CANCELLED,
    DELIVERED,
    FULFILLED,
    IN_TRANSIT,
    ORDER_ID,
    PAID,
    REFUND_ONE_SIGN,
    SHIPMENT_EVENTS_PATH,
    onward_calls,
    order_view,
    pending_order,
    post_event,
    post_order,
)
from tests.support.events import fixture


def test_events_posted_ten_times_change_each_destination_once(local_pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(pending_order(), lambda_context)
    local_pipeline.run_until_idle()
    assert dd.requests == []

    answers = [post_event(e, lambda_context)["status"] for e in (PAID, REFUND_ONE_SIGN, FULFILLED) * 10]
    local_pipeline.run_until_idle()  # Dropday routes the order once it is paid
    answers += [post_event(CANCELLED, lambda_context)["status"] for _ in range(10)]
    local_pipeline.run_until_idle()

    assert sorted(answers) == [200] * 36 + [202] * 4
    assert dd.created_count(ORDER_ID) == 1
    patches = onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")
    assert [p["body"]["financial_status"] for p in patches] == ["paid", "paid", "paid"]  # paid, refund, cancel
    assert len(onward_calls(on, "POST", "/api/v1/shipments")) == 1
    timeline = order_view(lambda_context)["timeline"]
    assert [(e["seq"], e["type"]) for e in timeline] == [
        (1, "paid"),
        (2, "refunded"),
        (3, "fulfilled"),
        (4, "cancelled"),
    ]
    assert timeline[3]["deliveries"]["dropday"]["state"] == "action_required"
    table = Store(local_pipeline.table_name)
    flagged = list(table.deliveries_in_state("dropday", DeliveryState.ACTION_REQUIRED))
    assert [(d.order_id, d.event_seq) for d in flagged] == [(ORDER_ID, 4)]


def test_shipment_statuses_posted_ten_times_reach_onward_once(local_pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    answers = [post_event(e, lambda_context)["status"] for e in (FULFILLED, IN_TRANSIT, DELIVERED) * 10]
    local_pipeline.run_until_idle()

    assert sorted(answers) == [200] * 27 + [202] * 3
    assert [p["body"]["status"] for p in onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)] == ["in_transit", "delivered"]
    assert [e["status"] for e in on.shipments["evt-ship-1"]["events"]] == ["in_transit", "delivered"]


SHIPPED_ORDERS = 40
STATUSES = ("in_transit", "out_for_delivery", "delivered")


def event_deliveries(store: Store, order_ids: list[str]) -> list[Any]:
    return [d for order_id in order_ids for d in store.get_order_state(order_id).event_deliveries]


def quiet(store: Store, order_ids: list[str]) -> bool:
    """Nothing will move by itself: for each order, Onward's deliveries (the order's, then its
    events' in order) are settled or failed up to one in doubt, behind which the rest wait."""
    for order_id in order_ids:
        state = store.get_order_state(order_id)
        onward = [d for d in state.deliveries + state.event_deliveries if d.destination == "onward"]
        first = next((d for d in sorted(onward, key=lambda d: d.event_seq or 0) if not d.state.terminal), None)
        if first is not None and first.state is not DeliveryState.IN_DOUBT:
            return False
    return True


def test_shipment_statuses_reach_onward_exactly_once_despite_faults_and_crashes(
    local_pipeline, fakes, lambda_context, monkeypatch, capsys
):
    """Onward fails ~30% of requests at random (429, 500, 503, accept+drop, accept+502) and ~5% of
    workers die between Onward's "accepted" and recording it."""
    sc, dd, on = fakes
    on.configure(fail_rate=0.3, seed=7)
    chance = random.Random(11)
    crashes = {"n": 0}
    finish_attempt = Store.finish_attempt

    def crash_sometimes(self: Store, order_id: str, destination: str, attempt_id: str, change: Any, **kw: Any) -> bool:
        if destination == "onward" and change.state is DeliveryState.DELIVERED and chance.random() < 0.05:
            crashes["n"] += 1
            raise RuntimeError("worker died after Onward accepted, before recording it")
        return finish_attempt(self, order_id, destination, attempt_id, change, **kw)

    monkeypatch.setattr(Store, "finish_attempt", crash_sometimes)

    order_ids = []
    for n in range(SHIPPED_ORDERS):
        order_id = f"ship-{n:03d}"
        post_order(fixture("canonical_order.json") | {"id": order_id, "number": f"S-{n:03d}"}, lambda_context)
        fulfilled = copy.deepcopy(FULFILLED) | {"id": f"{order_id}-f"}
        assert post_event(fulfilled, lambda_context, order_id=order_id)["status"] == 202
        for status in STATUSES:
            update = {
                "id": f"{order_id}-{status}",
                "type": "shipment_updated",
                "shipment": {"fulfilment_id": f"{order_id}-f", "status": status},
            }
            assert post_event(update, lambda_context, order_id=order_id)["status"] == 202
        order_ids.append(order_id)

    # The operator settles each status left in doubt by looking at Onward (here its fake), as the
    # alarm asks; a resend may meet another fault and be in doubt again: until none is left.
    store = forwarding_root.store()
    tally = {"in doubt": 0, "found there": 0, "resent": 0}
    for _ in range(30):
        local_pipeline.run_until(lambda: quiet(store, order_ids), timeout=300)
        in_doubt = list(store.deliveries_in_state("onward", DeliveryState.IN_DOUBT))
        if not in_doubt:
            break
        for d in in_doubt:
            tally["in doubt"] += 1
            event = next(e for e in store.get_order_state(d.order_id).events if e.seq == d.event_seq)
            status = json.loads(event.body)["shipment"]["status"]
            shipment = on.shipments.get(f"{d.order_id}-f", {"events": []})
            now, at = int(time.time()), "operator"
            if any(e["status"] == status for e in shipment["events"]):
                assert store.resolve_delivered(d.order_id, "onward", at, "checked-by-operator", event_seq=d.event_seq)
                tally["found there"] += 1
            else:
                assert store.requeue_delivery(
                    d.order_id,
                    "onward",
                    at,
                    now,
                    states=(DeliveryState.IN_DOUBT,),
                    forget_doubt=True,
                    event_seq=d.event_seq,
                )
                tally["resent"] += 1

    received = {order_id: [e["status"] for e in on.shipments[f"{order_id}-f"]["events"]] for order_id in order_ids}
    unsettled = [(d.order_id, d.event_seq, d.state) for d in event_deliveries(store, order_ids) if not d.state.settled]
    posts = onward_calls(on, "POST", "/api/v1/shipments")
    event_posts = [r for r in on.requests if r["path"].endswith("/events")]
    injected = sum(1 for r in event_posts if (r.get("fault") or {}).get("random"))
    with capsys.disabled():
        print(
            f"\nshipment events: {SHIPPED_ORDERS} orders x {len(STATUSES)} statuses; {len(event_posts)} posts, "
            f"{injected} injected faults, {crashes['n']} worker crashes (all Onward requests), "
            f"{len(posts)} shipment posts; operator: {tally}"
        )
    assert received == {order_id: list(STATUSES) for order_id in order_ids}  # each once, in order
    assert unsettled == []
    assert local_pipeline.dlq_messages() == []
    assert tally["in doubt"] > 0  # the faults did leave some in doubt: the rule was exercised
