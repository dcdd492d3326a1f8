"""Dropday's answer is not the end: Given the whole pipeline on DynamoDB Local, the Dropday fake
with line statuses scripted over time and a clock the test moves, When the sweeper runs, Then each
order Dropday accepted is read back on its schedule until its lines are final, what a supplier
declined is listed and counted once, and the reads stay within the per-run cap whatever Dropday
answers (a 429 storm, a 404, a refused key)."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from signbridge.models.follow_up import FollowUpOutcome, FollowUpRecord, follow_up_index_key, follow_up_key
from signbridge.store import Store
from tests.conftest import load_function
from tests.support import operator
from tests.support.events import fixture

pytestmark = pytest.mark.dynamodb_local

ORDER_ID = "order-123456"
DESIGN, PLUG = "sc-1", "plug-au"  # the two lines' product external_ids, Dropday's line ids
HOUR = 3_600


def emitted(capsys: pytest.CaptureFixture[str], metric: str) -> float:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return sum(sum(v) if isinstance(v := line.get(metric, []), list) else v for line in lines)


def reads(world: Any) -> list[dict[str, Any]]:
    return [
        r for r in world.fakes["dropday"].requests if r["method"] == "GET" and r["path"].startswith("/api/v1/orders")
    ]


def delivered(world: Any, order_id: str = ORDER_ID, **changes: Any) -> str:
    """The order delivered to Dropday; its reference there."""
    body = fixture("canonical_order.json") | {"id": order_id} | changes
    assert world.post("POST", "/orders", body)["status"] == 202
    world.settle()
    delivery = Store(world.table_name).get_delivery(order_id, "dropday")
    assert delivery is not None and delivery.state == "delivered"
    assert delivery.destination_ref is not None
    return delivery.destination_ref


def follow_up(world: Any, order_id: str = ORDER_ID) -> FollowUpRecord:
    found = Store(world.table_name).get_follow_up(order_id, "dropday")
    assert found is not None
    return found


def sweep_at(world: Any, seconds_after: float, start: float) -> dict[str, Any]:
    world.clock.now = max(world.clock.now, start + seconds_after)
    return world.sweep()


def raw_item(world: Any, order_id: str, sk: str) -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(
        TableName=world.table_name, Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": sk}}
    )["Item"]


# ---------------------------------------------------------------- a declined line is listed and counted
def test_a_line_declined_by_its_supplier_an_hour_after_acceptance_is_listed_and_counted_once(world, capsys):
    reference = delivered(world)
    start = world.clock.now
    world.fakes["dropday"].script_status(
        reference, [(60, PLUG, "completed", "PlugCo"), (HOUR, DESIGN, "declined", "Neon Works")]
    )
    first = follow_up(world)
    assert (first.outcome, first.reference, first.next_read_at) == ("following", reference, int(start) + 600)

    sweep_at(world, 600, start)  # 10 min: the plug is made, the design waits
    assert follow_up(world).outcome == "following"
    capsys.readouterr()
    sweep_at(world, 600 + HOUR, start)  # an hour later: the design was declined
    problem = follow_up(world)
    assert problem.outcome == "problem"
    assert problem.lines[DESIGN].status == "declined" and problem.lines[DESIGN].supplier == "Neon Works"
    assert emitted(capsys, "SupplierProblem") == 1

    for hours in (7, 8, 14):  # still read every 6 h (a re-routed line would clear it): counted once
        sweep_at(world, hours * HOUR, start)
    assert emitted(capsys, "SupplierProblem") == 0
    assert follow_up(world).reads == 4  # at 10 min, 1 h 10 min, 7 h 10 min, 13 h 10 min

    code, out = operator.console("deliveries", "supplier-problems")
    assert code == 0, out
    [row] = [line for line in out.splitlines() if line.startswith(ORDER_ID)]
    assert row.split() == [
        ORDER_ID,
        "dropday",
        reference,
        "problem",
        "partially_completed",
        DESIGN,
        "declined",
        "Neon",
        "Works",
        *row.split()[9:],
    ]
    view = world.order(ORDER_ID)
    assert view["follow_ups"]["dropday"]["lines"][DESIGN] == {
        "status": "declined",
        "supplier": "Neon Works",
        "verdict": "problem",
    }
    assert view["follow_ups"]["dropday"]["lines"][PLUG]["status"] == "completed"
    [attention] = view["attention"]
    assert (attention["follow_up"], attention["command"]) == ("problem", "signbridge deliveries supplier-problems")
    code, out = operator.console("order", "show", ORDER_ID)
    assert "dropday follow-up: problem, order partially_completed" in out and "Neon Works" in out


# ---------------------------------------------------------------- completed: never read again
def test_a_completed_order_stops_being_read(world, capsys):
    reference = delivered(world)
    start = world.clock.now
    world.fakes["dropday"].script_status(
        reference, [(300, PLUG, "completed", "PlugCo"), (400, DESIGN, "completed", "Neon Works")]
    )
    capsys.readouterr()
    sweep_at(world, 600, start)
    done = follow_up(world)
    assert done.outcome == "completed" and done.next_read_at is None
    assert "state_key" not in raw_item(world, ORDER_ID, "FOLLOW#dropday")  # out of the index
    assert emitted(capsys, "FollowUpCompleted") == 1
    read_so_far = len(reads(world))
    for hours in range(1, 24 * 15, 6):  # two weeks of sweeps
        sweep_at(world, hours * HOUR, start)
    assert len(reads(world)) == read_so_far == 1
    assert world.order(ORDER_ID)["follow_ups"]["dropday"]["outcome"] == "completed"
    assert world.order(ORDER_ID)["attention"] == []


# ---------------------------------------------------------------- 1,000 in flight: the cap per sweep
def test_a_thousand_orders_in_flight_cost_at_most_the_cap_of_reads_per_sweep(world):
    reference = delivered(world)
    store, now = Store(world.table_name), int(world.clock.now)
    began = time.perf_counter()
    items = []
    for n in range(1_000):
        due = now - 1_000 + n % 100
        record = FollowUpRecord(
            order_id=f"flight-{n:04d}",
            destination="dropday",
            reference=reference,
            accepted_at=now - 600,
            next_read_at=due,
            updated_at="2025-01-01T00:00:00+00:00",
        )
        plain = {
            **follow_up_key(record.order_id, "dropday"),
            **record.model_dump(mode="json", exclude_none=True),
            "state_key": follow_up_index_key("dropday", "reading"),
            "due_at": due,
        }
        items.append({"PutRequest": {"Item": {k: TypeSerializer().serialize(v) for k, v in plain.items()}}})
    client = boto3.client("dynamodb")
    for chunk in range(0, len(items), 25):
        assert not client.batch_write_item(RequestItems={world.table_name: items[chunk : chunk + 25]}).get(
            "UnprocessedItems"
        )
    written = time.perf_counter() - began
    per_sweep, timings = [], []
    for _ in range(20):
        before = len(reads(world))
        began = time.perf_counter()
        world.sweep()
        timings.append(time.perf_counter() - began)
        per_sweep.append(len(reads(world)) - before)
    assert max(per_sweep) <= 50
    assert sum(per_sweep) >= 1_000  # every one read once in 20 sweeps, none twice before the others
    read_once = [f for f in store.follow_ups("dropday", "reading") if f.order_id.startswith("flight-")]
    assert len(read_once) == 1_000 and {f.reads for f in read_once} == {1}
    print(
        f"1,000 in flight: written in {written:.1f}s; reads per sweep {per_sweep}; "
        f"sweep {min(timings) * 1000:.0f}-{max(timings) * 1000:.0f} ms"
    )


# ---------------------------------------------------------------- a 429 storm delays, loses nothing
def test_a_429_storm_delays_the_reads_and_loses_none(world):
    orders = [f"storm-{n}" for n in range(3)]
    for order_id in orders:
        reference = delivered(world, order_id)
        world.fakes["dropday"].script_status(reference, [(60, PLUG, "completed", "P"), (60, DESIGN, "completed", "N")])
    start = world.clock.now
    storm = {"status": 429, "headers": {"Retry-After": "1800"}, "method": "GET", "path": "/api/v1/orders"}
    world.fakes["dropday"].add_faults(*[storm] * 4)

    sweep_at(world, 600, start)  # the first read: 429, the run stops
    assert len(reads(world)) == 1
    for minutes in range(15, 40, 5):  # within Retry-After's half hour: no read at all
        sweep_at(world, minutes * 60, start)
    assert len(reads(world)) == 1
    minutes = 40
    while any(follow_up(world, o).outcome != "completed" for o in orders) and minutes < 24 * 60:
        sweep_at(world, minutes * 60, start)
        minutes += 5
    assert [follow_up(world, o).outcome for o in orders] == ["completed"] * 3
    assert len(reads(world)) == 4 + 3  # four refused, then each order once


# ---------------------------------------------------------------- 404: lost at Dropday
def test_an_order_dropday_answers_404_for_is_lost_with_its_metric(world, capsys):
    reference = delivered(world)
    start = world.clock.now
    body = {"message": "Not Found", "error": f"Order with reference '{reference}' not found"}
    world.fakes["dropday"].add_faults({"status": 404, "body": body, "method": "GET", "path": "/api/v1/orders"})
    capsys.readouterr()
    sweep_at(world, 600, start)
    lost = follow_up(world)
    assert lost.outcome == "lost" and lost.last_error is not None and lost.last_error.code == "not_found"
    assert emitted(capsys, "OrderLostAtDestination") == 1
    for hours in (2, 8, 14):
        sweep_at(world, hours * HOUR, start)
    assert len(reads(world)) == 1
    code, out = operator.console("deliveries", "supplier-problems")
    assert f"{ORDER_ID} dropday {reference} lost" in " ".join(out.split())
    assert world.order(ORDER_ID)["attention"][0]["follow_up"] == "lost"


# ---------------------------------------------------------------- 401: held until the key works again
def test_a_refused_key_holds_the_follow_up_and_it_resumes_once_the_key_works(world, capsys):
    reference = delivered(world)
    start = world.clock.now
    dropday = world.fakes["dropday"]
    dropday.script_status(reference, [(60, PLUG, "completed", "P"), (60, DESIGN, "completed", "N")])
    dropday.api_key = "rotated-at-dropday"
    capsys.readouterr()
    sweep_at(world, 600, start)
    assert follow_up(world).outcome == "held"
    assert emitted(capsys, "DeliveriesHeld") >= 1  # the held alarm's total
    sweep_at(world, 600 + 300, start)  # tried again on the held schedule: still refused, still counted
    assert follow_up(world).outcome == "held"
    assert emitted(capsys, "DeliveriesHeld") >= 1
    dropday.api_key = "dd-key"  # the key works again
    sweep_at(world, 600 + 600, start)
    assert follow_up(world).outcome == "completed"
    assert emitted(capsys, "DeliveriesHeld") == 0
    assert len(reads(world)) == 3


# ---------------------------------------------------------------- once per order
def test_a_redelivered_stream_record_creates_no_second_follow_up(world):
    reference = delivered(world)
    start = world.clock.now
    sweep_at(world, 600, start)
    read = follow_up(world)
    assert read.reads == 1
    item = raw_item(world, ORDER_ID, "DELIVERY#dropday")
    record = {
        "eventID": "redelivered",
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/signbridge/stream/1",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"PK": item["PK"], "SK": item["SK"]},
            "NewImage": item,
            "OldImage": {**item, "state": {"S": "sending"}},
            "ApproximateCreationDateTime": int(start),
            "SequenceNumber": "1",
            "SizeBytes": 1,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    for _ in range(2):
        result = load_function("outbox").handler({"Records": [record]}, world.context)
        assert result["batchItemFailures"] == []
    again = follow_up(world)
    assert (again.reads, again.rev, again.reference) == (1, read.rev, reference)


def test_a_test_order_is_not_followed(world):
    delivered(world, test=True)
    assert Store(world.table_name).get_follow_up(ORDER_ID, "dropday") is None
    assert world.order(ORDER_ID)["follow_ups"] == {}


def test_the_follow_up_outcomes_are_what_the_view_documents():
    assert {o.value for o in FollowUpOutcome} == {"following", "problem", "held", "completed", "lost", "window_ended"}
