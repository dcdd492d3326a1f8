"""Order forwarding: Given orders in the table, When the pipeline runs, Then each destination has each
order exactly once, in its own format, and GET /orders says where every delivery stands."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.conftest import deliver_webhook, load_function
from tests.support.crashes import crash_before_recording
from tests.support.events import api_event, fixture, response_json


def post_order(order: dict[str, Any], context: Any) -> dict[str, Any]:
    event = api_event("POST", "/orders", json.dumps(order).encode())
    response = load_function("orders").handler(event, context)
    assert response["statusCode"] in (200, 202), response["body"]
    return response_json(response)


def order_state(order_id: str, context: Any) -> dict[str, Any]:
    event = api_event(
        "GET", f"/orders/{order_id}", None, resource="/orders/{order_id}", path_parameters={"order_id": order_id}
    )
    return response_json(load_function("orders").handler(event, context))


def states(order_id: str, context: Any) -> dict[str, str]:
    return {name: d["state"] for name, d in order_state(order_id, context)["deliveries"].items()}


def test_an_order_reaches_each_destination_in_its_own_format(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)

    pipeline.run_until_idle()

    view = order_state("order-123456", lambda_context)
    assert {n: (d["state"], d["attempts"]) for n, d in view["deliveries"].items()} == {
        "signcustomiser": ("delivered", 1),
        "dropday": ("delivered", 1),
        "onward": ("delivered", 1),
    }
    assert view["deliveries"]["onward"]["destination_ref"] == "order-123456"
    # Sign Customiser: only the sign line, integer cents, its province/postcode/country fields
    assert view["deliveries"]["signcustomiser"]["destination_ref"] == str(sc.orders["order-123456"]["id"])
    sent = sc.requests[-1]["body"]
    assert sent["products"] == [{"external_id": "sc-1", "quantity": 2, "price": 2999}]
    assert sent["integration_id"] == 42 and sent["external_id"] == "order-123456"
    assert sent["shipping_address"]["country"] == "US" and sent["shipping_address"]["province"] == "CA"
    # Dropday: decimal major units, the supplier's design notes on the sign line
    dropday = dd.requests[-1]["body"]
    assert dropday["total"] == 86.43 and dropday["shipping_cost"] == 9.95
    assert dropday["source"] == "Neon Shop"
    assert [p["price"] for p in dropday["products"]] == [29.99, 15.0]
    custom = dropday["products"][0]["custom"]
    assert custom["colour"] == "Red" and custom["font"] == "Comics" and custom["text"] == "Hello World"
    assert custom["upload_urls"] == [
        "https://d1no4rdxmwcuog.cloudfront.net/default/app-images/demonstration_image_1.jpg"
    ]
    assert dropday["products"][1].get("custom") is None
    assert view["deliveries"]["dropday"]["destination_ref"] == "1"
    # Onward: money objects, ISO codes normalised from "United States"/"California"
    onward = on.requests[-1]["body"]
    assert onward["shipping_address"]["country_code"] == "US" and onward["shipping_address"]["province_code"] == "CA"
    assert onward["total_price"] == {"cents": 8643, "currency": "USD"}
    assert onward["purchased_quote_token"].startswith("c0740f7e") and onward["amount_insured"]["cents"] == 7498
    assert [li["is_insured"] for li in onward["line_items"]] == [True, True]
    assert pipeline.dlq_messages() == []


def test_dropday_already_exists_and_onward_409_count_as_delivered(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    on.add_faults({"status": 409})
    dd.add_faults({"accept_then_drop": True})  # Dropday created it, we never heard: the resend is a duplicate

    pipeline.run_until_idle()

    assert states("order-123456", lambda_context) == {
        "signcustomiser": "delivered",
        "dropday": "delivered",
        "onward": "delivered",
    }
    assert dd.created_count("order-123456") == 1
    assert [r["outcome"] for r in dd.requests] == ["accepted_then_dropped", "answered"]
    assert dd.wait_for(lambda: dd.created_count("order-123456") >= 1 and len(dd.requests) == 2, timeout=5)
    deadline = time.monotonic() + 5  # the hung request answers once its 2 s are up
    while any(r["response"] is None for r in dd.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    answers = sorted(r["response"]["body"]["message"] for r in dd.requests)
    assert answers == ["Order already exists", "Order created"]
    assert dd.created_count("order-123456") == 1


def test_validation_rejection_fails_permanently_with_field_messages(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    dd.add_faults(
        {
            "status": 422,
            "body": {
                "message": "Errors",
                "errors": {"products.0.external_id": ["The products.0.external_id field is required."]},
            },
        }
    )

    pipeline.run_until_idle()

    dropday = order_state("order-123456", lambda_context)["deliveries"]["dropday"]
    assert dropday["state"] == "failed" and dropday["attempts"] == 1
    assert dropday["last_error"] == {
        "code": "rejected",
        "message": "Errors",
        "status": 422,
        "fields": {"products.0.external_id": ["The products.0.external_id field is required."]},
    }
    assert len(dd.requests) == 1  # never retried
    assert pipeline.dlq_messages() == []


def test_a_timeout_is_retried_and_the_destination_still_has_one_order(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    dd.add_faults({"hang": 2.0})

    pipeline.run_until_idle()

    dropday = order_state("order-123456", lambda_context)["deliveries"]["dropday"]
    assert (dropday["state"], dropday["attempts"]) == ("delivered", 2)
    assert len(dd.requests) == 2  # sent twice: the timed-out request had been acted on ...
    assert dd.created_count("order-123456") == 1  # ... and Dropday's duplicate rule kept one order
    assert dd.wait_for(lambda: dd.created_count("order-123456") >= 1 and len(dd.requests) == 2, timeout=5)
    deadline = time.monotonic() + 5  # the hung request answers once its 2 s are up
    while any(r["response"] is None for r in dd.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    answers = sorted(r["response"]["body"]["message"] for r in dd.requests)
    assert answers == ["Order already exists", "Order created"]
    assert dd.created_count("order-123456") == 1


def test_an_address_onward_cannot_normalise_fails_that_delivery_only(pipeline, fakes, lambda_context):
    order = fixture("canonical_order.json")
    order["shipping_address"]["province"] = "Gondor"
    post_order(order, lambda_context)
    pipeline.run_until_idle()
    view = order_state("order-123456", lambda_context)["deliveries"]
    assert view["onward"]["state"] == "failed"
    assert view["onward"]["last_error"]["code"] == "mapping_failed"
    assert "shipping_address.province" in view["onward"]["last_error"]["fields"]
    assert view["dropday"]["state"] == "delivered"


def test_a_crash_after_the_destination_accepted_does_not_send_twice(pipeline, fakes, lambda_context, monkeypatch):
    sc, dd, on = fakes
    # Sign Customiser confirms every order with its signed order:created webhook.
    sc.on_order_created = lambda order: deliver_webhook(order, lambda_context)
    crashed = crash_before_recording(monkeypatch, "delivered")
    post_order(fixture("canonical_order.json"), lambda_context)

    pipeline.run_until_idle()

    assert set(crashed) == {"signcustomiser", "dropday", "onward"}
    assert states("order-123456", lambda_context) == {
        "signcustomiser": "delivered",
        "dropday": "delivered",
        "onward": "delivered",
    }
    assert sc.created_count("order-123456") == 1
    assert dd.created_count("order-123456") == 1
    assert on.created_count("order-123456") == 1
    # Sign Customiser (no duplicate rule) was never sent it again: its webhook confirmed it.
    assert len(sc.requests) == 1
    # Dropday and Onward were: their own duplicate rules answered the resend.
    assert [r["response"]["status"] for r in on.requests] == [201, 409]
    assert [r["response"]["body"]["message"] for r in dd.requests] == ["Order created", "Order already exists"]


def test_money_is_exact_for_zero_and_three_decimal_currencies(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    for currency in ("JPY", "KWD"):
        order = fixture("canonical_order.json") | {"id": f"order-{currency}", "currency": currency}
        post_order(order, lambda_context)
    pipeline.run_until_idle()
    sent = {r["body"]["external_id"]: json.loads(r["raw_body"], parse_float=Decimal) for r in dd.requests}
    assert sent["order-JPY"]["total"] == 8643 and sent["order-JPY"]["products"][0]["price"] == 2999
    assert sent["order-KWD"]["total"] == Decimal("8.643") and sent["order-KWD"]["products"][0]["price"] == Decimal(
        "2.999"
    )
    assert '"total": 8.643' in next(r["raw_body"] for r in dd.requests if r["body"]["external_id"] == "order-KWD")
    sent_to_onward = sorted(
        (r["body"]["total_price"]["currency"], r["body"]["total_price"]["cents"]) for r in on.requests
    )
    assert sent_to_onward == [("JPY", 8643), ("KWD", 8643)]  # minor units as they are, with the order's currency


def test_a_refused_key_holds_the_delivery_until_the_merchant_fixes_it(
    pipeline, fakes, configure, lambda_context, capsys
):
    sc, dd, on = fakes
    on.api_key = "rotated-by-onward"  # Onward no longer accepts our key
    post_order(fixture("canonical_order.json"), lambda_context)

    pipeline.run_until(lambda: len(on.requests) >= 3)  # tried again and again, slowly

    onward = order_state("order-123456", lambda_context)["deliveries"]["onward"]
    assert onward["state"] == "held" and onward["last_error"]["code"] == "auth_rejected"
    assert "next_attempt_at" in onward
    assert '"DeliveryHeld"' in capsys.readouterr().out  # the metric the alarm watches
    assert states("order-123456", lambda_context)["dropday"] == "delivered"  # the others are not held up

    # When the merchant stores the new key: no re-post, no operator step
    configure(ONWARD_API_KEY="rotated-by-onward")
    pipeline.run_until_idle()

    assert states("order-123456", lambda_context)["onward"] == "delivered"
    assert on.created_count("order-123456") == 1
    assert pipeline.dlq_messages() == []


def test_429_and_5xx_are_retried_until_delivered(pipeline, fakes, lambda_context):
    sc, dd, on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    sc.add_faults({"status": 429, "headers": {"Retry-After": "1"}}, {"status": 429})
    on.add_faults({"status": 500}, {"status": 502})

    pipeline.run_until_idle()

    view = order_state("order-123456", lambda_context)["deliveries"]
    assert (view["signcustomiser"]["state"], view["signcustomiser"]["attempts"]) == ("delivered", 3)
    assert (view["onward"]["state"], view["onward"]["attempts"]) == ("delivered", 3)
    assert "last_error" not in view["onward"] and "next_attempt_at" not in view["onward"]
    assert sc.created_count("order-123456") == 1 and on.created_count("order-123456") == 1


def test_a_retrying_delivery_shows_its_next_attempt_and_last_error(pipeline, fakes, configure, lambda_context):
    _sc, _dd, on = fakes
    configure(RETRY_BASE_SECONDS="600", RETRY_MAX_SECONDS="600")
    post_order(fixture("canonical_order.json"), lambda_context)
    on.add_faults({"status": 503})

    pipeline.run_until(lambda: len(on.requests) == 1)

    onward = order_state("order-123456", lambda_context)["deliveries"]["onward"]
    assert onward["state"] == "retrying"
    assert onward["last_error"] == {"code": "transient", "message": "HTTP 503", "status": 503}
    wait = datetime.fromisoformat(onward["next_attempt_at"]) - datetime.now(UTC)
    assert 250 < wait.total_seconds() <= 600  # half the step fixed, half jittered


def test_still_failing_at_the_retry_horizon_ends_failed_and_alarmed_not_in_the_dlq(
    pipeline, fakes, configure, lambda_context, capsys
):
    _sc, _dd, on = fakes
    configure(RETRY_HORIZON_SECONDS="60", RETRY_TIME_SCALE="0.05")  # a 3-second horizon
    post_order(fixture("canonical_order.json"), lambda_context)
    on.configure(fail_rate=1.0, seed=1)

    pipeline.run_until_idle()

    onward = order_state("order-123456", lambda_context)["deliveries"]["onward"]
    assert onward["state"] == "failed" and onward["last_error"]["code"] == "retries_exhausted"
    assert onward["attempts"] >= 2
    assert '"DeliveryExhausted"' in capsys.readouterr().out
    assert pipeline.dlq_messages() == []  # the delivery says what happened; replay sends it again


def test_a_routed_destination_without_credentials_is_held_then_delivered_once_configured(
    pipeline, fakes, configure, lambda_context
):
    configure(ONWARD_API_KEY="")
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_for(2.5)
    onward = order_state("order-123456", lambda_context)["deliveries"]["onward"]
    assert onward["state"] == "held" and onward["last_error"]["code"] == "destination_unconfigured"
    assert "ONWARD_API_KEY_PARAM" in onward["last_error"]["message"]
    assert fakes[2].requests == []

    configure(ONWARD_API_KEY="on-key")
    pipeline.run_until_idle()
    assert states("order-123456", lambda_context)["onward"] == "delivered"
    assert fakes[2].created_count("order-123456") == 1


def test_sign_customisers_own_webhook_settles_its_delivery_without_sending(pipeline, fakes, lambda_context):
    sc, _dd, _on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    # Given Sign Customiser already told us (order:created) that it has this very order
    deliver_webhook(
        {
            "order_id": 77,
            "external_id": "order-123456",
            "external_order_number": "SC-1001",
            "currency": "USD",
            "products": [{"external_id": "sc-1", "quantity": 2, "price": 2999}],
        },
        lambda_context,
    )

    pipeline.run_until_idle()

    signcustomiser = order_state("order-123456", lambda_context)["deliveries"]["signcustomiser"]
    assert (signcustomiser["state"], signcustomiser["destination_ref"]) == ("delivered", "77")
    assert sc.requests == []


def test_a_webhook_sharing_only_our_external_id_does_not_settle_anything(pipeline, fakes, lambda_context):
    sc, _dd, _on = fakes
    post_order(fixture("canonical_order.json"), lambda_context)
    # Given an order from another channel that happens to carry the same external_id
    deliver_webhook(
        {
            "order_id": 78,
            "external_id": "order-123456",
            "external_order_number": "SHOPIFY-9",
            "currency": "USD",
            "products": [{"external_id": "another-design", "quantity": 1, "price": 500}],
        },
        lambda_context,
    )

    pipeline.run_until_idle()

    signcustomiser = order_state("order-123456", lambda_context)["deliveries"]["signcustomiser"]
    assert signcustomiser["state"] == "delivered" and signcustomiser["destination_ref"] != "78"
    assert sc.created_count("order-123456") == 1  # ours was sent


def test_a_rotated_destination_key_is_used_without_a_redeploy(pipeline, fakes, configure, lambda_context):
    import boto3

    _sc, _dd, on = fakes
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/signbridge/onward-api-key", Value="old-key", Type="SecureString")
    configure(ONWARD_API_KEY_PARAM="/signbridge/onward-api-key", SECRETS_MAX_AGE_SECONDS="0")
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until(lambda: len(on.requests) >= 1)
    pipeline.run_for(0.5)
    assert order_state("order-123456", lambda_context)["deliveries"]["onward"]["last_error"]["code"] == "auth_rejected"

    # When the merchant rotates the key in SSM (no redeploy, no restart, no retry command)
    ssm.put_parameter(Name="/signbridge/onward-api-key", Value="on-key", Type="SecureString", Overwrite=True)
    pipeline.run_until_idle()

    assert states("order-123456", lambda_context)["onward"] == "delivered"
    keys = [r["headers"]["x-api-key"] for r in on.requests]
    assert keys[-1] == "on-key" and set(keys) == {"old-key", "on-key"}
    assert on.created_count("order-123456") == 1


def test_a_missing_key_is_not_looked_up_for_every_message(pipeline, fakes, configure, lambda_context, monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    calls: list[str] = []
    real = parameters.get_parameter

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(parameters, "get_parameter", counting)
    configure(ONWARD_API_KEY_PARAM="/signbridge/missing-onward-key", SECRETS_MISS_MAX_AGE_SECONDS="3600")
    for n in range(5):
        post_order(fixture("canonical_order.json") | {"id": f"order-{n}"}, lambda_context)

    pipeline.run_for(2.5)

    assert all(states(f"order-{n}", lambda_context)["onward"] == "held" for n in range(5))
    assert calls.count("/signbridge/missing-onward-key") == 1
    assert all(states(f"order-{n}", lambda_context)["dropday"] == "delivered" for n in range(5))


def test_a_message_nobody_can_read_goes_to_the_dlq_at_once(pipeline, lambda_context):
    pipeline.sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody='{"order": "not a delivery message"}')

    pipeline.run_until_idle()

    assert pipeline.dlq_messages() == [{"order": "not a delivery message"}]


def test_a_message_that_came_back_very_often_is_replaced_by_a_fresh_one(pipeline, configure, lambda_context):
    configure(ONWARD_API_KEY="")  # held: its message would come back every few minutes for as long as it takes
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.pump_stream()
    messages = pipeline.sqs.receive_message(
        QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )["Messages"]
    onward = next(m for m in messages if json.loads(m["Body"])["destination"] == "onward")
    onward["Attributes"]["ApproximateReceiveCount"] = "600"  # as SQS would say after weeks held

    result = load_function("forwarder").handler(pipeline._sqs_event([onward]), pipeline.context)

    assert result["batchItemFailures"] == []  # this message is done ...
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + 5  # the replacement carries the held wait as its delay
    while {"order_id": "order-123456", "destination": "onward", "gen": 1} not in bodies and time.monotonic() < deadline:
        fresh = pipeline.sqs.receive_message(QueueUrl=pipeline.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [json.loads(m["Body"]) for m in fresh.get("Messages", [])]
    assert {"order_id": "order-123456", "destination": "onward", "gen": 1} in bodies  # ... a new one took over
    view = order_state("order-123456", lambda_context)["deliveries"]["onward"]
    assert view["state"] == "held"
