"""The delivery model at its edges: items an older version wrote, a write whose answer was lost,
the queue adapter's own failures, long waits that outlive a message, a withdrawal the intake did
not make, a voided order with the hold turned off, a release after days unpaid."""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import pytest

from signbridge.delivery_queue import DeliveryQueue
from signbridge.lifecycle import DeliveryState
from signbridge.logic.outbox import DeliveryMessage, message_body
from signbridge.store import Store
from signbridge.store.base import key_of
from tests.support.events import fixture, fixture_bytes
from tests.support.memory_sqs import MemorySqs
from tests.support.world import Clock

pytestmark = pytest.mark.dynamodb_local

ORDER_ID = "order-123456"


def delivery(world: Any, destination: str, seq: int | None = None) -> Any:
    found = Store(world.table_name).get_delivery(ORDER_ID, destination, seq)
    assert found is not None
    return found


def write_as_an_older_version(world: Any, destination: str, **attributes: Any) -> None:
    """Set attributes as a version before this lifecycle wrote them (no revision, no step names)."""
    store = Store(world.table_name)
    key = {"PK": f"ORDER#{ORDER_ID}", "SK": f"DELIVERY#{destination}"}
    names = {f"#a{n}": name for n, name in enumerate(attributes)}
    values = {f":v{n}": value for n, value in enumerate(attributes.values())}
    store.client.update_item(
        TableName=world.table_name,
        Key=key_of(key),
        UpdateExpression="SET " + ", ".join(f"#a{n} = :v{n}" for n in range(len(attributes))) + " REMOVE rev",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


# ---------------------------------------------------------------- what an older version left
def test_an_old_in_doubt_fact_on_a_held_sign_customiser_delivery_is_never_resent(world, configure):
    sc = world.fakes["signcustomiser"]
    configure(SIGNCUSTOMISER_API_TOKEN="")  # held
    world.reset_functions()
    world.post("POST", "/orders", fixture("canonical_order.json"))
    world.pump_stream()
    world.run_forwarder_once()
    assert delivery(world, "signcustomiser").state is DeliveryState.HELD
    # The version before kept "in_doubt_since" through held after an unanswered attempt.
    write_as_an_older_version(world, "signcustomiser", in_doubt_since={"N": str(int(world.clock()) - 60)})
    configure(SIGNCUSTOMISER_API_TOKEN=sc.token)
    world.reset_functions()

    world.settle(horizon=3_600)

    assert sc.requests == []
    assert delivery(world, "signcustomiser").state is DeliveryState.IN_DOUBT


def test_an_old_lease_left_mid_send_without_a_step_name_is_taken_as_unsafe(world):
    sc = world.fakes["signcustomiser"]
    world.post("POST", "/orders", fixture("canonical_order.json"))
    then = int(world.clock()) - 100
    # The version before: claimed, said "sent_at", died; it knew nothing of steps.
    write_as_an_older_version(
        world,
        "signcustomiser",
        state={"S": "sending"},
        attempt_id={"S": "old-worker"},
        lease_until={"N": str(then + 1)},
        sent_at={"N": str(then)},
        attempts={"N": "1"},
    )

    world.settle(horizon=3_600)

    assert sc.requests == []
    assert delivery(world, "signcustomiser").state is DeliveryState.IN_DOUBT


# ---------------------------------------------------------------- a write whose answer was lost
def test_a_claim_that_landed_though_its_answer_was_lost_goes_on_with_its_attempt(world, monkeypatch):
    dd = world.fakes["dropday"]
    original = Store.move
    lost: list[str] = []

    def answer_lost(self: Store, d: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        moved = original(self, d, name, *args, **kwargs)
        if name == "claim" and d.destination == "dropday" and not lost:
            lost.append(name)
            return None  # the write landed; the client retried it and the retry's condition failed
        return moved

    monkeypatch.setattr(Store, "move", answer_lost)
    world.post("POST", "/orders", fixture("canonical_order.json"))

    world.settle()

    assert lost == ["claim"]
    assert dd.created_count(ORDER_ID) == 1 and len(dd.requests) == 1
    assert delivery(world, "dropday").state is DeliveryState.DELIVERED


# ---------------------------------------------------------------- the queue adapter's own failures
def test_a_batch_is_answered_only_once_every_message_is_finished_and_a_failing_replacement_crashes_no_one():
    clock = Clock()
    sqs = MemorySqs(clock)
    url = sqs.create("q")
    queue = DeliveryQueue(sqs, url, sqs.create("dlq"), clock=clock)
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=message_body(DeliveryMessage(f"o{n}", "dropday")))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
        }
        for m in received
    ]
    finished: list[str] = []

    class Wait:
        delay = 50_000.0  # longer than a receive allows: the message must be replaced

    def deliver(message: DeliveryMessage) -> Any:
        if message.order_id == "o0":
            time.sleep(0.3)  # slow
            finished.append(message.order_id)
            return None
        return Wait()

    def replace(message: DeliveryMessage, delay: float) -> DeliveryMessage:
        raise ConnectionError("DynamoDB unreachable")

    answer = queue.handle(records, deliver, replace)

    assert finished == ["o0"]  # the slow one finished before the batch was answered
    # the two whose replacement failed are kept (they come back), the slow one is done
    kept = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    assert kept == {received[1]["MessageId"], received[2]["MessageId"]}
    assert threading.active_count() >= 1


# ---------------------------------------------------------------- long waits outlive a message
def test_a_wait_longer_than_a_receive_allows_is_not_taken_for_a_lost_message(world):
    dd = world.fakes["dropday"]
    dd.add_faults({"status": 429, "headers": {"Retry-After": "43200"}})
    world.post("POST", "/orders", fixture("canonical_order.json"))
    world.pump_stream()
    world.run_forwarder_once()  # 429: the wait is longer than a receive allows, the message is replaced
    world.clock.advance(3_600)

    swept = world.sweep()

    assert swept["reenqueued"] == 0  # it waits for its time, it is not lost
    assert delivery(world, "dropday").state is DeliveryState.RETRYING
    world.settle()
    assert delivery(world, "dropday").state is DeliveryState.DELIVERED
    assert [round(r["time"] - dd.requests[0]["time"]) >= 43_200 for r in dd.requests[1:]] == [True]


# ---------------------------------------------------------------- a withdrawal the intake did not make
def test_a_cancelled_order_awaiting_payment_is_withdrawn_by_its_cancellations_delivery(world, monkeypatch):
    from signbridge.logic import order_events

    world.post("POST", "/orders", fixture("canonical_order.json") | {"financial_status": "pending"})
    world.settle()
    # The API died after recording the event, before it withdrew the Dropday delivery.
    monkeypatch.setattr(order_events, "apply_to_deliveries", lambda *args, **kwargs: None)
    assert world.post("POST", f"/orders/{ORDER_ID}/events", {"id": "c1", "type": "cancelled"})["status"] == 202

    world.settle()

    assert delivery(world, "dropday").state is DeliveryState.CANCELLED
    assert delivery(world, "dropday", 1).state is DeliveryState.SKIPPED
    assert world.fakes["dropday"].requests == []


# ---------------------------------------------------------------- voided, and paid late
def test_a_voided_order_is_held_for_dropday_even_with_the_hold_until_paid_turned_off(world, configure):
    configure(DROPDAY_HOLD_UNTIL_PAID="false")
    world.reset_functions()
    world.post("POST", "/orders", fixture("canonical_order.json") | {"financial_status": "voided"})
    world.settle()

    assert delivery(world, "dropday").state is DeliveryState.AWAITING_PAYMENT
    assert world.fakes["dropday"].requests == []


def test_an_order_paid_days_after_checkout_starts_its_wait_for_dropday_when_it_is_paid(world):
    world.post("POST", "/orders", fixture("canonical_order.json") | {"financial_status": "pending"})
    world.settle()
    world.clock.advance(3 * 86_400)

    world.post("POST", f"/orders/{ORDER_ID}/events", {"id": "p1", "type": "paid"})

    released = delivery(world, "dropday")
    assert released.state is DeliveryState.PENDING
    assert released.waiting_since == int(world.clock())  # the oldest-unsettled alarm does not fire at once


FULFIL_ONE = {
    "id": "evt-ful-1",
    "type": "fulfilled",
    "fulfilment": {"carrier": "UPS", "tracking_number": "1Zabc", "lines": [{"line_id": "line-2", "quantity": 1}]},
}


def test_an_event_arriving_while_its_order_is_being_sent_goes_as_soon_as_the_order_is_delivered(world, configure):
    configure(ROUTE_PLATFORM_ORDERS_TO="onward")
    world.reset_functions()
    done: list[int] = []

    def meanwhile(when: str, delivery: Any, name: str) -> None:
        # While the order's attempt to Onward is under way (its claim written, no answer yet),
        # the platform posts an event and the pipeline handles its delivery: it waits.
        if (when, name, delivery.event_seq) == ("after", "claim", None) and not done:
            done.append(1)
            assert world.post("POST", f"/orders/{ORDER_ID}/events", FULFIL_ONE)["status"] == 202
            world.pump_stream()
            world.run_forwarder_once()

    world.move_hooks.append(meanwhile)
    assert world.post("POST", "/orders", fixture("canonical_order.json"))["status"] == 202
    moved = world.settle(horizon=3_600)

    store = Store(world.table_name)
    assert done
    assert store.get_delivery(ORDER_ID, "onward").state is DeliveryState.DELIVERED
    assert store.get_delivery(ORDER_ID, "onward", 1).state is DeliveryState.DELIVERED
    assert moved < 60  # woken by the order's delivery, not by its own look again hours later


def test_a_wake_that_fails_is_made_when_the_rested_deliverys_message_comes_back(world, configure):
    configure(ROUTE_PLATFORM_ORDERS_TO="onward")
    world.reset_functions()
    world.fakes["onward"].add_faults({"status": 500, "method": "POST", "path": "/api/v1/orders"})
    assert world.post("POST", "/orders", fixture("canonical_order.json"))["status"] == 202
    while Store(world.table_name).get_delivery(ORDER_ID, "onward").attempts < 1:
        world.step()
    assert world.post("POST", f"/orders/{ORDER_ID}/events", FULFIL_ONE)["status"] == 202
    world.step()
    world.step()
    store = Store(world.table_name)
    waiting = store.get_delivery(ORDER_ID, "onward", 1)
    assert waiting.state is DeliveryState.RETRYING and waiting.last_error.code == "waiting_for_earlier"
    failed: list[str] = []

    def throttled(when: str, delivery: Any, name: str) -> None:
        if (when, name) == ("before", "wake") and not failed:
            failed.append(name)
            raise RuntimeError("ProvisionedThroughputExceeded (simulated)")

    world.move_hooks.append(throttled)
    moved = world.settle(horizon=3_600)

    assert failed == ["wake"]
    assert store.get_delivery(ORDER_ID, "onward", 1).state is DeliveryState.DELIVERED
    assert moved < 600


def test_an_order_whose_designs_are_too_large_to_copy_is_stored_without_the_copy(world):
    def big_product(product_id: int) -> bytes:
        body = json.loads(fixture_bytes("signcustomiser_product_created.json"))
        body["product"]["product_id"] = product_id
        body["product"]["description_html"] = "<p>" + "x" * 190_000 + "</p>"
        return json.dumps(body).encode()

    ids = [world.product(big_product(n))["external_id"] for n in (11, 12)]
    world.fakes["signcustomiser"].add_known_products(*ids)  # what Sign Customiser holds from the callbacks
    order = copy.deepcopy(fixture("canonical_order.json"))
    order["line_items"][0]["external_id"] = ids[0]
    order["line_items"][1] |= {"external_id": ids[1], "customised": True}

    assert world.post("POST", "/orders", order)["status"] == 202
    world.settle()
    sent = [r for r in world.fakes["signcustomiser"].requests if r["method"] == "POST"]
    assert len(sent) == 1 and world.order(ORDER_ID)["deliveries"]["signcustomiser"]["state"] in (
        "delivered",
        "in_doubt",
    )
