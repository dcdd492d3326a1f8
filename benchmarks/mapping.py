"""Mapping + encoding an order for Dropday: the canonical fixture with its line items repeated to
100 lines. to_dropday_order + clients.http.encode (simplejson, Decimal written with its exact digits)
against the stdlib json.dumps of the same Dropday order's model_dump(mode="json"), which turns every
Decimal into a string (which Dropday would refuse): the price of exact decimal amounts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from benchmarks._common import Headline, best_per_call, peak_bytes, say, table
from signbridge.destinations.dropday.mapper import to_dropday_order
from signbridge.mappers.product import to_product_mapping
from signbridge.models.items import ProductMapping
from signbridge.models.order import Order
from signbridge.models.signcustomiser import ProductCreated
from signbridge.outbound_http import encode
from tests.support.events import fixture

LINES = 100


def hundred_line_order() -> Order:
    body = fixture("canonical_order.json")
    template = body["line_items"]
    lines = []
    for i in range(LINES):
        line = dict(template[i % len(template)])
        line["id"] = f"line-{i + 1}"
        lines.append(line)
    body["line_items"] = lines
    body["subtotal"] = sum(line["unit_price"] * line["quantity"] for line in lines)
    body["total"] = body["subtotal"] - body["discounts"] + body["shipping"] + body["tax"]
    order = Order.model_validate(body)
    assert order.totals_problems() == [], order.totals_problems()
    return order


def design() -> dict[str, ProductMapping]:
    """What the product:created callback stored for sc-1 (as tests/unit/test_mappers.py builds it)."""
    product = ProductCreated.model_validate(fixture("signcustomiser_product_created.json")).product
    mapping = to_product_mapping(product, "sc-1", "2025-10-22T00:55:10+00:00")
    return {mapping.external_id: mapping}


def run() -> list[Headline]:
    order, products = hundred_line_order(), design()
    custom = {line.id for line in order.line_items if line.external_id in products}

    def map_order() -> Any:
        return to_dropday_order(order, products, custom, source="Neon Shop", test=False)

    dropday = map_order()

    def stdlib() -> bytes:
        return json.dumps(dropday.model_dump(mode="json", exclude_none=True)).encode()

    sides: dict[str, Callable[[], object]] = {
        "baseline": stdlib,
        "encode": lambda: encode(dropday),
        "map": map_order,
        "map+encode": lambda: encode(map_order()),
    }
    labels = {
        "baseline": 'stdlib json.dumps(model_dump(mode="json")), Decimals as strings',
        "encode": "clients.http.encode (simplejson, exact Decimal)",
        "map": "to_dropday_order alone",
        "map+encode": "to_dropday_order + encode",
    }
    exact, stringified = json.loads(encode(dropday)), json.loads(stdlib())
    assert isinstance(exact["total"], float) and isinstance(stringified["total"], str)

    best = best_per_call(sides)
    peaks = {name: peak_bytes(fn) for name, fn in sides.items()}
    size = len(encode(dropday))
    say(f"6. Mapping + encoding one order for Dropday ({LINES} lines, {LINES // 2} of them designs; {size:,} bytes)")
    say("   µs per order (best of 7); peak traced memory of one call (tracemalloc)")
    rows = [
        [
            labels[name],
            f"{best[name] * 1e6:.0f}",
            f"{best[name] / best['baseline']:.2f}x",
            f"{peaks[name] / 1024:.0f} KiB",
            f"{peaks[name] / peaks['baseline']:.2f}x",
        ]
        for name in sides
    ]
    say(table(["side", "µs/order", "vs baseline", "peak mem", "vs baseline"], rows))
    say()
    return [
        Headline(
            f"Map + encode a {LINES}-line order for Dropday (time)",
            f"{best['map+encode'] * 1e6:.0f} µs",
            f"{best['baseline'] * 1e6:.0f} µs stdlib json",
            f"{best['map+encode'] / best['baseline']:.2f}x the time",
        ),
        Headline(
            "… encoding alone, exact Decimal vs Decimal as string (time)",
            f"{best['encode'] * 1e6:.0f} µs",
            f"{best['baseline'] * 1e6:.0f} µs stdlib json",
            f"{best['encode'] / best['baseline']:.2f}x the time",
        ),
        Headline(
            "… encoding alone (peak memory)",
            f"{peaks['encode'] / 1024:.0f} KiB",
            f"{peaks['baseline'] / 1024:.0f} KiB stdlib json",
            f"{peaks['encode'] / peaks['baseline']:.2f}x the memory",
        ),
        Headline(
            f"Map + encode a {LINES}-line order for Dropday (peak memory)",
            f"{peaks['map+encode'] / 1024:.0f} KiB",
            f"{peaks['baseline'] / 1024:.0f} KiB stdlib json",
            f"{peaks['map+encode'] / peaks['baseline']:.2f}x the memory",
        ),
    ]
