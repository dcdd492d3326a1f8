"""The failures of a merchant's first month, on the whole pipeline (table in DynamoDB Local):
a key missing or refused for a while, an outage longer than a retry window, Sign Customiser
acting on a request and answering 502 or too late, lost messages and crashed workers.
Every order ends at every destination exactly once, counted at the fakes, with nothing in the DLQ."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from signbridge import forwarding_root
from signbridge.models.items import DeliveryState
from tests.conftest import deliver_webhook, load_function
from tests.support import operator
from tests.support.crashes import crash_before_recording
from tests.support.events import api_event, fixture
from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.dynamodb_local


def post_orders(count: int, context: Any, prefix: str = "o") -> list[str]:
    ids = []
    for n in range(count):
        order = fixture("canonical_order.json") | {"id": f"{prefix}-{n:03d}", "number": f"N-{prefix}-{n:03d}"}
        response = load_function("orders").handler(api_event("POST", "/orders", json.dumps(order)), context)
        assert response["statusCode"] == 202, response["body"]
        ids.append(order["id"])
    return ids


def states(order_ids: list[str], destination: str) -> dict[str, DeliveryState]:
    store = forwarding_root.store()
    found = {}
    for order_id in order_ids:
        state = store.get_order_state(order_id)
        assert state is not None
        found[order_id] = next(d.state for d in state.deliveries if d.destination == destination)
    return found


def sweep(context: Any) -> dict[str, Any]:
    result: dict[str, Any] = load_function("sweeper").handler({}, context)
    return result


def test_a_key_missing_while_orders_arrive_is_held_then_delivered_once_it_is_added(
    local_pipeline: Pipeline, fakes, configure, lambda_context, capsys
):
    _sc, dd, on = fakes
    configure(DROPDAY_API_KEY="")  # routed to Dropday, but the merchant has not stored its key yet
    ids = post_orders(5, lambda_context)

    local_pipeline.run_for(3)

    assert set(states(ids, "dropday").values()) == {DeliveryState.HELD}
    assert dd.requests == []
    assert on.counts() == dict.fromkeys(ids, 1)  # the other destinations are not held up
    report = sweep(lambda_context)
    assert report["counts"]["dropday#held"] == 5
    assert '"DeliveriesHeld"' in capsys.readouterr().out  # the gauge the held alarm watches

    configure(DROPDAY_API_KEY="dd-key")  # the merchant adds the key: no re-post, no operator step
    local_pipeline.run_until_idle()

    assert dd.counts() == dict.fromkeys(ids, 1)
    assert set(states(ids, "dropday").values()) == {DeliveryState.DELIVERED}
    assert local_pipeline.dlq_messages() == []


def test_a_destination_refusing_our_key_for_a_while_delivers_by_itself_once_fixed(
    local_pipeline: Pipeline, fakes, lambda_context
):
    _sc, dd, _on = fakes
    dd.api_key = "rotated-at-dropday"
    ids = post_orders(3, lambda_context)

    local_pipeline.run_until(lambda: sum(r["response"]["status"] == 401 for r in dd.requests if r["response"]) >= 6)
    assert set(states(ids, "dropday").values()) == {DeliveryState.HELD}

    dd.api_key = "dd-key"  # fixed on Dropday's side (or the merchant stored the new key)
    local_pipeline.run_until_idle()

    assert dd.counts() == dict.fromkeys(ids, 1)
    assert local_pipeline.dlq_messages() == []


def test_an_outage_longer_than_the_old_retry_window_loses_nothing(
    local_pipeline: Pipeline, fakes, configure, lambda_context
):
    _sc, _dd, on = fakes
    # The default schedule (30 s doubling to 1 h, for 96 h), scaled down 2000 times: 14 s of
    # outage here stand for almost 8 hours; the old window (8 attempts, ~36 minutes) for ~1 s.
    configure(RETRY_BASE_SECONDS="30", RETRY_MAX_SECONDS="3600", RETRY_TIME_SCALE="0.0005")
    on.configure(fail_rate=1.0, seed=7)  # every request fails: 429, 500, 503, or accepted and dropped
    ids = post_orders(10, lambda_context)

    local_pipeline.run_for(14)
    on.configure(fail_rate=0.0)
    local_pipeline.run_until_idle()

    assert on.counts() == dict.fromkeys(ids, 1)
    assert set(states(ids, "onward").values()) == {DeliveryState.DELIVERED}
    store = forwarding_root.store()
    attempts = [d.attempts for i in ids for d in store.get_order_state(i).deliveries if d.destination == "onward"]
    assert min(attempts) >= 3  # each was retried through the outage, and still delivered once
    assert local_pipeline.dlq_messages() == []


@pytest.mark.parametrize(
    "fault",
    [{"status": 502, "accept": True}, {"hang": 2.0, "accept": True}],
    ids=["accept-then-502", "accept-then-timeout"],
)
def test_sign_customiser_acting_then_failing_gets_one_order_settled_by_its_webhook(
    local_pipeline: Pipeline, fakes, lambda_context, fault
):
    sc, _dd, _on = fakes
    sc.on_order_created = lambda order: deliver_webhook(order, lambda_context)
    sc.add_faults(fault)
    ids = post_orders(1, lambda_context)

    local_pipeline.run_until_idle()

    assert sc.counts() == {ids[0]: 1}
    assert len(sc.requests) == 1  # never resent
    assert states(ids, "signcustomiser") == {ids[0]: DeliveryState.DELIVERED}


def test_without_its_webhook_an_unanswered_sign_customiser_attempt_stays_in_doubt_and_alarms(
    local_pipeline: Pipeline, fakes, lambda_context, capsys
):
    sc, _dd, _on = fakes
    sc.add_faults({"status": 502, "accept": True})
    ids = post_orders(1, lambda_context)

    local_pipeline.run_until_idle()  # the grace passes, nothing is resent, the message ends

    assert len(sc.requests) == 1 and sc.counts() == {ids[0]: 1}
    delivery = next(
        d for d in forwarding_root.store().get_order_state(ids[0]).deliveries if d.destination == "signcustomiser"
    )
    assert delivery.state is DeliveryState.IN_DOUBT and delivery.next_attempt_at is None
    assert "signbridge order resolve" in delivery.last_error.message
    out = capsys.readouterr().out
    assert '"DeliveryInDoubt"' in out
    assert sweep(lambda_context)["awaiting_operator"] == 1
    assert '"DeliveriesAwaitingOperator":[1.0]' in capsys.readouterr().out  # what the alarm watches

    # When the operator finds the order in Sign Customiser and says so
    operator.resolve(ids[0], "signcustomiser", delivered=True)
    assert states(ids, "signcustomiser") == {ids[0]: DeliveryState.DELIVERED}
    assert sweep(lambda_context)["awaiting_operator"] == 0


def test_an_operator_resend_of_an_order_sign_customiser_never_made_sends_it_once(
    local_pipeline: Pipeline, fakes, lambda_context
):
    sc, _dd, _on = fakes
    sc.add_faults({"status": 502})  # a 502 before Sign Customiser acted: we cannot tell the difference
    ids = post_orders(1, lambda_context)
    local_pipeline.run_until_idle()
    assert states(ids, "signcustomiser") == {ids[0]: DeliveryState.IN_DOUBT}
    assert sc.counts() == {}

    # When the operator checks Sign Customiser, finds nothing, and resends
    operator.resolve(ids[0], "signcustomiser", delivered=False)
    local_pipeline.run_until_idle()

    assert sc.counts() == {ids[0]: 1}
    assert states(ids, "signcustomiser") == {ids[0]: DeliveryState.DELIVERED}


def test_a_late_webhook_settles_an_in_doubt_delivery_at_the_next_sweep(local_pipeline: Pipeline, fakes, lambda_context):
    sc, _dd, _on = fakes
    created: list[dict[str, Any]] = []
    sc.on_order_created = created.append  # the webhook is late: we hold on to it
    sc.add_faults({"status": 504, "accept": True})
    ids = post_orders(1, lambda_context)
    local_pipeline.run_until_idle()
    assert states(ids, "signcustomiser") == {ids[0]: DeliveryState.IN_DOUBT}

    deliver_webhook(created[0], lambda_context)  # ... and here it comes, long after the grace
    report = sweep(lambda_context)

    assert report["confirmed"] == 1
    assert states(ids, "signcustomiser") == {ids[0]: DeliveryState.DELIVERED}
    assert len(sc.requests) == 1


def test_the_sweeper_re_enqueues_deliveries_whose_messages_were_lost(
    local_pipeline: Pipeline, fakes, configure, lambda_context
):
    sc, dd, on = fakes
    configure(SWEEP_GRACE_SECONDS="1")
    ids = post_orders(2, lambda_context)
    local_pipeline.pump_stream()
    local_pipeline.sqs.purge_queue(QueueUrl=local_pipeline.queue_url)  # every message is lost
    time.sleep(2)  # the deliveries are now overdue by more than the grace

    assert sweep(lambda_context)["reenqueued"] == 6
    assert sweep(lambda_context)["reenqueued"] == 0  # their new messages are due: nothing twice
    local_pipeline.run_until_idle()

    for fake in (sc, dd, on):
        assert fake.counts() == dict.fromkeys(ids, 1)


def test_a_worker_that_died_mid_attempt_with_its_message_lost_is_finished_by_the_sweeper(
    local_pipeline: Pipeline, fakes, configure, lambda_context, monkeypatch
):
    _sc, dd, _on = fakes
    configure(SWEEP_GRACE_SECONDS="1", ROUTE_PLATFORM_ORDERS_TO="dropday")
    crash_before_recording(monkeypatch, "delivered")
    ids = post_orders(1, lambda_context)
    local_pipeline.pump_stream()
    local_pipeline.run_forwarder_once()  # the attempt: Dropday creates the order, the worker dies
    local_pipeline.sqs.purge_queue(QueueUrl=local_pipeline.queue_url)  # and its message is lost
    assert states(ids, "dropday") == {ids[0]: DeliveryState.SENDING}
    time.sleep(3)  # its lease (the 1 s invocation) has expired, and the grace after it

    assert sweep(lambda_context)["reenqueued"] == 1
    local_pipeline.run_until_idle()

    assert states(ids, "dropday") == {ids[0]: DeliveryState.DELIVERED}
    assert dd.counts() == {ids[0]: 1}  # the resend was answered "Order already exists"
    assert len(dd.requests) == 2
