"""sam local invoke, on this machine's engine: Given the local stack's parameters and fakes, When each
function is invoked on its event, Then it answers as on the deployed stack and its effects are real."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.samlocal

DESTINATIONS = ["dropday", "onward", "signcustomiser"]


def api(samlocal: dict[str, Any], name: str) -> tuple[int, Any]:
    response = samlocal["invocations"][name]["response"]
    assert isinstance(response, dict) and "statusCode" in response, samlocal["invocations"][name]["stderr_tail"]
    return response["statusCode"], json.loads(response["body"])


def test_the_product_callback_answers_an_external_id(samlocal):
    status, body = api(samlocal, "product")
    assert status == 200
    assert body == {"external_id": "sc-1"}


def test_the_webhook_is_acknowledged(samlocal):
    assert api(samlocal, "webhook") == (200, {"ok": True})


def test_a_new_order_is_accepted_and_its_state_can_be_read(samlocal):
    posted_status, posted = api(samlocal, "order_post")
    shown_status, shown = api(samlocal, "order_get")

    assert posted_status == 202
    assert shown_status == 200
    assert shown["order_id"] == posted["order_id"] == samlocal["order_id"]
    assert {d: shown["deliveries"][d]["state"] for d in shown["deliveries"]} == dict.fromkeys(DESTINATIONS, "pending")


def test_the_outbox_puts_one_message_per_pending_delivery_on_the_queue(samlocal):
    assert samlocal["invocations"]["outbox"]["response"] == {"batchItemFailures": []}
    assert samlocal["pending"] == dict.fromkeys(DESTINATIONS, "pending")
    queued = [(m["destination"], m["order_id"]) for m in samlocal["queued"]]
    assert queued == [(d, samlocal["order_id"]) for d in DESTINATIONS]


def test_the_forwarder_delivers_the_batch_to_every_destination(samlocal):
    assert samlocal["invocations"]["forwarder"]["response"] == {"batchItemFailures": []}
    assert samlocal["delivered"] == dict.fromkeys(DESTINATIONS, "delivered")
    assert all(count >= 1 for count in samlocal["fake_requests"].values()), samlocal["fake_requests"]
    assert sorted(samlocal["fake_requests"]) == DESTINATIONS


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [("product_unsigned", 401, "signature_missing"), ("webhook_malformed", 400, "malformed_json")],
)
def test_bad_events_get_the_same_error_as_on_the_deployed_stack(samlocal, name, status, code):
    local, deployed = samlocal["bad_events"][name]["local"], samlocal["bad_events"][name]["deployed"]

    assert local["status"] == status
    assert local["body"]["error"]["code"] == code
    assert local == deployed


def test_the_sweeper_reads_the_state_index_and_reports(samlocal):
    swept = samlocal["invocations"]["sweeper"]["response"]
    assert swept["awaiting_operator"] == 0 and swept["reenqueued"] == 0
    assert isinstance(swept["counts"], dict)


def test_every_check_of_the_command_passed(samlocal):
    assert samlocal["failed"] == []
    assert len(samlocal["invocations"]) == 9


def test_a_machine_without_podmans_bridge_still_runs_every_invocation(samlocal):
    """The run began with the default bridge removed (Podman creates it only for a first container):
    the engine step brought it up before the relay bound to its address."""
    if samlocal["timings"].get("engine") != "podman":
        pytest.skip("Docker's bridge exists with its daemon; the bridge step is Podman's")
    assert samlocal["timings"]["bridge_before_run"] == "removed"
    assert samlocal["failed"] == []
