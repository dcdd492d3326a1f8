"""The whole pipeline explored as a state machine (hypothesis' stateful testing), in process on
DynamoDB Local and the provider fakes, on a clock the rules move.

Rules: post an order (insured or not, paid, pending or voided, with or without a design); post
each event type, again (a redelivery) and out of order; fault the next request of one kind at
one destination (500, 429 with a Retry-After up to 12 hours, dropped before it is read,
accepted then dropped, accepted then 502, a timeout after it was accepted); kill the next worker
between any two of its writes; run the pipeline; move the clock; run the sweeper; act as the
operator (resolve what is in doubt after looking at the destination, retry what failed, cancel
by hand what is flagged); remove and restore a destination's key.

Invariants after every step: every request that is not resend-safe was accepted at most once at
its fake; every resend-safe effect counts once after the destination's dedupe; no delivery
reads delivered unless the fake has it; no order delivery reads cancelled or skipped while the
fake has it; every unsettled delivery is in the state index, as GET /orders/{id} shows it; every
write of a delivery is a move the lifecycle allows. At the end of each run the faults stop, the
operator settles what is theirs, and every delivery must settle.

Profiles: SIGNBRIDGE_MODEL_STEPS (total steps; 5,000 in `make test`, 50,000 in `make soak`).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from signbridge.lifecycle import DeliveryState
from signbridge.models.items import DELIVERY_STATE_INDEX, DeliveryRecord, delivery_key
from signbridge.store import Store
from signbridge.store.base import from_item
from tests.conftest import deliver_webhook
from tests.support import operator
from tests.support.events import fixture
from tests.support.world import World

pytestmark = pytest.mark.dynamodb_local

STEPS = int(os.environ.get("SIGNBRIDGE_MODEL_STEPS", "5000"))
STEPS_PER_RUN = 50
FIGURES: Counter[str] = Counter()

FAULTS = {
    "500": {"status": 500},
    "429": {"status": 429},
    "drop": {"drop": True},
    "accept_then_drop": {"accept_then_drop": True},
    "accept_then_502": {"status": 502, "accept": True},
    "timeout_after_accept": {"hang": 0.25, "accept": True},
}
# (destination, method, path prefix) of each kind of request signbridge sends.
REQUESTS = {
    "sc_create": ("signcustomiser", "POST", "/api/v2/orders"),
    "dd_create": ("dropday", "POST", "/api/v1/orders"),
    "on_create": ("onward", "POST", "/api/v1/orders"),
    "on_update": ("onward", "PATCH", "/api/v1/orders/"),
    "on_shipment": ("onward", "POST", "/api/v1/shipments"),
}
# The moves a worker can die around: after its claim is written, or before an answer is.
DEATHS = [
    "after claim",
    "after claim",
    "before delivered",
    "before delivered",
    "after acknowledged",
    "before acknowledged",
    "before retry",
    "before unanswered",
]
KEYS = {"signcustomiser": "SIGNCUSTOMISER_API_TOKEN", "dropday": "DROPDAY_API_KEY", "onward": "ONWARD_API_KEY"}
STATUSES = ["in_transit", "out_for_delivery", "delivered", "delayed"]


class Died(RuntimeError):
    """The worker died here."""


class DeliveryModel(RuleBasedStateMachine):
    context: dict[str, Any] = {}  # the test's fixtures, set before the machine runs

    def __init__(self) -> None:
        super().__init__()
        ctx = self.context
        for fake in ctx["fakes"]:
            fake.reset()
        self.world = World(
            endpoint_url=ctx["endpoint_url"],
            fakes=ctx["fakes"],
            configure=ctx["configure"],
            monkeypatch=ctx["monkeypatch"],
            settings={"DESTINATION_TIMEOUT_SECONDS": "0.15"},
            serial=True,
        )
        assert self.world.product() == {"external_id": "sc-1"}
        self.world.move_hooks.append(ctx["mortal"])
        self.sc, self.dd, self.on = (self.world.fakes[d] for d in ("signcustomiser", "dropday", "onward"))
        self.store = Store(self.world.table_name)
        self.model: dict[str, dict[str, Any]] = {}  # order id -> what the platform did to it
        self.keys_removed: set[str] = set()
        self.cancelled_by_hand: set[tuple[str, str]] = set()
        self.last: list[Any] = []  # the deliveries as the last check read them
        self.checked: tuple[int, ...] = ()  # what the table and the fakes had seen at the last check
        self.swept_at = 0.0
        ctx["trap"]["deaths"].clear()
        ctx["trap"]["meanwhile"] = None
        ctx["machine"] = self
        FIGURES["runs"] += 1

    # ------------------------------------------------------------------ the platform
    @initialize(webhook=st.booleans())
    def subscribe(self, webhook: bool) -> None:
        """Sign Customiser's order:created webhook is subscribed (it confirms each order) or not."""
        if webhook:
            self.sc.on_order_created = lambda order: deliver_webhook(order, self.world.context)
        else:
            self.sc.on_order_created = None

    # Each rule picks what happens from a list in which the likelier things stand more often.
    @rule(action=st.sampled_from(["order", "order", "event", "event", "event", "event", "redelivery"]), data=st.data())
    def platform(self, action: str, data: st.DataObject) -> None:
        """The merchant's platform posts an order, an event of an order, or an event again."""
        if action == "order" or not self.model:
            self.post_order(
                insured=data.draw(st.booleans()),
                status=data.draw(st.sampled_from(["paid", "paid", "pending", "voided"])),
                design=data.draw(st.booleans()),
            )
            return
        order = data.draw(st.sampled_from(sorted(self.model)))
        if action == "event":
            kinds = [
                "paid",
                "cancelled",
                "refund_one",
                "refund_rest",
                "fulfilled",
                *(f"shipment_{s}" for s in STATUSES),
            ]
            self.post_event(order, data.draw(st.sampled_from(kinds)))
        else:
            self.redeliver_event(order, data.draw(st.integers(0, 30)))

    @rule(action=st.sampled_from(["fault", "fault", "fault", "death", "death", "meanwhile", "key"]), data=st.data())
    def trouble(self, action: str, data: st.DataObject) -> None:
        """A destination fails its next request of one kind, a worker dies, or a key goes or comes back."""
        if action == "fault":
            self.fault(
                data.draw(st.sampled_from(sorted(REQUESTS))),
                data.draw(st.sampled_from(sorted(FAULTS))),
                data.draw(st.sampled_from([1, 300, 43_200])),
            )
        elif action == "meanwhile":
            # While the next attempt is under way (its claim written, its answer not yet heard),
            # another event of its order arrives and is handled: what Lambda's concurrency does.
            self.context["trap"]["meanwhile"] = data.draw(st.sampled_from(["paid", "fulfilled", "refund_one"]))
            self.step("meanwhile armed")
        elif action == "death":
            deaths = self.context["trap"]["deaths"]
            deaths[:] = [*deaths[-2:], data.draw(st.sampled_from(DEATHS))]  # at most three armed
            self.step("death armed")
        elif self.keys_removed and data.draw(st.booleans()):
            self.restore_key_now(data.draw(st.sampled_from(sorted(self.keys_removed))))
            self.step("key restored")
        else:
            destination = data.draw(st.sampled_from(sorted(KEYS)))
            self.keys_removed.add(destination)
            self.context["configure"](**{KEYS[destination]: ""})
            self.world.reset_functions()
            self.step("key removed")

    @rule(action=st.sampled_from(["run", "run", "run", "clock", "clock", "sweep"]), data=st.data())
    def time_passes(self, action: str, data: st.DataObject) -> None:
        """The pipeline runs a few steps, the clock moves on, or the sweeper's schedule comes round."""
        if action == "run":
            for _ in range(data.draw(st.integers(1, 6))):
                self.world.step()
            self.step("run")
        elif action == "clock":
            self.world.clock.advance(
                data.draw(st.sampled_from([1, 2, 30, 300, 901, 3_600, 6 * 3_600, 43_200, 4 * 86_400]))
            )
            self.world.step()
            self.step("clock")
        elif self.world.clock() - self.swept_at >= 60:
            self.swept_at = self.world.clock()
            self.world.sweep()
            self.step("sweep")

    # No precondition, and the same draw whatever the table holds: hypothesis replays choices to
    # explore and to shrink, and a draw that depends on what the pipeline did (its timing can
    # differ between runs) would make it report a flaky strategy instead of what it found.
    @rule(pick=st.integers(0, 1_000_000))
    def settle_as_operator(self, pick: int) -> None:
        """The operator settles one delivery that waits for them: in doubt, failed, or to cancel by
        hand; with none waiting, the pipeline runs a step."""
        waiting = [d for d in self.last if d.state.kind.needs_person or d.state is DeliveryState.FAILED]
        if not waiting:
            self.world.step()
            self.step("run")
            return
        d = waiting[pick % len(waiting)]
        if d.state is DeliveryState.IN_DOUBT:
            self.resolve(d)
            self.step("resolve")
        elif d.state is DeliveryState.FAILED:
            operator.console("order", "retry", d.order_id, "--destination", d.destination, table=self.world.table_name)
            self.step("retry")
        elif d.last_error is not None and d.last_error.code == "cancel_by_hand":
            self.person_cancels_by_hand()

    # ------------------------------------------------------------------ the platform's and the operator's acts
    def post_order(self, insured: bool, status: str, design: bool) -> None:
        order_id = f"m-{len(self.model) + 1}"
        body = fixture("canonical_order.json") | {"id": order_id, "number": f"M-{len(self.model) + 1}"}
        body["financial_status"] = status
        if not insured:
            body.pop("onward_quote_token")
            body.pop("amount_insured")
        if not design:
            body["line_items"][0]["customised"] = False
        assert self.world.post("POST", "/orders", body)["status"] == 202
        self.model[order_id] = {"events": [], "paid": status == "paid", "cancelled": False, "shipped": [], "n": 0}
        self.step("order")

    def _event(self, order_id: str, kind: str) -> dict[str, Any] | None:
        m = self.model[order_id]
        m["n"] += 1
        event_id = f"{order_id}-e{m['n']}"
        if kind == "paid":
            return {"id": event_id, "type": "paid"}
        if kind == "cancelled":
            return {"id": event_id, "type": "cancelled"}
        if kind == "refund_one":
            return {
                "id": event_id,
                "type": "refunded",
                "refund": {"lines": [{"line_id": "line-1", "quantity": 1, "amount": 2999}]},
            }
        if kind == "refund_rest":
            return {
                "id": event_id,
                "type": "refunded",
                "refund": {"lines": [{"line_id": "line-2", "quantity": 1, "amount": 1500}], "shipping": 995},
            }
        if kind == "fulfilled":
            return {
                "id": event_id,
                "type": "fulfilled",
                "fulfilment": {
                    "carrier": "UPS",
                    "tracking_number": f"1Z{event_id}",
                    "lines": [{"line_id": "line-2", "quantity": 1}],
                },
            }
        if kind.startswith("shipment_") and m["shipped"]:
            return {
                "id": event_id,
                "type": "shipment_updated",
                "shipment": {
                    "fulfilment_id": m["shipped"][0],
                    "status": kind.removeprefix("shipment_"),
                    "occurred_at": f"2025-11-01T00:{m['n'] % 60:02d}:{len(m['events']) % 60:02d}Z",
                },
            }
        return None

    def post_event(self, order: str, kind: str) -> None:
        event = self._event(order, kind)
        if event is None:
            return
        answer = self.world.post("POST", f"/orders/{order}/events", event)
        assert answer["status"] in (202, 422), answer
        if answer["status"] == 202:
            m = self.model[order]
            m["events"].append(event)
            m["paid"] |= event["type"] == "paid"
            m["cancelled"] |= event["type"] == "cancelled"
            if event["type"] == "fulfilled":
                m["shipped"].append(event["id"])
            FIGURES[f"event {event['type']}"] += 1
        self.step("event")

    def redeliver_event(self, order: str, pick: int) -> None:
        events = self.model[order]["events"]
        if not events:
            return
        event = events[pick % len(events)]
        answer = self.world.post("POST", f"/orders/{order}/events", event)
        assert answer["status"] == 200, answer  # the same event, recorded once
        self.step("redelivery")

    def fault(self, request: str, fault: str, wait: int) -> None:
        destination, method, path = REQUESTS[request]
        spec = dict(FAULTS[fault])
        if fault == "429":
            spec["headers"] = {"Retry-After": str(wait)}
        self.world.fakes[destination].add_faults({**spec, "method": method, "path": path})
        self.step(f"fault {fault}")

    def person_cancels_by_hand(self) -> None:
        flagged = [
            d
            for d in self.deliveries()
            if d.state is DeliveryState.ACTION_REQUIRED and d.last_error and d.last_error.code == "cancel_by_hand"
        ]
        for d in flagged:
            self.cancelled_by_hand.add((d.order_id, d.destination))
            operator.console("cancellations", "done", d.order_id, table=self.world.table_name)
        self.step("cancel by hand")

    # ------------------------------------------------------------------ what is true
    def step(self, name: str) -> None:
        FIGURES[name] += 1

    def items(self) -> list[dict[str, Any]]:
        client = self.store.client
        found, kwargs = [], {"TableName": self.world.table_name, "ConsistentRead": True}
        while True:
            page = client.scan(**kwargs)
            found += page["Items"]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def deliveries(self) -> list[Any]:
        """Every delivery item, from one consistent scan (the table holds this run's orders only)."""
        return [
            DeliveryRecord.model_validate(from_item(i)) for i in self.items() if i["SK"]["S"].startswith("DELIVERY#")
        ]

    def unsettled(self, state: DeliveryState) -> list[Any]:
        return sorted(
            (d for d in self.deliveries() if d.state is state),
            key=lambda d: (d.order_id, d.destination, d.event_seq or 0),
        )

    def event_of(self, d: Any) -> dict[str, Any]:
        return self.model[d.order_id]["events"][(d.event_seq or 1) - 1]

    def has_it(self, d: Any, onward: dict[str, Any] | None = None, shipments: dict[str, Any] | None = None) -> bool:
        """Whether the destination's fake holds what the delivery carries."""
        fake = self.world.fakes[d.destination]
        if d.event_seq is None:
            return fake.created_count(d.order_id) >= 1
        event = self.event_of(d)
        if d.destination == "dropday":
            return (d.order_id, "dropday") in self.cancelled_by_hand
        shipments = self.on.shipments if shipments is None else shipments
        if event["type"] == "fulfilled":
            return event["id"] in shipments
        if event["type"] == "shipment_updated":
            shipment = shipments.get(event["shipment"]["fulfilment_id"], {"events": []})
            return any(
                e.get("occurred_at", "")[:19] == event["shipment"]["occurred_at"][:19] for e in shipment["events"]
            )
        order = (self.on.orders if onward is None else onward).get(d.order_id)
        return bool(order and order["updates"])

    def resolve(self, d: Any) -> None:
        """The operator looks at the destination, then settles the delivery in doubt."""
        if d.event_seq is None:
            there = self.has_it(d)
        else:
            event = self.event_of(d)
            if d.unanswered_step == "refund_insurance":
                there = self.on.orders.get(d.order_id, {}).get("insurance_refunds", 0) >= 1
            else:
                there = self.has_it(d)
            FIGURES[f"resolved {event['type']}"] += 1
        args = ["order", "resolve", d.order_id, d.destination, "--delivered" if there else "--resend"]
        if d.event_seq is not None:
            args += ["--event", self.event_of(d)["id"]]
        code, out = operator.console(*args, table=self.world.table_name)
        assert code == 0 or "changed meanwhile" in out, out

    @invariant()
    def after_each_step(self) -> None:
        FIGURES["steps"] += 1
        self.world.pump_stream()  # every write so far is checked against the lifecycle's moves
        seen = (self.world.moves, *(len(f.requests) for f in self.world.fakes.values()))
        if seen == self.checked:
            return  # neither the table nor any destination changed since the last check
        self.promise()
        self.checked = seen

    def promise(self) -> None:
        world = self.world
        onward, shipments = self.on.orders, self.on.shipments
        # Requests that must not be sent twice: accepted at most once.
        for order_id in self.model:
            assert self.sc.created_count(order_id) <= 1, f"two Sign Customiser orders for {order_id}"
            assert self.dd.created_count(order_id) <= 1 and self.on.created_count(order_id) <= 1
            refunds = onward.get(order_id, {}).get("insurance_refunds", 0)
            assert refunds <= 1, f"insurance refunded {refunds} times for {order_id}"
        for shipment_id, shipment in shipments.items():
            seen = Counter(e.get("occurred_at") for e in shipment["events"])
            assert max(seen.values(), default=0) <= 1, f"a shipment event reached Onward twice: {shipment_id} {seen}"
        # What the table says against what the destinations have.
        items = [i for i in self.items() if i["SK"]["S"].startswith("DELIVERY#")]
        self.last = [DeliveryRecord.model_validate(from_item(i)) for i in items]
        indexed = {(i["PK"]["S"], i["SK"]["S"]): i.get("state_key", {}).get("S") for i in items}
        for d in self.last:
            where = f"{d.order_id}/{d.destination}/{d.event_seq}"
            if d.state is DeliveryState.DELIVERED:
                assert self.has_it(d, onward, shipments), f"{where} reads delivered, the destination has it not"
            if d.event_seq is None and d.state in (DeliveryState.CANCELLED, DeliveryState.SKIPPED):
                fake = world.fakes[d.destination]
                assert (d.order_id, d.destination) in self.cancelled_by_hand or fake.created_count(d.order_id) == 0, (
                    f"{where} reads {d.state} while the destination has it"
                )
            key = delivery_key(d.order_id, d.destination, d.event_seq)
            # The state index's key: the index holds exactly the unsettled deliveries, by destination and state.
            expected = None if d.state.settled else f"{d.destination}#{d.state.value}"
            assert indexed[(key["PK"], key["SK"])] == expected, f"{where}: index key {indexed[(key['PK'], key['SK'])]}"
        assert world.moves_not_allowed == [], world.moves_not_allowed
        assert world.sqs.refusals == [], world.sqs.refusals

    def teardown(self) -> None:
        """The faults stop and every key is back; the operator settles what is theirs: everything settles."""
        try:
            world = self.world
            for fake in world.fakes.values():
                fake.clear_faults()
            self.context["trap"]["deaths"].clear()
            self.context["trap"]["meanwhile"] = None
            for destination in list(self.keys_removed):
                self.restore_key_now(destination)
            # Within an hour (far less than a waiting delivery's own look again), nothing still
            # waits behind a delivery that came to rest: the wake-up was not missed.
            world.settle(horizon=3_600)
            forgotten = self.forgotten_waiters()
            assert forgotten == [], f"deliveries still waiting behind ones that rest: {forgotten}"
            for _ in range(8):
                world.settle(horizon=5 * 86_400)
                world.clock.advance(int(os.environ.get("SWEEP_GRACE_SECONDS", "900")) + 60)
                world.sweep()  # what its schedule would find by now: lost messages, dead workers
                world.settle(horizon=5 * 86_400)
                open_ = [d for d in self.deliveries() if not d.state.settled and not self.may_rest(d)]
                if not open_:
                    break
                for d in open_:
                    if d.state is DeliveryState.IN_DOUBT:
                        self.resolve(d)
                    elif d.state is DeliveryState.FAILED:
                        operator.console(
                            "order", "retry", d.order_id, "--destination", d.destination, table=world.table_name
                        )
                    elif d.state is DeliveryState.ACTION_REQUIRED:
                        self.person_cancels_by_hand()
            open_ = [
                (d.order_id, d.destination, d.event_seq, d.state.value)
                for d in self.deliveries()
                if not d.state.settled and not self.may_rest(d)
            ]
            assert open_ == [], f"deliveries that never settled: {open_}"
            self.promise()
            index = {
                (i["PK"]["S"], i["SK"]["S"])
                for i in self.store.client.scan(TableName=world.table_name, IndexName=DELIVERY_STATE_INDEX)["Items"]
                if i["SK"]["S"].startswith("DELIVERY#")  # (follow-ups after delivery are indexed too)
            }
            unsettled = {
                tuple(delivery_key(d.order_id, d.destination, d.event_seq).values())
                for d in self.deliveries()
                if not d.state.settled
            }
            assert index == unsettled, f"the state index holds {index}, the unsettled deliveries are {unsettled}"
            FIGURES["deliveries"] += len(self.deliveries())
            FIGURES["moves"] += world.moves
        finally:
            FIGURES["examples"] += 1

    def forgotten_waiters(self) -> list[str]:
        found = []
        everything = self.deliveries()
        for w in everything:
            if w.state is not DeliveryState.RETRYING or w.last_error is None:
                continue
            if w.last_error.code != "waiting_for_earlier":
                continue
            earlier = [
                d
                for d in everything
                if (d.order_id, d.destination) == (w.order_id, w.destination)
                and (d.event_seq or 0) < (w.event_seq or 0)
            ]
            if earlier and all(d.state.resting for d in earlier):
                FIGURES["forgotten waiters"] += 1
                found.append(f"{w.order_id}/{w.destination}/{w.event_seq} behind {[d.state.value for d in earlier]}")
        return found

    def may_rest(self, d: Any) -> bool:
        """An order never paid keeps its delivery that waits for payment."""
        return d.state is DeliveryState.AWAITING_PAYMENT and not self.model[d.order_id]["paid"]

    def restore_key_now(self, destination: str) -> None:
        fake = self.world.fakes[destination]
        key = fake.token if destination == "signcustomiser" else fake.api_key
        self.context["configure"](**{KEYS[destination]: key})
        self.world.reset_functions()
        self.keys_removed.discard(destination)


def test_the_pipeline_keeps_its_promise_in_every_interleaving_explored(
    dynamodb_local, fakes, configure, monkeypatch, record_property
):
    trap: dict[str, Any] = {"deaths": []}  # where the next workers die, each once

    def mortal(when: str, delivery: Any, name: str) -> None:
        kind = trap.get("meanwhile")
        if kind and when == "after" and name == "claim":
            trap["meanwhile"] = None
            machine = DeliveryModel.context["machine"]
            FIGURES["events meanwhile"] += 1
            machine.post_event(delivery.order_id, kind)
            machine.world.step()  # the event's delivery is handled while this attempt is under way
        deaths = trap["deaths"]
        if f"{when} {name}" in deaths:
            deaths.remove(f"{when} {name}")
            FIGURES["workers killed"] += 1
            raise Died(f"{when} {name}")

    DeliveryModel.context = {
        "endpoint_url": dynamodb_local.endpoint_url,
        "fakes": fakes,
        "configure": configure,
        "monkeypatch": monkeypatch,
        "trap": trap,
        "mortal": mortal,
    }
    FIGURES.clear()
    runs = max(1, -(-STEPS // (STEPS_PER_RUN * 3 // 4)))  # a run takes about three quarters of its steps
    machine = DeliveryModel.TestCase
    machine.settings = settings(
        max_examples=runs,
        stateful_step_count=STEPS_PER_RUN,
        deadline=None,
        derandomize=os.environ.get("SIGNBRIDGE_MODEL_RANDOM") != "1",
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    machine().runTest()
    figures = dict(sorted(FIGURES.items()))
    record_property("figures", json.dumps(figures))
    print(f"\nmodel-based test: {json.dumps(figures)}")
    assert FIGURES["examples"] >= runs and FIGURES["steps"] >= STEPS
