"""Found in review (issues #9 and #7), each test failing before its fix. A worker that died after
saying it was sending leaves only ``sent_at`` and an expired lease behind: the next attempt puts the
delivery in doubt before anything else (held, waiting, failing) could release the lease and forget
it. One destination's malformed setting holds only that destination."""

from __future__ import annotations

from typing import Any

from signbridge import forwarding_root
from signbridge.models.items import DeliveryState
from signbridge.store import Store
from tests.handlers.test_order_events import (
    FULFILLED,
    IN_TRANSIT,
    ORDER_ID,
    SHIPMENT_EVENTS_PATH,
    onward_calls,
    order_view,
    post_event,
    post_order,
)
from tests.support import crashes
from tests.support.events import fixture
from tests.support.pipeline import Pipeline


def event_delivery(seq: int) -> Any:
    found = forwarding_root.store().get_delivery(ORDER_ID, "onward", seq)
    assert found is not None
    return found


def die_after_sending(seq: int | None, destination: str = "onward") -> None:
    """A worker said it was sending the delivery's request that must not be sent twice (a shipment
    status to Onward, an order to Sign Customiser), sent it, and died (its lease has run out)."""
    step = "shipment_event" if destination == "onward" else "create_order"
    crashes.die_after_sending(Store("signbridge-test"), ORDER_ID, destination, seq, step=step, resend_safe=False)


def test_a_shipment_status_sent_by_a_worker_that_died_is_not_resent_after_onward_was_held_for_a_while(
    pipeline: Pipeline, fakes, configure, lambda_context
):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()
    post_event(IN_TRANSIT, lambda_context)
    pipeline.pump_stream()  # the status's delivery is pending, its message queued
    die_after_sending(2)
    # Onward accepted what the dead worker sent.
    on.shipments["evt-ship-1"].setdefault("events", []).append({"status": "in_transit"})

    # When its message comes back, Onward's key cannot be read for a moment (an SSM blip, a rotation)
    configure(ONWARD_API_KEY="")
    # The next attempt looks at it (held without the crash check first; in doubt with it).
    pipeline.run_until(lambda: event_delivery(2).state in (DeliveryState.HELD, DeliveryState.IN_DOUBT))
    # ... and then it can again
    configure(ONWARD_API_KEY=on.api_key)
    pipeline.run_until_idle()

    # The issue: a status Onward may have must never be posted again without an operator saying so.
    assert onward_calls(on, "POST", SHIPMENT_EVENTS_PATH) == []
    assert event_delivery(2).state is DeliveryState.IN_DOUBT


def test_a_sign_customiser_order_sent_by_a_worker_that_died_is_not_resent_after_it_was_held_for_a_while(
    pipeline: Pipeline, fakes, configure, lambda_context
):
    sc, _dd, _on = fakes
    configure(ROUTE_PLATFORM_ORDERS_TO="signcustomiser")
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.pump_stream()
    die_after_sending(None, "signcustomiser")

    configure(SIGNCUSTOMISER_API_TOKEN="")
    pipeline.run_until(
        lambda: (
            forwarding_root.store().get_delivery(ORDER_ID, "signcustomiser").state
            in (DeliveryState.HELD, DeliveryState.IN_DOUBT)
        )
    )
    configure(SIGNCUSTOMISER_API_TOKEN="sc-token")
    pipeline.run_until_idle()

    # The dead worker may have created the order: no resend without its webhook or an operator.
    assert sc.requests == []
    assert forwarding_root.store().get_delivery(ORDER_ID, "signcustomiser").state is DeliveryState.IN_DOUBT


def test_a_shipment_status_sent_by_a_worker_that_died_is_not_resent_after_an_operator_retries_the_shipment(
    pipeline: Pipeline, fakes, configure, lambda_context, capsys
):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()
    # The shipment is refused (a 422 the merchant fixes at Onward), and its status goes ahead
    # (events wait only for earlier ones to be terminal): Onward has the shipment by then.
    on.add_faults(
        {"status": 422, "body": {"errors": ["carrier unknown"]}, "method": "POST", "path": "/api/v1/shipments"}
    )
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()
    assert event_delivery(1).state is DeliveryState.FAILED
    post_event(IN_TRANSIT, lambda_context)
    pipeline.pump_stream()
    die_after_sending(2)  # the status was posted; the worker died before recording it

    # The operator follows DeliveryRejectedAlarm's runbook: `signbridge order retry ORDER_ID`.
    from signbridge_tools import cli

    assert cli.main(["order", "retry", ORDER_ID, "--table", "signbridge-test"]) == 0
    capsys.readouterr()
    pipeline.run_until_idle()

    # The operator asked to resend the shipment, never the status a dead worker may have posted.
    assert onward_calls(on, "POST", SHIPMENT_EVENTS_PATH) == []
    assert event_delivery(2).state is DeliveryState.IN_DOUBT


def test_one_destinations_malformed_setting_holds_its_deliveries_and_leaves_the_others_alone(
    configure,
):
    """#7 moved each destination's settings out of the core settings, parsed on first use. A
    malformed one now raises pydantic's ValidationError out of ``announce_destinations`` (the
    forwarder's cold start: every destination stops) and out of ``destination`` (no hold, no
    DeliveriesHeld alarm: the attempt errors with its lease kept)."""
    import pytest

    from signbridge.ports import DestinationUnavailable

    configure(
        ROUTE_PLATFORM_ORDERS_TO="dropday,onward",
        DROPDAY_API_KEY="dd-key",
        DROPDAY_ACCOUNT_ID="dd-account",
        ONWARD_API_KEY="on-key",
        ONWARD_BASE_URL="app.useonward.com",  # no scheme: malformed
    )

    forwarding_root.announce_destinations()  # the forwarder's cold start must survive it
    assert forwarding_root.destination("dropday").orders is not None
    with pytest.raises(DestinationUnavailable, match="ONWARD_BASE_URL"):
        forwarding_root.destination("onward")


def test_a_malformed_onward_base_url_holds_onward_naming_the_variable(pipeline, fakes, configure, lambda_context):
    _sc, dd, _on = fakes
    configure(ONWARD_BASE_URL="app.useonward.com")  # no scheme
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until(lambda: forwarding_root.store().get_delivery(ORDER_ID, "onward").state is DeliveryState.HELD)
    pipeline.run_until(lambda: dd.created_count(ORDER_ID) == 1)

    onward = forwarding_root.store().get_delivery(ORDER_ID, "onward")
    assert onward.last_error is not None and onward.last_error.code == "destination_misconfigured"
    assert "ONWARD_BASE_URL" in onward.last_error.message
    assert forwarding_root.store().get_delivery(ORDER_ID, "dropday").state is DeliveryState.DELIVERED


def test_a_crashed_shipment_update_in_doubt_prints_the_event_in_its_resolve_command(pipeline, fakes, lambda_context):
    """The operator copies this command: without --event it would name the order's own delivery."""
    post_order(fixture("canonical_order.json"), lambda_context)
    post_event(FULFILLED, lambda_context)
    pipeline.run_until_idle()
    post_event(IN_TRANSIT, lambda_context)
    die_after_sending(2)  # a claim whose lease ran out long ago: no sleep needed
    pipeline.run_until_idle()

    entry = order_view(lambda_context)["timeline"][1]["deliveries"]["onward"]
    assert entry["state"] == "in_doubt"
    assert f"signbridge order resolve {ORDER_ID} onward --event {IN_TRANSIT['id']}" in entry["last_error"]["message"]
