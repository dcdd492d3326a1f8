"""All reads and writes of the signbridge table.

Every "exactly once" promise rests on conditional writes and transactions here, never on a
read followed by a write. Any failure of DynamoDB other than a condition becomes
``StoreUnavailable`` (HTTP 503 with Retry-After; a retry of the SQS message in workers),
except a value DynamoDB refuses as invalid (an item over 400 KB, a key over 2 KB): that is
the input's fault, ``TooLargeToStore`` (413) or ``NotStorable`` (422), and never worth a retry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from signbridge.errors import Conflict, NotStorable, StoreUnavailable, TooLargeToStore
from signbridge.models.items import (
    DELIVERY_STATE_INDEX,
    DeliveryError,
    DeliveryRecord,
    DeliveryState,
    OrderEventRecord,
    OrderRecord,
    ProductMapping,
    ScOrderLink,
    ScOrderRecord,
    WebhookDelivery,
    delivery_key,
    delivery_state_key,
    order_event_key,
    order_key,
    product_by_external_key,
    product_by_sc_key,
    sc_order_key,
    sc_order_link_key,
    webhook_key,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Standard retry mode absorbs throttling and brief blips; short timeouts keep an API call
# inside API Gateway's 29 s when DynamoDB is unreachable.
_CLIENT_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5)


def dynamodb_client() -> Any:
    return boto3.client("dynamodb", config=_CLIENT_CONFIG)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_item(key: dict[str, str], model: BaseModel, **extra: Any) -> dict[str, Any]:
    data = {**key, **model.model_dump(mode="json", exclude_none=True), **extra}
    return {k: _serializer.serialize(v) for k, v in data.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _cancellation_codes(exc: ClientError) -> list[str]:
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    reasons = exc.response.get("CancellationReasons") or []
    return [str(r.get("Code", "None")) for r in reasons]


def _refused_input(exc: ClientError) -> NotStorable | TooLargeToStore | None:
    error = exc.response.get("Error", {})
    if error.get("Code") == "ValidationException":
        messages = [str(error.get("Message", ""))]
    else:
        reasons = exc.response.get("CancellationReasons") or []
        messages = [str(r.get("Message", "")) for r in reasons if r.get("Code") == "ValidationError"]
    if not messages:
        return None
    if any("item size" in m.lower() for m in messages):
        return TooLargeToStore("What would be stored passes the store's 400 KB item size.")
    return NotStorable("The store refused a value of this request (e.g. an id over its key size).")


@contextmanager
def _dependency() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        refused = _refused_input(exc)
        if refused is not None:
            raise refused from exc
        if _condition_failed(exc) or _cancellation_codes(exc):
            raise
        raise StoreUnavailable() from exc
    except BotoCoreError as exc:
        raise StoreUnavailable() from exc


@dataclass
class WebhookOutcome:
    duplicate_delivery: bool
    order_recorded: bool = False


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


def _key(key: dict[str, str]) -> dict[str, Any]:
    return {k: {"S": v} for k, v in key.items()}


def _index(delivery: DeliveryRecord, now: int) -> dict[str, Any]:
    """The index attributes of a delivery written whole (unsettled ones only: the index is sparse)."""
    if delivery.state.settled:
        return {}
    return {"state_key": delivery_state_key(delivery.destination, delivery.state), "due_at": delivery.due_at(now)}


class Store:
    def __init__(self, table_name: str, client: Any | None = None):
        self.table_name = table_name
        self.client = client or dynamodb_client()

    # --- products ---------------------------------------------------------------------
    def record_product(self, mapping: ProductMapping) -> tuple[ProductMapping, bool]:
        """Store the mapping both ways; return the mapping that holds and whether it is new.

        The first writer for a product_id wins; later ones get the winner's mapping back.
        """
        not_exists = "attribute_not_exists(PK)"
        try:
            with _dependency():
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": to_item(product_by_sc_key(mapping.product_id), mapping),
                                "ConditionExpression": not_exists,
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": to_item(product_by_external_key(mapping.external_id), mapping),
                                "ConditionExpression": not_exists,
                            }
                        },
                    ]
                )
            return mapping, True
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if not codes:
                raise
        existing = self.get_product(mapping.product_id)
        if existing is not None:
            return existing, False
        if codes[1] == "ConditionalCheckFailed":
            raise Conflict(
                f"external_id {mapping.external_id!r} already belongs to another Sign Customiser product.",
                details={"external_id": mapping.external_id},
            )
        raise StoreUnavailable()  # cancelled for another reason (e.g. a concurrent transaction): retry

    def get_product(self, product_id: int) -> ProductMapping | None:
        item = self._get(product_by_sc_key(product_id))
        return ProductMapping.model_validate(item) if item else None

    def get_products_by_external_id(self, external_ids: list[str]) -> dict[str, ProductMapping]:
        """Mappings for those of ``external_ids`` that signbridge issued."""
        found: dict[str, ProductMapping] = {}
        unique = list(dict.fromkeys(external_ids))
        for start in range(0, len(unique), 100):
            keys = [{k: {"S": v} for k, v in product_by_external_key(e).items()} for e in unique[start : start + 100]]
            request: dict[str, Any] = {self.table_name: {"Keys": keys}}
            while request:
                with _dependency():
                    response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    mapping = ProductMapping.model_validate(from_item(item))
                    found[mapping.external_id] = mapping
                request = response.get("UnprocessedKeys") or {}
        return found

    # --- webhooks ---------------------------------------------------------------------
    def record_webhook(self, delivery: WebhookDelivery, order: ScOrderRecord | None) -> WebhookOutcome:
        """Record a delivery once (by body digest) and, for order:created, its order once."""
        delivery_put = {
            "Put": {
                "TableName": self.table_name,
                "Item": to_item(webhook_key(delivery.digest), delivery),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        items: list[dict[str, Any]] = [delivery_put]
        if order is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(sc_order_key(order.sc_order_id), order),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
            if order.external_id:
                link = ScOrderLink(
                    sc_order_id=order.sc_order_id,
                    external_id=order.external_id,
                    external_order_number=order.external_order_number,
                    currency=order.currency,
                    product_external_ids=order.product_external_ids,
                    linked_at=order.received_at,
                )
                key = sc_order_link_key(order.external_id, order.sc_order_id)
                items.append({"Put": {"TableName": self.table_name, "Item": to_item(key, link)}})
        try:
            with _dependency():
                self.client.transact_write_items(TransactItems=items)
            return WebhookOutcome(duplicate_delivery=False, order_recorded=order is not None)
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if not codes:
                raise
        if codes[0] == "ConditionalCheckFailed":
            return WebhookOutcome(duplicate_delivery=True)
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            # The same Sign Customiser order, in a delivery whose bytes differ: keep the
            # delivery for the record, the order stays as first recorded.
            try:
                with _dependency():
                    self.client.transact_write_items(TransactItems=[delivery_put])
            except ClientError as again:
                if not _cancellation_codes(again):
                    raise
            return WebhookOutcome(duplicate_delivery=False, order_recorded=False)
        raise StoreUnavailable()

    # --- orders -------------------------------------------------------------------------
    def create_order(self, order: OrderRecord, deliveries: list[DeliveryRecord]) -> bool:
        """Write the order and its deliveries in one transaction; False if the order existed.

        The deliveries' INSERTs on the table's stream are the outbox: there is no second write
        to the queue that a crash could lose.
        """
        items = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(order_key(order.order_id), order),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        now = int(time.time())
        deliveries = [d if d.created_at else d.model_copy(update={"created_at": now}) for d in deliveries]
        deliveries = [d.model_copy(update={"waiting_since": d.waiting_since or d.created_at}) for d in deliveries]
        items += [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(delivery_key(d.order_id, d.destination), d, **_index(d, now)),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for d in deliveries
        ]
        try:
            with _dependency():
                self.client.transact_write_items(TransactItems=items)
            return True
        except ClientError as exc:
            codes = _cancellation_codes(exc)
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
            with _dependency():
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
            with _dependency():
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=_key(delivery_key(order_id, destination, event_seq)),
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
            if _condition_failed(exc):
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
            with _dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=_key(delivery_key(order_id, destination, event_seq)),
                    UpdateExpression="SET sent_at = :now",
                    ConditionExpression="attempt_id = :aid",
                    ExpressionAttributeValues={":aid": {"S": attempt_id}, ":now": {"N": str(now)}},
                )
            return True
        except ClientError as exc:
            if _condition_failed(exc):
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
                    "Key": _key(order_key(event.order_id)),
                    "UpdateExpression": "SET event_count = :next",
                    "ConditionExpression": f"attribute_exists(PK) AND {count}",
                    "ExpressionAttributeValues": {
                        ":prev": {"N": str(expected_count)},
                        ":next": {"N": str(event.seq)},
                    },
                }
            },
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(order_event_key(event.order_id, event.event_id), event),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]
        for d in deliveries:
            d = d if d.created_at else d.model_copy(update={"created_at": now})
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": to_item(delivery_key(d.order_id, d.destination, d.event_seq), d, **_index(d, now)),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
        try:
            with _dependency():
                self.client.transact_write_items(TransactItems=items)
            return True
        except ClientError as exc:
            codes = _cancellation_codes(exc)
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
            with _dependency():
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=_key(delivery_key(order_id, destination, event_seq)),
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
            if _condition_failed(exc):
                return None
            raise
        return int(response["Attributes"]["gen"]["N"])

    def deliveries_in_state(
        self,
        destination: str,
        state: DeliveryState,
        *,
        due_before: int | None = None,
        limit: int | None = None,
    ) -> Iterator[DeliveryRecord]:
        """Deliveries of one destination in one unsettled state, soonest due first (the index,
        never a scan). ``due_before`` keeps those due before that Unix second."""
        values: dict[str, Any] = {":sk": {"S": delivery_state_key(destination, state)}}
        condition = "state_key = :sk"
        if due_before is not None:
            condition += " AND due_at < :due"
            values[":due"] = {"N": str(due_before)}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": DELIVERY_STATE_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        returned = 0
        while True:
            with _dependency():
                response = self.client.query(**kwargs)
            for item in response.get("Items", []):
                record = DeliveryRecord.model_validate(from_item(item))
                if record.state is not state:  # the index is eventually consistent
                    continue
                yield record
                returned += 1
                if limit is not None and returned >= limit:
                    return
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def index_unindexed_deliveries(self, now: int) -> list[DeliveryRecord]:
        """Put unsettled deliveries written by a version without the state index into it (a Scan:
        a one-off after upgrading, from the console). Returns those indexed."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(SK, :delivery) AND attribute_not_exists(state_key) "
            "AND NOT #s IN (:delivered, :skipped)",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {
                ":delivery": {"S": "DELIVERY#"},
                ":delivered": {"S": DeliveryState.DELIVERED},
                ":skipped": {"S": DeliveryState.SKIPPED},
            },
        }
        indexed: list[DeliveryRecord] = []
        while True:
            with _dependency():
                response = self.client.scan(**kwargs)
            for item in response.get("Items", []):
                delivery = DeliveryRecord.model_validate(from_item(item))
                try:
                    with _dependency():
                        self.client.update_item(
                            TableName=self.table_name,
                            Key=_key(delivery_key(delivery.order_id, delivery.destination)),
                            UpdateExpression="SET state_key = :sk, due_at = :due",
                            ConditionExpression="attribute_not_exists(state_key) AND #s = :state",
                            ExpressionAttributeNames={"#s": "state"},
                            ExpressionAttributeValues={
                                ":sk": {"S": delivery_state_key(delivery.destination, delivery.state)},
                                ":due": {"N": str(delivery.due_at(now))},
                                ":state": {"S": delivery.state},
                            },
                        )
                    indexed.append(delivery)
                except ClientError as exc:
                    if not _condition_failed(exc):
                        raise
            if "LastEvaluatedKey" not in response:
                return indexed
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

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
            values[":err"] = _serializer.serialize(change.error.model_dump(mode="json", exclude_none=True))
        elif change.clear_error:
            removes.append("last_error")
        if change.bump_gen:
            sets.append("gen = if_not_exists(gen, :zero) + :one")
            values[":zero"] = {"N": "0"}
            values[":one"] = {"N": "1"}
            removes.append("enqueued_gen")  # the outbox sends this generation's message
        expression = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
        try:
            with _dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=_key(delivery_key(order_id, destination, event_seq)),
                    UpdateExpression=expression,
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                )
            return True
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        with _dependency():
            response = self.client.get_item(
                TableName=self.table_name, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
            )
        item = response.get("Item")
        return from_item(item) if item else None
