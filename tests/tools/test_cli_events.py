"""signbridge console and order events: Given a cancelled order Dropday had already routed, Then
`cancellations list` names it, `cancellations done` settles it, and `order show` prints the timeline.
Given a shipment event Onward may or may not have (an unanswered attempt), Then `deliveries in-doubt`
and `order show` name it, and `order resolve --event` settles it either way."""

from __future__ import annotations

import pytest

from signbridge.models.items import DeliveryState
from signbridge.store import Store
from signbridge_tools import cli
from tests.conftest import BASE_ENV
from tests.handlers.test_order_events import (
    CANCELLED,
    FULFILLED,
    IN_TRANSIT,
    ORDER_ID,
    SHIPMENT_EVENTS_PATH,
    onward_calls,
    post_event,
    post_order,
)
from tests.support.events import fixture
from tests.support.pipeline import Pipeline, wire_pipeline

TABLE = BASE_ENV["TABLE_NAME"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cancelled_after_routing(table, fakes, configure, lambda_context) -> None:
    pipeline = wire_pipeline(configure, fakes, lambda_context, TABLE)
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()
    post_event(CANCELLED, lambda_context)
    pipeline.run_until_idle()


def test_cancellations_list_names_each_order_to_cancel_at_dropday_by_hand(cancelled_after_routing, capsys):
    capsys.readouterr()
    code, out, _ = run(capsys, "cancellations", "list", "--table", TABLE)

    assert code == 0
    assert ORDER_ID in out and "cancel it there by hand" in out
    assert "1 delivery(ies) to cancel by hand" in out


def test_cancellations_done_settles_the_flag_once(cancelled_after_routing, capsys):
    capsys.readouterr()
    code, out, _ = run(capsys, "cancellations", "done", ORDER_ID, "--table", TABLE)
    again, _, err = run(capsys, "cancellations", "done", ORDER_ID, "--table", TABLE)
    _, listing, _ = run(capsys, "cancellations", "list", "--table", TABLE)

    assert code == 0 and "action_required -> delivered" in out
    assert again == 1 and "nothing changed" in err
    assert "0 delivery(ies) to cancel" in listing
    flagged = Store(TABLE).get_delivery(ORDER_ID, "dropday", 1)
    assert flagged is not None and flagged.state is DeliveryState.DELIVERED


def test_order_show_prints_the_timeline(cancelled_after_routing, capsys):
    capsys.readouterr()
    code, out, _ = run(capsys, "order", "show", ORDER_ID, "--table", TABLE)

    assert code == 0
    timeline = out.split("timeline:")[1]
    rows = [line.split() for line in timeline.strip().splitlines()[1:]]
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows] == [
        ("1", "evt-cancel-1", "cancelled", "dropday", "action_required"),
        ("1", "evt-cancel-1", "cancelled", "onward", "delivered"),
        ("1", "evt-cancel-1", "cancelled", "signcustomiser", "skipped"),
    ]


def test_replay_refuses_deliveries_that_wait_for_payment_or_a_person(cancelled_after_routing, capsys):
    capsys.readouterr()
    code, _, err = run(capsys, "replay", "--destination", "dropday", "--state", "action_required", "--table", TABLE)

    assert code == 1 and "not a resend" in err
    flagged = Store(TABLE).get_delivery(ORDER_ID, "dropday", 1)
    assert flagged is not None and flagged.state is DeliveryState.ACTION_REQUIRED


def test_order_retry_puts_a_failed_event_back_after_the_order(table, fakes, configure, lambda_context, capsys):
    sc, dd, on = fakes
    pipeline = wire_pipeline(configure, fakes, lambda_context, TABLE)
    on.add_faults({"status": 422, "method": "POST", "path": "/api/v1/orders"})  # Onward refuses the order once
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(CANCELLED, lambda_context)
    pipeline.run_until_idle()
    event_delivery = Store(TABLE).get_delivery(ORDER_ID, "onward", 1)
    assert event_delivery is not None and event_delivery.state is DeliveryState.FAILED
    capsys.readouterr()

    code, out, _ = run(capsys, "order", "retry", ORDER_ID, "--destination", "onward", "--table", TABLE)
    pipeline.run_until_idle()

    assert code == 0
    assert f"{ORDER_ID} / onward: failed -> pending" in out
    assert f"{ORDER_ID} / onward / event 1: failed -> pending" in out
    methods = [(r["method"], r["response"]["status"]) for r in on.requests]
    assert methods == [("POST", 422), ("POST", 201), ("PATCH", 200)]


@pytest.fixture
def shipment_event_in_doubt(table, fakes, configure, lambda_context) -> Pipeline:
    sc, dd, on = fakes
    pipeline = wire_pipeline(configure, fakes, lambda_context, TABLE)
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()
    # Onward records the status, then a gateway answers 502: did it get it? signbridge cannot tell.
    on.add_faults({"status": 502, "accept": True, "method": "POST", "path": SHIPMENT_EVENTS_PATH})
    post_event(IN_TRANSIT, lambda_context)
    pipeline.run_until_idle()
    delivery = Store(TABLE).get_delivery(ORDER_ID, "onward", 2)
    assert delivery is not None and delivery.state is DeliveryState.IN_DOUBT
    return pipeline


def test_deliveries_in_doubt_and_order_show_name_the_event_and_how_to_settle_it(shipment_event_in_doubt, capsys):
    capsys.readouterr()
    _, listing, _ = run(capsys, "deliveries", "in-doubt", "--table", TABLE)
    _, shown, _ = run(capsys, "order", "show", ORDER_ID, "--table", TABLE)

    command = f"signbridge order resolve {ORDER_ID} onward --event evt-track-1 --delivered"
    assert "1 delivery(ies) in_doubt" in listing
    assert f"{ORDER_ID} / onward / event 2: " in listing and command in listing
    assert "onward event 2 (evt-track-1, shipment_updated) is in doubt since" in shown and command in shown


def test_resolve_event_delivered_settles_it_without_a_second_post(shipment_event_in_doubt, fakes, capsys):
    sc, dd, on = fakes
    capsys.readouterr()
    code, out, _ = run(
        capsys, "order", "resolve", ORDER_ID, "onward", "--event", "evt-track-1", "--delivered", "--table", TABLE
    )
    shipment_event_in_doubt.run_until_idle()

    assert code == 0 and f"settled      {ORDER_ID} / onward / event evt-track-1 (step shipment_event): in_doubt" in out
    delivery = Store(TABLE).get_delivery(ORDER_ID, "onward", 2)
    assert delivery is not None and delivery.state is DeliveryState.DELIVERED
    assert len(onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)) == 1
    # The order's own delivery was not touched.
    own = Store(TABLE).get_delivery(ORDER_ID, "onward")
    assert own is not None and own.state is DeliveryState.DELIVERED and own.destination_ref == ORDER_ID


def test_resolve_event_resend_posts_it_once_more(shipment_event_in_doubt, fakes, capsys):
    sc, dd, on = fakes
    on.shipments["evt-ship-1"]["events"].clear()  # the operator found that Onward does not have it
    capsys.readouterr()
    code, out, _ = run(
        capsys, "order", "resolve", ORDER_ID, "onward", "--event", "evt-track-1", "--resend", "--table", TABLE
    )
    shipment_event_in_doubt.run_until_idle()

    assert code == 0 and "-> pending; the next attempt sends again" in out
    statuses = [p["response"]["status"] for p in onward_calls(on, "POST", SHIPMENT_EVENTS_PATH)]
    assert statuses == [502, 201]
    assert [e["status"] for e in on.shipments["evt-ship-1"]["events"]] == ["in_transit"]
    delivery = Store(TABLE).get_delivery(ORDER_ID, "onward", 2)
    assert delivery is not None and delivery.state is DeliveryState.DELIVERED and delivery.unanswered_at is None


def test_resolve_of_an_unknown_event_or_one_not_in_doubt_is_refused(shipment_event_in_doubt, capsys):
    capsys.readouterr()
    unknown, _, err_unknown = run(
        capsys, "order", "resolve", ORDER_ID, "onward", "--event", "evt-nope", "--resend", "--table", TABLE
    )
    settled, _, err_settled = run(
        capsys, "order", "resolve", ORDER_ID, "onward", "--event", "evt-ship-1", "--resend", "--table", TABLE
    )

    assert unknown == 1 and "has no event 'evt-nope'" in err_unknown and "evt-track-1" in err_unknown
    assert settled == 1 and "is delivered, not in doubt" in err_settled
    delivery = Store(TABLE).get_delivery(ORDER_ID, "onward", 2)
    assert delivery is not None and delivery.state is DeliveryState.IN_DOUBT
