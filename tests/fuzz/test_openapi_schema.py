"""Schema-based fuzzing of POST /orders and GET /orders/{order_id} from the committed openapi.json.

schemathesis turns the contract into hypothesis strategies: positive cases (bodies and ids the
schema allows) and negative ones (each breaking the schema somewhere). Each case goes through the
orders function in process, on moto, as API Gateway would pass it. Then no answer is a 500 or a
503, every status is one the contract documents, and every refusal has the one error shape.

Seeded (``derandomize``), so a CI run is the same run every time.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.support.events import api_event, response_json
from tests.support.template import ROOT

CASES = {("POST", "/orders"): 250, ("GET", "/orders/{order_id}"): 150}
SCHEMA = schemathesis.openapi.from_path(ROOT / "openapi.json")


def documented_statuses(method: str, path: str) -> set[int]:
    return {int(status) for status in SCHEMA.raw_schema["paths"][path][method.lower()]["responses"]}


def as_event(case: Any) -> dict[str, Any]:
    """The case as API Gateway's REST proxy event (path parameters arrive decoded)."""
    headers = {k: str(v) for k, v in (case.headers or {}).items()} | {"x-api-key": "k"}
    headers["Content-Type"] = case.media_type or "application/json"
    if case.method == "GET":
        segment = case.formatted_path.rsplit("/", 1)[-1]
        return api_event(
            "GET",
            f"/orders/{segment}",
            None,
            headers,
            resource="/orders/{order_id}",
            path_parameters={"order_id": unquote(segment)},
        )
    if isinstance(case.body, bytes):
        body = case.body
    elif isinstance(case.body, str):
        body = case.body.encode("utf-8", errors="surrogatepass")
    elif case.body is None or type(case.body).__name__ == "NotSet":
        body = b""
    else:
        body = json.dumps(case.body).encode()
    try:
        body.decode("utf-8")
        binary = False
    except UnicodeDecodeError:
        binary = True  # API Gateway passes bytes that are not text base64-encoded
    return api_event("POST", "/orders", body, headers, base64_encoded=binary)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize(("method", "path"), list(CASES), ids=lambda v: str(v))
def test_orders_api_from_its_contract(handlers, lambda_context, tally, method, path, mode):
    operation = SCHEMA[path][method]
    documented = documented_statuses(method, path)
    failures: list[str] = []

    @settings(
        max_examples=CASES[(method, path)],
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def one_case(case: Any) -> None:
        response = handlers["orders"](as_event(case), lambda_context)
        status = int(response["statusCode"])
        tally.add(status)
        if status in (500, 503) or status not in documented:
            failures.append(f"{status} for {case.method} {case.formatted_path} {str(case.body)[:200]}")
        elif status >= 400:
            assert response_json(response)["error"]["code"]

    with tally:
        one_case()
    assert failures == [], f"{len(failures)} cases got a 500, a 503 or an undocumented status: {failures[:5]}"


def test_get_order_with_any_text_as_its_id(handlers, lambda_context, tally):
    """schemathesis's negative ids rarely leave the pattern; any text at all, up to 3,000
    characters (past DynamoDB's 2 KB key), is a 404 or a 422."""
    failures: list[str] = []

    @settings(max_examples=200, derandomize=True, database=None, deadline=None)
    @given(st.text(min_size=1, max_size=3_000))
    def one_id(order_id: str) -> None:
        event = api_event(
            "GET",
            f"/orders/{quote(order_id, safe='')}",
            None,
            {"x-api-key": "k"},
            resource="/orders/{order_id}",
            path_parameters={"order_id": order_id},
        )
        status = int(handlers["orders"](event, lambda_context)["statusCode"])
        tally.add(status)
        if status not in (404, 422):
            failures.append(f"{status} for {order_id[:100]!r}")

    with tally:
        one_id()
    assert failures == [], f"{len(failures)} ids got neither 404 nor 422: {failures[:5]}"
