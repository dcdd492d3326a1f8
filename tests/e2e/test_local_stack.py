"""End to end on the local stack: what Sign Customiser, the merchant's platform and an operator see."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from signbridge.signature import sign
from tests.support.events import fixture, fixture_bytes

pytestmark = pytest.mark.e2e


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "x-webhook-timestamp": ts,
        "x-webhook-signature": sign(secret, ts, body),
    }


def new_product() -> bytes:
    payload = json.loads(fixture_bytes("signcustomiser_product_created.json"))
    payload["product"]["product_id"] = int(uuid.uuid4().int % 10**9)
    return json.dumps(payload).encode()


def test_product_callback_answers_a_stable_external_id(stack, http):
    body = new_product()
    first = http.post(stack["create_product_url"], content=body, headers=signed(stack["integration_secret"], body))
    again = http.post(stack["create_product_url"], content=body, headers=signed(stack["integration_secret"], body))

    assert first.status_code == 200, first.text
    assert first.json() == again.json()
    assert first.json()["external_id"] == f"sc-{json.loads(body)['product']['product_id']}"


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda s, b: (b.replace(b"Hello World", b"Hello W0rld"), signed(s, b)), "signature_invalid"),
        (lambda s, b: (b, signed("not-the-secret", b)), "signature_invalid"),
        (lambda s, b: (b, signed(s, b, timestamp=int(time.time()) - 3600)), "timestamp_stale"),
        (lambda s, b: (b, {"Content-Type": "application/json"}), "signature_missing"),
    ],
    ids=["tampered", "wrong-secret", "stale", "unsigned"],
)
def test_unverifiable_product_callbacks_are_401(stack, http, tamper, code):
    body, headers = tamper(stack["integration_secret"], new_product())
    response = http.post(stack["create_product_url"], content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_bad_bodies_get_clear_errors(stack, http):
    secret = stack["integration_secret"]
    not_json = b"{oops"
    wrong_type = new_product()
    no_id = json.dumps({"product": {"title": "x", "price": 1}}).encode()

    assert http.post(stack["create_product_url"], content=not_json, headers=signed(secret, not_json)).status_code == 400
    response = http.post(
        stack["create_product_url"],
        content=wrong_type,
        headers={**signed(secret, wrong_type), "Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    response = http.post(stack["create_product_url"], content=no_id, headers=signed(secret, no_id))
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["product.product_id"]


def test_webhook_is_recorded_and_acknowledged(stack, http):
    body = fixture_bytes("providers/signcustomiser_webhook_order_created.json")
    secret = stack["webhook_secrets"][0]
    response = http.post(stack["webhook_url"], content=body, headers=signed(secret, body))
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert http.post(stack["webhook_url"], content=body, headers=signed("wrong", body)).status_code == 401


def test_orders_need_the_api_key(stack, http):
    response = http.post(stack["orders_url"], json=fixture("canonical_order.json"))
    assert response.status_code == 403  # refused by the gateway; the function never runs


def wait_until_settled(http: Any, url: str, headers: dict[str, str], timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = http.get(url, headers=headers).json()
        states = {d["state"] for d in view["deliveries"].values()}
        if states <= {"delivered", "failed", "skipped"} or time.monotonic() > deadline:
            return dict(view)
        time.sleep(1)


def order_for_a_new_design(stack: dict[str, Any], http: Any) -> dict[str, Any]:
    """A shopper's finished design, mapped through the product callback, and a platform order for it."""
    body = new_product()
    external_id = http.post(
        stack["create_product_url"], content=body, headers=signed(stack["integration_secret"], body)
    ).json()["external_id"]
    order: dict[str, Any] = fixture("canonical_order.json") | {"id": f"e2e-{uuid.uuid4().hex[:10]}"}
    order["line_items"][0].update(external_id=external_id, variant_id=external_id)
    return order


def test_the_whole_journey_delivers_each_order_once_to_every_destination(stack, http):
    # Given a finished design mapped to our external_id, and an order for it
    order = order_for_a_new_design(stack, http)
    # When the platform posts it (twice: a retry of the same checkout)
    headers = {"x-api-key": stack["api_key"]}
    first = http.post(stack["orders_url"], json=order, headers=headers)
    second = http.post(stack["orders_url"], json=order, headers=headers)

    assert first.status_code == 202, first.text
    assert second.status_code == 200
    assert set(first.json()["deliveries"]) == {"signcustomiser", "dropday", "onward"}

    # Then every destination has it once, and GET /orders says so with each destination's own id
    view = wait_until_settled(http, f"{stack['orders_url']}/{order['id']}", headers)
    assert {name: d["state"] for name, d in view["deliveries"].items()} == {
        "signcustomiser": "delivered",
        "dropday": "delivered",
        "onward": "delivered",
    }
    assert view["deliveries"]["onward"]["destination_ref"] == order["id"]
    for name in ("signcustomiser", "dropday", "onward"):
        counts = http.get(f"{stack['fakes'][name]['control_url']}/orders").json()["counts"]
        assert counts.get(order["id"]) == 1, name


def test_a_rejected_delivery_is_failed_with_the_destinations_field_messages(stack, http):
    control = stack["fakes"]["dropday"]["control_url"]
    errors = {"products.0.external_id": ["The products.0.external_id field is required."]}
    http.post(f"{control}/faults", json=[{"status": 422, "body": {"message": "Errors", "errors": errors}}])
    order = fixture("canonical_order.json") | {"id": f"e2e-{uuid.uuid4().hex[:10]}"}
    order["line_items"][0]["customised"] = None
    order["line_items"][0]["external_id"] = "not-a-sign"
    headers = {"x-api-key": stack["api_key"]}
    assert http.post(stack["orders_url"], json=order, headers=headers).status_code == 202

    view = wait_until_settled(http, f"{stack['orders_url']}/{order['id']}", headers)

    dropday = view["deliveries"]["dropday"]
    assert dropday["state"] == "failed"
    assert dropday["last_error"]["fields"] == errors
    assert view["deliveries"]["signcustomiser"]["state"] == "skipped"  # no design in this order


def test_unknown_order_is_404(stack, http):
    response = http.get(f"{stack['orders_url']}/nope-{uuid.uuid4().hex}", headers={"x-api-key": stack["api_key"]})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_sign_customiser_answering_502_after_acting_gets_one_order_confirmed_by_its_webhook(stack, http):
    # Given Sign Customiser sends its order:created webhooks to our stack, and its gateway answers
    # 502 to our next order after Sign Customiser has created it
    sc = stack["fakes"]["signcustomiser"]
    control = sc["control_url"]
    http.post(f"{control}/config", json={"webhook_url": stack["webhook_url"], "webhook_secret": sc["webhook_secret"]})
    try:
        http.post(f"{control}/faults", json=[{"status": 502, "accept": True}])
        order = order_for_a_new_design(stack, http)
        headers = {"x-api-key": stack["api_key"]}
        assert http.post(stack["orders_url"], json=order, headers=headers).status_code == 202

        view = wait_until_settled(http, f"{stack['orders_url']}/{order['id']}", headers)
    finally:
        http.post(f"{control}/config", json={"webhook_url": None})

    # Then it was never sent twice: the webhook settled the unanswered attempt
    assert view["deliveries"]["signcustomiser"]["state"] == "delivered"
    assert http.get(f"{control}/orders").json()["counts"][order["id"]] == 1
    sent = [
        r
        for r in http.get(f"{control}/requests").json()["requests"]
        if (r["body"] or {}).get("external_id") == order["id"]
    ]
    assert len(sent) == 1


def test_the_deployed_sweeper_reads_the_state_index_and_reports(stack, http):
    import boto3

    # Given an order not paid yet: its Dropday delivery waits in the state index for its paid event
    headers = {"x-api-key": stack["api_key"]}
    order = fixture("canonical_order.json") | {
        "id": f"e2e-unpaid-{uuid.uuid4().hex[:10]}",
        "financial_status": "pending",
    }
    for line in order["line_items"]:
        line["customised"] = False
    assert http.post(stack["orders_url"], json=order, headers=headers).status_code == 202

    session = {"region_name": stack["region"], "endpoint_url": stack["endpoint_url"]}
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    resources = boto3.client("cloudformation", **session, **credentials).describe_stack_resources(
        StackName=stack["stack_name"], LogicalResourceId="SweeperFunction"
    )["StackResources"]
    name = resources[0]["PhysicalResourceId"]

    result = boto3.client("lambda", **session, **credentials).invoke(FunctionName=name, Payload=b"{}")

    assert "FunctionError" not in result
    summary = json.loads(result["Payload"].read())
    # Counted from the index (waiting for payment is never re-enqueued, nor anything in doubt).
    assert summary["counts"].get("dropday#awaiting_payment", 0) >= 1
    assert summary["awaiting_operator"] == 0
