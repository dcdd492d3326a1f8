"""Requests per order: one order's whole life through the in-process pipeline (DynamoDB Local,
the delivery queue in memory with SQS's limits, the provider fakes over HTTP, every function's
own handler as its event source runs it), counted, against the floor: the fewest requests and
capacity units the pipeline's guarantees need for the same life, priced from the same items.

The life: a pending order routed to all three destinations (Dropday's delivery waits for the
payment), Sign Customiser's order:created webhook for the order it made, then paid (releases it
to Dropday; Onward's order is updated), fulfilled (an Onward shipment), two shipment statuses
and a partial refund (Onward's order updated). A first order is run unmetered so that every
function is warm and its secrets cached, as in a busy account.

The floor, per part of the life (sizes are the run's own items, 1 KB per WCU, 4 KB per RCU):
- an order's intake: one eventually consistent read of each design's product mapping, and one
  transaction writing the order and a delivery per destination that will act on it (together,
  or an order could exist without its deliveries: the outbox), each delivery entering the sparse
  state index (the sweeper finds what is unsettled without reading settled history);
- an event's intake: one strongly consistent read of the order and the events before it (an
  event is checked against them), and one transaction writing the event, a sequence guard on a
  small item (events apply in one order, each once), and a delivery per destination that acts
  on it (one that only records an event needs no item);
- a delivery: one strongly consistent read of what it sends (the order, its event, the delivery),
  a conditional claim before the send (a worker that dies after sending leaves it in doubt,
  never resent blindly) and a conditional write of the outcome, each with the index upkeep its
  state change needs (its key changes on the claim: 2 index writes; it leaves on settling: 1);
- a held delivery released by payment: one conditional move;
- Sign Customiser's webhook: the Sign Customiser order recorded once and linked to the order (it
  confirms a delivery whose answer was lost): two puts-if-new in one transaction;
- SQS: one send request per stream batch (SendMessageBatch takes 10), one receive and one
  delete per batch the forwarder gets; Lambda: one invocation per API request, per stream batch
  carrying work and per queue batch; HTTP: one request per step a destination must be told.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import boto3

from benchmarks import _prices as prices
from benchmarks._common import Headline, say, table
from benchmarks._metering import Call, Meter, item_size, write_units
from benchmarks._world import http_requests, metered_world, restart
from signbridge import forwarding_root
from signbridge_tools.dynamodb_local import DynamoDBLocal
from tests.support.events import fixture
from tests.support.template import template
from tests.support.world import World

GOAL = 1.5
# Lambda's billed duration is modelled, not taken from this machine: DynamoDB Local on a shared
# machine answers in tens of ms where DynamoDB answers in a few, and the fakes answer on loopback
# where a destination takes a few hundred ms. Each invocation's own time measured here (its
# DynamoDB requests' time taken out) plus these.
DYNAMODB_MS = 8
DESTINATION_MS = 200
MEMORY_GB = int(template()["Globals"]["Function"]["MemorySize"]) / 1024
API_FUNCTIONS = ("orders", "webhooks", "products")


def the_order(order_id: str) -> dict[str, Any]:
    return fixture("canonical_order.json") | {"id": order_id, "financial_status": "pending"}


def the_events(prefix: str) -> list[tuple[str, dict[str, Any]]]:
    shipped = f"{prefix}-fulfilled"
    return [
        ("paid", {"id": f"{prefix}-paid", "type": "paid"}),
        (
            "fulfilled",
            {
                "id": shipped,
                "type": "fulfilled",
                "fulfilment": {
                    "carrier": "UPS",
                    "tracking_number": f"1Z{prefix}",
                    "lines": [{"line_id": "line-1", "quantity": 2}, {"line_id": "line-2", "quantity": 1}],
                },
            },
        ),
        (
            "shipment in_transit",
            {
                "id": f"{prefix}-transit",
                "type": "shipment_updated",
                "shipment": {"fulfilment_id": shipped, "status": "in_transit"},
            },
        ),
        (
            "shipment delivered",
            {
                "id": f"{prefix}-delivered",
                "type": "shipment_updated",
                "shipment": {"fulfilment_id": shipped, "status": "delivered"},
            },
        ),
        (
            "partial refund",
            {
                "id": f"{prefix}-refund",
                "type": "refunded",
                "refund": {"lines": [{"line_id": "line-2", "quantity": 1, "amount": 1500}]},
            },
        ),
    ]


@dataclass
class Step:
    name: str
    calls: list[Call]
    sqs: Counter[str]
    invocations: Counter[str]
    http: dict[str, list[str]]


def live(world: World, meter: Meter, order_id: str) -> list[Step]:
    """The order's life, step by step, each step run until the pipeline is idle."""
    steps: list[Step] = []
    requests: list[tuple[str, str, Any]] = [("create", "/orders", the_order(order_id))]
    requests += [(name, f"/orders/{order_id}/events", event) for name, event in the_events(order_id)]
    for name, path, body in requests:
        mark, sqs, invocations = meter.mark(), Counter(world.sqs.calls), Counter(meter.invocations)
        http = http_requests(world)
        answer = world.post("POST", path, body)
        assert answer["status"] == 202, answer
        world.settle()
        after = http_requests(world)
        steps.append(
            Step(
                name,
                meter.since(mark),
                Counter(world.sqs.calls) - sqs,
                Counter(meter.invocations) - invocations,
                {d: after[d][len(http[d]) :] for d in after},
            )
        )
    return steps


# ---------------------------------------------------------------------------- the floor
@dataclass
class Floor:
    """The floor of one step: capacity by (function, store method), and requests."""

    rcu: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    wcu: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    sqs: int = 0
    invocations: Counter[str] = field(default_factory=Counter)
    http: Counter[str] = field(default_factory=Counter)  # by destination: one request per delivery


def read_units(size: int) -> int:
    return max(1, math.ceil(size / 4096))


def partition(world: World, order_id: str) -> dict[str, dict[str, Any]]:
    client = boto3.client("dynamodb")
    answer = client.query(
        TableName=world.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ORDER#{order_id}"}},
        ConsistentRead=True,
    )
    return {item["SK"]["S"]: item for item in answer["Items"]}


def sizing_check(world: World, order_id: str) -> list[list[str]]:
    """The sizing rules the transactions are priced by, against DynamoDB Local's own capacity for
    a PutItem of the same item (under another key, with no index attributes)."""
    client = boto3.client("dynamodb")
    rows = []
    items = partition(world, order_id)
    for what, sk in (("order", "ORDER"), ("event", min(k for k in items if k.startswith("EVENT#")))):
        copy = {k: v for k, v in items[sk].items() if k not in ("state_key", "due_at")}
        copy["PK"] = {"S": f"SIZING#{sk}"}
        answer = client.put_item(TableName=world.table_name, Item=copy, ReturnConsumedCapacity="TOTAL")
        local = answer["ConsumedCapacity"]["CapacityUnits"]
        rows.append([what, str(item_size(copy)), str(write_units(item_size(copy))), f"{local:g}"])
        client.delete_item(TableName=world.table_name, Key={"PK": copy["PK"], "SK": copy["SK"]})
    return rows


def item_sizes(world: World, order_id: str) -> str:
    items = partition(world, order_id)
    kinds: defaultdict[str, list[int]] = defaultdict(list)
    for sk, item in items.items():
        kind = "event delivery" if "#EVENT#" in sk else sk.split("#", 1)[0].lower()
        kinds[kind].append(item_size(item))
    return ", ".join(f"{k} {min(v)}-{max(v)} B" if len(v) > 1 else f"{k} {v[0]} B" for k, v in sorted(kinds.items()))


def floors(world: World, order_id: str, steps: list[Step]) -> list[Floor]:
    items = partition(world, order_id)
    order = items["ORDER"]
    size = {sk: item_size(item) for sk, item in items.items()}
    events = sorted((int(i["seq"]["N"]), sk) for sk, i in items.items() if sk.startswith("EVENT#"))
    deliveries = {sk: i for sk, i in items.items() if sk.startswith("DELIVERY#")}
    acting = {sk: d for sk, d in deliveries.items() if d["state"]["S"] != "skipped"}
    astray = {sk: d["state"]["S"] for sk, d in acting.items() if d["state"]["S"] != "delivered"}
    assert not astray, f"the life went astray (a slow machine?), deliveries not delivered: {astray}"
    held = {
        sk
        for sk, d in acting.items()
        if "event_seq" not in d and forwarding_root.traits(d["destination"]["S"]).hold_until_paid
    }
    result = [Floor() for _ in steps]

    def attempt(floor: Floor, sk: str, reads: int) -> None:
        w = write_units(size[sk])
        floor.rcu[("forwarder", "get_order_state")] += read_units(reads + size[sk])
        floor.wcu[("forwarder", "move")] += (w + 2 * w) + (w + w)  # the claim, then the outcome
        floor.http[acting[sk]["destination"]["S"]] += 1  # each delivery here is one step: one request

    def batch(floor: Floor, messages: int) -> None:
        floor.sqs += 3 if messages else 0  # one send, one receive, one delete
        floor.invocations["outbox"] += 1 if messages else 0
        floor.invocations["forwarder"] += 1 if messages else 0

    # The order's intake, its deliveries not held, Sign Customiser's webhook.
    create = result[0]
    designs = order.get("designs", {}).get("M", {})
    create.rcu[("orders", "get_products_by_external_id")] = 0.5 * len(designs)
    order_deliveries = [sk for sk in acting if "event_seq" not in acting[sk]]
    create.wcu[("orders", "create_order")] = 2 * write_units(size["ORDER"]) + sum(
        3 * write_units(size[sk]) for sk in order_deliveries
    )
    for sk in order_deliveries:
        if sk not in held:
            attempt(create, sk, size["ORDER"])
    links = [sk for sk in items if sk.startswith("SCORDER#")]
    create.wcu[("webhooks", "record_webhook")] = sum(2 * write_units(size[sk]) * 2 for sk in links)
    create.invocations.update({"orders": 1, "webhooks": len(links)})
    batch(create, len(order_deliveries) - len(held))

    # Each event: its intake, what it releases, its deliveries.
    for (seq, event_sk), floor in zip(events, result[1:], strict=True):
        before = sum(size[sk] for s, sk in events if s < seq)
        floor.rcu[("orders", "get_order_state")] = read_units(size["ORDER"] + before)
        own = [sk for sk, d in acting.items() if d.get("event_seq", {}).get("N") == str(seq)]
        floor.wcu[("orders", "record_event")] = (
            2 * write_units(size[event_sk]) + 2 + sum(3 * write_units(size[sk]) for sk in own)
        )
        released = held if items[event_sk]["type"]["S"] == "paid" else set()
        for sk in released:
            floor.wcu[("orders", "move")] += 3 * write_units(size[sk])
            attempt(floor, sk, size["ORDER"])
        for sk in own:
            attempt(floor, sk, size["ORDER"] + size[event_sk])
        floor.invocations["orders"] += 1
        batch(floor, len(own) + len(released))
    return result


# ---------------------------------------------------------------------------- report
def _method(call: Call) -> str:
    return call.caller.rsplit(".", 1)[-1]


def sqs_requests(step: Step) -> Counter[str]:
    """SQS requests a step costs: the event source's empty polls are left out (an idle queue
    is polled whatever the orders; see the docs)."""
    counted = Counter(step.sqs)
    counted["ReceiveMessage"] = step.invocations["forwarder"]
    return +counted


def cost(rcu: float, wcu: float, sqs: int, invocations: Counter[str], gb_seconds: float, api: int) -> float:
    return (
        prices.DYNAMODB_READ.of(rcu)
        + prices.DYNAMODB_WRITE.of(wcu)
        + prices.SQS_STANDARD.of(sqs)
        + prices.LAMBDA_REQUESTS.of(sum(invocations.values()))
        + prices.LAMBDA_ARM64.of(gb_seconds)
        + prices.API_GATEWAY_REST.of(api)
    )


def run() -> list[Headline]:
    with DynamoDBLocal() as ddb, metered_world(ddb) as (world, meter):
        meter.on = False
        live(world, meter, "warm-up-order")  # every function warm, every secret cached
        restart(world, meter)
        steps = live(world, meter, "order-cost-1")
        meter.on = False
        floor = floors(world, "order-cost-1", steps)
        sizes, sizing = item_sizes(world, "order-cost-1"), sizing_check(world, "order-cost-1")
        stream_reads = Counter(meter.stream_reads)
        ssm = (sum(meter.ssm_reads.values()), meter.ssm_lookups)
        durations = {name: list(values) for name, values in meter.durations.items()}
    return report(steps, floor, stream_reads, ssm, durations, (sizes, sizing))


def report(
    steps: list[Step],
    floor: list[Floor],
    stream_reads: Counter[str],
    ssm: tuple[int, int],
    durations: dict[str, list[float]],
    sizes: tuple[str, list[list[str]]],
) -> list[Headline]:
    """The tables and the summary's rows."""
    say("Requests per order: one order's life on DynamoDB Local and the fakes, against the floor")
    rows = []
    for step, f in zip(steps, floor, strict=True):
        rows.append(
            [
                step.name,
                f"{sum(c.rcu for c in step.calls):g}",
                f"{sum(f.rcu.values()):g}",
                f"{sum(c.wcu for c in step.calls):g}",
                f"{sum(f.wcu.values()):g}",
                str(len(step.calls)),
                str(sum(sqs_requests(step).values())),
                str(f.sqs),
                str(sum(step.invocations.values())),
                str(sum(f.invocations.values())),
                str(sum(len(v) for v in step.http.values())),
            ]
        )
    rcu = sum(c.rcu for s in steps for c in s.calls)
    wcu = sum(c.wcu for s in steps for c in s.calls)
    floor_rcu = sum(sum(f.rcu.values()) for f in floor)
    floor_wcu = sum(sum(f.wcu.values()) for f in floor)
    sqs = sum((sqs_requests(s) for s in steps), Counter())
    invocations = sum((s.invocations for s in steps), Counter())
    floor_invocations = sum((f.invocations for f in floor), Counter())
    floor_sqs = sum(f.sqs for f in floor)
    http: Counter[str] = Counter()
    for s in steps:
        http.update({d: len(v) for d, v in s.http.items()})
    floor_http = sum((f.http for f in floor), Counter())
    rows.append(
        [
            "whole life",
            f"{rcu:g}",
            f"{floor_rcu:g}",
            f"{wcu:g}",
            f"{floor_wcu:g}",
            str(sum(len(s.calls) for s in steps)),
            str(sum(sqs.values())),
            str(floor_sqs),
            str(sum(invocations.values())),
            str(sum(floor_invocations.values())),
            str(sum(http.values())),
        ]
    )
    headers = ["step", "RCU", "floor", "WCU", "floor", "DynamoDB reqs", "SQS", "floor", "Lambda", "floor", "HTTP"]
    say(table(headers, rows))
    say()

    # Where the capacity goes, and how far each part is from its floor.
    say("   by function and store method (capacity units; the floor's share of each):")
    measured: dict[tuple[str, str], list[Call]] = defaultdict(list)
    for s in steps:
        for c in s.calls:
            measured[(c.function, _method(c))].append(c)
    floor_by: defaultdict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for f in floor:
        for key, units in f.rcu.items():
            floor_by[key][0] += units
        for key, units in f.wcu.items():
            floor_by[key][1] += units
    lines = []
    for key in sorted(set(measured) | set(floor_by)):
        calls = measured.get(key, [])
        ops = Counter(c.operation for c in calls)
        m_r, m_w = sum(c.rcu for c in calls), sum(c.wcu for c in calls)
        f_r, f_w = floor_by.get(key, [0.0, 0.0])
        lines.append(
            [
                f"{key[0]}: {key[1]}",
                ", ".join(f"{n} {op}" for op, n in sorted(ops.items())),
                f"{m_r:g}",
                f"{f_r:g}",
                f"{m_w:g}",
                f"{f_w:g}",
                f"{(m_r + m_w) - (f_r + f_w):+g}",
            ]
        )
    say(table(["function: method", "requests", "RCU", "floor", "WCU", "floor", "excess CU"], lines))
    refused = [c for s in steps for c in s.calls if c.refused]
    say(f"   writes refused by their condition (billed all the same): {len(refused)}")
    say(f"   the order's items at the end of its life: {sizes[0]}")
    say("   the sizing rules (transactions are priced by them) against DynamoDB Local's PutItem of the same item:")
    say("     " + table(["item", "bytes", "WCU by the rules", "by DynamoDB Local"], sizes[1]).replace("\n", "\n     "))
    say()

    by_destination = ", ".join(f"{d} {n}" for d, n in sorted(http.items()))
    floor_by_destination = ", ".join(f"{d} {n}" for d, n in sorted(floor_http.items()))
    say(f"   HTTP requests by destination: {by_destination}; floor {floor_by_destination} (one per step to tell)")
    for s in steps:
        told = "; ".join(f"{d}: {', '.join(v)}" for d, v in s.http.items() if v)
        say(f"     {s.name}: {told or 'none'}")
    say(f"   SQS requests by API: {dict(sorted(sqs.items()))} (the event source's empty polls left out)")
    say(f"   Lambda invocations by function: {dict(sorted(invocations.items()))}; floor {dict(floor_invocations)}")
    say(
        f"   DynamoDB Streams: {dict(stream_reads)} (the harness reads after each write; a Lambda trigger's reads"
        " are free)"
    )
    say(
        f"   SSM GetParameter reads: {ssm[0]} of {ssm[1]} lookups (the rest from Powertools' cache; a container"
        " reads each of its secrets once per SECRETS_MAX_AGE_SECONDS, whatever the orders)"
    )

    # Dollars per 1,000 orders.
    api = sum(invocations[f] for f in API_FUNCTIONS)
    floor_api = sum(floor_invocations[f] for f in API_FUNCTIONS)
    calls_by: defaultdict[str, list[Call]] = defaultdict(list)
    for s in steps:
        for c in s.calls:
            calls_by[c.function].append(c)
    here_ms = {name: sum(values) * 1000 for name, values in durations.items()}
    modelled_ms = {
        name: here_ms[name]
        - sum(c.seconds for c in calls_by[name]) * 1000
        + DYNAMODB_MS * len(calls_by[name])
        + (DESTINATION_MS * sum(http.values()) if name == "forwarder" else 0)
        + len(durations[name])  # billed by the ms, rounded up
        for name in durations
    }
    gb_seconds = sum(modelled_ms.values()) / 1000 * MEMORY_GB
    floor_gb_seconds = gb_seconds * sum(floor_invocations.values()) / max(1, sum(invocations.values()))
    dollars = 1000 * cost(rcu, wcu, sum(sqs.values()), invocations, gb_seconds, api)
    floor_dollars = 1000 * cost(floor_rcu, floor_wcu, floor_sqs, floor_invocations, floor_gb_seconds, floor_api)
    say(
        "   Lambda duration, ms by function: measured here "
        + str({k: round(v) for k, v in here_ms.items()})
        + f"; modelled for AWS ({DYNAMODB_MS} ms a DynamoDB request, {DESTINATION_MS} ms a destination's answer) "
        + str({k: round(v) for k, v in modelled_ms.items()})
        + f": {gb_seconds:.2f} GB-s at {MEMORY_GB * 1024:.0f} MB"
    )
    parts = {
        "DynamoDB reads": prices.DYNAMODB_READ.of(rcu),
        "DynamoDB writes": prices.DYNAMODB_WRITE.of(wcu),
        "SQS": prices.SQS_STANDARD.of(sum(sqs.values())),
        "Lambda requests": prices.LAMBDA_REQUESTS.of(sum(invocations.values())),
        "Lambda duration": prices.LAMBDA_ARM64.of(gb_seconds),
        "API Gateway": prices.API_GATEWAY_REST.of(api),
    }
    say(f"   dollars per 1,000 orders, us-east-1 on-demand, prices of {prices.AS_OF}:")
    say("     " + "; ".join(f"{k} ${v * 1000:.4f}" for k, v in parts.items()) + f"; total ${dollars:.4f}")
    for price in prices.ALL:
        say(f"       {price}")
    say()

    total, floor_total = rcu + wcu, floor_rcu + floor_wcu
    ratio = total / floor_total
    verdict = f" (goal {GOAL}x)" if ratio > GOAL else f" (goal {GOAL}x: met)"
    requests = sum(len(s.calls) for s in steps)
    return [
        Headline(
            "Requests per order: DynamoDB capacity units, RCU + WCU (one order's life, 6 requests to the API)",
            f"{rcu:g} + {wcu:g} = {total:g} CU",
            f"{floor_rcu:g} + {floor_wcu:g} = {floor_total:g} CU floor",
            f"{ratio:.2f}x the floor{verdict}",
        ),
        Headline(
            "… reads / writes alone",
            f"{rcu:g} RCU / {wcu:g} WCU ({requests} requests)",
            f"{floor_rcu:g} RCU / {floor_wcu:g} WCU",
            f"{rcu / floor_rcu:.2f}x / {wcu / floor_wcu:.2f}x the floor",
        ),
        Headline(
            "… SQS requests / Lambda invocations / HTTP requests to destinations",
            f"{sum(sqs.values())} / {sum(invocations.values())} / {sum(http.values())} ({by_destination})",
            f"{floor_sqs} / {sum(floor_invocations.values())} / {sum(floor_http.values())} floor",
            f"{sum(sqs.values()) / floor_sqs:.2f}x / {sum(invocations.values()) / sum(floor_invocations.values()):.2f}x"
            f" / {sum(http.values()) / sum(floor_http.values()):.2f}x the floor",
        ),
        Headline(
            "Cost per 1,000 orders, us-east-1 on-demand (DynamoDB, SQS, Lambda arm64, API Gateway REST)",
            f"${dollars:.3f}",
            f"${floor_dollars:.3f} floor",
            f"{dollars / floor_dollars:.2f}x the floor",
        ),
    ]
