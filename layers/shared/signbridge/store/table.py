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
    DeliveryError,
    DeliveryRecord,
    DeliveryState,
    OrderRecord,
    ProductMapping,
    ScOrderRecord,
    WebhookDelivery,
    delivery_key,
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


@dataclass
class Claim:
    delivery: DeliveryRecord
    attempt_id: str
    was_in_doubt: bool


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
                link = {"order_id": order.external_id, "sc_order_id": order.sc_order_id, "linked_at": order.received_at}
                items.append(
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {
                                **{
                                    k: {"S": v}
                                    for k, v in sc_order_link_key(order.external_id, order.sc_order_id).items()
                                },
                                **{k: _serializer.serialize(v) for k, v in link.items()},
                            },
                        }
                    }
                )
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

    def get_sc_order(self, sc_order_id: int) -> ScOrderRecord | None:
        item = self._get(sc_order_key(sc_order_id))
        return ScOrderRecord.model_validate(item) if item else None

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
        items += [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": to_item(delivery_key(d.order_id, d.destination), d),
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
        return OrderState(
            order=OrderRecord.model_validate(order),
            deliveries=[DeliveryRecord.model_validate(i) for i in items if i["SK"].startswith("DELIVERY#")],
            sc_order_ids=[int(i["sc_order_id"]) for i in items if i["SK"].startswith("SCORDER#")],
        )

    def get_delivery(self, order_id: str, destination: str) -> DeliveryRecord | None:
        item = self._get(delivery_key(order_id, destination))
        return DeliveryRecord.model_validate(item) if item else None

    def claim_delivery(
        self, order_id: str, destination: str, attempt_id: str, now: int, lease_seconds: int, updated_at: str
    ) -> Claim | None:
        """Take the lease on a pending/retrying delivery for one attempt; None if it is terminal or leased.

        A lease still set from an earlier attempt means that attempt died before recording its
        outcome: it may have reached the destination, so the delivery is marked in doubt until
        an attempt ends in a definite outcome.
        """
        key = {k: {"S": v} for k, v in delivery_key(order_id, destination).items()}
        try:
            with _dependency():
                response = self.client.update_item(
                    TableName=self.table_name,
                    Key=key,
                    # Leaving "pending" matters: the outbox enqueues every write that lands in pending.
                    UpdateExpression="SET #s = :sending, attempts = attempts + :one, attempt_id = :aid, "
                    "lease_until = :lease, updated_at = :at",
                    ConditionExpression=(
                        "#s IN (:pending, :retrying, :sending) "
                        "AND (attribute_not_exists(lease_until) OR lease_until < :now)"
                    ),
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={
                        ":one": {"N": "1"},
                        ":aid": {"S": attempt_id},
                        ":lease": {"N": str(now + lease_seconds)},
                        ":at": {"S": updated_at},
                        ":now": {"N": str(now)},
                        ":pending": {"S": DeliveryState.PENDING},
                        ":retrying": {"S": DeliveryState.RETRYING},
                        ":sending": {"S": DeliveryState.SENDING},
                    },
                    ReturnValues="ALL_OLD",
                )
        except ClientError as exc:
            if _condition_failed(exc):
                return None
            raise
        old = DeliveryRecord.model_validate(from_item(response["Attributes"]))
        in_doubt_since = old.in_doubt_since
        if old.lease_until is not None:
            # The grace for a confirmation runs from the latest unanswered attempt, not the first.
            in_doubt_since = now
            with _dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key=key,
                    UpdateExpression="SET in_doubt_since = :now",
                    ConditionExpression="attempt_id = :aid",
                    ExpressionAttributeValues={":aid": {"S": attempt_id}, ":now": {"N": str(now)}},
                )
        new = old.model_copy(
            update={
                "state": DeliveryState.SENDING,
                "attempts": old.attempts + 1,
                "attempt_id": attempt_id,
                "lease_until": now + lease_seconds,
                "in_doubt_since": in_doubt_since,
            }
        )
        return Claim(delivery=new, attempt_id=attempt_id, was_in_doubt=in_doubt_since is not None)

    def finish_attempt(
        self,
        order_id: str,
        destination: str,
        attempt_id: str,
        state: DeliveryState,
        updated_at: str,
        destination_ref: str | None = None,
        error: DeliveryError | None = None,
        in_doubt_at: int | None = None,
    ) -> bool:
        """Record an attempt's outcome and release the lease; False if the lease was lost.

        ``in_doubt_at`` marks a transient outcome after which the destination may still have
        acted on the request (a read timeout, a dropped connection).
        """
        sets = ["#s = :state", "updated_at = :at"]
        removes = ["lease_until", "attempt_id"]
        values: dict[str, Any] = {":state": {"S": state}, ":at": {"S": updated_at}, ":aid": {"S": attempt_id}}
        if in_doubt_at is not None:
            sets.append("in_doubt_since = :doubt")
            values[":doubt"] = {"N": str(in_doubt_at)}
        elif state in (DeliveryState.DELIVERED, DeliveryState.SKIPPED):
            # Only a settled delivery forgets an earlier unanswered attempt: a failed one may be
            # retried by an operator, and that retry must still look for a confirmation first.
            removes.append("in_doubt_since")
        if destination_ref is not None:
            sets.append("destination_ref = :ref")
            values[":ref"] = {"S": destination_ref}
        if error is not None:
            sets.append("last_error = :err")
            values[":err"] = _serializer.serialize(error.model_dump(mode="json", exclude_none=True))
        elif state is DeliveryState.DELIVERED:
            removes.append("last_error")
        try:
            with _dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key={k: {"S": v} for k, v in delivery_key(order_id, destination).items()},
                    UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
                    ConditionExpression="attempt_id = :aid",
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues=values,
                )
            return True
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise

    def requeue_delivery(self, order_id: str, destination: str, updated_at: str) -> bool:
        """Operator retry: a failed, skipped or stuck delivery goes back to pending with a fresh
        attempt budget (the outbox enqueues it).

        A lease left by a crashed attempt is kept: it still has to expire before the next claim,
        and that claim must still treat the delivery as in doubt.
        """
        try:
            with _dependency():
                self.client.update_item(
                    TableName=self.table_name,
                    Key={k: {"S": v} for k, v in delivery_key(order_id, destination).items()},
                    UpdateExpression="SET #s = :pending, updated_at = :at, attempts = :zero",
                    ConditionExpression=(
                        "attribute_exists(PK) AND #s IN (:failed, :retrying, :pending, :sending, :skipped)"
                    ),
                    ExpressionAttributeNames={"#s": "state"},
                    ExpressionAttributeValues={
                        ":pending": {"S": DeliveryState.PENDING},
                        ":at": {"S": updated_at},
                        ":failed": {"S": DeliveryState.FAILED},
                        ":retrying": {"S": DeliveryState.RETRYING},
                        ":sending": {"S": DeliveryState.SENDING},
                        ":skipped": {"S": DeliveryState.SKIPPED},
                        ":zero": {"N": "0"},
                    },
                )
            return True
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise

    def unsettled_deliveries(self, updated_before: str) -> list[DeliveryRecord]:
        """Deliveries still pending, sending or retrying whose last change is older than
        ``updated_before`` (ISO 8601, UTC). A Scan: for operators, never on a request path."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(SK, :delivery) AND #s IN (:pending, :sending, :retrying) "
            "AND updated_at < :before",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {
                ":delivery": {"S": "DELIVERY#"},
                ":pending": {"S": DeliveryState.PENDING},
                ":sending": {"S": DeliveryState.SENDING},
                ":retrying": {"S": DeliveryState.RETRYING},
                ":before": {"S": updated_before},
            },
        }
        found: list[DeliveryRecord] = []
        while True:
            with _dependency():
                response = self.client.scan(**kwargs)
            found += [DeliveryRecord.model_validate(from_item(i)) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        with _dependency():
            response = self.client.get_item(
                TableName=self.table_name, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
            )
        item = response.get("Item")
        return from_item(item) if item else None


def now_seconds() -> int:
    return int(time.time())
