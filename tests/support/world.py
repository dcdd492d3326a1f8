"""The whole delivery pipeline in process, on a clock the test moves: the table in DynamoDB Local
(its stream read through the Streams API), the delivery queue and its DLQ in memory (with SQS's
limits), the provider fakes over real HTTP, and the functions' own handlers (outbox, forwarder,
sweeper, orders, webhooks) wired as Lambda's event sources would run them.

Every wait the system asks for is real on its clock and free in wall time: the retry schedule,
the held interval and Sign Customiser's grace keep their production values, and a test that
needs the queue to bring a message back moves the clock to it (``settle``)."""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from signbridge import clock as signbridge_clock
from signbridge import forwarding_root, roots
from signbridge.delivery_queue import DeliveryQueue
from signbridge.destinations import Destination
from signbridge.lifecycle import allowed_pairs, initial_states
from signbridge.roots import outbox as outbox_root
from signbridge_tools.fakes.wiring import WIRING
from tests.conftest import INTEGRATION_SECRET, LambdaContext, load_function
from tests.support.events import api_event, fixture_bytes, response_json, signed_headers
from tests.support.memory_sqs import MemorySqs
from tests.support.pipeline import StreamsApi
from tests.support.template import table_definition, template


class Clock:
    """Unix seconds that move only when told to."""

    def __init__(self, start: float | None = None):
        self.now = float(start if start is not None else time.time())

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


class World:
    def __init__(
        self,
        *,
        endpoint_url: str,
        fakes: tuple[Any, ...],
        configure: Callable[..., None],
        monkeypatch: pytest.MonkeyPatch,
        settings: dict[str, str] | None = None,
        serial: bool = False,
    ):
        """``serial``: the forwarder handles a batch's messages one after another (Lambda runs them
        side by side), so that the same draws always give the same run: what a model-based test
        needs to replay and shrink what it found."""
        self.clock = Clock()
        self.sqs = MemorySqs(self.clock)
        props = template()["Resources"]["DeliveryQueue"]["Properties"]
        self.dlq_url = self.sqs.create("signbridge-deliveries-dlq")
        self.queue_url = self.sqs.create(
            "signbridge-deliveries",
            visibility=int(props["VisibilityTimeout"]),
            max_receives=int(props["RedrivePolicy"]["maxReceiveCount"]),
            dlq=self.dlq_url,
        )
        self.fakes = dict(zip([d.value for d in Destination], fakes, strict=True))
        for fake in fakes:
            monkeypatch.setattr(fake, "clock", self.clock)  # its requests' "time" is this clock's
        self.table_name = f"signbridge-{uuid.uuid4().hex[:12]}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint_url)
        monkeypatch.setenv("TABLE_NAME", self.table_name)
        boto3.client("dynamodb", endpoint_url=endpoint_url).create_table(
            TableName=self.table_name, **table_definition()
        )
        self.stream = StreamsApi(self.table_name, endpoint_url)
        # One clock and one queue for every function, whatever they rebuild after a setting changes.
        monkeypatch.setattr(signbridge_clock, "now", self.clock)
        monkeypatch.setattr(forwarding_root, "sqs", lambda: self.sqs)
        monkeypatch.setattr(outbox_root, "sqs", lambda: self.sqs)
        if serial:

            @functools.cache
            def serial_queue() -> DeliveryQueue:
                s = forwarding_root.settings()
                return DeliveryQueue(self.sqs, s.delivery_queue_url, s.delivery_dlq_url, clock=self.clock, workers=1)

            monkeypatch.setattr(forwarding_root, "queue", serial_queue)
        environment = {
            k: v
            for name, fake in zip(Destination, fakes, strict=True)
            for k, v in WIRING[name].test_environment(fake).items()
        }
        configure(
            **{
                **environment,
                "DELIVERY_QUEUE_URL": self.queue_url,
                "DELIVERY_DLQ_URL": self.dlq_url,
                "DELIVERY_LEASE_MARGIN_SECONDS": "0",
                "DESTINATION_TIMEOUT_SECONDS": "1",
                "SECRETS_MISS_MAX_AGE_SECONDS": "0",
                **(settings or {}),
            }
        )
        self.configure = configure
        # A short invocation: the lease ends a second (of the clock) after the attempt began.
        self.context = LambdaContext(remaining_ms=1_000)
        self.invocations: dict[str, int] = {"outbox": 0, "forwarder": 0, "sweeper": 0}
        self.crashed_batches = 0
        # Every delivery write the table's stream showed, and those the lifecycle does not allow.
        self.moves = 0
        self.moves_not_allowed: list[str] = []
        # Set by every write of a delivery item: the stream is read only when there may be news.
        self.dirty = True
        from signbridge.store import Store
        from signbridge.store.orders import OrderStore

        # A World made after another in the same test (a model test's runs) wraps the store's own
        # methods, not the last World's wrappers: one wrapper deep, whatever the number of runs.
        def own(method: Any) -> Any:
            return getattr(method, "unwrapped", method)

        for name in ("create_order", "record_event", "replace_message"):
            monkeypatch.setattr(OrderStore, name, self._marking(own(getattr(OrderStore, name))))
        # Every move, wherever it is made (the engine, the intake, the console), passes these
        # hooks: hook(when, delivery, move) with when "before" or "after" (a hook may raise: a
        # worker that dies there).
        self.move_hooks: list[Callable[[str, Any, str], None]] = []
        moving = own(OrderStore.move)

        def move(store: Any, delivery: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            for hook in list(self.move_hooks):
                hook("before", delivery, name)
            try:
                moved = moving(store, delivery, name, *args, **kwargs)
            finally:
                self.dirty = True
            if moved is not None:
                for hook in list(self.move_hooks):
                    hook("after", delivery, name)
            return moved

        move.unwrapped = moving  # type: ignore[attr-defined]
        monkeypatch.setattr(OrderStore, "move", move)
        monkeypatch.setattr(Store, "move", move)

    # ------------------------------------------------------------------ the API a platform and Sign Customiser call
    def product(self, body: bytes | None = None) -> dict[str, Any]:
        raw = body or fixture_bytes("signcustomiser_product_created.json")
        event = api_event("POST", "/sign-customiser/products", raw, signed_headers(INTEGRATION_SECRET, raw))
        return response_json(load_function("products").handler(event, self.context))

    def post(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        raw = None if body is None else json.dumps(body).encode()
        response = load_function("orders").handler(api_event(method, path, raw), self.context)
        return {"status": response["statusCode"], "body": response_json(response)}

    def order(self, order_id: str) -> dict[str, Any]:
        return self.post("GET", f"/orders/{order_id}")["body"]

    # ------------------------------------------------------------------ Lambda's event sources
    def _marking(self, write: Callable[..., Any]) -> Callable[..., Any]:
        def marked(*args: Any, **kwargs: Any) -> Any:
            try:
                return write(*args, **kwargs)
            finally:
                self.dirty = True

        marked.unwrapped = write  # type: ignore[attr-defined]
        return marked

    def _check_moves(self, records: list[dict[str, Any]]) -> None:
        pairs, first = allowed_pairs(), initial_states()
        for record in records:
            keys = record["dynamodb"].get("Keys", {})
            if not keys.get("SK", {}).get("S", "").startswith("DELIVERY#"):
                continue
            new = record["dynamodb"].get("NewImage", {}).get("state", {}).get("S")
            old = record["dynamodb"].get("OldImage", {}).get("state", {}).get("S")
            self.moves += 1
            where = f"{keys['PK']['S']} {keys['SK']['S']}"
            if record["eventName"] == "INSERT" and new not in first:
                self.moves_not_allowed.append(f"{where}: created in {new}")
            elif record["eventName"] == "MODIFY" and (old, new) not in {(a.value, b.value) for a, b in pairs}:
                self.moves_not_allowed.append(f"{where}: {old} -> {new}")

    def pump_stream(self) -> int:
        if not self.dirty:
            return 0
        self.dirty = False
        records = self.stream.read()
        self._check_moves(records)
        for record in records:
            created = record["dynamodb"]["ApproximateCreationDateTime"]
            if not isinstance(created, int | float):
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
            record["eventSourceARN"] = "arn:aws:dynamodb:us-east-1:123456789012:table/signbridge/stream/1"
        if records:
            self.invocations["outbox"] += 1
            result = load_function("outbox").handler({"Records": records}, self.context)
            assert result["batchItemFailures"] == [], result
        return len(records)

    def run_forwarder_once(self) -> int:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)["Messages"]
        if not messages:
            return 0
        self.invocations["forwarder"] += 1
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m["Attributes"],
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:signbridge-deliveries",
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }
        try:
            result = load_function("forwarder").handler(event, self.context)
        except Exception:  # the invocation failed: every message of the batch comes back
            self.crashed_batches += 1
            return len(messages)
        kept = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if m["MessageId"] not in kept
        ]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=done)
        return len(messages)

    def sweep(self) -> dict[str, Any]:
        self.invocations["sweeper"] += 1
        return dict(load_function("sweeper").handler({}, self.context))

    def step(self) -> bool:
        """Whatever can happen now; False when nothing could."""
        return bool(self.pump_stream() + self.run_forwarder_once())

    def settle(self, horizon: float = 30 * 86_400, *, sweep_every: float | None = None) -> float:
        """Run until nothing is left to do within ``horizon`` seconds of the clock, moving the clock
        to each next message as the queue brings it back. Returns the seconds the clock moved."""
        start = self.clock.now
        next_sweep = start + sweep_every if sweep_every else None
        while True:
            if self.step():
                continue
            due = self.sqs.next_visible_at(self.queue_url)
            if next_sweep is not None and (due is None or next_sweep < due) and next_sweep - start <= horizon:
                self.clock.now = max(self.clock.now, next_sweep)
                self.sweep()
                next_sweep += sweep_every  # type: ignore[operator]
                continue
            if due is None or due - start > horizon:
                return self.clock.now - start
            self.clock.now = max(self.clock.now, due)

    def reset_functions(self) -> None:
        """What a redeploy or a setting change does: the functions rebuild what they built."""
        roots.reset()
        forwarding_root.reset()
