"""Batch concurrency of the forwarder.

A batch of 10 SQS records (10 orders x Dropday) where the Dropday fake answers every request after
HANG seconds (its "hang" fault: sleep, then handle the request normally). The real forwarder handler
(the queue adapter, signbridge.delivery_queue, each delivery on a worker of a pool of batch size)
against a baseline that runs the same records one after another (the same adapter with one
worker). Table and queue are moto's, the table built from template.yaml as the tests build it.
"""

from __future__ import annotations

import copy
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from typing import Any

import boto3
from moto import mock_aws

from benchmarks._common import Headline, median, say, table
from signbridge import forwarding_root, roots
from signbridge.logic.orders import ORIGIN_PLATFORM, persist_order
from signbridge.logic.outbox import DeliveryMessage, message_body
from signbridge.models.items import DeliveryState
from signbridge.models.order import Order
from signbridge.observability import logger, metrics
from signbridge.settings import Destination
from signbridge.tracing import tracer
from signbridge_tools.fakes import DropdayFake
from tests.conftest import BASE_ENV, LambdaContext, load_function
from tests.support.events import fixture
from tests.support.routes import routes
from tests.support.template import table_definition

BATCH = 10
HANG = 0.2
REPEATS = 5


@contextmanager
def environment(**env: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    roots.reset()
    forwarding_root.reset()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        roots.reset()
        forwarding_root.reset()


class Batches:
    """Fresh orders in the table and the SQS event that would carry their Dropday deliveries."""

    def __init__(self) -> None:
        self.template = fixture("canonical_order.json")
        self.count = 0

    def event(self) -> tuple[dict[str, Any], list[str]]:
        """A new batch on an empty table (moto's queries and stream slow down as items pile up)."""
        self.count += 1
        client = forwarding_root.store().client
        client.delete_table(TableName=BASE_ENV["TABLE_NAME"])
        client.create_table(TableName=BASE_ENV["TABLE_NAME"], **table_definition())
        records, ids = [], []
        for i in range(BATCH):
            body = copy.deepcopy(self.template)
            body["id"] = order_id = f"bench-{self.count}-{i}-{uuid.uuid4().hex[:8]}"
            persist_order(
                Order.model_validate(body), ORIGIN_PLATFORM, routes(Destination.DROPDAY), set(), forwarding_root.store()
            )
            message = message_body(DeliveryMessage(order_id, Destination.DROPDAY))
            records.append(
                {
                    "messageId": str(uuid.uuid4()),
                    "receiptHandle": f"receipt-{order_id}",
                    "body": message,
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
                    "messageAttributes": {},
                    "md5OfBody": hashlib.md5(message.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:signbridge-deliveries",
                    "awsRegion": "us-east-1",
                }
            )
            ids.append(order_id)
        return {"Records": records}, ids


def timed(run: Callable[[dict[str, Any]], Any], batches: Batches, fake: DropdayFake) -> float:
    """Seconds for one batch; checks every record was delivered and every request hung."""
    event, ids = batches.event()
    fake.add_faults(*({"hang": HANG} for _ in ids))
    with open(os.devnull, "w") as sink, redirect_stdout(sink):  # the metrics' EMF lines
        start = time.perf_counter()
        result = run(event)
        elapsed = time.perf_counter() - start
    assert result["batchItemFailures"] == [], result
    assert fake.pending_faults == [], "every request should have taken its hang"
    store = forwarding_root.store()
    for order_id in ids:
        delivery = store.get_delivery(order_id, Destination.DROPDAY)
        assert delivery is not None and delivery.state is DeliveryState.DELIVERED, (order_id, delivery)
    return elapsed


def run() -> list[Headline]:
    context = LambdaContext()
    with mock_aws():
        boto3.client("dynamodb").create_table(TableName=BASE_ENV["TABLE_NAME"], **table_definition())
        queue_url = boto3.client("sqs").create_queue(QueueName="signbridge-deliveries")["QueueUrl"]
        with (
            DropdayFake(api_key="dd-key", account_id="dd-account") as fake,
            environment(
                DELIVERY_QUEUE_URL=queue_url,
                DROPDAY_BASE_URL=fake.url,
                DROPDAY_API_KEY="dd-key",
                DROPDAY_ACCOUNT_ID="dd-account",
                DROPDAY_SOURCE="Neon Shop",
                DESTINATION_TIMEOUT_SECONDS="5",
            ),
        ):
            forwarder = load_function("forwarder")
            batches = Batches()

            from signbridge import forwarding_root as root
            from signbridge.delivery_queue import DeliveryQueue

            # The baseline wears the forwarder handler's decorators and uses the same queue adapter,
            # with one worker: the batch's messages one after another.
            @logger.inject_lambda_context
            @metrics.log_metrics
            @tracer.capture_lambda_handler
            def sequential_handler(event: dict[str, Any], context: Any) -> Any:
                s = root.settings()
                one_at_a_time = DeliveryQueue(root.sqs(), s.delivery_queue_url, s.delivery_dlq_url, workers=1)
                deliver = root.deliver_within(context.get_remaining_time_in_millis() / 1000)
                return one_at_a_time.handle(event.get("Records", []), deliver, root.replace)

            def sequential(event: dict[str, Any]) -> Any:
                return sequential_handler(event, context)

            def concurrent(event: dict[str, Any]) -> Any:
                return forwarder.handler(event, context)

            sides = {
                "one message at a time (the adapter, 1 worker)": sequential,
                "forwarder handler (the adapter, a worker per message)": concurrent,
            }
            for side in sides.values():  # warm up: imports, moto, keep-alive connections to the fake
                timed(side, batches, fake)
            times: dict[str, list[float]] = {name: [] for name in sides}
            for _ in range(REPEATS):  # interleaved, so drift touches every side alike
                for name, side in sides.items():
                    times[name].append(timed(side, batches, fake))

    base_name, real_name = sides
    base = median(times[base_name])
    workers = min(32, (os.cpu_count() or 1) + 4)
    say(f"1. Forwarder batch concurrency: {BATCH} records x Dropday, each answered after {HANG * 1000:.0f} ms")
    say(f"   median of {REPEATS} runs (fresh orders each run), wall time of one invocation")
    rows = []
    for name in sides:
        m = median(times[name])
        rows.append(
            [
                name,
                f"{m * 1000:.0f} ms",
                f"{min(times[name]) * 1000:.0f}-{max(times[name]) * 1000:.0f} ms",
                f"{base / m:.2f}x",
            ]
        )
    say(table(["side", "median", "range", "speed-up"], rows))
    say(f"   floor: sequential >= {BATCH * HANG * 1000:.0f} ms, fully concurrent >= {HANG * 1000:.0f} ms;")
    say(f"   the forwarder runs a batch on its own pool of {BATCH} threads (asyncio's default would be {workers} here)")
    say()
    real = median(times[real_name])
    return [
        Headline(
            f"Forwarder batch of {BATCH} (Dropday answers in {HANG * 1000:.0f} ms)",
            f"{real * 1000:.0f} ms",
            f"{base * 1000:.0f} ms sequential",
            f"{base / real:.1f}x faster",
        ),
    ]
