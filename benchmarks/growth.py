"""Growth: what the periodic and per-order work costs as history piles up.

1. One sweep (the sweeper's handler, as its schedule runs it) with 1,000 / 10,000 (and, with
   SIGNBRIDGE_BENCH_LARGE=1, 100,000) settled orders in the table and 100 unsettled ones, against
   the same sweep at 1,000: the goal is flat in the settled history (the sweeper reads only the
   sparse state index, never settled items). The history is written straight to the table with
   batch writes: copies, under new ids, of the items one real order's life left (its order,
   deliveries and Sign Customiser link), through the store's own models and item mapping.
2. ``GET /orders/{id}`` with 1 / 10 / 100 events on the order (the pipeline delivered each), its
   reads and time, against 1 event; and the intake of the order's latest event at each size.
3. The Dropday follow-up with 10 / 1,000 orders in flight: one sweep with that many follow-ups
   due (written straight to the table, each pointing at one real order Dropday accepted), its
   reads of Dropday (at most the per-run cap) and of the table, and its time.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import boto3

from benchmarks._common import Headline, say, table
from benchmarks._metering import Meter, overhead_seconds
from benchmarks._world import http_requests, metered_world, restart
from benchmarks.order_cost import the_order
from signbridge.lifecycle import DeliveryState
from signbridge.models.events import OrderEvent
from signbridge.models.items import (
    delivery_key,
    delivery_state_key,
    order_event_key,
    order_key,
    sc_order_link_key,
)
from signbridge.store import Store
from signbridge.store.base import to_item
from signbridge_tools.dynamodb_local import DynamoDBLocal
from tests.support.world import World

LARGE = os.environ.get("SIGNBRIDGE_BENCH_LARGE") == "1"
HISTORY = (1_000, 10_000, 100_000) if LARGE else (1_000, 10_000)
UNSETTLED_ORDERS = 100
EVENTS = (1, 10, 100)
SWEEPS = 3  # a size's sweep is run this often; its time is the median
GETS = 15


# ---------------------------------------------------------------------------- writing history
def copies_of(world: World, order_id: str, count: int, start: int, *, unsettled: bool = False) -> list[dict[str, Any]]:
    """Items of ``count`` orders shaped like ``order_id``'s, as the store writes them. Unsettled:
    Dropday's delivery awaits the payment and (two in five) Onward's is retrying, not yet due."""
    state = Store(world.table_name).get_order_state(order_id)
    assert state is not None
    now = int(world.clock.now)
    items: list[dict[str, Any]] = []
    for n in range(start, start + count):
        new = f"{'open' if unsettled else 'settled'}-{n:06d}"
        items.append(to_item(order_key(new), state.order.model_copy(update={"order_id": new})))
        for link in state.sc_orders:
            linked = link.model_copy(update={"external_id": new, "sc_order_id": 1_000_000 + n})
            items.append(to_item(sc_order_link_key(new, linked.sc_order_id), linked))
        for d in state.deliveries:
            update: dict[str, Any] = {"order_id": new}
            if unsettled and d.destination == "dropday":
                update |= {"state": DeliveryState.AWAITING_PAYMENT, "attempts": 0, "destination_ref": None}
            elif unsettled and d.destination == "onward" and n % 5 < 2:
                update |= {"state": DeliveryState.RETRYING, "next_attempt_at": now + 3_600, "destination_ref": None}
            copied = d.model_copy(update=update)
            index: dict[str, Any] = {}
            if not copied.state.settled:
                index["state_key"] = delivery_state_key(copied.destination, copied.state)
                index["due_at"] = copied.due_at(now)
            items.append(to_item(delivery_key(new, copied.destination), copied, **index))
    return items


def batch_write(table_name: str, items: list[dict[str, Any]]) -> None:
    client = boto3.client("dynamodb")

    def write(chunk: list[dict[str, Any]]) -> None:
        request: Any = {table_name: [{"PutRequest": {"Item": item}} for item in chunk]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, [items[i : i + 25] for i in range(0, len(items), 25)]))


def settled_order(world: World, order_id: str) -> None:
    """One real order's life to the end, to copy: created, paid, every delivery delivered."""
    assert world.post("POST", "/orders", the_order(order_id))["status"] == 202
    world.settle()
    assert world.post("POST", f"/orders/{order_id}/events", {"id": f"{order_id}-paid", "type": "paid"})["status"] == 202
    world.settle()


# ---------------------------------------------------------------------------- measuring
def measured(meter: Meter, action: Callable[[], Any]) -> dict[str, Any]:
    mark, overhead = meter.mark(), overhead_seconds()
    started = time.perf_counter()
    action()
    took = time.perf_counter() - started - (overhead_seconds() - overhead)
    calls = meter.since(mark)
    return {
        "rcu": sum(c.rcu for c in calls),
        "wcu": sum(c.wcu for c in calls),
        "requests": len(calls),
        "ops": Counter(c.operation for c in calls),
        "seconds": took,
        "dynamodb_seconds": sum(c.seconds for c in calls),
    }


def sweeps(ddb: DynamoDBLocal) -> list[dict[str, Any]]:
    results = []
    with metered_world(ddb) as (world, meter):
        meter.on = False
        settled_order(world, "template-order")
        open_items = copies_of(world, "template-order", UNSETTLED_ORDERS, 0, unsettled=True)
        batch_write(world.table_name, open_items)
        written = 0
        for size in HISTORY:
            started = time.perf_counter()
            for start in range(written, size, 5_000):
                batch_write(world.table_name, copies_of(world, "template-order", min(5_000, size - start), start))
            took = time.perf_counter() - started
            written = size
            world.sweep()  # warm
            restart(world, meter)
            runs = []
            for _ in range(SWEEPS):
                sqs = Counter(world.sqs.calls)
                swept: list[dict[str, Any]] = []

                def sweep(into: list[dict[str, Any]] = swept) -> None:
                    into.append(world.sweep())

                run = measured(meter, sweep)
                run["sqs"] = sum((Counter(world.sqs.calls) - sqs).values())
                run["summary"] = swept[0]
                runs.append(run)
            meter.on = False
            result = dict(runs[0])
            result["seconds"] = statistics.median(r["seconds"] for r in runs)
            result["dynamodb_seconds"] = statistics.median(r["dynamodb_seconds"] for r in runs)
            result["settled"], result["setup_seconds"] = size, took
            results.append(result)
            say(
                f"   {size:,} settled orders written in {took:.1f} s; sweep: {result['requests']} queries,"
                f" {result['rcu']:g} RCU, {result['wcu']:g} WCU, {result['seconds'] * 1000:.0f} ms"
                f" ({result['dynamodb_seconds'] * 1000:.0f} ms of it in DynamoDB Local)"
            )
    return results


def shipment(n: int) -> dict[str, Any]:
    statuses = ("in_transit", "out_for_delivery", "delayed", "attempted_delivery")
    return {
        "id": f"e-status-{n:03d}",
        "type": "shipment_updated",
        "shipment": {"fulfilment_id": "e-shipped", "status": statuses[n % len(statuses)]},
    }


def copies_of_event(world: World, order_id: str, seqs: range) -> list[dict[str, Any]]:
    """Items of the order's events numbered ``seqs``, shaped like its third (a shipment status that
    went to Onward): the event and its deliveries, as the store writes them."""
    state = Store(world.table_name).get_order_state(order_id)
    assert state is not None
    model = next(e for e in state.events if e.seq == 3)
    deliveries = [d for d in state.event_deliveries if d.event_seq == 3]
    items = []
    for seq in seqs:
        body = OrderEvent.model_validate_json(model.body).model_copy(update={"id": f"e-copy-{seq:03d}"})
        text = body.model_dump_json()
        event = model.model_copy(
            update={"event_id": body.id, "seq": seq, "body": text, "digest": hashlib.sha256(text.encode()).hexdigest()}
        )
        items.append(to_item(order_event_key(order_id, event.event_id), event))
        for d in deliveries:
            items.append(to_item(delivery_key(order_id, d.destination, seq), d.model_copy(update={"event_seq": seq})))
    return items


def gets(ddb: DynamoDBLocal) -> list[dict[str, Any]]:
    """The order gets its events through the API (each delivered by the pipeline), but for the
    shipment statuses between the third and the last of each size: those are written straight to
    the table, copies of the third. The last event of each size is the API's, its intake metered."""
    results = []
    with metered_world(ddb) as (world, meter):
        meter.on = False
        order_id = "many-events"
        assert world.post("POST", "/orders", the_order(order_id))["status"] == 202
        world.settle()
        fulfilled = {
            "id": "e-shipped",
            "type": "fulfilled",
            "fulfilment": {
                "carrier": "UPS",
                "tracking_number": "1ZMANY",
                "lines": [{"line_id": "line-2", "quantity": 1}],
            },
        }
        first = [{"id": "e-paid", "type": "paid"}, fulfilled, shipment(3)]
        restart(world, meter)
        recorded = 0
        for size in EVENTS:
            if recorded >= 3 and size - 1 > recorded:
                batch_write(world.table_name, copies_of_event(world, order_id, range(recorded + 1, size)))
                boto3.client("dynamodb").update_item(
                    TableName=world.table_name,
                    Key={"PK": {"S": f"ORDER#{order_id}"}, "SK": {"S": "ORDER"}},
                    UpdateExpression="SET event_count = :n",
                    ExpressionAttributeValues={":n": {"N": str(size - 1)}},
                )
                recorded = size - 1
            intake: dict[str, Any] = {}
            while recorded < size:
                event = first[recorded] if recorded < len(first) else shipment(recorded + 1)
                meter.on = recorded == size - 1
                intake = measured(meter, partial(world.post, "POST", f"/orders/{order_id}/events", event))
                meter.on = False
                world.settle()
                recorded += 1
            meter.on = True
            answer = measured(meter, partial(world.order, order_id))
            meter.on = False
            times = []
            for _ in range(GETS):
                started = time.perf_counter()
                body = world.order(order_id)
                times.append(time.perf_counter() - started)
            answer["seconds"] = statistics.median(times)
            answer["events"], answer["intake"] = len(body["timeline"]), intake
            assert answer["events"] == size, answer["events"]
            states = [d["state"] for e in body["timeline"] for d in e["deliveries"].values()]
            states += [d["state"] for d in body["deliveries"].values()]
            assert set(states) <= {"delivered", "skipped"}, f"the life went astray (a slow machine?): {states}"
            for event in first[recorded:]:  # the events a copy is made of
                world.post("POST", f"/orders/{order_id}/events", event)
                world.settle()
                recorded += 1
            results.append(answer)
    return results


def dropday_follow_up(ddb: DynamoDBLocal, in_flight: int) -> dict[str, Any] | None:
    """One sweep with ``in_flight`` accepted orders whose follow-up read is due, metered like a
    sweep: the table's capacity, and the reads of Dropday's order endpoint (at most the cap)."""
    from signbridge.models.follow_up import FollowUpRecord, follow_up_index_key, follow_up_key

    with metered_world(ddb) as (world, meter):
        meter.on = False
        settled_order(world, "template-order")
        delivery = Store(world.table_name).get_delivery("template-order", "dropday")
        assert delivery is not None and delivery.destination_ref is not None
        now = int(world.clock.now)
        items = []
        for n in range(in_flight):
            record = FollowUpRecord(
                order_id=f"flight-{n:06d}",
                destination="dropday",
                reference=delivery.destination_ref,
                accepted_at=now - 600,
                next_read_at=now - n % 600,
                updated_at=delivery.updated_at,
            )
            index = {"state_key": follow_up_index_key("dropday", "reading"), "due_at": record.next_read_at}
            items.append(to_item(follow_up_key(record.order_id, "dropday"), record, **index))
        batch_write(world.table_name, items)
        restart(world, meter)
        swept: list[dict[str, Any]] = []
        result = measured(meter, lambda: swept.append(world.sweep()))
        meter.on = False
        result["in_flight"] = in_flight
        result["dropday_reads"] = sum(1 for r in http_requests(world).get("dropday", []) if r.startswith("GET "))
        result["summary"] = swept[0]
    say(
        f"   Dropday follow-up, {in_flight:,} in flight: {result['dropday_reads']} reads of Dropday,"
        f" {result['requests']} DynamoDB requests, {result['rcu']:g} RCU, {result['wcu']:g} WCU,"
        f" {result['seconds'] * 1000:.0f} ms"
    )
    return result


# ---------------------------------------------------------------------------- report
def run() -> list[Headline]:
    say("Growth: one sweep against the settled history; GET /orders/{id} against the order's events")
    # An engine each: DynamoDB Local (SQLite) slows down under the sweep's large table.
    with DynamoDBLocal() as ddb:
        swept = sweeps(ddb)
    with DynamoDBLocal() as ddb:
        got = gets(ddb)
        followed = {n: dropday_follow_up(ddb, n) for n in (10, 1_000)}
    base = swept[0]
    rows = [
        [
            f"{r['settled']:,}",
            str(r["requests"]),
            f"{r['rcu']:g}",
            f"{r['wcu']:g}",
            str(r["sqs"]),
            f"{r['seconds'] * 1000:.0f}",
            f"{(r['seconds'] - r['dynamodb_seconds']) * 1000:.0f}",
            f"{r['rcu'] / base['rcu']:.2f}x",
            f"{r['seconds'] / base['seconds']:.2f}x",
        ]
        for r in swept
    ]
    headers = ["settled orders", "queries", "RCU", "WCU", "SQS", "ms", "ms outside DynamoDB", "RCU vs first", "time"]
    say(table(headers, rows))
    say(
        "   time: the sweeper's handler in process; its queries' time is DynamoDB Local's (whose index reads"
        " are SQLite's, not DynamoDB's), the rest is the sweeper's own"
    )
    found = swept[-1]["summary"].get("counts")
    say(
        f"   {UNSETTLED_ORDERS} unsettled orders besides ({UNSETTLED_ORDERS} Dropday deliveries awaiting payment,"
        f" {UNSETTLED_ORDERS * 2 // 5} Onward deliveries retrying); the sweep found {found}"
    )
    if not LARGE:
        say("   (100,000 settled orders: SIGNBRIDGE_BENCH_LARGE=1 python -m benchmarks growth)")
    say()
    one = got[0]
    rows = [
        [
            str(r["events"]),
            f"{r['rcu']:g}",
            f"{r['seconds'] * 1000:.1f}",
            f"{r['rcu'] / one['rcu']:.1f}x",
            f"{r['seconds'] / one['seconds']:.2f}x",
            f"{r['intake']['rcu']:g}",
            f"{r['intake']['wcu']:g}",
            f"{r['intake']['seconds'] * 1000:.0f}",
        ]
        for r in got
    ]
    say(table(["events", "GET RCU", "GET ms", "RCU vs 1", "time vs 1", "last event's intake RCU", "WCU", "ms"], rows))
    say("   GET: one strongly consistent Query of the order's partition (the order, its events, every delivery)")
    say()
    measured_follow_ups = [r for r in followed.values() if r is not None]
    if measured_follow_ups:
        rows = [
            [
                f"{r['in_flight']:,}",
                str(r["dropday_reads"]),
                str(r["requests"]),
                f"{r['rcu']:g}",
                f"{r['wcu']:g}",
                f"{r['seconds'] * 1000:.0f}",
            ]
            for r in measured_follow_ups
        ]
        say(table(["follow-ups due", "Dropday reads", "DynamoDB requests", "RCU", "WCU", "ms"], rows))
        say("   one sweep: the due follow-ups are read from the index, at most FOLLOW_UP_READS_PER_RUN (50) per run")
        say()
    last, biggest = swept[-1], got[-1]
    headlines = [
        Headline(
            f"One sweep, {last['settled']:,} settled + {UNSETTLED_ORDERS} unsettled orders: RCU / time",
            f"{last['rcu']:g} RCU ({last['requests']} queries) / {last['seconds'] * 1000:.0f} ms",
            f"{base['rcu']:g} RCU / {base['seconds'] * 1000:.0f} ms at {base['settled']:,} settled",
            f"{last['rcu'] / base['rcu']:.2f}x / {last['seconds'] / base['seconds']:.2f}x (goal: flat)",
        ),
        Headline(
            f"GET /orders/{{id}} with {biggest['events']} events: RCU / time",
            f"{biggest['rcu']:g} RCU / {biggest['seconds'] * 1000:.1f} ms",
            f"{one['rcu']:g} RCU / {one['seconds'] * 1000:.1f} ms with 1 event",
            f"{biggest['rcu'] / one['rcu']:.1f}x / {biggest['seconds'] / one['seconds']:.2f}x",
        ),
        Headline(
            f"… the intake of an order's event number {biggest['events']}: RCU",
            f"{biggest['intake']['rcu']:g} RCU",
            f"{one['intake']['rcu']:g} RCU for its first",
            f"{biggest['intake']['rcu'] / one['intake']['rcu']:.1f}x",
        ),
    ]
    small, large = followed.get(10), followed.get(1_000)
    if small is not None and large is not None:
        headlines.append(
            Headline(
                "One sweep's Dropday follow-up, 1,000 orders in flight: reads / RCU / time",
                f"{large['dropday_reads']} reads / {large['rcu']:g} RCU / {large['seconds'] * 1000:.0f} ms",
                f"{small['dropday_reads']} reads / {small['rcu']:g} RCU / {small['seconds'] * 1000:.0f} ms with 10",
                f"{large['rcu'] / small['rcu']:.1f}x RCU (reads capped at 50 per run)",
            )
        )
    return headlines
