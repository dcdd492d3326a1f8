"""The order aggregate: an order, its deliveries (one per destination) and its events (each with
its own deliveries), all under the order's partition key, and every transition of a delivery.

The deliveries' INSERTs and moves into ``pending`` on the table's stream are the outbox."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from signbridge.errors import StoreUnavailable
from signbridge.models.items import (
    DeliveryError,
    DeliveryRecord,
    DeliveryState,
    OrderEventRecord,
    OrderRecord,
    ScOrderLink,
    delivery_key,
    delivery_state_key,
    order_event_key,
    order_key,
)
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


@dataclass
class Claim:
    delivery: DeliveryRecord  # as it was before the claim
    attempt_id: str
    crashed: bool  # an earlier attempt's lease was still set: it died before recording its outcome


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()  # leave the attribute as it is


@dataclass
class DeliveryChange:
    """One transition of a delivery item. ``None`` removes an optional attribute, ``KEEP`` leaves it."""

    state: DeliveryState
    updated_at: str
    due_at: int | None = None  # the index's sort key while unsettled
    destination_ref: str | None = None
    error: DeliveryError | None = None
    clear_error: bool = False
    in_doubt_since: Any = KEEP
    next_attempt_at: Any = KEEP
    retrying_since: Any = KEEP
    waiting_since: Any = KEEP
    attempts: Any = KEEP
    bump_gen: bool = False


def _index(delivery: DeliveryRecord, now: int) -> dict[str, Any]:
    """The index attributes of a delivery written whole (unsettled ones only: the index is sparse)."""
    if delivery.state.settled:
        return {}
    return {"state_key": delivery_state_key(delivery.destination, delivery.state), "due_at": delivery.due_at(now)}


class OrderStore(TableAccess):
    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        """A transaction's Put of an item that must not exist yet."""
        return {"Put": {"TableName": self.table_name, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}

    def create_order(self, order: OrderRecord, deliveries: list[DeliveryRecord]) -> bool:
        """Write the order and its deliveries in one transaction; False if the order existed.

        The deliveries' INSERTs on the table's stream are the outbox: there is no second write
        to the queue that a crash could lose.
        """
        items = [self._put_new(to_item(order_key(order.order_id), order))]
        now = int(time.time())
        deliveries = [d if d.created_at else d.model_copy(update={"created_at": now}) for d in deliveries]
        deliveries = [d.model_copy(update={"waiting_since": d.waiting_since or d.created_at}) for d in deliveries]
        items += [
            self._put_new(to_item(delivery_key(d.order_id, d.destination), d, **_index(d, now))) for d in deliveries
        ]
        try:
            with dependency():
                self.client.transact_write_items(TransactItems=items)
            return True
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
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
        )

    # --- deliveries ---------------------------------------------------------------------
    def get_delivery(self, order_id: str, destination: str, event_seq: int | None = None) -> DeliveryRecord | None:
        item = self._get(delivery_key(order_id, destination, event_seq))
        return DeliveryRecord.model_validate(item) if item else None

    def claim_delivery(
        self,
        order_id: str,
        destination: str,
        attempt_id: str,
        now: int,
        lease_seconds: int,
        updated_at: str,
        gen: int,
        event_seq: int | None = None,
    ) -> Claim | None:
        """Take the lease for one attempt; None if the delivery is settled or failed, leased by
        another attempt, or ``gen`` is not its live message's generation.

        A lease still set from an earlier attempt means that attempt died before recording its
        outcome: the claim says so (``crashed``), and the caller decides what that means.
        """
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":aid": {"S": attempt_id},
            ":lease": {"N": str(now + lease_seconds)},
            ":at": {"S": updated_at},
            ":now": {"N": str(now)},
            ":gen": {"N": str(gen)},
            ":sending": {"S": DeliveryState.SENDING},
            ":sk": {"S": delivery_state_key(destination, DeliveryState.SENDING)},
        }
        claimable = (
            DeliveryState.PENDING,
            DeliveryState.RETRYING,
            DeliveryState.SENDING,
            DeliveryState.HELD,
            DeliveryState.IN_DOUBT,
        )
        for n, state in enumerate(claimable):
            values[f":c{n}"] = {"S": state}
        # Items written before generations existed have none: the first generation is 0.
        same_gen = "gen = :gen" if gen else "(attribute_not_exists(gen) OR gen = :gen)"
        try:
            with dependency():
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=key_of(delivery_key(order_id, destination, event_seq)),
                    # Leaving "pending" matters: the outbox enqueues every write that lands in pending.
                    UpdateExpression="SET #s = :sending, attempts = attempts + :one, attempt_id = :aid, "
                    "lease_until = :lease, updated_at = :at, state_key = :sk, due_at = :lease",
                    ConditionExpression=(
                        f"#s IN ({', '.join(f':c{n}' for n in range(len(claimable)))}) "
                        f"AND (attribute_not_exists(lease_until) OR lease_until < :now) AND {same_gen} "
                        # not before its time (a replacement message may come early); an expired
                        # lease is claimable whatever the schedule said
                        "AND (attribute_not_exists(next_attempt_at) OR next_attempt_at <= :now "
                        "OR attribute_exists(lease_until))"
                    ),
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_OLD",
                )
        except ClientError as exc:
            if condition_failed(exc):
                return None
            raise
        old = DeliveryRecord.model_validate(from_item(response["Attributes"]))
        # A lease left behind means its worker died; it may have sent only if it said so first.
        crashed = old.lease_until is not None and old.sent_at is not None
        return Claim(delivery=old, attempt_id=attempt_id, crashed=crashed)

    def mark_sent(
        self, order_id: str, destination: str, attempt_id: str, now: int, event_seq: int | None = None
    ) -> bool:
        """Record that this attempt is about to send (False if its lease was lost): a worker that
        dies after this may have reached the destination; one that dies before it did not."""
        try:
            with dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=key_of(delivery_key(order_id, destination, event_seq)),
                    UpdateExpression="SET sent_at = :now",
                    ConditionExpression="attempt_id = :aid",
                    ExpressionAttributeValues={":aid": {"S": attempt_id}, ":now": {"N": str(now)}},
                )
            return True
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise

    def finish_attempt(
        self, order_id: str, destination: str, attempt_id: str, change: DeliveryChange, event_seq: int | None = None
    ) -> bool:
        """Record an attempt's outcome and release the lease; False if the lease was lost."""
        return self._change(
            order_id, destination, change, condition="attempt_id = :aid", aid=attempt_id, event_seq=event_seq
        )

    def requeue_delivery(
        self,
        order_id: str,
        destination: str,
        updated_at: str,
        now: int,
        *,
        states: tuple[DeliveryState, ...] = (
            DeliveryState.FAILED,
            DeliveryState.RETRYING,
            DeliveryState.PENDING,
            DeliveryState.SENDING,
            DeliveryState.HELD,
            DeliveryState.SKIPPED,
        ),
        forget_doubt: bool = False,
        event_seq: int | None = None,
    ) -> bool:
        """Operator retry or replay: back to pending with a fresh retry horizon and a new message
        generation (the outbox enqueues it; any older message is then stale).

        A lease left by a crashed attempt is kept: it still has to expire before the next claim,
        and that claim still sees the crash. ``forget_doubt`` (an operator's "resend") clears an
        unanswered attempt, so the next attempt sends without waiting for a confirmation.
        """
        change = DeliveryChange(
            state=DeliveryState.PENDING,
            updated_at=updated_at,
            due_at=now,
            waiting_since=now,
            attempts=0,
            next_attempt_at=None,
            retrying_since=None,
            in_doubt_since=None if forget_doubt else KEEP,
            bump_gen=True,
        )
        return self._change(order_id, destination, change, states=states, release_lease=False, event_seq=event_seq)

    def resolve_delivered(
        self, order_id: str, destination: str, updated_at: str, reference: str, event_seq: int | None = None
    ) -> bool:
        """An operator (or the destination's own confirmation) settles an in-doubt delivery."""
        change = DeliveryChange(
            state=DeliveryState.DELIVERED,
            updated_at=updated_at,
            destination_ref=reference,
            next_attempt_at=None,
            in_doubt_since=None,
            retrying_since=None,
            clear_error=True,
        )
        return self._change(
            order_id, destination, change, states=(DeliveryState.IN_DOUBT,), release_lease=False, event_seq=event_seq
        )

    def move_delivery(
        self,
        order_id: str,
        destination: str,
        to: DeliveryState,
        *,
        from_states: tuple[DeliveryState, ...],
        updated_at: str,
        now: int,
        error: DeliveryError | None = None,
        event_seq: int | None = None,
    ) -> bool:
        """Move a delivery no attempt holds from one of ``from_states`` to ``to`` (an order event
        releasing or cancelling it); False when it stands elsewhere. Into ``pending`` it gets a new
        message generation (the outbox enqueues it)."""
        change = DeliveryChange(
            state=to,
            updated_at=updated_at,
            due_at=now,
            error=error,
            clear_error=error is None,
            next_attempt_at=None,
            bump_gen=to is DeliveryState.PENDING,
        )
        return self._change(
            order_id,
            destination,
            change,
            condition="attribute_not_exists(lease_until)",
            states=from_states,
            release_lease=False,
            event_seq=event_seq,
        )

    def record_event(self, event: OrderEventRecord, expected_count: int, deliveries: list[DeliveryRecord]) -> bool:
        """Record an order's event (its seq the next one) with its deliveries, in one transaction;
        False when its id was recorded already or another event took the seq (read again, retry).
        Like an order's, the event deliveries' INSERTs in ``pending`` are the outbox."""
        now = int(time.time())
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
        self, order_id: str, destination: str, gen: int, now: int, event_seq: int | None = None
    ) -> int | None:
        """Start a new message generation, so that a message about to be sent replaces ``gen``;
        None when ``gen`` is not the live one any more (or the delivery is settled or gone).
        The delivery is due again from ``now``: the new message has yet to arrive."""
        try:
            with dependency():
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=key_of(delivery_key(order_id, destination, event_seq)),
                    # enqueued_gen: whoever replaces the message sends it; the outbox must not too.
                    UpdateExpression="SET gen = :next, due_at = :now, enqueued_gen = :next",
                    ConditionExpression="attribute_exists(PK) AND NOT #s IN (:delivered, :skipped) AND "
                    + ("gen = :gen" if gen else "(attribute_not_exists(gen) OR gen = :gen)"),
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={
                        ":gen": {"N": str(gen)},
                        ":next": {"N": str(gen + 1)},
                        ":now": {"N": str(now)},
                        ":delivered": {"S": DeliveryState.DELIVERED},
                        ":skipped": {"S": DeliveryState.SKIPPED},
                    },
                    ReturnValues="UPDATED_NEW",
                )
        except ClientError as exc:
            if condition_failed(exc):
                return None
            raise
        return int(response["Attributes"]["gen"]["N"])

    def _change(
        self,
        order_id: str,
        destination: str,
        change: DeliveryChange,
        *,
        condition: str | None = None,
        aid: str | None = None,
        states: tuple[DeliveryState, ...] | None = None,
        release_lease: bool = True,
        event_seq: int | None = None,
    ) -> bool:
        names = {"#s": "state"}
        values: dict[str, Any] = {":state": {"S": change.state}, ":at": {"S": change.updated_at}}
        sets = ["#s = :state", "updated_at = :at"]
        removes: list[str] = ["lease_until", "attempt_id", "sent_at"] if release_lease else []
        conditions = ["attribute_exists(PK)"]
        if condition:
            conditions.append(condition)
            if aid is not None:
                values[":aid"] = {"S": aid}
        if states:
            for n, state in enumerate(states):
                values[f":from{n}"] = {"S": state}
            conditions.append(f"#s IN ({', '.join(f':from{n}' for n in range(len(states)))})")
        if change.state.settled:
            removes += ["state_key", "due_at"]
        else:
            sets += ["state_key = :sk", "due_at = :due"]
            values[":sk"] = {"S": delivery_state_key(destination, change.state)}
            values[":due"] = {"N": str(change.due_at or 0)}
        optional = {
            "in_doubt_since": change.in_doubt_since,
            "next_attempt_at": change.next_attempt_at,
            "retrying_since": change.retrying_since,
            "waiting_since": change.waiting_since,
            "attempts": change.attempts,
        }
        for name, value in optional.items():
            if value is KEEP:
                continue
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :{name}")
                values[f":{name}"] = {"N": str(value)}
        if change.destination_ref is not None:
            sets.append("destination_ref = :ref")
            values[":ref"] = {"S": change.destination_ref}
        if change.error is not None:
            sets.append("last_error = :err")
            values[":err"] = serializer.serialize(change.error.model_dump(mode="json", exclude_none=True))
        elif change.clear_error:
            removes.append("last_error")
        if change.bump_gen:
            sets.append("gen = if_not_exists(gen, :zero) + :one")
            values[":zero"] = {"N": "0"}
            values[":one"] = {"N": "1"}
            removes.append("enqueued_gen")  # the outbox sends this generation's message
        expression = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
        try:
            with dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=key_of(delivery_key(order_id, destination, event_seq)),
                    UpdateExpression=expression,
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            return True
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
