"""The events API as a platform developer guesses it: unknown fields are kept and ignored (a
repeat that differs only in them is the same event), a shipment status may name the platform's
own fulfilment id, and what waits for a person is lifted to the order's view with its command."""

from __future__ import annotations

from tests.handlers.test_order_events import (
    CANCELLED,
    FULFILLED,
    IN_TRANSIT,
    ORDER_ID,
    PAID,
    SHIPMENT_EVENTS_PATH,
    onward_calls,
    order_view,
    pending_order,
    post_event,
    post_order,
)
from tests.support.events import fixture


def test_an_event_with_fields_signbridge_does_not_know_is_accepted_and_a_repeat_differing_only_there_is_the_same(
    pipeline, fakes, lambda_context
):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()

    first = post_event({**FULFILLED, "sent_at": "2025-10-24T10:00:00Z", "attempt": 1}, lambda_context)
    again = post_event({**FULFILLED, "sent_at": "2025-10-24T10:05:00Z", "attempt": 2}, lambda_context)
    pipeline.run_until_idle()

    assert first["status"] == 202 and again["status"] == 200
    assert [e["event_id"] for e in order_view(lambda_context)["timeline"]] == ["evt-ship-1"]
    shipments = onward_calls(on, "POST", "/api/v1/shipments")
    assert len(shipments) == 1
    assert "sent_at" not in shipments[0]["raw_body"] and "attempt" not in shipments[0]["raw_body"]
    # What it says about the order still has to agree: the same id with other content is a conflict.
    changed = {**FULFILLED, "fulfilment": {**FULFILLED["fulfilment"], "carrier": "DHL"}, "sent_at": "x"}
    conflict = post_event(changed, lambda_context)
    assert conflict["status"] == 409 and conflict["body"]["error"]["details"][0]["field"] == "id"


def test_a_shipment_status_may_name_the_platforms_own_fulfilment_id(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    shipped = {**FULFILLED, "fulfilment": {**FULFILLED["fulfilment"], "id": "shopify-fulfilment-77"}}
    assert post_event(shipped, lambda_context)["status"] == 202
    by_platform_id = {**IN_TRANSIT, "shipment": {**IN_TRANSIT["shipment"], "fulfilment_id": "shopify-fulfilment-77"}}
    assert post_event(by_platform_id, lambda_context)["status"] == 202
    # The same status again, naming the event's id this time: the same event.
    assert post_event(IN_TRANSIT, lambda_context)["status"] == 200
    pipeline.run_until_idle()

    assert on.shipments["evt-ship-1"]["events"][-1]["status"] == "in_transit"
    assert len(onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)) == 1
    timeline = order_view(lambda_context)["timeline"]
    assert [e["deliveries"]["onward"]["state"] for e in timeline] == ["delivered", "delivered"]


def test_a_second_fulfilment_under_the_same_platform_id_is_refused_naming_the_field(pipeline, lambda_context):
    post_order(fixture("canonical_order.json"), lambda_context)
    first = {
        **FULFILLED,
        "fulfilment": {**FULFILLED["fulfilment"], "id": "f-1", "lines": [{"line_id": "line-1", "quantity": 1}]},
    }
    second = {**first, "id": "evt-ship-2"}
    assert post_event(first, lambda_context)["status"] == 202
    refused = post_event(second, lambda_context)
    assert refused["status"] == 422
    assert [d["field"] for d in refused["body"]["error"]["details"]] == ["fulfilment.id"]


def test_a_cancellation_that_needs_a_person_is_at_the_top_of_the_order_with_its_command(
    pipeline, fakes, lambda_context
):
    sc, dd, on = fakes
    post_order(pending_order(), lambda_context)
    post_event(PAID, lambda_context)
    pipeline.run_until_idle()
    assert dd.created_count(ORDER_ID) == 1
    assert order_view(lambda_context)["attention"] == []

    post_event(CANCELLED, lambda_context)
    pipeline.run_until_idle()

    view = order_view(lambda_context)
    flagged = [a for a in view["attention"] if a["destination"] == "dropday"]
    assert flagged and all(a["command"] == f"signbridge cancellations done {ORDER_ID}" for a in flagged)
    assert any(a.get("event_id") == "evt-cancel-1" for a in flagged)
    assert "cancel it there by hand" in flagged[0]["message"]
    # The paid event's entry at Dropday says it released the order, not that nothing was sent.
    paid_entry = view["timeline"][0]["deliveries"]["dropday"]
    assert paid_entry["last_error"]["code"] == "released"
