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
from signbridge.store import Change, SendingStep, Store
from signbridge_tools import cli
from tests.conftest import BASE_ENV, load_function
from tests.support.events import api_event, fixture
from tests.support.pipeline import Pipeline, wire_pipeline

TABLE = BASE_ENV["TABLE_NAME"]
AT = "2025-10-22T01:00:00+00:00"
NOW = int(time.time())  # set again before each test (below): a lease "under way" must still be running
HOUR = 3_600


@pytest.fixture(autouse=True)
def now(monkeypatch: pytest.MonkeyPatch) -> int:
    """The clock at the start of each test, not at import: a long run would otherwise find its leases expired."""
    moment = int(time.time())
    monkeypatch.setitem(globals(), "NOW", moment)
    return moment


@pytest.fixture
def store(table: Any) -> Store:
    return Store(TABLE, table)


@pytest.fixture
def dlq(aws: None) -> str:
    return str(boto3.client("sqs").create_queue(QueueName="signbridge-deliveries-dlq")["QueueUrl"])


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


# What each state's last attempt recorded, as the forwarder records it (the lifecycle's moves).
def outcome(state: DeliveryState, now: int) -> tuple[str, Change]:
    at = iso(now)
    match state:
        case DeliveryState.DELIVERED:
            return "delivered", Change(at, destination_ref="SC-77", error=None, lease=None, sending=None)
        case DeliveryState.FAILED:
            error = DeliveryError(code="destination_rejected", message="Unknown SKU", status=422)
            return "rejected", Change(at, error=error, lease=None, sending=None)
        case DeliveryState.RETRYING:
            error = DeliveryError(code="transient", message="HTTP 503", status=503)
            change = Change(at, error=error, next_attempt_at=now + 600, retrying_since=now, lease=None, sending=None)
            return "retry", change
        case DeliveryState.HELD:
            error = DeliveryError(code="auth_rejected", message="Unauthenticated.", status=401)
            return "refused_key", Change(at, error=error, next_attempt_at=now + HOUR, lease=None, sending=None)
        case DeliveryState.IN_DOUBT:  # past its grace: waiting for an operator
            error = DeliveryError(code="in_doubt", message="never answered, and no confirmation came")
            change = Change(
                at, error=error, unanswered=(now - HOUR, "create_order"), next_attempt_at=None, lease=None, sending=None
            )
            return "unanswered", change
    raise AssertionError(state)


def given_order(store: Store, order_id: str = "order-1", now: int | None = None, **states: DeliveryState) -> None:
    """An order whose deliveries reached ``states`` through claims and attempts, at ``now`` (this test's NOW)."""
    now = NOW if now is None else now
    deliveries = [
        DeliveryRecord(order_id=order_id, destination=name, state=DeliveryState.PENDING, updated_at=AT)
        for name in states
    ]
    order = OrderRecord(
        order_id=order_id, origin="platform", received_at=AT, body="{}", digest="d", destinations=list(states)
    )
    assert store.create_order(order, deliveries)
    for name, state in states.items():
        current = delivery(store, name, order_id)
        if state is DeliveryState.PENDING:
            continue
        if state is DeliveryState.SKIPPED:
            nothing = DeliveryError(code="nothing_to_send", message="Nothing here.")
            assert store.move(current, "skip", Change(iso(now), error=nothing), now=now, gen=0)
            continue
        attempt = f"attempt-{name}"
        sending = SendingStep("create_order", name != "signcustomiser", 0, now)
        claim = Change(iso(now), lease=(attempt, now + 120), count_attempt=True, sending=sending)
        claimed = store.move(current, "claim", claim, now=now, gen=0)
        assert claimed is not None
        if state is not DeliveryState.SENDING:  # a sending delivery keeps the lease of its attempt
            move, change = outcome(state, now)
            assert store.move(claimed, move, change, now=now, attempt_id=attempt)


def delivery(store: Store, destination: str, order_id: str = "order-1") -> DeliveryRecord:
    found = store.get_delivery(order_id, destination)
    assert found is not None
    return found


def states(store: Store, order_id: str = "order-1") -> dict[str, str]:
    state = store.get_order_state(order_id)
    assert state is not None
    return {d.destination: d.state.value for d in state.deliveries}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def row(out: str, *starts: str) -> list[str]:
    """The printed row whose first cells are ``starts``, split on whitespace."""
    return next(line.split() for line in out.splitlines() if line.split()[: len(starts)] == list(starts))


def dlq_send(url: str, *bodies: Any) -> None:
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body if isinstance(body, str) else json.dumps(body))


def dlq_bodies(url: str) -> list[str]:
    """What the DLQ holds now (read with visibility 0, so reading changes nothing)."""
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return sorted(m["Body"] for m in messages.get("Messages", []))


def post_order(order: dict[str, Any], context: Any) -> None:
    response = load_function("orders").handler(api_event("POST", "/orders", json.dumps(order).encode()), context)
    assert response["statusCode"] == 202, response["body"]


class NoScan:
    """A DynamoDB client that refuses Scan: the console must read the state index instead."""

    def __init__(self, client: Any):
        self.client = client

    def scan(self, **_: Any) -> Any:
        raise AssertionError("the console scanned the table")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def no_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    real_store = cli.Target.store
    monkeypatch.setattr(cli.Target, "store", lambda target: Store(TABLE, NoScan(real_store(target).client)))


# --- order show -----------------------------------------------------------------------------
def test_show_prints_each_destination_with_state_attempts_next_attempt_ref_and_error(store, capsys):
    given_order(
        store,
        signcustomiser=DeliveryState.DELIVERED,
        dropday=DeliveryState.FAILED,
        onward=DeliveryState.RETRYING,
    )

    code, out, _ = run(capsys, "order", "show", "order-1", "--table", TABLE)

    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("order order-1 (origin platform")
    assert lines[1].split()[:6] == [
        "DESTINATION",
        "STATE",
        "ATTEMPTS",
        "NEXT_ATTEMPT",
        "UNANSWERED_SINCE",
        "DESTINATION_REF",
    ]
    next_try = datetime.fromtimestamp(NOW + 600, UTC).isoformat(timespec="seconds")
    assert row(out, "onward")[:6] == ["onward", "retrying", "1", next_try, "-", "-"]
    assert "transient (503): HTTP 503" in " ".join(row(out, "onward"))
    assert row(out, "dropday")[:6] == ["dropday", "failed", "1", "-", "-", "-"]
    assert "destination_rejected (422): Unknown SKU" in " ".join(row(out, "dropday"))
    assert row(out, "signcustomiser")[:6] == ["signcustomiser", "delivered", "1", "-", "-", "SC-77"]


def test_show_of_an_in_doubt_delivery_says_since_when_and_how_to_settle_it(store, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT)

    code, out, _ = run(capsys, "order", "show", "order-1", "--table", TABLE)

    assert code == 0
    since = datetime.fromtimestamp(NOW - HOUR, UTC).isoformat(timespec="seconds")
    assert row(out, "signcustomiser")[:5] == ["signcustomiser", "in_doubt", "1", "-", since]
    assert "signbridge order resolve order-1 signcustomiser --delivered" in out


def test_show_of_a_delivery_within_its_grace_says_it_waits_for_the_webhook(store, capsys):
    given_order(store, signcustomiser=DeliveryState.SENDING)
    error = DeliveryError(code="in_doubt", message="the attempt was not answered clearly (HTTP 502)")
    waiting = Change(
        iso(NOW), error=error, unanswered=(NOW, "create_order"), next_attempt_at=NOW + 900, lease=None, sending=None
    )
    assert store.move(
        delivery(store, "signcustomiser"), "unanswered", waiting, now=NOW, attempt_id="attempt-signcustomiser"
    )

    code, out, _ = run(capsys, "order", "show", "order-1", "--table", TABLE)

    grace_ends = datetime.fromtimestamp(NOW + 900, UTC).isoformat(timespec="seconds")
    assert code == 0
    assert row(out, "signcustomiser")[3] == grace_ends
    assert f"waiting for its own order:created webhook until {grace_ends}" in out


def test_show_json_is_the_order_view(store, capsys):
    given_order(store, onward=DeliveryState.RETRYING)

    code, out, _ = run(capsys, "order", "show", "order-1", "--json", "--table", TABLE)

    state = store.get_order_state("order-1")
    assert code == 0 and state is not None
    assert json.loads(out) == order_view(state)
    assert json.loads(out)["deliveries"]["onward"]["next_attempt_at"] == iso(NOW + 600)


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
def test_retry_puts_every_failed_held_or_retrying_delivery_back_to_pending(store, capsys):
    given_order(
        store,
        signcustomiser=DeliveryState.SKIPPED,
        dropday=DeliveryState.FAILED,
        onward=DeliveryState.HELD,
    )
    given_order(store, "order-2", dropday=DeliveryState.DELIVERED)

    code, out, _ = run(capsys, "order", "retry", "order-1", "--table", TABLE)

    assert code == 0
    assert states(store) == {"signcustomiser": "skipped", "dropday": "pending", "onward": "pending"}
    assert "requeued   order-1 / dropday: failed -> pending" in out
    assert "requeued   order-1 / onward: held -> pending" in out
    assert "left       order-1 / signcustomiser: skipped" in out
    assert states(store, "order-2") == {"dropday": "delivered"}
    onward = delivery(store, "onward")
    # a fresh start: a new message generation, a new attempt budget, no next attempt scheduled
    assert (onward.gen, onward.attempts, onward.next_attempt_at) == (1, 0, None)


def test_retry_refuses_an_in_doubt_delivery_and_points_to_resolve(store, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT, dropday=DeliveryState.FAILED)

    code, out, _ = run(capsys, "order", "retry", "order-1", "--table", TABLE)

    assert code == 0  # a whole-order sweep retries what it can
    assert states(store) == {"signcustomiser": "in_doubt", "dropday": "pending"}
    assert "left       order-1 / signcustomiser: in doubt;" in out
    assert "signbridge order resolve order-1 signcustomiser --delivered" in out

    code, _, _ = run(capsys, "order", "retry", "order-1", "--destination", "signcustomiser", "--table", TABLE)

    assert code == 1
    assert delivery(store, "signcustomiser").state is DeliveryState.IN_DOUBT
    assert delivery(store, "signcustomiser").gen == 0


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
    assert delivery(store, "dropday").gen == 0


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


def test_retry_leaves_a_delivery_whose_attempt_is_under_way_unless_forced(store, capsys):
    given_order(store, dropday=DeliveryState.SENDING)

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
    pipeline.pump_stream()  # the delivery's own writes: only its first (pending, generation 0) is enqueued
    boto3.client("sqs").purge_queue(QueueUrl=queue)

    run(capsys, "order", "retry", "order-1", "--table", TABLE)
    pipeline.pump_stream()

    [message] = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"]) == {"order_id": "order-1", "destination": "dropday", "gen": 1}


# --- order resolve --------------------------------------------------------------------------
def test_resolve_delivered_settles_an_in_doubt_delivery(store, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT)

    code, out, _ = run(
        capsys, "order", "resolve", "order-1", "signcustomiser", "--delivered", "--reference", "5001", "--table", TABLE
    )

    assert code == 0
    assert "settled      order-1 / signcustomiser (step create_order): in_doubt" in out and "-> delivered" in out
    settled = delivery(store, "signcustomiser")
    assert (settled.state, settled.destination_ref) == (DeliveryState.DELIVERED, "5001")
    assert settled.unanswered_at is None and settled.last_error is None


def test_resolve_delivered_without_a_reference_records_that_an_operator_settled_it(store, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT)

    code, _, _ = run(capsys, "order", "resolve", "order-1", "signcustomiser", "--delivered", "--table", TABLE)

    assert code == 0
    settled = delivery(store, "signcustomiser")
    assert settled.state is DeliveryState.DELIVERED
    assert settled.destination_ref is not None and "operator" in settled.destination_ref


def test_resolve_resend_sends_again_without_waiting_for_a_confirmation(store, queue, dlq, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT)
    pipeline = Pipeline(TABLE, queue, dlq)
    pipeline.pump_stream()
    boto3.client("sqs").purge_queue(QueueUrl=queue)

    code, out, _ = run(capsys, "order", "resolve", "order-1", "signcustomiser", "--resend", "--table", TABLE)
    pipeline.pump_stream()

    assert code == 0
    assert "resent       order-1 / signcustomiser (step create_order): in_doubt" in out
    resent = delivery(store, "signcustomiser")
    assert (resent.state, resent.unanswered_at, resent.gen, resent.attempts) == (DeliveryState.PENDING, None, 1, 0)
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"]) == {"order_id": "order-1", "destination": "signcustomiser", "gen": 1}


@pytest.mark.parametrize("choice", ["--delivered", "--resend"])
def test_resolve_dry_run_changes_nothing(store, capsys, choice):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT)
    before = delivery(store, "signcustomiser")

    code, out, _ = run(capsys, "order", "resolve", "order-1", "signcustomiser", choice, "--dry-run", "--table", TABLE)

    assert code == 0
    assert out.startswith("would ")
    assert delivery(store, "signcustomiser") == before


@pytest.mark.parametrize("state", [DeliveryState.FAILED, DeliveryState.DELIVERED, DeliveryState.RETRYING])
def test_resolve_of_a_delivery_not_in_doubt_is_refused_and_changes_nothing(store, capsys, state):
    given_order(store, signcustomiser=state)
    before = delivery(store, "signcustomiser")

    code, out, err = run(capsys, "order", "resolve", "order-1", "signcustomiser", "--resend", "--table", TABLE)

    assert code == 1 and out == ""
    assert f"order-1 / signcustomiser is {state}, not in doubt" in err and "nothing changed" in err
    assert delivery(store, "signcustomiser") == before


def test_resolve_of_an_unknown_order_or_destination_fails_clearly(store, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT)

    code, _, err = run(capsys, "order", "resolve", "nope", "signcustomiser", "--delivered", "--table", TABLE)
    assert code == 1 and "No order 'nope'" in err

    code, _, err = run(capsys, "order", "resolve", "order-1", "dropday", "--delivered", "--table", TABLE)
    assert code == 1 and "no delivery to 'dropday'" in err


def test_resolve_needs_exactly_one_of_delivered_or_resend(store, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT)

    for choices in ([], ["--delivered", "--resend"]):
        with pytest.raises(SystemExit) as exited:
            cli.main(["order", "resolve", "order-1", "signcustomiser", *choices, "--table", TABLE])
        assert exited.value.code == 2
    code, _, err = run(capsys, "order", "resolve", "order-1", "signcustomiser", "--resend", "--reference", "5001")
    assert code == 1 and "--reference goes with --delivered" in err
    assert delivery(store, "signcustomiser").state is DeliveryState.IN_DOUBT


# --- deliveries STATE -----------------------------------------------------------------------
def test_deliveries_failed_lists_every_destinations_failed_ones_from_the_index(store, no_scan, capsys):
    given_order(store, dropday=DeliveryState.FAILED, onward=DeliveryState.FAILED, signcustomiser=DeliveryState.HELD)
    given_order(store, "order-2", dropday=DeliveryState.FAILED, onward=DeliveryState.DELIVERED)

    code, out, _ = run(capsys, "deliveries", "failed", "--table", TABLE)

    assert code == 0
    assert out.splitlines()[0].split() == [
        "ORDER_ID",
        "DESTINATION",
        "STATE",
        "ATTEMPTS",
        "UPDATED_AT",
        "NEXT_ATTEMPT",
        "LAST_ERROR",
    ]
    rows = sorted(tuple(line.split()[:4]) for line in out.splitlines()[1:-1])
    assert rows == [
        ("order-1", "dropday", "failed", "1"),
        ("order-1", "onward", "failed", "1"),
        ("order-2", "dropday", "failed", "1"),
    ]
    assert "destination_rejected (422): Unknown SKU" in out
    assert out.splitlines()[-1] == "3 delivery(ies) failed"


def test_deliveries_held_shows_the_next_attempt_and_the_error(store, no_scan, capsys):
    given_order(store, onward=DeliveryState.HELD, dropday=DeliveryState.FAILED)

    code, out, _ = run(capsys, "deliveries", "held", "--table", TABLE)

    assert code == 0
    next_try = datetime.fromtimestamp(NOW + HOUR, UTC).isoformat(timespec="seconds")
    assert row(out, "order-1")[:3] == ["order-1", "onward", "held"]
    assert row(out, "order-1")[5:7] == [next_try, "auth_rejected"]
    assert "1 delivery(ies) held" in out


def test_deliveries_in_doubt_lists_them_with_the_way_to_settle_them(store, no_scan, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT, onward=DeliveryState.RETRYING)

    code, out, _ = run(capsys, "deliveries", "in-doubt", "--table", TABLE)

    assert code == 0
    assert row(out, "order-1")[:3] == ["order-1", "signcustomiser", "in_doubt"]
    assert "1 delivery(ies) in_doubt" in out
    assert "signbridge order resolve" in out


def test_deliveries_by_destination_and_since(store, no_scan, capsys):
    given_order(store, "old", now=NOW - 3 * 24 * HOUR, dropday=DeliveryState.FAILED)
    given_order(store, "recent", now=NOW - HOUR, dropday=DeliveryState.FAILED, onward=DeliveryState.FAILED)

    _, out, _ = run(capsys, "deliveries", "failed", "--destination", "dropday", "--since", "24h", "--table", TABLE)
    assert [line.split()[:2] for line in out.splitlines()[1:-1]] == [["recent", "dropday"]]

    two_days_ago = iso(NOW - 2 * 24 * HOUR)
    _, out, _ = run(capsys, "deliveries", "failed", "--since", two_days_ago, "--table", TABLE)
    assert sorted(line.split()[1] for line in out.splitlines()[1:-1]) == ["dropday", "onward"]
    assert "old" not in [line.split()[0] for line in out.splitlines()]

    _, out, _ = run(capsys, "deliveries", "failed", "--since", "7d", "--max", "1", "--table", TABLE)
    assert [line.split()[:2] for line in out.splitlines()[1:-1]] == [["old", "dropday"]]  # oldest change first
    assert "(the first 1; more match)" in out


def test_deliveries_refuse_an_unreadable_since_or_max_and_an_unknown_destination(store, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["deliveries", "failed", "--since", "yesterday", "--table", TABLE])
    assert exited.value.code == 2
    assert "neither an ISO 8601 time" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        cli.main(["deliveries", "failed", "--max", "0", "--table", TABLE])
    assert exited.value.code == 2

    code, _, err = run(capsys, "deliveries", "failed", "--destination", "dropdya", "--table", TABLE)
    assert code == 1 and "Unknown destination 'dropdya'" in err


# --- deliveries stuck -------------------------------------------------------------------------
def test_stuck_lists_overdue_deliveries_and_requeues_them(store, no_scan, capsys):
    # Given, two hours ago: an attempt whose worker died (its lease long expired), a retry whose
    # message was lost (its next attempt long past), a failed and a delivered delivery
    given_order(
        store,
        now=NOW - 2 * HOUR,
        signcustomiser=DeliveryState.SENDING,
        dropday=DeliveryState.RETRYING,
        onward=DeliveryState.FAILED,
    )
    given_order(store, "order-2", now=NOW - 2 * HOUR, dropday=DeliveryState.DELIVERED)

    code, out, _ = run(capsys, "deliveries", "stuck", "--older-than-minutes", "5", "--table", TABLE)
    assert code == 0
    assert sorted(tuple(line.split()[:3]) for line in out.splitlines()[1:-1]) == [
        ("order-1", "dropday", "retrying"),
        ("order-1", "signcustomiser", "sending"),
    ]
    assert "2 delivery(ies) overdue" in out

    run(capsys, "deliveries", "stuck", "--requeue", "--dry-run", "--table", TABLE)
    assert states(store) == {"signcustomiser": "sending", "dropday": "retrying", "onward": "failed"}

    code, out, _ = run(capsys, "deliveries", "stuck", "--requeue", "--table", TABLE)
    assert code == 0
    assert "requeued      order-1 / dropday: retrying -> pending" in out
    assert states(store) == {"signcustomiser": "pending", "dropday": "pending", "onward": "failed"}


def test_deliveries_due_soon_are_not_stuck(store, capsys):
    given_order(store, dropday=DeliveryState.RETRYING, onward=DeliveryState.HELD)
    code, out, _ = run(capsys, "deliveries", "stuck", "--older-than-minutes", "5", "--table", TABLE)
    assert code == 0
    assert "0 delivery(ies) overdue" in out


# --- replay ---------------------------------------------------------------------------------
def test_replay_requeues_one_destinations_deliveries_in_one_state(store, no_scan, capsys):
    given_order(store, dropday=DeliveryState.FAILED, onward=DeliveryState.FAILED)
    given_order(store, "order-2", dropday=DeliveryState.FAILED)
    given_order(store, "order-3", dropday=DeliveryState.HELD)

    code, out, _ = run(capsys, "replay", "--destination", "dropday", "--state", "failed", "--table", TABLE)

    assert code == 0
    assert "requeued      order-1 / dropday: failed -> pending" in out
    assert "requeued      order-2 / dropday: failed -> pending" in out
    assert out.splitlines()[-1] == "2 failed delivery(ies) to dropday matched: 2 requeued, 0 left"
    assert states(store) == {"dropday": "pending", "onward": "failed"}
    assert states(store, "order-2") == {"dropday": "pending"}
    assert states(store, "order-3") == {"dropday": "held"}
    replayed = delivery(store, "dropday", "order-2")
    assert (replayed.gen, replayed.attempts, replayed.retrying_since) == (1, 0, None)


def test_replay_since_and_max_narrow_the_match(store, capsys):
    given_order(store, "old", now=NOW - 3 * 24 * HOUR, onward=DeliveryState.HELD)
    given_order(store, "recent-1", now=NOW - 2 * HOUR, onward=DeliveryState.HELD)
    given_order(store, "recent-2", now=NOW - HOUR, onward=DeliveryState.HELD)

    code, out, _ = run(
        capsys, "replay", "--destination", "onward", "--state", "held", "--since", "1d", "--max", "1", "--table", TABLE
    )

    assert code == 0
    assert "stopped at --max 1, more match" in out
    assert [states(store, o)["onward"] for o in ("old", "recent-1", "recent-2")].count("pending") == 1
    assert states(store, "old") == {"onward": "held"}


def test_replay_dry_run_changes_nothing(store, capsys):
    given_order(store, dropday=DeliveryState.FAILED)

    code, out, _ = run(capsys, "replay", "--destination", "dropday", "--state", "failed", "--dry-run", "--table", TABLE)

    assert code == 0
    assert "would requeue order-1 / dropday: failed -> pending" in out
    assert out.splitlines()[-1].endswith("1 would requeue, 0 left (dry run, nothing changed)")
    assert states(store) == {"dropday": "failed"} and delivery(store, "dropday").gen == 0


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ("in-doubt", "signbridge order resolve"),
        ("in_doubt", "signbridge order resolve"),
        ("delivered", "settled"),
        ("skipped", "settled"),
        ("lost", "Unknown state 'lost'"),
    ],
)
def test_replay_refuses_states_it_must_not_touch(store, capsys, state, says):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT, dropday=DeliveryState.DELIVERED)

    code, out, err = run(capsys, "replay", "--destination", "signcustomiser", "--state", state, "--table", TABLE)

    assert code == 1 and out == ""
    assert says in err
    assert states(store) == {"signcustomiser": "in_doubt", "dropday": "delivered"}


def test_replay_fails_when_a_matching_delivery_could_not_be_requeued(store, capsys):
    given_order(store, dropday=DeliveryState.SENDING)  # its attempt is under way
    given_order(store, "order-2", now=NOW - HOUR, dropday=DeliveryState.SENDING)  # its worker died

    code, out, _ = run(capsys, "replay", "--destination", "dropday", "--state", "sending", "--table", TABLE)

    assert code == 1
    assert "left          order-1 / dropday: an attempt is under way" in out
    assert "requeued      order-2 / dropday: sending -> pending" in out
    assert "1 requeued, 1 left" in out
    assert states(store) == {"dropday": "sending"}


def test_a_delivery_failed_at_the_retry_horizon_is_replayed_and_delivered_once(
    table, fakes, configure, lambda_context, capsys
):
    _sc, _dd, on = fakes
    pipeline = wire_pipeline(configure, fakes, lambda_context, TABLE)
    configure(RETRY_HORIZON_SECONDS="60", RETRY_TIME_SCALE="0.05")  # a 3-second horizon
    on.configure(fail_rate=1.0, seed=1)
    post_order(fixture("canonical_order.json"), lambda_context)
    pipeline.run_until_idle()
    assert states(Store(TABLE, table), "order-123456")["onward"] == "failed"
    failed_attempts = len(on.requests)

    # When Onward is back and the operator replays its failed deliveries
    on.configure(fail_rate=0.0)
    code, out, _ = run(capsys, "replay", "--destination", "onward", "--state", "failed", "--table", TABLE)
    pipeline.run_until_idle()

    assert code == 0 and "requeued      order-123456 / onward: failed -> pending" in out
    assert states(Store(TABLE, table), "order-123456") == {
        "signcustomiser": "delivered",
        "dropday": "delivered",
        "onward": "delivered",
    }
    assert on.created_count("order-123456") == 1
    assert len(on.requests) == failed_attempts + 1  # one attempt after the replay, answered at once
    assert pipeline.dlq_messages() == []


# --- dlq ------------------------------------------------------------------------------------
def test_list_shows_the_messages_without_consuming_them(store, dlq, capsys):
    given_order(store, dropday=DeliveryState.FAILED)
    dlq_send(dlq, {"destination": "dropday", "order_id": "order-1", "gen": 2}, "not json")

    code, out, _ = run(capsys, "dlq", "list", "--dlq-url", dlq, "--table", TABLE)

    assert code == 0
    line = next(line for line in out.splitlines() if "order-1" in line)
    assert line.split()[-4:] == ["order-1", "dropday", "2", "failed"]
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
    given_order(store, dropday=DeliveryState.FAILED, onward=DeliveryState.HELD)
    dlq_send(
        dlq,
        {"order_id": "order-1", "destination": "dropday", "gen": 0},
        {"order_id": "order-1", "destination": "onward"},
    )

    code, _, _ = run(capsys, "dlq", "redrive", "--dlq-url", dlq, "--table", TABLE)

    assert code == 0
    assert dlq_bodies(dlq) == []
    assert states(store) == {"dropday": "pending", "onward": "pending"}
    assert delivery(store, "dropday").gen == 1  # a new message generation: the old message is stale


def test_redrive_leaves_an_in_doubt_deliverys_message_and_points_to_resolve(store, dlq, capsys):
    given_order(store, signcustomiser=DeliveryState.IN_DOUBT)
    dlq_send(dlq, {"order_id": "order-1", "destination": "signcustomiser", "gen": 0})

    code, out, _ = run(capsys, "dlq", "redrive", "--dlq-url", dlq, "--table", TABLE)

    assert code == 1
    assert "left           " in out and "signbridge order resolve order-1 signcustomiser" in out
    assert states(store) == {"signcustomiser": "in_doubt"}
    assert len(dlq_bodies(dlq)) == 1


def test_redrive_leaves_a_message_whose_gen_is_not_an_integer(store, dlq, capsys):
    given_order(store, dropday=DeliveryState.FAILED)
    dlq_send(dlq, {"order_id": "order-1", "destination": "dropday", "gen": "1"})

    code, out, _ = run(capsys, "dlq", "redrive", "--dlq-url", dlq, "--table", TABLE)

    assert code == 1
    assert "malformed: body's gen is not an integer" in out
    assert states(store) == {"dropday": "failed"}


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


def test_reindex_puts_deliveries_from_before_the_index_into_it(store, capsys):
    # Given deliveries written by the previous version: no index attributes
    from signbridge.store import to_item

    for destination, state in (("dropday", DeliveryState.FAILED), ("onward", DeliveryState.DELIVERED)):
        record = DeliveryRecord(order_id="old-1", destination=destination, state=state, updated_at=AT)
        store.client.put_item(
            TableName=store.table_name, Item=to_item({"PK": "ORDER#old-1", "SK": f"DELIVERY#{destination}"}, record)
        )
    assert list(store.deliveries_in_state("dropday", DeliveryState.FAILED)) == []

    assert cli.main(["deliveries", "reindex", "--table", store.table_name]) == 0

    assert [d.order_id for d in store.deliveries_in_state("dropday", DeliveryState.FAILED)] == ["old-1"]
    assert "1 delivery(ies) added" in capsys.readouterr().out  # the delivered one stays out
