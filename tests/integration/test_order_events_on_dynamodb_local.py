"""Order events on DynamoDB Local (AWS's own engine for conditions and transactions): Given an
unpaid order, When its events are posted ten times each and redelivered, Then each destination
changes once, Dropday only once paid, and a cancellation after routing is flagged. Given shipped
orders whose shipment statuses meet random Onward faults and dying workers, Then each status
reaches Onward exactly once: the unanswered ones wait in doubt for an operator, never resent."""

from __future__ import annotations

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
