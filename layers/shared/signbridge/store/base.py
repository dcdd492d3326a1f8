"""What every aggregate of the signbridge table shares: the client, the item conversion, and the
mapping of DynamoDB's failures to signbridge's errors.

Every "exactly once" promise rests on conditional writes and transactions, never on a read
followed by a write. Any failure of DynamoDB other than a condition becomes
``StoreUnavailable`` (HTTP 503 with Retry-After; a retry of the SQS message in workers),
except a value DynamoDB refuses as invalid (an item over 400 KB, a key over 2 KB): that is
the input's fault, ``TooLargeToStore`` (413) or ``NotStorable`` (422), and never worth a retry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from signbridge.errors import NotStorable, StoreUnavailable, TooLargeToStore

serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Standard retry mode absorbs throttling and brief blips; short timeouts keep an API call
# inside API Gateway's 29 s when DynamoDB is unreachable. Every request's shape is built here and
# DynamoDB validates what it receives: botocore's client-side check of each parameter (a tenth of
# a product callback's CPU) is skipped.
_CLIENT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5, parameter_validation=False
)


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
    return {k: serializer.serialize(v) for k, v in data.items()}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def cancellation_codes(exc: ClientError) -> list[str]:
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
def dependency() -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        refused = _refused_input(exc)
        if refused is not None:
            raise refused from exc
        if condition_failed(exc) or cancellation_codes(exc):
            raise
        raise StoreUnavailable() from exc
    except BotoCoreError as exc:
        raise StoreUnavailable() from exc


def key_of(key: dict[str, str]) -> dict[str, Any]:
    return {k: {"S": v} for k, v in key.items()}


class TableAccess:
    """One aggregate's reads and writes over the shared table; aggregates built for one function
    share its client."""

    def __init__(self, table_name: str, client: Any | None = None):
        self.table_name = table_name
        self.client = client or dynamodb_client()

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        with dependency():
            response = self.client.get_item(
                TableName=self.table_name, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
            )
        item = response.get("Item")
        return from_item(item) if item else None
