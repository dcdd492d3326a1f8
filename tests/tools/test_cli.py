"""signbridge (operator console): Given orders and DLQ messages in moto, Then show, retry and redrive do so."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from signbridge.logic.orders import order_view
from signbridge.models.items import DeliveryError, DeliveryRecord, DeliveryState, OrderRecord
from signbridge.store.table import Store
from signbridge_tools import cli
from tests.conftest import BASE_ENV
from tests.support.pipeline import Pipeline

TABLE = BASE_ENV["TABLE_NAME"]
AT = "2025-10-22T01:00:00+00:00"


@pytest.fixture
def store(table: Any) -> Store:
    return Store(TABLE, table)


@pytest.fixture
def dlq(aws: None) -> str:
    return str(boto3.client("sqs").create_queue(QueueName="signbridge-deliveries-dlq")["QueueUrl"])


def given_order(store: Store, order_id: str = "order-1", **states: DeliveryState) -> None:
    deliveries = [
        DeliveryRecord(
            order_id=order_id,
            destination=name,
            state=state,
            attempts=0 if state is DeliveryState.PENDING else 3,
            destination_ref="SC-77" if state is DeliveryState.DELIVERED else None,
            last_error=DeliveryError(code="destination_rejected", message="Unknown SKU", status=422)
            if state is DeliveryState.FAILED
            else None,
            updated_at=AT,
        )
        for name, state in states.items()
    ]
    order = OrderRecord(
        order_id=order_id, origin="platform", received_at=AT, body="{}", digest="d", destinations=list(states)
    )
    assert store.create_order(order, deliveries)


def states(store: Store, order_id: str = "order-1") -> dict[str, str]:
    state = store.get_order_state(order_id)
    assert state is not None
    return {d.destination: d.state.value for d in state.deliveries}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dlq_send(url: str, *bodies: Any) -> None:
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))


def dlq_bodies(url: str) -> list[str]:
    """What the DLQ holds now (read with visibility 0, so reading changes nothing)."""
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in messages.get("Messages", []))


# --- order show -----------------------------------------------------------------------------
def test_show_prints_each_destination_with_state_attempts_ref_and_error(store, capsys):
    given_order(store, signcustomiser=DeliveryState.DELIVERED, dropday=DeliveryState.FAILED)

    code, out, _ = run(capsys, "order", "show", "order-1", "--table", TABLE)

    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("order order-1 (origin platform")
    assert lines[1].split()[:4] == ["DESTINATION", "STATE", "ATTEMPTS", "DESTINATION_REF"]
    dropday = next(line for line in lines if line.startswith("dropday"))
    assert dropday.split()[:4] == ["dropday", "failed", "3", "-"]
    assert "destination_rejected (422): Unknown SKU" in dropday
    assert next(line for line in lines if line.startswith("signcustomiser")).split()[:4] == [
        "signcustomiser",
        "delivered",
        "3",
        "SC-77",
    ]


def test_show_json_is_the_order_view(store, capsys):
    given_order(store, onward=DeliveryState.RETRYING)

    code, out, _ = run(capsys, "order", "show", "order-1", "--json", "--table", TABLE)

    state = store.get_order_state("order-1")
    assert code == 0 and state is not None
    assert json.loads(out) == order_view(state)


def test_show_of_an_unknown_order_fails_clearly(store, capsys):
    code, out, err = run(capsys, "order", "show", "nope", "--table", TABLE)

    assert code == 1
    assert out == ""
    assert "No order 'nope'" in err


def test_a_command_without_a_table_says_how_to_name_one(aws, capsys):
    code, _, err = run(capsys, "order", "show", "order-1")

    assert code == 1
    assert "--table" in err and "--stack" in err and "--local" in err


# --- order retry ----------------------------------------------------------------------------
def test_retry_puts_every_failed_or_stuck_delivery_back_to_pending(store, capsys):
    given_order(
        store,
        signcustomiser=DeliveryState.SKIPPED,
        dropday=DeliveryState.FAILED,
        onward=DeliveryState.RETRYING,
    )
    given_order(store, "order-2", dropday=DeliveryState.DELIVERED)

    code, out, _ = run(capsys, "order", "retry", "order-1", "--table", TABLE)

    assert code == 0
    assert states(store) == {"signcustomiser": "skipped", "dropday": "pending", "onward": "pending"}
    assert "requeued   order-1 / dropday: failed -> pending" in out
    assert "requeued   order-1 / onward: retrying -> pending" in out
    assert "left       order-1 / signcustomiser: skipped" in out
    assert states(store, "order-2") == {"dropday": "delivered"}


def test_retry_of_one_destination_leaves_the_others(store, capsys):
    given_order(store, dropday=DeliveryState.FAILED, onward=DeliveryState.FAILED)

    code, _, _ = run(capsys, "order", "retry", "order-1", "--destination", "onward", "--table", TABLE)

    assert code == 0
    assert states(store) == {"dropday": "failed", "onward": "pending"}


def test_retry_dry_run_changes_nothing(store, capsys):
    given_order(store, dropday=DeliveryState.FAILED)

    code, out, _ = run(capsys, "order", "retry", "order-1", "--dry-run", "--table", TABLE)

    assert code == 0
    assert "would requeue order-1 / dropday: failed -> pending" in out
    assert states(store) == {"dropday": "failed"}


def test_retry_of_a_delivered_destination_fails_and_changes_nothing(store, capsys):
    given_order(store, dropday=DeliveryState.DELIVERED)

    code, out, _ = run(capsys, "order", "retry", "order-1", "--destination", "dropday", "--table", TABLE)

    assert code == 1
    assert "left       order-1 / dropday: delivered" in out
    assert states(store) == {"dropday": "delivered"}


def test_retry_of_a_destination_the_order_does_not_have_names_the_ones_it_has(store, capsys):
    given_order(store, dropday=DeliveryState.FAILED)

    code, _, err = run(capsys, "order", "retry", "order-1", "--destination", "onward", "--table", TABLE)

    assert code == 1
    assert "no delivery to 'onward' (it has: dropday)" in err


def test_retry_leaves_a_delivery_whose_attempt_is_under_way_unless_forced(store, table, capsys):
    given_order(store, dropday=DeliveryState.RETRYING)
    assert store.claim_delivery("order-1", "dropday", "attempt-1", int(time.time()), 120, AT) is not None

    code, out, _ = run(capsys, "order", "retry", "order-1", "--table", TABLE)
    assert code == 0
    assert "an attempt is under way" in out
    assert states(store) == {"dropday": "sending"}

    run(capsys, "order", "retry", "order-1", "--force", "--table", TABLE)
    assert states(store) == {"dropday": "pending"}


def test_retry_of_an_unknown_order_fails(store, capsys):
    code, _, err = run(capsys, "order", "retry", "nope", "--table", TABLE)
    assert code == 1
    assert "No order 'nope'" in err


def test_a_retried_delivery_is_enqueued_again_by_the_tables_stream(store, queue, dlq, capsys):
    given_order(store, dropday=DeliveryState.FAILED)
    pipeline = Pipeline(TABLE, queue, dlq)
    pipeline.pump_stream()  # the failed delivery's own write: not enqueued
    assert pipeline.in_queue(queue) == 0

    run(capsys, "order", "retry", "order-1", "--table", TABLE)
    pipeline.pump_stream()

    [message] = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"]) == {"order_id": "order-1", "destination": "dropday"}


# --- dlq ------------------------------------------------------------------------------------
def test_list_shows_the_messages_without_consuming_them(store, dlq, capsys):
    given_order(store, dropday=DeliveryState.FAILED)
    dlq_send(dlq, {"destination": "dropday", "order_id": "order-1"}, "not json")

    code, out, _ = run(capsys, "dlq", "list", "--dlq-url", dlq, "--table", TABLE)

    assert code == 0
    row = next(line for line in out.splitlines() if "order-1" in line)
    assert row.split()[-3:] == ["order-1", "dropday", "failed"]
    assert "malformed: body is not JSON" in out
    assert "2 message(s)" in out
    assert len(dlq_bodies(dlq)) == 2  # visible again at once


def test_redrive_requeues_deletes_and_leaves_the_malformed(store, dlq, capsys):
    given_order(store, dropday=DeliveryState.FAILED, onward=DeliveryState.DELIVERED)
    dlq_send(
        dlq,
        {"order_id": "order-1", "destination": "dropday"},
        {"order_id": "order-1", "destination": "onward"},
        {"order": "order-1"},
    )

    code, out, _ = run(capsys, "dlq", "redrive", "--dlq-url", dlq, "--table", TABLE)

    assert states(store) == {"dropday": "pending", "onward": "delivered"}
    assert dlq_bodies(dlq) == ['{"order": "order-1"}']
    assert "order-1 / dropday: failed -> pending" in out
    assert "order-1 / onward: already delivered" in out
    assert "malformed: body lacks order_id/destination strings" in out
    assert "3 message(s): 1 requeued, 1 deleted, 1 left" in out
    assert code == 1  # something was left in the DLQ


def test_redrive_of_a_clean_dlq_empties_it(store, dlq, capsys):
    given_order(store, dropday=DeliveryState.FAILED, onward=DeliveryState.RETRYING)
    dlq_send(dlq, {"order_id": "order-1", "destination": "dropday"}, {"order_id": "order-1", "destination": "onward"})

    code, _, _ = run(capsys, "dlq", "redrive", "--dlq-url", dlq, "--table", TABLE)

    assert code == 0
    assert dlq_bodies(dlq) == []
    assert states(store) == {"dropday": "pending", "onward": "pending"}


def test_redrive_dry_run_changes_nothing(store, dlq, capsys):
    given_order(store, dropday=DeliveryState.FAILED, onward=DeliveryState.DELIVERED)
    dlq_send(dlq, {"order_id": "order-1", "destination": "dropday"}, {"order_id": "order-1", "destination": "onward"})

    code, out, _ = run(capsys, "dlq", "redrive", "--dry-run", "--dlq-url", dlq, "--table", TABLE)

    assert code == 0
    assert "would requeue" in out and "would delete" in out
    assert "(dry run, nothing changed)" in out
    assert states(store) == {"dropday": "failed", "onward": "delivered"}
    assert len(dlq_bodies(dlq)) == 2


def test_redrive_max_stops_after_n_messages(store, dlq, capsys):
    given_order(store, dropday=DeliveryState.FAILED, onward=DeliveryState.FAILED)
    dlq_send(dlq, {"order_id": "order-1", "destination": "dropday"}, {"order_id": "order-1", "destination": "onward"})

    code, out, _ = run(capsys, "dlq", "redrive", "--max", "1", "--dlq-url", dlq, "--table", TABLE)

    assert code == 0
    assert "1 message(s)" in out
    assert len(dlq_bodies(dlq)) == 1
    assert sorted(states(store).values()) == ["failed", "pending"]


# --- where the stack is ---------------------------------------------------------------------
def test_local_reads_the_local_stack_file(store, dlq, tmp_path, monkeypatch, capsys):
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"table_name": TABLE, "dlq_url": dlq, "queue_url": "unused"}))
    monkeypatch.setattr(cli, "LOCAL_STACK_FILE", stack_file)
    given_order(store, dropday=DeliveryState.FAILED)
    dlq_send(dlq, {"order_id": "order-1", "destination": "dropday"})

    code, _, _ = run(capsys, "dlq", "redrive", "--local")

    assert code == 0
    assert dlq_bodies(dlq) == []
    assert states(store) == {"dropday": "pending"}


def test_local_without_a_local_stack_says_so(aws, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "LOCAL_STACK_FILE", tmp_path / "missing.json")

    code, _, err = run(capsys, "order", "show", "order-1", "--local")

    assert code == 1
    assert "missing.json not found" in err


def test_stack_reads_the_table_and_dlq_from_the_stack_outputs(store, dlq, monkeypatch, capsys):
    real_client = cli.Target.client
    stubs: list[Stubber] = []

    def client(target: cli.Target, service: str) -> Any:
        made = real_client(target, service)
        if service == "cloudformation":  # moto's CloudFormation needs extras this project does not install
            stub = Stubber(made)
            outputs = [
                {"OutputKey": "TableName", "OutputValue": TABLE},
                {"OutputKey": "DeliveryDLQUrl", "OutputValue": dlq},
            ]
            stack = {"StackName": "prod", "StackStatus": "UPDATE_COMPLETE", "CreationTime": datetime.now(UTC)}
            stub.add_response("describe_stacks", {"Stacks": [{**stack, "Outputs": outputs}]}, {"StackName": "prod"})
            stub.activate()
            stubs.append(stub)
        return made

    monkeypatch.setattr(cli.Target, "client", client)
    given_order(store, dropday=DeliveryState.FAILED)
    dlq_send(dlq, {"order_id": "order-1", "destination": "dropday"})

    code, _, _ = run(capsys, "dlq", "redrive", "--stack", "prod")

    assert code == 0
    assert dlq_bodies(dlq) == []
    assert states(store) == {"dropday": "pending"}
    stubs[0].assert_no_pending_responses()


# --- deliveries stuck -------------------------------------------------------------------------
def test_stuck_lists_unsettled_deliveries_and_requeues_them(store, capsys):
    # Given an order long ago (AT) with one delivery left pending (its outbox record was given up),
    # one retrying, one delivered
    given_order(
        store, signcustomiser=DeliveryState.PENDING, dropday=DeliveryState.RETRYING, onward=DeliveryState.DELIVERED
    )

    code, out, _ = run(capsys, "deliveries", "stuck", "--older-than-minutes", "5", "--table", TABLE)
    assert code == 0
    assert "order-1" in out and "signcustomiser" in out and "dropday" in out and "onward" not in out
    assert "2 delivery(ies) unsettled" in out

    run(capsys, "deliveries", "stuck", "--requeue", "--dry-run", "--table", TABLE)
    assert states(store) == {"signcustomiser": "pending", "dropday": "retrying", "onward": "delivered"}

    code, out, _ = run(capsys, "deliveries", "stuck", "--requeue", "--table", TABLE)
    assert code == 0
    assert states(store) == {"signcustomiser": "pending", "dropday": "pending", "onward": "delivered"}


def test_recent_deliveries_are_not_stuck(store, capsys):
    given_order(store, dropday=DeliveryState.RETRYING)
    code, out, _ = run(capsys, "deliveries", "stuck", "--older-than-minutes", "999999999", "--table", TABLE)
    assert "0 delivery(ies) unsettled" in out
