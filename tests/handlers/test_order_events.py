"""Order events after checkout: Given an order at its destinations, When the platform posts paid,
cancelled, refunded, fulfilled or shipment_updated to POST /orders/{order_id}/events, Then each is
recorded once, reaches each destination once and in order, and GET /orders/{order_id} shows the
timeline."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from signbridge.logic.outbox import DeliveryMessage, message_body
from signbridge.models.items import DeliveryState
from signbridge.store import Store
from tests.conftest import load_function
from tests.support.crashes import die_after_sending
from tests.support.events import api_event, fixture, response_json

ORDER_ID = "order-123456"


def post_order(order: dict[str, Any], context: Any) -> dict[str, Any]:
    response = load_function("orders").handler(api_event("POST", "/orders", json.dumps(order).encode()), context)
    assert response["statusCode"] in (200, 202), response["body"]
    return response_json(response)


def post_event(event: dict[str, Any], context: Any, order_id: str = ORDER_ID) -> dict[str, Any]:
    """The raw response: status and JSON body."""
    response = load_function("orders").handler(
        api_event(
            "POST",
            f"/orders/{order_id}/events",
            json.dumps(event).encode(),
            resource="/orders/{order_id}/events",
            path_parameters={"order_id": order_id},
        ),
        context,
    )
    return {"status": response["statusCode"], "body": response_json(response)}


def order_view(context: Any, order_id: str = ORDER_ID) -> dict[str, Any]:
    event = api_event(
        "GET", f"/orders/{order_id}", None, resource="/orders/{order_id}", path_parameters={"order_id": order_id}
    )
    return response_json(load_function("orders").handler(event, context))


def pending_order() -> dict[str, Any]:
    order = copy.deepcopy(fixture("canonical_order.json"))
    order["financial_status"] = "pending"
    return order


def onward_calls(on: Any, method: str, path: str) -> list[dict[str, Any]]:
    return [r for r in on.requests if r["method"] == method and r["path"] == path]


PAID = {"id": "evt-paid-1", "type": "paid", "occurred_at": "2025-10-23T09:00:00Z"}
REFUND_ONE_SIGN = {
    "id": "evt-refund-1",
    "type": "refunded",
    "refund": {"lines": [{"line_id": "line-1", "quantity": 1, "amount": 2999}], "currency": "USD"},
}
FULFILLED = {
    "id": "evt-ship-1",
    "type": "fulfilled",
    "fulfilment": {
        "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784",
        "tracking_url": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
        "lines": [{"line_id": "line-1", "quantity": 2}, {"line_id": "line-2", "quantity": 1}],
    },
}
CANCELLED = {"id": "evt-cancel-1", "type": "cancelled", "reason": "customer asked"}


def test_a_pending_order_reaches_dropday_only_once_it_is_paid(pipeline, fakes, table, lambda_context):
    sc, dd, on = fakes
    post_order(pending_order(), lambda_context)
    pipeline.run_until_idle()

    view = order_view(lambda_context)
    assert dd.requests == []
    assert view["deliveries"]["dropday"]["state"] == "awaiting_payment"
    assert view["deliveries"]["dropday"]["last_error"]["code"] == "awaiting_payment"
    assert view["deliveries"]["onward"]["state"] == "delivered"
    assert on.orders[ORDER_ID]["current"]["financial_status"] == "pending"

    # A day later, the bank transfer is paid.
    answer = post_event(PAID, lambda_context)
    assert answer["status"] == 202 and answer["body"]["seq"] == 1
    pipeline.run_until_idle()

    assert dd.created_count(ORDER_ID) == 1
    assert len(dd.requests) == 1
    patches = onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")
    assert [p["body"]["financial_status"] for p in patches] == ["paid"]
    view = order_view(lambda_context)
    assert view["deliveries"]["dropday"]["state"] == "delivered"
    assert view["timeline"][0]["event_id"] == "evt-paid-1"
    assert {n: d["state"] for n, d in view["timeline"][0]["deliveries"].items()} == {
        "dropday": "skipped",
        "onward": "delivered",
        "signcustomiser": "skipped",
    }


def test_hold_until_paid_can_be_turned_off(pipeline, fakes, configure, lambda_context):
    sc, dd, on = fakes
    configure(DROPDAY_HOLD_UNTIL_PAID="false")
    post_order(pending_order(), lambda_context)
    pipeline.run_until_idle()

    assert dd.created_count(ORDER_ID) == 1


def test_a_partial_refund_reaches_onward_as_a_patch_with_the_refunded_lines(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    assert post_event(REFUND_ONE_SIGN, lambda_context)["status"] == 202
    pipeline.run_until_idle()

    (patch,) = onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")
    body = patch["body"]
    assert body["financial_status"] == "paid"  # partly refunded: the rest still ships
    lines = {li["shop_line_item_id"]: li for li in body["line_items"]}
    assert lines["line-1"]["refunded_quantity"] == 1
    assert lines["line-1"]["refunded_price"] == {"cents": 2999, "currency": "USD"}
    assert "refunded_quantity" not in lines["line-2"]
    assert onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}/refund_insurance") == []
    # Dropday and Sign Customiser got nothing new.
    assert len(dd.requests) == 1 and len(sc.requests) == 1

    # The rest is refunded: the PATCH carries every refund so far, and the insurance is refunded once.
    rest = {
        "id": "evt-refund-2",
        "type": "refunded",
        "refund": {
            "lines": [
                {"line_id": "line-1", "quantity": 1, "amount": 2999},
                {"line_id": "line-2", "quantity": 1, "amount": 1500},
            ],
            "shipping": 995,
        },
    }
    assert post_event(rest, lambda_context)["status"] == 202
    pipeline.run_until_idle()
    last = onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")[-1]["body"]
    assert last["financial_status"] == "refunded"
    assert [(li["refunded_quantity"], li["refunded_price"]["cents"]) for li in last["line_items"]] == [
        (2, 5998),
        (1, 1500),
    ]
    assert len(onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}/refund_insurance")) == 1


def test_a_fulfilment_becomes_an_onward_shipment_with_its_tracking_number(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    assert post_event(FULFILLED, lambda_context)["status"] == 202
    pipeline.run_until_idle()

    shipment = on.shipments["evt-ship-1"]
    assert shipment["shop_order_id"] == ORDER_ID
    assert shipment["tracking_number"] == "1Z999AA10123456784" and shipment["carrier"] == "UPS"
    assert shipment["line_items"] == [
        {"shop_line_item_id": "line-1", "quantity": 2},
        {"shop_line_item_id": "line-2", "quantity": 1},
    ]
    (entry,) = order_view(lambda_context)["timeline"]
    assert entry["deliveries"]["onward"]["state"] == "delivered"
    assert entry["deliveries"]["onward"]["destination_ref"] == "evt-ship-1"


def test_a_shipment_onward_already_has_is_a_duplicate_not_an_error(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()
    # Onward creates the shipment but the answer is lost: the resend is answered 409.
    on.add_faults({"accept_then_drop": True, "method": "POST", "path": "/api/v1/shipments"})
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()

    posts = onward_calls(on, "POST", "/api/v1/shipments")
    assert [p["response"]["status"] for p in posts] == [201, 409]
    assert len(on.shipments) == 1
    assert order_view(lambda_context)["timeline"][0]["deliveries"]["onward"]["state"] == "delivered"


def test_a_cancellation_after_dropday_routed_the_order_is_flagged_for_a_person(
    pipeline, fakes, table, lambda_context, capsys
):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()
    assert dd.created_count(ORDER_ID) == 1
    capsys.readouterr()

    assert post_event(CANCELLED, lambda_context)["status"] == 202
    pipeline.run_until_idle()

    flagged = order_view(lambda_context)["timeline"][0]["deliveries"]["dropday"]
    assert flagged["state"] == "action_required"
    assert flagged["last_error"]["code"] == "cancel_by_hand"
    assert "cancel it there by hand" in flagged["last_error"]["message"]
    # The metric its alarm watches, and the index the console lists from.
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert sum(sum(e.get("CancelByHand", [])) for e in emitted) == 1
    listed = list(Store("signbridge-test").deliveries_in_state("dropday", DeliveryState.ACTION_REQUIRED))
    assert [(d.order_id, d.event_seq) for d in listed] == [(ORDER_ID, 1)]
    # Onward hears of it as an update; the order was paid, so it stays paid until refund events come.
    assert dd.created_count(ORDER_ID) == 1
    assert onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")[-1]["body"]["financial_status"] == "paid"


def test_a_cancellation_before_routing_cancels_the_dropday_delivery(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(pending_order(), lambda_context)
    pipeline.run_until_idle()

    assert post_event(CANCELLED, lambda_context)["status"] == 202
    pipeline.run_until_idle()

    view = order_view(lambda_context)
    assert dd.requests == []
    assert view["deliveries"]["dropday"]["state"] == "cancelled"
    assert view["timeline"][0]["deliveries"]["dropday"]["state"] == "skipped"
    assert onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")[-1]["body"]["financial_status"] == "voided"
    # A paid event for a cancelled order contradicts it.
    late = post_event(PAID, lambda_context)
    assert late["status"] == 422
    assert late["body"]["error"]["details"][0]["field"] == "type"


def test_every_event_redelivered_ten_times_changes_each_destination_once(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(pending_order(), lambda_context)
    pipeline.run_until_idle()

    answers = [post_event(event, lambda_context)["status"] for event in (PAID, REFUND_ONE_SIGN, FULFILLED) * 10]
    assert sorted(answers) == [200] * 27 + [202] * 3
    pipeline.run_until_idle()
    # The queue delivers each event's message ten more times (at least once, not exactly once).
    for seq in (1, 2, 3):
        for _ in range(10):
            message = DeliveryMessage(ORDER_ID, "onward", gen=0, event_seq=seq)
            pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=message_body(message))
    pipeline.run_until_idle()

    assert dd.created_count(ORDER_ID) == 1 and len(dd.requests) == 1
    assert len(onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")) == 2  # paid, refunded
    assert len(onward_calls(on, "POST", "/api/v1/shipments")) == 1
    assert len(sc.requests) == 1
    assert [e["event_id"] for e in order_view(lambda_context)["timeline"]] == [
        "evt-paid-1",
        "evt-refund-1",
        "evt-ship-1",
    ]


def test_an_event_waits_until_onward_has_the_order(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    on.add_faults(*[{"status": 503, "method": "POST", "path": "/api/v1/orders"}] * 3)
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(REFUND_ONE_SIGN, lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()

    answered = [(r["method"], r["path"], r["response"]["status"]) for r in on.requests]
    assert answered == [
        ("POST", "/api/v1/orders", 503),
        ("POST", "/api/v1/orders", 503),
        ("POST", "/api/v1/orders", 503),
        ("POST", "/api/v1/orders", 201),
        ("PATCH", f"/api/v1/orders/{ORDER_ID}", 200),
        ("POST", "/api/v1/shipments", 201),
    ]


def test_onward_failures_on_an_event_are_retried_as_for_a_create(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()
    on.add_faults(
        {"status": 500, "method": "PATCH"},
        {"status": 429, "headers": {"Retry-After": "1"}, "method": "PATCH"},
        {"status": 502, "accept": True, "method": "PATCH"},
    )
    post_event(REFUND_ONE_SIGN, lambda_context)
    pipeline.run_until_idle()

    statuses = [p["response"]["status"] for p in onward_calls(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")]
    assert statuses == [500, 429, 502, 200]
    assert on.orders[ORDER_ID]["current"]["line_items"][0]["refunded_quantity"] == 1
    entry = order_view(lambda_context)["timeline"][0]["deliveries"]["onward"]
    assert entry["state"] == "delivered" and entry["attempts"] == 4


def test_an_event_with_a_known_id_and_other_content_is_a_conflict(pipeline, fakes, lambda_context):
    post_order(fixture("canonical_order.json"), lambda_context)
    assert post_event(REFUND_ONE_SIGN, lambda_context)["status"] == 202
    changed = copy.deepcopy(REFUND_ONE_SIGN)
    changed["refund"]["lines"][0]["amount"] = 1000

    answer = post_event(changed, lambda_context)

    assert answer["status"] == 409
    assert [d["field"] for d in answer["body"]["error"]["details"]] == ["id"]


def test_events_that_contradict_the_order_are_refused_naming_the_field(pipeline, fakes, lambda_context):
    post_order(fixture("canonical_order.json"), lambda_context)
    too_many = {
        "id": "evt-r",
        "type": "refunded",
        "refund": {
            "lines": [
                {"line_id": "line-2", "quantity": 2, "amount": 1500},
                {"line_id": "nope", "quantity": 1, "amount": 1},
            ]
        },
    }
    unknown_line = {
        **FULFILLED,
        "id": "evt-f",
        "fulfilment": {**FULFILLED["fulfilment"], "lines": [{"line_id": "line-9", "quantity": 1}]},
    }
    missing_payload = {"id": "evt-x", "type": "fulfilled"}

    answers = [post_event(e, lambda_context) for e in (too_many, unknown_line, missing_payload)]
    unknown_order = post_event(PAID, lambda_context, order_id="order-404")

    assert [a["status"] for a in answers] == [422, 422, 422]
    assert [p["field"] for p in answers[0]["body"]["error"]["details"]] == [
        "refund.lines.0.quantity",
        "refund.lines.1.line_id",
    ]
    assert [p["field"] for p in answers[1]["body"]["error"]["details"]] == ["fulfilment.lines.0.line_id"]
    assert [p["field"] for p in answers[2]["body"]["error"]["details"]] == ["fulfilment"]
    assert unknown_order["status"] == 404
    assert unknown_order["body"]["error"]["details"][0]["field"] == "order_id"
    assert order_view(lambda_context)["timeline"] == []


def test_a_delivery_awaiting_payment_is_visible_but_neither_re_enqueued_nor_counted_as_held(
    pipeline, fakes, configure, lambda_context, capsys
):
    sc, dd, on = fakes
    configure(SWEEP_GRACE_SECONDS="1")
    post_order(pending_order(), lambda_context)
    pipeline.run_until_idle()
    time.sleep(2.1)  # the delivery's due time is now in the past: an overdue one would be re-enqueued
    capsys.readouterr()

    report = load_function("sweeper").handler({}, lambda_context)

    assert report["reenqueued"] == 0
    assert report["counts"] == {"dropday#awaiting_payment": 1}
    assert report["oldest_unsettled_seconds"] == 0  # the stuck alarm's metric
    totals = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"DeliveriesHeld"' in line]
    service_totals = [t for t in totals if "destination" not in t]
    assert service_totals and all(sum(t["DeliveriesHeld"]) == 0 for t in service_totals)
    pipeline.run_until_idle()
    assert dd.requests == []


IN_TRANSIT = {
    "id": "evt-track-1",
    "type": "shipment_updated",
    "occurred_at": "2025-10-25T08:00:00Z",
    "shipment": {"fulfilment_id": "evt-ship-1", "status": "in_transit", "message": "Departed facility"},
}
DELIVERED = {
    "id": "evt-track-2",
    "type": "shipment_updated",
    "shipment": {"fulfilment_id": "evt-ship-1", "status": "delivered", "occurred_at": "2025-10-27T15:30:00Z"},
}
SHIPMENT_EVENTS_PATH = "/api/v1/shipments/evt-ship-1/events"


def test_a_shipment_update_reaches_onward_once_as_a_shipment_event(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()

    answers = [post_event(e, lambda_context) for e in (IN_TRANSIT, DELIVERED)]
    pipeline.run_until_idle()

    assert [a["status"] for a in answers] == [202, 202]
    assert answers[0]["body"]["type"] == "shipment_updated"
    posts = onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)
    assert [p["body"] for p in posts] == [
        {"status": "in_transit", "occurred_at": "2025-10-25T08:00:00+00:00"},
        {"status": "delivered", "occurred_at": "2025-10-27T15:30:00+00:00"},
    ]
    assert [e["status"] for e in on.shipments["evt-ship-1"]["events"]] == ["in_transit", "delivered"]
    timeline = order_view(lambda_context)["timeline"]
    assert [(e["type"], {n: d["state"] for n, d in e["deliveries"].items()}) for e in timeline[1:]] == [
        ("shipment_updated", {"dropday": "skipped", "onward": "delivered", "signcustomiser": "skipped"}),
        ("shipment_updated", {"dropday": "skipped", "onward": "delivered", "signcustomiser": "skipped"}),
    ]
    # Nothing went to Dropday or Sign Customiser for them.
    assert len(dd.requests) == 1 and len(sc.requests) == 1


def test_a_shipment_update_redelivered_ten_times_reaches_onward_once(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()

    answers = [post_event(IN_TRANSIT, lambda_context)["status"] for _ in range(10)]
    pipeline.run_until_idle()
    for _ in range(10):  # and the queue brings its message ten more times
        message = DeliveryMessage(ORDER_ID, "onward", gen=0, event_seq=2)
        pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=message_body(message))
    pipeline.run_until_idle()

    assert answers == [202] + [200] * 9
    assert len(onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)) == 1
    assert len(on.shipments["evt-ship-1"]["events"]) == 1


def test_a_shipment_update_waits_until_onward_has_the_shipment(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()
    # Onward is down for the shipment when the status arrives.
    on.add_faults(*[{"status": 503, "method": "POST", "path": "/api/v1/shipments"}] * 2)
    post_event(FULFILLED, lambda_context)
    post_event(IN_TRANSIT, lambda_context)
    pipeline.run_until_idle()

    answered = [(r["path"], r["response"]["status"]) for r in on.requests if r["path"].startswith("/api/v1/ship")]
    assert answered == [
        ("/api/v1/shipments", 503),
        ("/api/v1/shipments", 503),
        ("/api/v1/shipments", 201),
        (SHIPMENT_EVENTS_PATH, 201),
    ]


def test_a_shipment_onward_does_not_know_yet_is_retried_never_in_doubt(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()
    on.add_faults({"status": 404, "method": "POST", "path": SHIPMENT_EVENTS_PATH})
    post_event(IN_TRANSIT, lambda_context)
    pipeline.run_until_idle()

    statuses = [p["response"]["status"] for p in onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)]
    assert statuses == [404, 201]
    entry = order_view(lambda_context)["timeline"][1]["deliveries"]["onward"]
    assert entry["state"] == "delivered" and entry["attempts"] == 2


def test_a_status_of_a_shipment_onward_refused_fails_at_once_and_follows_it_when_retried(
    pipeline, fakes, lambda_context, capsys
):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()
    on.add_faults(
        {"status": 422, "body": {"errors": ["carrier unknown"]}, "method": "POST", "path": "/api/v1/shipments"}
    )
    post_event(FULFILLED, lambda_context)
    post_event(IN_TRANSIT, lambda_context)
    pipeline.run_until_idle()

    # Not 404s for days, holding back later events: refused now, naming the shipment.
    assert onward_calls(on, "POST", SHIPMENT_EVENTS_PATH) == []
    status = order_view(lambda_context)["timeline"][1]["deliveries"]["onward"]
    assert status["state"] == "failed"
    assert status["last_error"]["code"] == "mapping_failed"
    assert list(status["last_error"]["fields"]) == ["shipment.fulfilment_id"]
    assert f"fulfilment {FULFILLED['id']} never reached Onward (failed)" in status["last_error"]["message"]
    assert "order retry" in status["last_error"]["message"]

    # The merchant fixes the carrier at Onward; the operator retries the order's Onward deliveries.
    from signbridge_tools import cli

    assert cli.main(["order", "retry", ORDER_ID, "--table", "signbridge-test"]) == 0
    capsys.readouterr()
    pipeline.run_until_idle()

    assert [c["response"]["status"] for c in onward_calls(on, "POST", "/api/v1/shipments")] == [422, 201]
    assert [c["body"]["status"] for c in onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)] == ["in_transit"]


@pytest.mark.parametrize(
    ("fault", "recorded"),
    [
        ({"status": 502, "accept": True}, 1),  # Onward recorded it, then a gateway answered 502
        ({"accept_then_drop": True}, 1),  # recorded, the connection dropped before the answer
        ({"status": 503}, 0),  # a 5xx that may or may not come after Onward acted
    ],
)
def test_an_unanswered_shipment_update_is_left_in_doubt_never_resent(
    pipeline, fakes, lambda_context, capsys, fault, recorded
):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()
    capsys.readouterr()
    on.add_faults({**fault, "method": "POST", "path": SHIPMENT_EVENTS_PATH})
    post_event(IN_TRANSIT, lambda_context)
    pipeline.run_until_idle()
    for _ in range(3):  # the message comes again: still no resend
        message = DeliveryMessage(ORDER_ID, "onward", gen=0, event_seq=2)
        pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=message_body(message))
    pipeline.run_until_idle()

    assert len(onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)) == 1
    assert len(on.shipments["evt-ship-1"]["events"]) == recorded
    entry = order_view(lambda_context)["timeline"][1]["deliveries"]["onward"]
    assert entry["state"] == "in_doubt" and entry["in_doubt_since"]
    assert f"signbridge order resolve {ORDER_ID} onward --event evt-track-1" in entry["last_error"]["message"]
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    # Counted once, by the move into doubt: the redeliveries change nothing and count nothing.
    assert sum(sum(e.get("DeliveryInDoubt", [])) for e in emitted) == 1
    # The sweeper counts it for the DeliveriesAwaitingOperator alarm.
    report = load_function("sweeper").handler({}, lambda_context)
    assert report["awaiting_operator"] == 1


def test_a_worker_that_died_after_sending_a_shipment_update_leaves_it_in_doubt(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()
    post_event(IN_TRANSIT, lambda_context)
    # A worker claimed the event's delivery, said it was sending, and died (its lease expired).
    die_after_sending(Store("signbridge-test"), ORDER_ID, "onward", 2, step="shipment_event", resend_safe=False)
    pipeline.run_until_idle()

    assert onward_calls(on, "POST", SHIPMENT_EVENTS_PATH) == []
    assert order_view(lambda_context)["timeline"][1]["deliveries"]["onward"]["state"] == "in_doubt"


def test_shipment_updates_that_contradict_the_order_are_refused_naming_the_field(pipeline, fakes, lambda_context):
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    unknown_fulfilment = {**IN_TRANSIT, "shipment": {**IN_TRANSIT["shipment"], "fulfilment_id": "evt-nope"}}
    bad_status = {**IN_TRANSIT, "shipment": {**IN_TRANSIT["shipment"], "status": "lost_in_space"}}
    missing_payload = {"id": "evt-t3", "type": "shipment_updated"}

    answers = [post_event(e, lambda_context) for e in (unknown_fulfilment, bad_status, missing_payload)]

    assert [a["status"] for a in answers] == [422, 422, 422]
    assert [p["field"] for p in answers[0]["body"]["error"]["details"]] == ["shipment.fulfilment_id"]
    assert [p["field"] for p in answers[1]["body"]["error"]["details"]] == ["shipment.status"]
    assert [p["field"] for p in answers[2]["body"]["error"]["details"]] == ["shipment"]
    assert [e["type"] for e in order_view(lambda_context)["timeline"]] == ["fulfilled"]


def test_a_parcel_shipped_before_a_cancellation_still_reports_its_statuses(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    post_event(CANCELLED, lambda_context)
    answer = post_event(IN_TRANSIT, lambda_context)
    pipeline.run_until_idle()

    assert answer["status"] == 202
    assert [e["status"] for e in on.shipments["evt-ship-1"]["events"]] == ["in_transit"]


def test_a_shipment_update_for_an_order_cancelled_before_shipping_is_refused(pipeline, fakes, lambda_context):
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(CANCELLED, lambda_context)

    answer = post_event(IN_TRANSIT, lambda_context)

    assert answer["status"] == 422
    assert answer["body"]["error"]["details"][0]["field"] == "shipment.fulfilment_id"


def test_a_shipment_update_rate_limited_is_retried_and_one_refused_fails(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()
    # The first status is rate limited, then refused on its retry; the next one goes through.
    on.add_faults(
        {"status": 429, "headers": {"Retry-After": "1"}, "method": "POST", "path": SHIPMENT_EVENTS_PATH},
        {"status": 422, "body": {"errors": ["status is not allowed"]}, "method": "POST", "path": SHIPMENT_EVENTS_PATH},
    )
    post_event(IN_TRANSIT, lambda_context)
    post_event(DELIVERED, lambda_context)
    pipeline.run_until_idle()

    posts = onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)
    assert [(p["body"]["status"], p["response"]["status"]) for p in posts] == [
        ("in_transit", 429),
        ("in_transit", 422),
        ("delivered", 201),
    ]
    assert [e["status"] for e in on.shipments["evt-ship-1"]["events"]] == ["delivered"]
    timeline = order_view(lambda_context)["timeline"]
    refused = timeline[1]["deliveries"]["onward"]
    assert (refused["state"], refused["attempts"], refused["last_error"]["code"]) == ("failed", 2, "rejected")
    assert refused["last_error"]["fields"] == ["status is not allowed"]
    assert timeline[2]["deliveries"]["onward"]["state"] == "delivered"
