"""Issue #6 on the deployed local stack (real API Gateway routing, Lambda runtime and table):
Given hostile but correctly signed bodies and ids, Then no answer is a 500 or a 503.

The same seeded strategies as tests/fuzz, fewer cases (each is a real HTTP call), and each of
the issue's findings once more as it was found: through the gateway.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signbridge.signature import sign
from tests.fuzz.test_signed_bodies import EXAMPLES, bodies

pytestmark = pytest.mark.e2e

CASES_PER_ENDPOINT = 150
URLS = {"products": "create_product_url", "webhooks": "webhook_url", "orders": "orders_url"}


def headers_for(stack: dict[str, Any], endpoint: str, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if endpoint == "orders":
        return headers | {"x-api-key": stack["api_key"]}
    secret = stack["integration_secret"] if endpoint == "products" else stack["webhook_secrets"][0]
    timestamp = str(int(time.time()))
    return headers | {"x-webhook-timestamp": timestamp, "x-webhook-signature": sign(secret, timestamp, body)}


def post(stack: dict[str, Any], http: Any, endpoint: str, body: bytes) -> Any:
    return http.post(stack[URLS[endpoint]], content=body, headers=headers_for(stack, endpoint, body))


def report(capsys: Any, name: str, seen: Counter[int]) -> None:
    """The cases and statuses, printed past the capture as the test ends (the e2e suite runs serially)."""
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(seen.items()))
    with capsys.disabled():
        print(f"\n[fuzz] {name}: {sum(seen.values())} cases; {statuses}")


@pytest.mark.parametrize("endpoint", ["products", "webhooks", "orders"])
def test_signed_bodies_through_the_gateway(stack, http, capsys, endpoint):
    seen: Counter[int] = Counter()
    failures: list[str] = []

    @settings(
        max_examples=CASES_PER_ENDPOINT,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(bodies(endpoint))
    def one_body(body: bytes) -> None:
        response = post(stack, http, endpoint, body)
        seen[response.status_code] += 1
        if response.status_code in (500, 503):
            failures.append(f"{response.status_code} for {body[:100]!r}: {response.text[:200]}")

    one_body()
    report(capsys, f"signed {endpoint} bodies", seen)
    assert failures == [], f"{len(failures)} of {sum(seen.values())} got a 500 or 503: {failures[:5]}"


def test_any_text_as_an_order_id_through_the_gateway(stack, http, capsys):
    seen: Counter[int] = Counter()
    failures: list[str] = []

    @settings(max_examples=CASES_PER_ENDPOINT, derandomize=True, database=None, deadline=None)
    @given(st.text(min_size=1, max_size=3_000))
    def one_id(order_id: str) -> None:
        url = f"{stack['orders_url']}/{quote(order_id, safe='')}"
        response = http.get(url, headers={"x-api-key": stack["api_key"]})
        seen[response.status_code] += 1
        if response.status_code >= 500:  # 422, or 404/403 when the gateway cannot route the id
            failures.append(f"{response.status_code} for {order_id[:80]!r}")

    one_id()
    report(capsys, "GET /orders/{any text}", seen)
    assert failures == [], failures[:5]


def with_value(payload: Any, path: str, value: Any) -> Any:
    changed = json.loads(json.dumps(payload))
    *parents, last = path.split(".")
    target = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return changed


def test_the_issues_findings_are_clear_4xx_through_the_gateway(stack, http):
    product = with_value(EXAMPLES["products"], "product.product_id", uuid.uuid4().int % 10**9)
    webhook = with_value(EXAMPLES["webhooks"], "order.order_id", uuid.uuid4().int % 10**9)
    order = EXAMPLES["orders"] | {"id": f"fuzz-{uuid.uuid4().hex[:12]}"}

    def code(endpoint: str, body: bytes) -> tuple[int, str]:
        response = post(stack, http, endpoint, body)
        return response.status_code, response.json()["error"]["code"]

    deep = ("[" * 979 + "]" * 979).encode()
    assert code("products", deep) == (400, "json_too_deep")
    title = json.dumps(with_value(product, "product.title", "N" * 205_000)).encode()
    assert code("products", title) == (413, "too_large_to_store")
    external_id = json.dumps(with_value(webhook, "order.external_id", "x" * 2_100)).encode()
    assert code("webhooks", external_id) == (422, "validation_failed")
    surrogate = json.dumps(webhook).replace('"USD"', '"\\ud800"').encode()
    assert code("webhooks", surrogate) == (422, "invalid_unicode")
    floats = json.dumps(order).replace('"test": false', '"padding": [' + ",".join(["1e15"] * 25_000) + "]").encode()
    assert code("orders", floats) == (413, "too_large_to_store")
    assert code("orders", json.dumps(order | {"id": "a#1"}).encode()) == (422, "validation_failed")
