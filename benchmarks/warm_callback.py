"""Warm product callback: the products handler, invoked again and again in one process, against
the floor of what any such endpoint must do: verify the HMAC of the signed body and make one
conditional PutItem, on the same DynamoDB Local. Each call carries a product never seen before
(a new mapping: the handler's transaction of two conditional puts). Requests are signed before
the clock starts; calls alternate between the sides; p50 and p99 per call.

A third side shows where the gap comes from: the same HMAC and the same write as the handler's
(one TransactWriteItems of two conditional puts, the mapping stored both ways).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import statistics
import time
from contextlib import redirect_stdout
from typing import Any

import boto3

from benchmarks._common import Headline, say, table
from benchmarks._lambda_like import product_created
from signbridge import roots
from signbridge.store import dynamodb_client
from signbridge_tools.dynamodb_local import DynamoDBLocal
from tests.conftest import BASE_ENV, INTEGRATION_SECRET, LambdaContext, load_function
from tests.support.template import table_definition

CALLS = 400
WARM_UP = 30
GOAL = 1.2


def percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def run() -> list[Headline]:
    with DynamoDBLocal() as ddb:
        saved = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.endpoint_url
        roots.reset()
        try:
            boto3.client("dynamodb").create_table(TableName=BASE_ENV["TABLE_NAME"], **table_definition())
            times = measure()
        finally:
            if saved is None:
                os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
            else:
                os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = saved
            roots.reset()

    say(f"4. Warm product callback: {CALLS} calls a side, alternating, each a new product; ms per call")
    rows = []
    for name, values in times.items():
        rows.append([name, *(f"{percentile(values, p) * 1000:.2f}" for p in (50, 90, 99))])
    say(table(["side", "p50", "p90", "p99"], rows))
    handler, floor, same_write = times.values()
    say("   the handler writes the mapping both ways (product id -> external id and back) in one transaction;")
    say(
        f"   against HMAC + that same transaction it takes {percentile(handler, 50) / percentile(same_write, 50):.2f}x"
        f" (p50) / {percentile(handler, 99) / percentile(same_write, 99):.2f}x (p99) the time"
    )
    say()
    headlines = []
    for p in (50, 99):
        ratio = percentile(handler, p) / percentile(floor, p)
        verdict = "" if ratio <= GOAL else f" (goal {GOAL}x)"
        headlines.append(
            Headline(
                f"Warm product callback, p{p}",
                f"{percentile(handler, p) * 1000:.2f} ms",
                f"{percentile(floor, p) * 1000:.2f} ms HMAC + 1 conditional PutItem",
                f"{ratio:.2f}x the time{verdict}",
            )
        )
    return headlines


def measure() -> dict[str, list[float]]:
    products = load_function("products")
    context = LambdaContext()
    client = dynamodb_client()  # the store's own client configuration
    key = INTEGRATION_SECRET.encode()
    table_name = BASE_ENV["TABLE_NAME"]

    def verified(event: dict[str, Any]) -> int | None:
        headers, body = event["headers"], event["body"].encode()
        timestamp = headers["x-webhook-timestamp"]
        expected = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers["x-webhook-signature"]):
            return None
        return int(json.loads(body)["product"]["product_id"])

    def item(pk: str, product_id: int) -> dict[str, Any]:
        return {"PK": {"S": pk}, "SK": {"S": "MAPPING"}, "external_id": {"S": f"sc-{product_id}"}}

    def floor(event: dict[str, Any], context: Any) -> dict[str, Any]:
        product_id = verified(event)
        if product_id is None:
            return {"statusCode": 401}
        client.put_item(
            TableName=table_name,
            Item=item(f"FLOOR#{product_id}", product_id),
            ConditionExpression="attribute_not_exists(PK)",
        )
        return {"statusCode": 200, "body": json.dumps({"external_id": f"sc-{product_id}"})}

    def same_write(event: dict[str, Any], context: Any) -> dict[str, Any]:
        product_id = verified(event)
        if product_id is None:
            return {"statusCode": 401}
        puts = [
            {
                "Put": {
                    "TableName": table_name,
                    "Item": item(pk, product_id),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
            for pk in (f"FLOOR#SC#{product_id}", f"FLOOR#EXT#sc-{product_id}")
        ]
        client.transact_write_items(TransactItems=puts)
        return {"statusCode": 200, "body": json.dumps({"external_id": f"sc-{product_id}"})}

    sides = {
        "products handler": products.handler,
        "floor: HMAC + one conditional PutItem": floor,
        "HMAC + the handler's transaction": same_write,
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    with open(os.devnull, "w") as sink, redirect_stdout(sink):  # the handler's EMF metric lines
        for i in range(WARM_UP + CALLS):
            for name, side in sides.items():
                event = product_created()
                start = time.perf_counter()
                response = side(event, context)
                elapsed = time.perf_counter() - start
                assert response["statusCode"] == 200, (name, response)
                if i >= WARM_UP:
                    times[name].append(elapsed)
    return times
