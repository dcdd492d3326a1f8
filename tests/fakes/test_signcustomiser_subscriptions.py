"""The Sign Customiser fake's webhook subscriptions: `GET/POST /api/v2/webhooks` and
`GET/PUT/DELETE /api/v2/webhooks/{id}`, each subscription with its own secret, and the
order:created webhook each subscription receives, signed with that secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from signbridge_tools.fakes import SignCustomiserFake, sign_webhook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "providers"
HEADERS = {"Authorization": "Bearer sc-dev-token", "Accept": "application/json"}
HOOK = "https://shop.example.com/v1/sign-customiser/webhooks"


@pytest.fixture
def sc() -> Iterator[SignCustomiserFake]:
    with SignCustomiserFake() as fake:
        yield fake


@pytest.fixture
def http(sc: SignCustomiserFake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sc.url, headers=HEADERS, timeout=2.0) as client:
        yield client


def test_a_created_subscription_is_listed_with_its_own_secret(http):
    # When two subscriptions are created
    first = http.post("/api/v2/webhooks", json={"topic": "order:created", "url": HOOK})
    second = http.post("/api/v2/webhooks", json={"topic": "product:created", "url": HOOK})
    # Then each is answered 201 with its id, topic, url and a secret of its own
    assert first.status_code == second.status_code == 201
    created = first.json()["webhook"]
    assert (created["topic"], created["url"]) == ("order:created", HOOK)
    assert created["secret"] and created["secret"] != second.json()["webhook"]["secret"]
    # And the list shows both, secrets included
    listed = http.get("/api/v2/webhooks").json()["webhooks"]
    assert [(s["id"], s["topic"], s["secret"]) for s in listed] == [
        (created["id"], "order:created", created["secret"]),
        (second.json()["webhook"]["id"], "product:created", second.json()["webhook"]["secret"]),
    ]


def test_one_subscription_is_read_changed_and_deleted_by_its_id(http):
    created = http.post("/api/v2/webhooks", json={"topic": "order:created", "url": HOOK}).json()["webhook"]
    path = f"/api/v2/webhooks/{created['id']}"

    assert http.get(path).json()["webhook"] == created
    moved = http.put(path, json={"url": "https://other.example.com/hook"})
    assert moved.status_code == 200
    assert moved.json()["webhook"]["url"] == "https://other.example.com/hook"
    assert moved.json()["webhook"]["secret"] == created["secret"]  # a new URL keeps the secret

    assert http.delete(path).status_code == 204
    assert http.get(path).status_code == 404
    assert http.get("/api/v2/webhooks").json()["webhooks"] == []


def test_unknown_ids_are_404_and_bad_bodies_are_laravel_422s(http):
    assert (http.get("/api/v2/webhooks/99").status_code, http.get("/api/v2/webhooks/99").json()) == (
        404,
        {"message": "Not Found"},
    )
    assert http.put("/api/v2/webhooks/99", json={"url": HOOK}).status_code == 404
    assert http.delete("/api/v2/webhooks/nope").status_code == 404
    refused = http.post("/api/v2/webhooks", json={"topic": "order:shipped", "url": "not a url"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == {
        "topic": ["The topic field must be one of order:created, product:created, form:submitted."],
        "url": ["The url field must be a valid URL."],
    }


def test_a_bad_token_is_the_laravel_401_on_every_subscription_route(http):
    bad = {"Authorization": "Bearer revoked"}
    answers = [
        http.get("/api/v2/webhooks", headers=bad),
        http.post("/api/v2/webhooks", json={"topic": "order:created", "url": HOOK}, headers=bad),
        http.get("/api/v2/webhooks/1", headers=bad),
        http.put("/api/v2/webhooks/1", json={"url": HOOK}, headers=bad),
        http.delete("/api/v2/webhooks/1", headers=bad),
    ]
    assert {(a.status_code, a.text) for a in answers} == {(401, '{"message": "Unauthenticated."}')}


def test_each_order_created_subscription_gets_the_webhook_signed_with_its_secret(sc, http):
    # Given a receiver and an order:created subscription pointing at it
    with SignCustomiserFake(token="other") as receiver_stub:
        receiver_stub.routes = []  # answers 404 to anything: only what arrives matters
        subscription = sc.subscribe("order:created", f"{receiver_stub.url}/hook")
        sc.subscribe("product:created", f"{receiver_stub.url}/products")
        # When an order is created
        order = json.loads((FIXTURES / "signcustomiser_create_order_request.json").read_text())
        assert http.post("/api/v2/orders", json=order).status_code == 200
        [delivery] = sc.wait_for_webhooks(1)
        received = receiver_stub.requests
    # Then the subscription's URL received one delivery, signed with its own secret
    assert delivery["url"] == subscription["url"]
    timestamp = delivery["headers"]["x-webhook-timestamp"]
    expected = sign_webhook(subscription["secret"], timestamp, delivery["body"].encode())
    assert delivery["headers"]["x-webhook-signature"] == expected
    assert [r["path"] for r in received] == ["/hook"]
