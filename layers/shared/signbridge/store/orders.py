"""The order aggregate: an order, its deliveries (one per destination) and its events (each with
its own deliveries), all under the order's partition key, and every transition of a delivery.

The deliveries' INSERTs and moves into ``pending`` on the table's stream are the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from signbridge import clock
from signbridge.errors import StoreUnavailable
from signbridge.lifecycle import MOVES, Actor, Seen, initial_states, sources_of
from signbridge.models.follow_up import FollowUpRecord
from signbridge.models.items import (
    DeliveryRecord,
    OrderEventRecord,
    OrderRecord,
    ScOrderLink,
    delivery_key,
    delivery_state_key,
    order_event_key,
    order_key,
)
from signbridge.observability import count
from signbridge.store.base import (
    TableAccess,
    cancellation_codes,
    condition_failed,
    dependency,
    from_item,
    key_of,
    serializer,
    to_item,
)


@dataclass
class OrderState:
    order: OrderRecord
    deliveries: list[DeliveryRecord]
    sc_order_ids: list[int] = field(default_factory=list)
    sc_orders: list[ScOrderLink] = field(default_factory=list)
    events: list[OrderEventRecord] = field(default_factory=list)  # by seq
    event_deliveries: list[DeliveryRecord] = field(default_factory=list)  # by destination, then seq
    follow_ups: list[FollowUpRecord] = field(default_factory=list)  # after delivery, by destination

    def delivery(self, destination: str, event_seq: int | None = None) -> DeliveryRecord | None:
        found = self.deliveries if event_seq is None else self.event_deliveries
        return next((d for d in found if d.destination == destination and d.event_seq == event_seq), None)

    def event(self, seq: int) -> OrderEventRecord | None:
        return next((e for e in self.events if e.seq == seq), None)


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()  # leave the attribute as it is


def _index(delivery: DeliveryRecord, now: int) -> dict[str, Any]:
    """The index attributes of a delivery written whole (unsettled ones only: the index is sparse)."""
    if delivery.state.settled:
        return {}
    return {"state_key": delivery_state_key(delivery.destination, delivery.state), "due_at": delivery.due_at(now)}


def _check_created(deliveries: list[DeliveryRecord]) -> None:
    first = initial_states()
    wrong = [d for d in deliveries if d.state not in first]
    if wrong:
        raise ValueError(f"a delivery cannot be created in {wrong[0].state} (the lifecycle's first states: {first})")


class OrderStore(TableAccess):
    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        """A transaction's Put of an item that must not exist yet."""
        return {"Put": {"TableName": self.table_name, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}

    def create_order(self, order: OrderRecord, deliveries: list[DeliveryRecord]) -> list[DeliveryRecord] | None:
        """Write the order and its deliveries in one transaction: the deliveries as written, or None
        if the order existed.

        The deliveries' INSERTs on the table's stream are the outbox: there is no second write
        to the queue that a crash could lose.
        """
        _check_created(deliveries)
        items = [self._put_new(to_item(order_key(order.order_id), order))]
        now = int(clock.now())
        deliveries = [d if d.created_at else d.model_copy(update={"created_at": now}) for d in deliveries]
        deliveries = [d.model_copy(update={"waiting_since": d.waiting_since or d.created_at}) for d in deliveries]
        items += [
            self._put_new(to_item(delivery_key(d.order_id, d.destination), d, **_index(d, now))) for d in deliveries
        ]
        try:
            with dependency():
                self.client.transact_write_items(TransactItems=items)
            return deliveries
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return None
            if codes:
                raise StoreUnavailable() from exc
            raise

    def get_order_state(self, order_id: str) -> OrderState | None:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"ORDER#{order_id}"}},
            "ConsistentRead": True,
        }
        while True:
            with dependency():
                response = self.client.query(**kwargs)
            items += [from_item(i) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        order = next((i for i in items if i["SK"] == "ORDER"), None)
        if order is None:
            return None
        links = [
            ScOrderLink.model_validate({"external_id": order_id, **i}) for i in items if i["SK"].startswith("SCORDER#")
        ]
        deliveries = [DeliveryRecord.model_validate(i) for i in items if i["SK"].startswith("DELIVERY#")]
        return OrderState(
            order=OrderRecord.model_validate(order),
            deliveries=[d for d in deliveries if d.event_seq is None],
            sc_order_ids=[link.sc_order_id for link in links],
            sc_orders=links,
            events=sorted(
                (OrderEventRecord.model_validate(i) for i in items if i["SK"].startswith("EVENT#")),
                key=lambda e: e.seq,
            ),
            event_deliveries=[d for d in deliveries if d.event_seq is not None],
            follow_ups=[FollowUpRecord.model_validate(i) for i in items if i["SK"].startswith("FOLLOW#")],
        )

    # --- deliveries ---------------------------------------------------------------------
    def first_later_unrested(self, order_id: str, destination: str, after_seq: int | None) -> DeliveryRecord | None:
        """The order's first event delivery to ``destination`` after event ``after_seq`` (after the
        order's own delivery when None) that does not rest: one consistent Query of that key range."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"ORDER#{order_id}"},
                ":first": {"S": delivery_key(order_id, destination, (after_seq or 0) + 1)["SK"]},
                ":last": {"S": delivery_key(order_id, destination, 999_999)["SK"]},
            },
            "ConsistentRead": True,
        }
        while True:
            with dependency():
                response = self.client.query(**kwargs)
            for item in response.get("Items", []):
                delivery = DeliveryRecord.model_validate(from_item(item))
                if not delivery.state.resting:
                    return delivery
            if "LastEvaluatedKey" not in response:
                return None
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_delivery(self, order_id: str, destination: str, event_seq: int | None = None) -> DeliveryRecord | None:
        item = self._get(delivery_key(order_id, destination, event_seq))
        return DeliveryRecord.model_validate(item) if item else None

    def move(
        self,
        delivery: DeliveryRecord,
        name: str,
        change: Change,
        *,
        now: int,
        attempt_id: str | None = None,
        gen: int | None = None,
    ) -> DeliveryRecord | None:
        """Make one move of the lifecycle (``signbridge.lifecycle.MOVES[name]``) on ``delivery`` as it
        was read; the delivery as written, or None when it changed meanwhile (nothing written).

        The move must allow ``delivery`` (its sources and guards, checked here against the record
        read); the write is conditional on the item still being that record: the attempt's lease
        (``attempt_id``) for an attempt's answers, its revision for every other move. A move into
        ``pending`` with a new message starts a new message generation: the outbox enqueues it.
        """
        m = MOVES[name]
        seen = Seen(now=now, gen=gen, attempt_id=attempt_id)
        if not m.allows(delivery, seen):
            raise ValueError(
                f"move {name!r} is not allowed from {delivery.state} ({delivery.order_id}/{delivery.destination})"
            )
        after = change.apply(delivery, m)
        names = {"#s": "state"}
        values: dict[str, Any] = {":one": {"N": "1"}}
        for n, source in enumerate(sources_of(name)):
            values[f":from{n}"] = {"S": source}
        conditions = [f"#s IN ({', '.join(f':from{n}' for n in range(len(m.sources)))})"]
        if Actor.ATTEMPT in m.by and attempt_id is not None:
            conditions.append("attempt_id = :aid")
            values[":aid"] = {"S": attempt_id}
        else:
            conditions.append("rev = :rev" if delivery.rev else "(attribute_not_exists(rev) OR rev = :rev)")
            values[":rev"] = {"N": str(delivery.rev)}
        sets, removes = _differences(delivery, after, values)
        if after.state.settled:
            removes += ["state_key", "due_at"]
        else:
            sets += ["state_key = :sk", "due_at = :due"]
            values[":sk"] = {"S": delivery_state_key(after.destination, after.state)}
            values[":due"] = {"N": str(after.due_at(now))}
        if delivery.legacy_doubt:
            removes.append("in_doubt_since")  # read as unanswered_at, written under that name
        expression = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "") + " ADD rev :one"
        try:
            with dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=key_of(delivery_key(delivery.order_id, delivery.destination, delivery.event_seq)),
                    UpdateExpression=expression,
                    ConditionExpression=" AND ".join(["attribute_exists(PK)", *conditions]),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
        except ClientError as exc:
            if condition_failed(exc):
                return None
            raise
        if m.metric:
            count(m.metric)
        return after.model_copy(update={"rev": delivery.rev + 1, "legacy_doubt": False})

    def record_event(self, event: OrderEventRecord, expected_count: int, deliveries: list[DeliveryRecord]) -> bool:
        """Record an order's event (its seq the next one) with its deliveries, in one transaction;
        False when its id was recorded already or another event took the seq (read again, retry).
        Like an order's, the event deliveries' INSERTs in ``pending`` are the outbox."""
        _check_created(deliveries)
        now = int(clock.now())
        count = (
            "event_count = :prev" if expected_count else "(attribute_not_exists(event_count) OR event_count = :prev)"
        )
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": key_of(order_key(event.order_id)),
                    "UpdateExpression": "SET event_count = :next",
                    "ConditionExpression": f"attribute_exists(PK) AND {count}",
                    "ExpressionAttributeValues": {
                        ":prev": {"N": str(expected_count)},
                        ":next": {"N": str(event.seq)},
                    },
                }
            },
            self._put_new(to_item(order_event_key(event.order_id, event.event_id), event)),
        ]
        for d in deliveries:
            d = d if d.created_at else d.model_copy(update={"created_at": now})
            items.append(
                self._put_new(to_item(delivery_key(d.order_id, d.destination, d.event_seq), d, **_index(d, now)))
            )
        try:
            with dependency():
                self.client.transact_write_items(TransactItems=items)
            return True
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if codes and "ConditionalCheckFailed" in codes:
                return False
            if codes:
                raise StoreUnavailable() from exc
            raise

    def replace_message(
        self, order_id: str, destination: str, gen: int, due_at: int, event_seq: int | None = None
    ) -> int | None:
        """Start a new message generation, so that a message about to be sent replaces ``gen``
        (the lifecycle's ``replace_message``); None when ``gen`` is not the live one any more (or the
        delivery is settled or gone). The delivery is due at ``due_at`` (when the new message
        arrives). Read from the (eventually consistent) index, so conditional on the generation,
        not on a revision."""
        values: dict[str, Any] = {
            ":gen": {"N": str(gen)},
            ":next": {"N": str(gen + 1)},
            ":now": {"N": str(due_at)},
            ":one": {"N": "1"},
        }
        sources = sources_of("replace_message")
        for n, source in enumerate(sources):
            values[f":from{n}"] = {"S": source}
        unsettled = f"#s IN ({', '.join(f':from{n}' for n in range(len(sources)))})"
        try:
            with dependency():
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=key_of(delivery_key(order_id, destination, event_seq)),
                    # enqueued_gen: whoever replaces the message sends it; the outbox must not too.
                    UpdateExpression="SET gen = :next, due_at = :now, enqueued_gen = :next ADD rev :one",
                    ConditionExpression=f"attribute_exists(PK) AND {unsettled} AND "
                    + ("gen = :gen" if gen else "(attribute_not_exists(gen) OR gen = :gen)"),
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues=values,
                    ReturnValues="UPDATED_NEW",
                )
        except ClientError as exc:
            if condition_failed(exc):
                return None
            raise
        return int(response["Attributes"]["gen"]["N"])


# The attributes a move may write, besides the state and the index (which follow from the state).
_WRITABLE = (
    "state",
    "attempts",
    "destination_ref",
    "last_error",
    "updated_at",
    "attempt_id",
    "lease_until",
    "sent_at",
    "sending_step",
    "sending_safe",
    "steps_left",
    "acked_steps",
    "unanswered_at",
    "unanswered_step",
    "next_attempt_at",
    "retrying_since",
    "gen",
    "enqueued_gen",
    "waiting_since",
)


def _differences(before: DeliveryRecord, after: DeliveryRecord, values: dict[str, Any]) -> tuple[list[str], list[str]]:
    """SET and REMOVE clauses for what differs (values are added to ``values``)."""
    sets: list[str] = []
    removes: list[str] = []
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    for name in _WRITABLE:
        if old[name] == new[name] and not (name == "unanswered_at" and before.legacy_doubt):
            continue
        if new[name] is None or new[name] == []:
            removes.append(name)
        else:
            placeholder = f":v_{name}"
            sets.append(f"#{name} = {placeholder}" if name == "state" else f"{name} = {placeholder}")
            values[placeholder] = serializer.serialize(new[name])
    return [clause.replace("#state", "#s") for clause in sets], removes


@dataclass(frozen=True)
class SendingStep:
    """The step an attempt is about to send: a worker that dies after saying so may have sent it."""

    name: str
    resend_safe: bool
    steps_left: int
    at: int


@dataclass
class Change:
    """What a move writes besides the state (which the move gives). ``KEEP`` leaves an attribute
    as it is; None removes it."""

    updated_at: str
    error: Any = KEEP  # DeliveryError, or None to clear it
    destination_ref: Any = KEEP
    next_attempt_at: Any = KEEP
    retrying_since: Any = KEEP
    waiting_since: Any = KEEP
    attempts: Any = KEEP  # a number (0 on an operator's retry)
    count_attempt: bool = False
    # (attempt_id, lease_until) taken, or None to release the lease
    lease: Any = KEEP
    # the step the attempt sends next (SendingStep), or None when it sends nothing more
    sending: Any = KEEP
    # how many steps follow the one sent or in doubt (after ``sending``, which sets it too)
    steps_left: Any = KEEP
    acknowledged: str | None = None  # a step the destination answered
    # (Unix second, step) of an attempt that went unanswered, or None to forget it
    unanswered: Any = KEEP

    def apply(self, before: DeliveryRecord, m: Any) -> DeliveryRecord:
        """The delivery as the move leaves it."""
        update: dict[str, Any] = {"state": m.lands_in(before.state), "updated_at": self.updated_at}
        for name in ("destination_ref", "next_attempt_at", "retrying_since", "waiting_since", "attempts"):
            value = getattr(self, name)
            if value is not KEEP:
                update[name] = value
        if self.error is not KEEP:
            update["last_error"] = self.error
        if self.count_attempt:
            update["attempts"] = before.attempts + 1
        if self.lease is not KEEP:
            update["attempt_id"], update["lease_until"] = self.lease if self.lease is not None else (None, None)
        if self.sending is not KEEP:
            step: SendingStep | None = self.sending
            update["sent_at"] = step.at if step else None
            update["sending_step"] = step.name if step else None
            update["sending_safe"] = step.resend_safe if step else None
            update["steps_left"] = step.steps_left if step else None
        if self.steps_left is not KEEP:
            update["steps_left"] = self.steps_left
        if self.acknowledged is not None and self.acknowledged not in before.acked_steps:
            update["acked_steps"] = [*before.acked_steps, self.acknowledged]
        if m.forgets_unanswered:
            update["unanswered_at"], update["unanswered_step"] = None, None
        elif self.unanswered is not KEEP:
            update["unanswered_at"], update["unanswered_step"] = self.unanswered or (None, None)
        if m.new_message:
            update["gen"] = before.gen + 1
            update["enqueued_gen"] = None  # the outbox sends this generation's message
        if update["state"].settled:
            update["next_attempt_at"] = None
        return before.model_copy(update=update)
