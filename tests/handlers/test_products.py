"""POST /sign-customiser/products: Given a signed product:created, Then a stable external_id."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from tests.conftest import INTEGRATION_SECRET, load_function
from tests.support.events import api_event, fixture_bytes, response_header, response_json, signed_headers

PATH = "/sign-customiser/products"


def post_product(context: Any, body: bytes, headers: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    event = api_event(
        "POST", PATH, body, headers if headers is not None else signed_headers(INTEGRATION_SECRET, body), **kwargs
    )
    return load_function("products").handler(event, context)


def mapping_items(table: Any) -> list[dict[str, Any]]:
    items = table.scan(TableName="signbridge-test")["Items"]
    return [i for i in items if i["SK"]["S"] == "PRODUCT"]


def test_signed_product_gets_a_derived_external_id_and_is_remembered_both_ways(table, lambda_context):
    body = fixture_bytes("signcustomiser_product_created.json")

    response = post_product(lambda_context, body)

    assert response["statusCode"] == 200
    assert response_json(response) == {"external_id": "sc-1"}
    keys = sorted(i["PK"]["S"] for i in mapping_items(table))
    assert keys == ["PRODUCT#sc-1", "SCPRODUCT#1"]
    stored = next(i for i in mapping_items(table) if i["PK"]["S"] == "PRODUCT#sc-1")
    assert stored["title"]["S"] == "Custom Neon: Hello World"
    assert stored["price"]["N"] == "10000"
    assert stored["upload_urls"]["L"][0]["S"].endswith("demonstration_image_1.jpg")
    assert json.loads(stored["snapshot"]["S"])["description"].startswith("Text: Hello World")


def test_the_same_delivery_again_gets_the_same_id_and_one_mapping(table, lambda_context):
    body = fixture_bytes("signcustomiser_product_created.json")

    first = response_json(post_product(lambda_context, body))
    second = response_json(post_product(lambda_context, body))

    assert first == second == {"external_id": "sc-1"}
    assert len(mapping_items(table)) == 2  # one mapping, stored both ways


def test_prefix_is_a_setting(table, lambda_context, monkeypatch):
    monkeypatch.setenv("EXTERNAL_ID_PREFIX", "neon_")
    response = post_product(lambda_context, fixture_bytes("signcustomiser_product_created.json"))
    assert response_json(response) == {"external_id": "neon_1"}


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda body, headers: (body.replace(b"Hello World", b"Hello Wor1d"), headers), "signature_invalid"),
        (lambda body, headers: (body, signed_headers("someone-elses-secret", body)), "signature_invalid"),
        (
            lambda body, headers: (body, signed_headers(INTEGRATION_SECRET, body, timestamp=int(time.time()) - 301)),
            "timestamp_stale",
        ),
        (
            lambda body, headers: (body, signed_headers(INTEGRATION_SECRET, body, timestamp=int(time.time()) + 301)),
            "timestamp_stale",
        ),
        (lambda body, headers: (body, {"x-webhook-signature": headers["x-webhook-signature"]}), "signature_missing"),
        (lambda body, headers: (body, {**headers, "x-webhook-timestamp": "yesterday"}), "timestamp_malformed"),
    ],
    ids=["tampered-body", "wrong-secret", "stale", "from-the-future", "no-timestamp", "malformed-timestamp"],
)
def test_unverifiable_deliveries_are_refused_and_nothing_is_stored(table, lambda_context, mutate, code):
    body = fixture_bytes("signcustomiser_product_created.json")
    body, headers = mutate(body, signed_headers(INTEGRATION_SECRET, body))

    response = post_product(lambda_context, body, headers)

    assert response["statusCode"] == 401
    error = response_json(response)["error"]
    assert error["code"] == code
    assert "expected" not in json.dumps(error).lower()
    assert mapping_items(table) == []


def test_base64_encoded_body_is_verified_on_its_decoded_bytes(table, lambda_context):
    body = fixture_bytes("signcustomiser_product_created.json")
    response = post_product(lambda_context, body, signed_headers(INTEGRATION_SECRET, body), base64_encoded=True)
    assert response["statusCode"] == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (json.dumps({"product": {"title": "no id", "price": -5}}).encode(), 422, "validation_failed"),
        (json.dumps([1, 2]).encode(), 422, "validation_failed"),
    ],
)
def test_bad_bodies_get_clear_errors(table, lambda_context, body, status, code):
    response = post_product(lambda_context, body)
    assert response["statusCode"] == status
    assert response_json(response)["error"]["code"] == code
    assert mapping_items(table) == []


def test_schema_errors_list_field_paths(table, lambda_context):
    body = json.dumps({"product": {"title": "no id", "price": -5}}).encode()
    details = response_json(post_product(lambda_context, body))["error"]["details"]
    assert {d["field"] for d in details} == {"product.product_id", "product.price"}


def test_unknown_fields_are_kept(table, lambda_context):
    payload = json.loads(fixture_bytes("signcustomiser_product_created.json"))
    payload["product"]["glow_mode"] = "pulse"
    body = json.dumps(payload).encode()
    assert post_product(lambda_context, body)["statusCode"] == 200
    stored = next(i for i in mapping_items(table) if i["PK"]["S"] == "SCPRODUCT#1")
    assert json.loads(stored["snapshot"]["S"])["glow_mode"] == "pulse"


def test_wrong_content_type_is_415(table, lambda_context):
    body = fixture_bytes("signcustomiser_product_created.json")
    event = api_event("POST", PATH, body, {**signed_headers(INTEGRATION_SECRET, body), "Content-Type": "text/plain"})
    response = load_function("products").handler(event, lambda_context)
    assert response["statusCode"] == 415
    assert response_json(response)["error"]["code"] == "unsupported_media_type"


def test_body_over_the_limit_is_413(table, lambda_context, monkeypatch):
    monkeypatch.setenv("MAX_BODY_BYTES", "2048")
    body = json.dumps({"product": {"product_id": 1, "title": "x" * 4000, "price": 1}}).encode()
    response = post_product(lambda_context, body)
    assert response["statusCode"] == 413
    assert response_json(response)["error"]["details"] == [
        {"field": "body", "message": "too large", "limit_bytes": 2048, "received_bytes": len(body)}
    ]


def test_dynamodb_failure_is_503_with_retry_after(aws, lambda_context):
    # Given no table at all: every DynamoDB call fails.
    response = post_product(lambda_context, fixture_bytes("signcustomiser_product_created.json"))
    assert response["statusCode"] == 503
    assert response_header(response, "Retry-After") == "5"
    assert response_json(response)["error"]["code"] == "store_unavailable"
    assert "Traceback" not in response["body"]


def test_secret_from_ssm_parameter(table, lambda_context, monkeypatch):
    boto3.client("ssm").put_parameter(Name="/signbridge/integration-secret", Value="from-ssm", Type="SecureString")
    monkeypatch.setenv("INTEGRATION_SECRET_PARAM", "/signbridge/integration-secret")
    body = fixture_bytes("signcustomiser_product_created.json")

    assert post_product(lambda_context, body, signed_headers("from-ssm", body))["statusCode"] == 200
    assert post_product(lambda_context, body, signed_headers(INTEGRATION_SECRET, body))["statusCode"] == 401


class _Platform(BaseHTTPRequestHandler):
    answers: list[tuple[int, Any, float]] = []
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append({"body": json.loads(self.rfile.read(length)), "headers": dict(self.headers)})
        status, body, delay = type(self).answers.pop(0) if type(self).answers else (200, {"id": "gid://42"}, 0)
        time.sleep(delay)
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except BrokenPipeError:  # the client gave up (timeout test)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform(monkeypatch):
    _Platform.answers, _Platform.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("EXTERNAL_ID_MODE", "platform")
    monkeypatch.setenv("PLATFORM_PRODUCT_URL", f"http://127.0.0.1:{server.server_port}/products")
    monkeypatch.setenv("PLATFORM_TOKEN", "platform-token")
    monkeypatch.setenv("PLATFORM_TIMEOUT_SECONDS", "0.5")
    yield _Platform
    server.shutdown()


def test_platform_mode_uses_the_platforms_id_and_asks_it_once(table, lambda_context, platform):
    body = fixture_bytes("signcustomiser_product_created.json")

    first = post_product(lambda_context, body)
    second = post_product(lambda_context, body)

    assert response_json(first) == response_json(second) == {"external_id": "gid://42"}
    assert len(platform.received) == 1
    assert platform.received[0]["body"]["product"]["product_id"] == 1
    assert platform.received[0]["headers"]["Authorization"] == "Bearer platform-token"
    assert platform.received[0]["headers"]["Idempotency-Key"] == "signbridge-product-1"


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [
        ((500, {"error": "boom"}, 0), 502, "platform_failed"),
        ((200, {"nope": 1}, 0), 502, "platform_failed"),
        ((200, {"id": "late"}, 1.5), 504, "platform_timeout"),
    ],
    ids=["5xx", "no-id", "timeout"],
)
def test_platform_failures_are_502_or_504_and_store_nothing(
    table, lambda_context, platform, answer, status, code, monkeypatch
):
    url = os.environ["PLATFORM_PRODUCT_URL"] + "?key=token-in-the-url"
    monkeypatch.setenv("PLATFORM_PRODUCT_URL", url)
    platform.answers.append(answer)
    response = post_product(lambda_context, fixture_bytes("signcustomiser_product_created.json"))
    assert response["statusCode"] == status
    error = response_json(response)["error"]
    assert error["code"] == code
    assert mapping_items(table) == []
    # Sign Customiser is a third party: the answer names no URL, host, header or token of the platform.
    for secret in ("token-in-the-url", "127.0.0.1", "/products", "platform-token", "Bearer"):
        assert secret not in response["body"]
    assert [d["field"] for d in error["details"]] in (["platform"], ["external_id"])


def test_an_unreachable_platform_is_502_naming_no_url(table, lambda_context, platform, monkeypatch):
    monkeypatch.setenv("PLATFORM_PRODUCT_URL", "http://127.0.0.1:9/products?key=token-in-the-url")
    response = post_product(lambda_context, fixture_bytes("signcustomiser_product_created.json"))
    assert response["statusCode"] == 502
    assert response_json(response)["error"]["details"] == [
        {"field": "platform", "message": "not reachable", "reason": "ConnectError"}
    ]
    assert "token-in-the-url" not in response["body"] and "127.0.0.1" not in response["body"]
