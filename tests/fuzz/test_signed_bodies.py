"""Signed-body fuzzing of the three POST endpoints, in process on moto.

Given a documented example with one value replaced by something hostile (deep nesting, huge or
non-finite numbers, lone surrogates, huge strings, duplicate keys), or a body broken as bytes
(empty, truncated, not UTF-8), every body correctly signed: Then no answer is a 500 or a 503,
and every refusal has the one error shape with a code.

Seeded (``derandomize``), so a CI run is the same run every time.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import INTEGRATION_SECRET, WEBHOOK_SECRETS
from tests.support.events import api_event, fixture, response_json, signed_headers

CASES_PER_ENDPOINT = 500

EXAMPLES = {
    "products": fixture("signcustomiser_product_created.json"),
    "webhooks": fixture("providers/signcustomiser_webhook_order_created.json"),
    "orders": fixture("canonical_order.json")
    | {"line_items": [line | {"customised": None} for line in fixture("canonical_order.json")["line_items"]]},
}
ROUTES = {
    "products": ("/sign-customiser/products", INTEGRATION_SECRET),
    "webhooks": ("/sign-customiser/webhooks", WEBHOOK_SECRETS[0]),
    "orders": ("/orders", None),
}
FUZZ_SETTINGS = settings(
    max_examples=CASES_PER_ENDPOINT,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the example a value can be put: each existing one, and a new key per object."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        found += [(*prefix, "fuzz_extra"), (*prefix, "quantity")]  # quantity: read though undeclared
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def nested(depth: int, open_: str, close: str) -> str:
    return open_ * depth + "1" + close * depth


# JSON text, written verbatim into the body.
hostile_literals = st.one_of(
    st.integers(1, 40).map(lambda d: nested(d, "[", "]")),
    st.integers(250, 1_300).map(lambda d: nested(d, '{"a":', "}")),
    st.integers(1, 5_000).map(lambda n: "9" * n),
    st.integers(36, 45).map(lambda n: "-" + "9" * n),
    st.sampled_from(["1e15", "1e308", "1e999", "-1e999", "NaN", "Infinity", "-Infinity", "-0", "0.1", "1E400"]),
    st.integers(1, 40_000).map(lambda n: "[" + ",".join(["1e15"] * n) + "]"),
    st.integers(18_000, 40_000).map(lambda n: "[" + ",".join(["1e15"] * n) + "]"),
    st.sampled_from(['"\\ud800"', '"sign \\udfff"', '"\\ud83d"', '"\\ud83d\\ude00"', '"\\u0000"']),
    st.integers(0, 300_000).map(lambda n: json.dumps("N" * n)),
    st.integers(2_000, 3_000).map(lambda n: json.dumps("x" * n)),
    st.sampled_from(["null", "true", "[]", "{}", '""', "-1", "0", "2.5"]),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    ).map(json.dumps),
)


def put(example: Any, path: tuple[Any, ...], literal: str) -> bytes:
    marker = "__FUZZ_LITERAL__"
    data = json.loads(json.dumps(example))
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = marker
    return json.dumps(data).replace(f'"{marker}"', literal, 1).encode()


def broken_bytes(example: Any) -> st.SearchStrategy[bytes]:
    text = json.dumps(example).encode()
    return st.one_of(
        st.just(b""),
        st.integers(0, len(text) - 1).map(lambda n: text[:n]),
        st.integers(1, len(text) - 1).map(lambda n: text[:n] + b"\xff\xc3\x28" + text[n:]),
        st.just(b'{"test": true, ' + text[1:]),  # a key the example also has: a duplicate
        st.just(b"\xef\xbb\xbf" + text),
        st.just(text.decode().encode("utf-16")),
        st.binary(max_size=200),
    )


def bodies(endpoint: str) -> st.SearchStrategy[bytes]:
    example = EXAMPLES[endpoint]
    mutated = st.tuples(st.sampled_from(paths(example)), hostile_literals).map(lambda pl: put(example, *pl))
    broken = broken_bytes(example)
    # One body in five is broken as bytes; the others are JSON with one hostile value.
    return st.integers(0, 4).flatmap(lambda pick: broken if pick == 0 else mutated)


def call(handlers: dict[str, Any], context: Any, endpoint: str, body: bytes) -> dict[str, Any]:
    path, secret = ROUTES[endpoint]
    headers = signed_headers(secret, body) if secret else {"x-api-key": "k"}
    try:
        body.decode("utf-8")
        binary = False
    except UnicodeDecodeError:
        binary = True  # API Gateway passes bytes that are not text base64-encoded
    return dict(handlers[endpoint](api_event("POST", path, body, headers, base64_encoded=binary), context))


def check(response: dict[str, Any]) -> int:
    """The status; every refusal in the one error shape."""
    status = int(response["statusCode"])
    if status >= 400:
        error = response_json(response)["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str)
    return status


def fuzz(endpoint: str, handlers: dict[str, Any], lambda_context: Any, tally: Any, refused: tuple[int, ...]) -> None:
    """Runs every case (so the tally is complete), then fails naming the first bodies that got a
    status in ``refused``."""
    failures: list[str] = []
    statuses: list[int] = []

    @FUZZ_SETTINGS
    @given(bodies(endpoint))
    def one_body(body: bytes) -> None:
        status = check(call(handlers, lambda_context, endpoint, body))
        tally.add(status)
        statuses.append(status)
        if status in refused:
            failures.append(f"{status} for a {len(body)}-byte body starting {body[:100]!r}")

    with tally:
        one_body()
    assert failures == [], f"{len(failures)} bodies got one of {refused}; the first: {failures[:5]}"
    # Every body is signed as its sender would sign it: none may be refused for its signature
    # (that would hide every other check), and the bodies still valid must be accepted.
    assert 401 not in statuses and 403 not in statuses
    assert any(200 <= status < 300 for status in statuses)


def test_product_callback_bodies(handlers, lambda_context, tally):
    fuzz("products", handlers, lambda_context, tally, refused=(500, 503))


def test_webhook_bodies(handlers, lambda_context, tally, monkeypatch):
    monkeypatch.setenv("FORWARD_WEBHOOK_ORDERS_TO", "dropday,onward")  # the longest path through the code
    fuzz("webhooks", handlers, lambda_context, tally, refused=(409, 500, 503))  # a redelivery is never a 409


def test_platform_order_bodies(handlers, lambda_context, tally):
    fuzz("orders", handlers, lambda_context, tally, refused=(500, 503))
