"""After checkout, nothing lost and nothing applied twice: Given the whole pipeline on DynamoDB
Local, the provider fakes and a clock the test moves, When a destination's answer is lost, a
cancellation races a retry, an id is taken by another channel, money cannot be explained, the
order is voided, an order never reached a destination, every delivery waits, a wait is long, or
an order id is URL-encoded, Then what the merchant sees at the destinations and in the table is
right, and what needs a person is alarmed."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest

from signbridge.lifecycle import DeliveryState
from signbridge.store import Store
from tests.conftest import WEBHOOK_SECRETS, deliver_webhook, load_function
from tests.support import operator
from tests.support.events import api_event, fixture, fixture_bytes, response_json, signed_headers

pytestmark = pytest.mark.dynamodb_local

ORDER_ID = "order-123456"
REFUND_ALL = {
    "id": "evt-refund-all",
    "type": "refunded",
    "refund": {
        "lines": [
            {"line_id": "line-1", "quantity": 2, "amount": 5998},
            {"line_id": "line-2", "quantity": 1, "amount": 1500},
        ],
        "shipping": 995,
    },
}
CANCELLED = {"id": "evt-cancel-1", "type": "cancelled", "reason": "customer asked"}
PAID = {"id": "evt-paid-1", "type": "paid"}
REFUND_INSURANCE = f"/api/v1/orders/{ORDER_ID}/refund_insurance"


def delivery(world: Any, destination: str, seq: int | None = None) -> Any:
    found = Store(world.table_name).get_delivery(ORDER_ID, destination, seq)
    assert found is not None
    return found


def requests(fake: Any, method: str, path: str) -> list[dict[str, Any]]:
    return [r for r in fake.requests if r["method"] == method and r["path"] == path]


def emitted(capsys: pytest.CaptureFixture[str], metric: str) -> float:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return sum(sum(line.get(metric, [])) for line in lines)


def delivered_order(world: Any, **changes: Any) -> None:
    assert world.post("POST", "/orders", fixture("canonical_order.json") | changes)["status"] == 202
    world.settle()


# ---------------------------------------------------------------- an insured refund reaches Onward once
@pytest.mark.parametrize("lost", [{"accept_then_drop": True}, {"status": 502, "accept": True}])
def test_an_insurance_refund_whose_answer_is_lost_is_never_sent_again(world, lost):
    on = world.fakes["onward"]
    delivered_order(world)
    on.add_faults({**lost, "method": "PATCH", "path": REFUND_INSURANCE})

    assert world.post("POST", f"/orders/{ORDER_ID}/events", REFUND_ALL)["status"] == 202
    world.settle()
    for _ in range(3):  # the message comes back, the sweeper runs: still nothing sent again
        world.sweep()
        world.settle()

    refund = delivery(world, "onward", 1)
    assert on.orders[ORDER_ID]["insurance_refunds"] == 1
    assert len(requests(on, "PATCH", REFUND_INSURANCE)) == 1
    assert len(requests(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")) == 1  # the order's update: once
    assert refund.state is DeliveryState.IN_DOUBT
    assert (refund.acked_steps, refund.unanswered_step) == (["update_order"], "refund_insurance")
    assert f"signbridge order resolve {ORDER_ID} onward --event {REFUND_ALL['id']}" in refund.last_error.message

    # The operator finds the refund at Onward and says so: settled, nothing sent.
    operator.resolve(ORDER_ID, "onward", delivered=True, event=REFUND_ALL["id"])
    world.settle()
    assert delivery(world, "onward", 1).state is DeliveryState.DELIVERED
    assert len(requests(on, "PATCH", REFUND_INSURANCE)) == 1


def test_after_a_plain_500_on_the_insurance_refund_only_that_request_is_sent_again_when_the_operator_says_so(world):
    on = world.fakes["onward"]
    delivered_order(world)
    on.add_faults({"status": 500, "method": "PATCH", "path": REFUND_INSURANCE})

    world.post("POST", f"/orders/{ORDER_ID}/events", REFUND_ALL)
    world.settle()
    # A 500 may come after Onward acted: in doubt, and the order's update is not repeated.
    assert delivery(world, "onward", 1).state is DeliveryState.IN_DOUBT
    assert len(requests(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")) == 1

    operator.resolve(ORDER_ID, "onward", delivered=False, event=REFUND_ALL["id"])  # Onward has no refund
    world.settle()

    assert delivery(world, "onward", 1).state is DeliveryState.DELIVERED
    assert on.orders[ORDER_ID]["insurance_refunds"] == 1
    assert len(requests(on, "PATCH", REFUND_INSURANCE)) == 2  # the 500, then the one it accepted
    assert len(requests(on, "PATCH", f"/api/v1/orders/{ORDER_ID}")) == 1  # the update: still once


# ---------------------------------------------------------------- a cancellation never hides an order Dropday may have
def test_a_cancellation_while_dropday_may_have_the_order_asks_a_person_and_alarms(world, capsys):
    dd = world.fakes["dropday"]
    # Dropday accepts the order but the answer is lost, then asks to wait (429, Retry-After 300 s).
    dd.add_faults({"accept_then_drop": True}, {"status": 429, "headers": {"Retry-After": "300"}})
    world.post("POST", "/orders", fixture("canonical_order.json"))
    while delivery(world, "dropday").attempts < 2:
        world.step() or world.clock.advance(1)
    assert delivery(world, "dropday").state is DeliveryState.RETRYING
    capsys.readouterr()

    assert world.post("POST", f"/orders/{ORDER_ID}/events", CANCELLED)["status"] == 202
    world.settle()

    own, cancellation = delivery(world, "dropday"), delivery(world, "dropday", 1)
    assert dd.created_count(ORDER_ID) == 1  # Dropday has it, once
    assert own.state is DeliveryState.ACTION_REQUIRED and own.last_error.code == "cancel_by_hand"
    assert "may have it" in own.last_error.message
    assert cancellation.state is DeliveryState.ACTION_REQUIRED  # not "skipped: the order was not sent"
    assert emitted(capsys, "CancelByHand") >= 1  # CancelByHandAlarm
    code, listing = operator.console("cancellations", "list")
    assert code == 0 and ORDER_ID in listing
    # Until someone acts, every sweep counts both for DeliveriesAwaitingOperatorAlarm.
    assert world.sweep()["awaiting_operator"] == 2

    # The person cancels it at Dropday, then says so.
    assert operator.console("cancellations", "done", ORDER_ID)[0] == 0
    assert delivery(world, "dropday").state is DeliveryState.CANCELLED
    assert delivery(world, "dropday", 1).state is DeliveryState.DELIVERED
    assert world.sweep()["awaiting_operator"] == 0


def test_a_cancellation_after_dropday_failed_with_unanswered_attempts_asks_a_person(world, configure):
    dd = world.fakes["dropday"]
    configure(RETRY_SCHEDULES='{"dropday": {"horizon_seconds": 3600}}')
    world.reset_functions()
    dd.add_faults({"accept_then_drop": True}, *({"status": 503} for _ in range(60)))
    world.post("POST", "/orders", fixture("canonical_order.json"))
    world.settle()
    assert delivery(world, "dropday").state is DeliveryState.FAILED
    assert delivery(world, "dropday").unanswered_at is not None

    world.post("POST", f"/orders/{ORDER_ID}/events", CANCELLED)
    world.settle()

    assert delivery(world, "dropday").state is DeliveryState.ACTION_REQUIRED
    assert delivery(world, "dropday", 1).state is DeliveryState.ACTION_REQUIRED


def test_a_cancellation_before_dropday_got_anything_withdraws_it(world):
    dd = world.fakes["dropday"]
    world.post("POST", "/orders", fixture("canonical_order.json") | {"financial_status": "pending"})
    world.settle()
    assert delivery(world, "dropday").state is DeliveryState.AWAITING_PAYMENT

    world.post("POST", f"/orders/{ORDER_ID}/events", CANCELLED)
    world.settle()

    assert dd.requests == []
    assert delivery(world, "dropday").state is DeliveryState.CANCELLED
    cancellation = delivery(world, "dropday", 1)
    assert (cancellation.state, cancellation.last_error.code) == (DeliveryState.SKIPPED, "order_not_sent")


# ---------------------------------------------------------------- one id, one order, one channel
def test_a_platform_order_under_an_id_another_channel_used_is_refused_naming_why(world, configure):
    configure(FORWARD_WEBHOOK_ORDERS_TO="dropday,onward")
    body = fixture_bytes("providers/signcustomiser_webhook_order_created.json")
    event = api_event("POST", "/sign-customiser/webhooks", body, signed_headers(WEBHOOK_SECRETS[0], body))
    assert load_function("webhooks").handler(event, world.context)["statusCode"] == 200  # order 12345 from SC

    answer = world.post("POST", "/orders", fixture("canonical_order.json") | {"id": "12345"})

    assert answer["status"] == 409
    assert answer["body"]["error"]["code"] == "order_id_taken"
    assert [d["field"] for d in answer["body"]["error"]["details"]] == ["id"]


def test_sign_customisers_webhook_for_an_order_signbridge_sent_it_is_that_order_not_a_new_one(world, configure, capsys):
    configure(FORWARD_WEBHOOK_ORDERS_TO="dropday,onward")
    sc = world.fakes["signcustomiser"]
    sc.on_order_created = lambda order: deliver_webhook(order, world.context)  # its order:created comes back

    world.post("POST", "/orders", fixture("canonical_order.json"))
    world.settle()

    state = Store(world.table_name).get_order_state(ORDER_ID)
    assert state is not None and state.sc_order_ids  # the webhook came and was linked to the order
    assert {d.destination: d.state for d in state.deliveries} == dict.fromkeys(
        ("signcustomiser", "dropday", "onward"), DeliveryState.DELIVERED
    )
    assert world.fakes["dropday"].created_count(ORDER_ID) == 1 and world.fakes["onward"].created_count(ORDER_ID) == 1
    assert emitted(capsys, "WebhookOrderNotForwarded") == 0


def test_a_webhook_order_without_totals_is_held_not_sent_with_invented_quantities(world, configure):
    configure(FORWARD_WEBHOOK_ORDERS_TO="dropday,onward")
    payload = fixture("providers/signcustomiser_webhook_order_created.json")
    payload["order"].pop("order_total", None)
    payload["order"].pop("app_total", None)
    body = json.dumps(payload).encode()
    event = api_event("POST", "/sign-customiser/webhooks", body, signed_headers(WEBHOOK_SECRETS[0], body))

    assert load_function("webhooks").handler(event, world.context)["statusCode"] == 200
    world.settle()

    view = world.order("12345")["deliveries"]
    assert {d: v["state"] for d, v in view.items()} == {"dropday": "action_required", "onward": "action_required"}
    assert {v["last_error"]["code"] for v in view.values()} == {"money_unexplained"}
    assert world.fakes["dropday"].requests == [] and world.fakes["onward"].requests == []


# ---------------------------------------------------------------- a voided order is never paid
def test_a_voided_order_never_goes_to_dropday(world):
    world.post("POST", "/orders", fixture("canonical_order.json") | {"financial_status": "voided"})
    world.settle()

    assert delivery(world, "dropday").state is DeliveryState.AWAITING_PAYMENT
    assert world.fakes["dropday"].requests == []


# ---------------------------------------------------------------- a failed event is alarmed
def test_an_event_whose_order_never_reached_the_destination_fails_and_is_counted(world, capsys):
    order = fixture("canonical_order.json")
    order["shipping_address"]["province"] = "Gondor"  # Onward needs an ISO province: the order fails there
    world.post("POST", "/orders", order)
    world.settle()
    assert delivery(world, "onward").state is DeliveryState.FAILED
    capsys.readouterr()

    world.post("POST", f"/orders/{ORDER_ID}/events", REFUND_ALL)
    world.settle()

    refund = delivery(world, "onward", 1)
    assert (refund.state, refund.last_error.code) == (DeliveryState.FAILED, "order_not_delivered")
    assert emitted(capsys, "DeliveryBlocked") == 1  # DeliveryBlockedAlarm


# ---------------------------------------------------------------- waiting is no crash
def test_a_batch_in_which_every_delivery_waits_does_not_fail_the_invocation(world, configure):
    configure(ROUTE_PLATFORM_ORDERS_TO="dropday,onward")
    world.reset_functions()
    for fake in world.fakes.values():
        fake.configure(fail_rate=1.0, seed=3)  # every request fails (429, 5xx, lost answers)
    world.post("POST", "/orders", fixture("canonical_order.json"))
    world.pump_stream()

    for _ in range(5):
        assert world.run_forwarder_once() == 2
        world.clock.advance(3600)

    assert world.crashed_batches == 0  # so the forwarder's Errors alarm means a crash
    assert {delivery(world, d).state for d in ("dropday", "onward")} == {DeliveryState.RETRYING}
    assert world.sqs.depth(world.queue_url) == 2  # each delivery still has its one message


def test_a_twelve_hour_retry_after_is_honoured_within_what_sqs_accepts(world):
    dd = world.fakes["dropday"]
    dd.add_faults(*({"status": 429, "headers": {"Retry-After": "43200"}} for _ in range(2)))
    world.post("POST", "/orders", fixture("canonical_order.json"))

    world.settle()

    attempts = [r["time"] for r in dd.requests]
    assert world.sqs.refusals == []  # every ChangeMessageVisibility was one SQS accepts
    assert delivery(world, "dropday").state is DeliveryState.DELIVERED
    assert len(attempts) == 3
    assert [round(b - a) >= 43_200 for a, b in itertools.pairwise(attempts)] == [True, True]


# ---------------------------------------------------------------- an id as the platform encodes it
def test_an_event_for_an_order_id_with_an_encoded_colon_finds_the_order(world):
    order = copy.deepcopy(fixture("canonical_order.json")) | {"id": "shop:1001"}
    assert world.post("POST", "/orders", order)["status"] == 202
    event = api_event(
        "POST",
        "/orders/shop%3A1001/events",
        json.dumps(PAID).encode(),
        resource="/orders/{order_id}/events",
        path_parameters={"order_id": "shop:1001"},  # API Gateway decodes the path parameter
    )

    answer = load_function("orders").handler(event, world.context)

    assert answer["statusCode"] == 202
    assert response_json(answer)["order_id"] == "shop:1001"
