"""What the pipeline asks of AWS, counted where it is asked: every DynamoDB request with the
capacity it consumes, the stream's reads, SQS requests by API, Lambda invocations by function
(with their duration), SSM parameter reads and the destinations' HTTP requests.

DynamoDB capacity comes from DynamoDB itself (``ReturnConsumedCapacity=INDEXES`` added to every
request, ``ConsumedCapacity`` summed from the answers) for single-item writes and for reads.
Two cases DynamoDB Local (1.11.478) does not report as AWS bills them, so they are priced here by
AWS's published sizing rules from the items before and after the request (read through a client
of its own, not counted):

- ``TransactWriteItems``: Local answers a flat 4 units whatever the items; AWS bills 2 WCU per
  1 KB of each item (Put, Update, Delete and ConditionCheck alike) plus the index writes.
- a write refused by its condition: Local returns no capacity; AWS bills the write anyway (the
  existing item's size, at least 1 WCU), and half of that per item for a cancelled transaction;
- a read that finds nothing: Local reports 0; AWS bills its minimum (0.5 RCU, 1 if consistent).

Index writes of a transaction are billed as standard writes (AWS doubles the table's writes).
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from tests.support.template import table_definition

_GSI_KEYS = [
    tuple(key["AttributeName"] for key in index["KeySchema"]) for index in table_definition()["GlobalSecondaryIndexes"]
]
_CAPACITY_OPERATIONS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


# ---------------------------------------------------------------------------- AWS's sizing rules
def _number_size(text: str) -> int:
    digits = Decimal(text).normalize().as_tuple().digits
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value as DynamoDB sizes it (the name is counted by the caller)."""
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return _number_size(v)
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(_number_size(n) for n in v)
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(x) for k, x in v.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


def _index_writes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
    """WCU of the index writes a change of one item makes (every index projects ALL)."""
    units = 0
    for keys in _GSI_KEYS:
        was = before is not None and all(k in before for k in keys)
        now = after is not None and all(k in after for k in keys)
        moved = was and now and any(before[k] != after[k] for k in keys)  # type: ignore[index]
        if was and (not now or moved):
            units += write_units(item_size(before))  # the old entry removed
        if now and (before != after or not was):
            units += write_units(item_size(after))  # the new or changed entry written
    return units


# ---------------------------------------------------------------------------- the meter
@dataclass
class Call:
    function: str  # the Lambda function that made it ("harness" for the benchmark's own set-up)
    operation: str
    caller: str  # the store method (or other signbridge code) that asked
    rcu: float = 0.0
    wcu: float = 0.0
    refused: bool = False  # its condition failed (or its transaction was cancelled)
    seconds: float = 0.0  # the request itself, the meter's own reads left out


@dataclass
class Meter:
    calls: list[Call] = field(default_factory=list)
    stream_reads: Counter[str] = field(default_factory=Counter)  # DynamoDB Streams API by operation
    invocations: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # handler wall time
    durations: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    ssm_reads: Counter[str] = field(default_factory=Counter)  # GetParameter by parameter name
    ssm_lookups: int = 0  # get_parameter calls, cache hits included
    on: bool = True

    def reset(self) -> None:
        """Forget what was counted so far (a warm-up's requests)."""
        self.calls.clear()
        for counted in (self.stream_reads, self.invocations, self.seconds, self.durations, self.ssm_reads):
            counted.clear()
        self.ssm_lookups = 0

    # -- figures
    def rcu(self, **where: str) -> float:
        return sum(c.rcu for c in self._where(where))

    def wcu(self, **where: str) -> float:
        return sum(c.wcu for c in self._where(where))

    def requests(self, **where: str) -> int:
        return len(list(self._where(where)))

    def _where(self, where: dict[str, str]) -> Iterator[Call]:
        return (c for c in self.calls if all(getattr(c, k) == v for k, v in where.items()))

    def by(self, *keys: str) -> dict[tuple[str, ...], list[Call]]:
        grouped: dict[tuple[str, ...], list[Call]] = defaultdict(list)
        for c in self.calls:
            grouped[tuple(getattr(c, k) for k in keys)].append(c)
        return dict(grouped)

    def mark(self) -> int:
        return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        return self.calls[mark:]


_current: list[str] = []  # the function being invoked (a stack: a fake's webhook arrives mid-delivery)
_frames: list[list[Any]] = []  # [function, seconds of the invocations nested in it]
_overhead = [0.0]  # seconds the meter spent on its own reads (not the functions' time)
_lock = threading.RLock()


def overhead_seconds() -> float:
    """Seconds the meter has spent on its own reads so far (to take out of a measured time)."""
    return _overhead[0]


def _function() -> str:
    return _current[-1] if _current else "harness"


def _caller() -> str:
    """The signbridge code nearest the request: Store.method (or module.function)."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if "/signbridge/" in path and "/signbridge/store/base.py" not in path and "signbridge_tools" not in path:
            self_ = frame.f_locals.get("self")
            owner = type(self_).__name__ if self_ is not None else path.rsplit("/", 1)[-1].removesuffix(".py")
            return f"{owner}.{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


class _Images:
    """Items as they stand, read without being metered (for the rules-based prices)."""

    def __init__(self, client: Any, original: Callable[..., Any]):
        self.client, self.original = client, original

    def get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        answer = self.original(self.client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
        item: dict[str, Any] | None = answer.get("Item")
        return item


def _transaction_keys(params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], dict[str, Any] | None]]:
    """(kind, table, key, new item for a Put) of each item of a TransactWriteItems."""
    found = []
    keys = [k["AttributeName"] for k in table_definition()["KeySchema"]]
    for entry in params["TransactItems"]:
        (kind, body), *_ = entry.items()
        if kind == "Put":
            item = body["Item"]
            found.append((kind, body["TableName"], {k: item[k] for k in keys}, item))
        else:
            found.append((kind, body["TableName"], body["Key"], None))
    return found


def _priced_transaction(images: _Images, params: dict[str, Any], run: Callable[[], Any]) -> tuple[Any, float]:
    entries = _transaction_keys(params)
    before = [images.get(table, key) for _, table, key, _ in entries]
    try:
        answer = run()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        # Cancelled: the prepare phase's reads of every item are billed (one write's worth each).
        units = sum(write_units(item_size(b)) for b in before)
        exc.metered_wcu = float(units)  # type: ignore[attr-defined]
        raise
    units = 0
    for (kind, table, key, _), old in zip(entries, before, strict=True):
        if kind == "ConditionCheck":
            units += 2 * write_units(item_size(old))
            continue
        new = images.get(table, key)
        units += 2 * write_units(max(item_size(old), item_size(new)))
        units += _index_writes(old, new)
    return answer, float(units)


def _capacity(answer: dict[str, Any]) -> float:
    consumed = answer.get("ConsumedCapacity")
    if consumed is None:
        return 0.0
    if isinstance(consumed, dict):
        consumed = [consumed]
    return float(sum(c.get("CapacityUnits", 0.0) for c in consumed))


def _request(call: Call, view: _Images, params: dict[str, Any], send: Callable[[], Any]) -> Any:
    """Send one request; its capacity as DynamoDB reports it, or by the sizing rules where DynamoDB
    Local does not report it as AWS bills it."""
    try:
        if call.operation == "TransactWriteItems":
            answer, call.wcu = _priced_transaction(view, params, send)
            return answer
        answer = send()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "TransactionCanceledException":
            call.refused, call.wcu = True, float(getattr(exc, "metered_wcu", 0.0))
        elif code == "ConditionalCheckFailedException":
            call.refused = True
            call.wcu = float(write_units(item_size(view.get(params["TableName"], params["Key"]))))
        raise
    if call.operation in _READS:
        # AWS bills a read that finds nothing its minimum (DynamoDB Local reports 0)
        call.rcu = _capacity(answer) or (1.0 if params.get("ConsistentRead") else 0.5)
    else:
        call.wcu = _capacity(answer)
    return answer


@contextmanager
def metering(monkeypatch: pytest.MonkeyPatch) -> Iterator[Meter]:
    """Every AWS request made through botocore while the meter is on is counted."""
    meter = Meter()
    original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
    images: dict[int, _Images] = {}

    def metered(self: Any, operation: str, params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        if not meter.on:
            return original(self, operation, params)
        if service == "dynamodbstreams":
            meter.stream_reads[operation] += 1
            return original(self, operation, params)
        if service != "dynamodb" or operation not in _CAPACITY_OPERATIONS:
            return original(self, operation, params)
        began = time.perf_counter()
        call = Call(_function(), operation, _caller())
        with _lock:
            meter.calls.append(call)
        params = {**params, "ReturnConsumedCapacity": "INDEXES"}
        view = images.setdefault(id(self), _Images(self, original))

        def timed() -> Any:
            started = time.perf_counter()
            try:
                return original(self, operation, params)
            finally:
                call.seconds = time.perf_counter() - started

        try:
            return _request(call, view, params, timed)
        finally:
            with _lock:
                _overhead[0] += time.perf_counter() - began - call.seconds

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", metered)
    yield meter


def stream_filter() -> Callable[[dict[str, Any]], bool]:
    """The outbox's event source filter (template.yaml, FilterCriteria): Lambda invokes the outbox
    only for the stream records it passes, and bills no invocation for a batch it empties."""
    from tests.support.template import template

    source = template()["Resources"]["OutboxFunction"]["Properties"]["Events"]
    (stream,) = [e for e in source.values() if e["Type"] == "DynamoDB"]
    patterns = [json.loads(f["Pattern"]) for f in stream["Properties"]["FilterCriteria"]["Filters"]]

    def matches(value: Any, pattern: Any) -> bool:
        if isinstance(pattern, dict):
            return isinstance(value, dict) and all(k in value and matches(value[k], p) for k, p in pattern.items())
        return any(
            (isinstance(p, dict) and isinstance(value, str) and value.startswith(p["prefix"])) or value == p
            for p in pattern
        )

    return lambda record: any(matches(record, p) for p in patterns)


def count_invocations(
    meter: Meter,
    monkeypatch: pytest.MonkeyPatch,
    module: Any,
    name: str,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> None:
    """The function's handler, counted and timed as one invocation each call. ``keep``: the event
    source's filter; records it drops never reach the function, and a batch it empties is no
    invocation. The time of an invocation nested in another (a webhook a fake sends while the
    forwarder waits for its answer) is counted once, as the inner function's."""
    handler = module.handler

    def invoked(event: Any, context: Any) -> Any:
        if keep is not None:
            event = {**event, "Records": [r for r in event["Records"] if keep(r)]}
            if not event["Records"]:
                return {"batchItemFailures": []}
        frame: list[Any] = [name, 0.0]
        with _lock:
            _current.append(name)
            _frames.append(frame)
            overhead = _overhead[0]
        started = time.perf_counter()
        try:
            return handler(event, context)
        finally:
            with _lock:
                # its own time: the meter's reads and the invocations nested in it left out
                took = time.perf_counter() - started - (_overhead[0] - overhead) - float(frame[1])
                _current.remove(name)
                _frames.remove(frame)
                if _frames:
                    _frames[-1][1] += took
            if meter.on:
                meter.invocations[name] += 1
                meter.seconds[name] += took
                meter.durations[name].append(took)

    monkeypatch.setattr(module, "handler", invoked)


def count_ssm(meter: Meter, monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    """SSM Parameter Store as Powertools reads it (with its own cache, SECRETS_MAX_AGE_SECONDS):
    each read that reaches SSM is counted, and every lookup."""
    from aws_lambda_powertools.utilities import parameters

    class CountedSsm(parameters.SSMProvider):
        def __init__(self) -> None:
            parameters.BaseProvider.__init__(self)

        def get(self, name: str, *args: Any, **kwargs: Any) -> Any:
            meter.ssm_lookups += 1
            return super().get(name, *args, **kwargs)

        def _get(self, name: str, decrypt: bool = False, **_: Any) -> str:
            meter.ssm_reads[name] += 1
            if name not in values:
                raise parameters.exceptions.GetParameterError(f"ParameterNotFound: {name}")
            return values[name]

    monkeypatch.setitem(parameters.base.DEFAULT_PROVIDERS, "ssm", CountedSsm())
