"""Findings of the review of the issue #6 forwarding engine, each kept as the test that first
failed on it: an in-doubt delivery that passed through "held" was resent; a blip before anything
was sent put a delivery in doubt; a swept pending delivery had two live messages; a delivery
behind a backlog was never attempted; an in-doubt delivery whose message was lost alarmed no one."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from signbridge import forwarding_root
from signbridge.errors import StoreUnavailable
from signbridge.logic.outbox import message_body, parse_message
from signbridge.logic.sweeper import sweep
from signbridge.mappers.errors import MappingFailed
from signbridge.models.items import DeliveryRecord, DeliveryState
from signbridge.store import Store
from tests.conftest import load_function
from tests.support.events import api_event, fixture
from tests.support.pipeline import Pipeline

ORDER_ID = "order-123456"


def post_order(context: Any) -> None:
    response = load_function("orders").handler(
        api_event("POST", "/orders", json.dumps(fixture("canonical_order.json"))), context
    )
    assert response["statusCode"] == 202, response["body"]


def delivery(destination: str) -> DeliveryRecord:
    found = forwarding_root.store().get_delivery(ORDER_ID, destination)
    assert found is not None
    return found


def queued_bodies(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every message now in the delivery queue (made visible again at once: visibility 0)."""
    sqs = boto3.client("sqs")
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(5):
        for m in sqs.receive_message(QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10).get("Messages", []):
            seen[m["MessageId"]] = json.loads(m["Body"])
    return list(seen.values())


def test_an_in_doubt_sign_customiser_delivery_held_for_a_while_is_never_resent(
    pipeline: Pipeline, fakes, configure, lambda_context
):
    sc, _dd, _on = fakes
    configure(ROUTE_PLATFORM_ORDERS_TO="signcustomiser")
    sc.add_faults({"status": 502, "accept": True})  # Sign Customiser made the order, answered 502
    post_order(lambda_context)
    pipeline.pump_stream()
    pipeline.run_forwarder_once()
    assert delivery("signcustomiser").state is DeliveryState.IN_DOUBT
    assert sc.counts() == {ORDER_ID: 1}

    # When its message comes back, the token cannot be read (an SSM blip, a rotation in progress):
    # it stays in doubt (a delivery in doubt is never held: holding would end in a resend)
    configure(SIGNCUSTOMISER_API_TOKEN="")
    pipeline.run_until_idle()
    assert delivery("signcustomiser").state is DeliveryState.IN_DOUBT
    # ... and a little later the token can be read again
    configure(SIGNCUSTOMISER_API_TOKEN="sc-token")
    pipeline.run_until_idle()

    assert sc.counts() == {ORDER_ID: 1}  # the issue: never sent twice without an operator saying so
    assert delivery("signcustomiser").state is DeliveryState.IN_DOUBT


def test_a_store_blip_before_anything_was_sent_does_not_put_a_delivery_in_doubt(
    pipeline: Pipeline, fakes, configure, lambda_context, monkeypatch
):
    sc, _dd, _on = fakes
    configure(ROUTE_PLATFORM_ORDERS_TO="signcustomiser")
    post_order(lambda_context)
    real = Store.get_order_state
    blips: list[str] = []

    def blip_once(self: Store, order_id: str) -> Any:
        if not blips:
            blips.append(order_id)
            raise StoreUnavailable()  # DynamoDB throttled once, after the claim, before the send
        return real(self, order_id)

    monkeypatch.setattr(Store, "get_order_state", blip_once)
    pipeline.pump_stream()
    pipeline.run_forwarder_once()
    assert blips and sc.requests == []  # nothing was sent
    pipeline.run_until_idle()

    # Nothing was ever sent, so nothing is in doubt: the order should simply be delivered.
    assert delivery("signcustomiser").state is DeliveryState.DELIVERED
    assert sc.counts() == {ORDER_ID: 1}


def test_a_swept_pending_delivery_has_exactly_one_live_message(pipeline: Pipeline, fakes, configure, lambda_context):
    configure(ROUTE_PLATFORM_ORDERS_TO="dropday")
    post_order(lambda_context)
    pipeline.pump_stream()
    pipeline.sqs.purge_queue(QueueUrl=pipeline.queue_url)  # the outbox's message is lost
    store = forwarding_root.store()
    sqs = boto3.client("sqs")

    def enqueue(message: Any) -> None:  # what functions/sweeper/app.py does
        sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=message_body(message))

    report = sweep(store, ["dropday"], enqueue, lambda _d: False, now=int(time.time()) + 3_600, grace_seconds=900)
    assert report.reenqueued == 1
    pipeline.pump_stream()  # the stream record of the sweeper's own write (still "pending")

    live = [b for b in queued_bodies(pipeline) if b["gen"] == delivery("dropday").gen]
    assert len(live) == 1, live  # "one live queue message per delivery"


def test_a_delivery_behind_a_backlog_is_attempted_despite_the_sweeper(
    pipeline: Pipeline, fakes, configure, lambda_context
):
    """A backlog (ForwarderMaxConcurrency caps the forwarders) keeps each message in the queue
    longer than SweepGraceSeconds: each sweep replaces the message before it is received."""
    _sc, dd, _on = fakes
    configure(ROUTE_PLATFORM_ORDERS_TO="dropday")
    post_order(lambda_context)
    store = forwarding_root.store()
    sqs = boto3.client("sqs")

    def enqueue(message: Any) -> None:
        sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody=message_body(message))

    pipeline.pump_stream()  # the outbox's message, at the back of a long queue
    start = int(time.time())
    for hour in range(1, 4):
        if dd.requests:
            break
        # The sweeper runs while the message still waits its turn ...
        backlog = sqs.get_queue_attributes(QueueUrl=pipeline.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
        sweep(
            store,
            ["dropday"],
            enqueue,
            lambda _d: False,
            now=start + 1_200 * hour,
            grace_seconds=900,
            queue_backlog=int(backlog["Attributes"]["ApproximateNumberOfMessages"]),  # as the sweeper asks SQS
        )
        pipeline.pump_stream()
        # ... then the forwarder reaches the oldest message of this delivery.
        oldest = sqs.receive_message(QueueUrl=pipeline.queue_url, MaxNumberOfMessages=1, AttributeNames=["All"])
        messages: list[dict[str, Any]] = [dict(m) for m in oldest.get("Messages", [])]
        assert messages and parse_message(messages[0]["Body"]) is not None
        load_function("forwarder").handler(pipeline._sqs_event(messages), pipeline.context)
        sqs.delete_message(QueueUrl=pipeline.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])

    assert dd.requests, "three messages reached the forwarder, and none led to an attempt"


def test_an_in_doubt_delivery_whose_message_was_lost_is_brought_to_an_operator(
    pipeline: Pipeline, fakes, configure, lambda_context
):
    sc, _dd, _on = fakes
    configure(ROUTE_PLATFORM_ORDERS_TO="signcustomiser")
    sc.add_faults({"status": 502, "accept": True})
    post_order(lambda_context)
    pipeline.pump_stream()
    pipeline.run_forwarder_once()
    assert delivery("signcustomiser").next_attempt_at is not None  # waiting for the webhook, within its grace
    pipeline.sqs.purge_queue(QueueUrl=pipeline.queue_url)  # its message is lost (or made stale)

    # A day later: no message will ever bring it back, and no webhook came.
    report = sweep(
        forwarding_root.store(),
        ["signcustomiser"],
        lambda _m: None,
        lambda _d: False,
        now=int(time.time()) + 86_400,
        grace_seconds=900,
    )

    # Never re-sent by the sweeper (Sign Customiser may have it): brought to a person instead.
    assert report.reenqueued == 0
    assert report.awaiting_operator["signcustomiser"] == 1
    assert len(sc.requests) == 1


def test_an_in_doubt_delivery_that_cannot_be_checked_does_not_stop_the_sweep(
    pipeline: Pipeline, fakes, configure, lambda_context
):
    sc, _dd, _on = fakes
    configure(ROUTE_PLATFORM_ORDERS_TO="signcustomiser,dropday")
    sc.add_faults({"status": 502, "accept": True})
    post_order(lambda_context)
    pipeline.pump_stream()
    pipeline.run_forwarder_once()
    assert delivery("signcustomiser").state is DeliveryState.IN_DOUBT

    def cannot_check(_delivery: Any) -> bool:
        raise MappingFailed("the order can no longer be mapped", field="shipping_address.province")

    report = sweep(
        forwarding_root.store(),
        ["signcustomiser", "dropday"],
        lambda _m: None,
        cannot_check,
        now=int(time.time()) + 86_400,
        grace_seconds=900,
    )

    # Counted as failed to check, still in doubt and awaiting a person; the next destination swept.
    assert report.errors == 1
    assert report.awaiting_operator == {"signcustomiser": 1, "dropday": 0}
    assert ("dropday", DeliveryState.PENDING) in report.counts
    assert delivery("signcustomiser").state is DeliveryState.IN_DOUBT
