"""signbridge: the operator console. Where an order stands; retrying, replaying and settling its
deliveries; listing deliveries by state; redriving the DLQ.

    signbridge order show ORDER_ID [--json]
    signbridge order retry ORDER_ID [--destination NAME] [--dry-run] [--force]
    signbridge order resolve ORDER_ID DESTINATION [--event EVENT_ID] (--delivered [--reference REF] | --resend)
                             [--dry-run]
    signbridge deliveries failed|held|in-doubt|retrying|pending|sending [--destination NAME] [--since T] [--max N]
    signbridge deliveries reindex
    signbridge deliveries supplier-problems [--destination NAME]
    signbridge deliveries stuck [--older-than-minutes M] [--requeue] [--dry-run]
    signbridge replay --destination NAME --state STATE [--since T] [--dry-run] [--max N]
    signbridge dlq list [--max N]
    signbridge dlq redrive [--dry-run] [--max N]

Every command takes where to find the stack: --table/--dlq-url/--region/--endpoint-url, or
--stack NAME (CloudFormation outputs), or --local (.local/stack.json of the local stack).
A retried or replayed delivery goes back to ``pending`` with a fresh retry horizon and a new
message generation; the table's stream then enqueues it again, so the console never sends to the
delivery queue itself. Lists read the ``ByDeliveryState`` index, never the whole table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from signbridge import lifecycle
from signbridge.errors import StoreUnavailable
from signbridge.lifecycle import DeliveryState
from signbridge.logic.notices import CANCEL_BY_HAND
from signbridge.logic.orders import order_view
from signbridge.logic.wake import Wake, wake_next
from signbridge.models.follow_up import ATTENTION_STAGE
from signbridge.models.items import DeliveryRecord
from signbridge.store import Change, OrderState, Store
from signbridge_tools.console import (
    LOCAL_STACK_FILE,
    ConsoleError,
    Target,
    destination_names,
    find_deliveries,
)

# What an operator may put back to pending (the lifecycle's operator_retry). Not in_doubt (settled
# with `order resolve`: a blind resend could make a second order), not a settled one (sent once).
RETRYABLE = lifecycle.sources_of("operator_retry")
RESOLVE_HINT = (
    "check the destination, then run `signbridge order resolve {order_id} {destination} --delivered` "
    "(it has the order) or `--resend` (it has not)"
)
EVENT_RESOLVE_HINT = (
    "check the destination, then run `signbridge order resolve {order_id} {destination} --event {event_id} "
    "--delivered` (it has the event) or `--resend` (it has not)"
)
OPERATOR_REFERENCE = "resolved-by-operator"
DURATION_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
# Long enough to hide a message for the whole run (so it is not read twice), short enough that a
# message we leave behind reappears soon even if the release at the end never happens.
RECEIVE_VISIBILITY_SECONDS = 30
DRY_RUN_LABELS = {"requeued": "would requeue", "deleted": "would delete"}


def resolve_target(args: argparse.Namespace) -> Target:
    """Explicit flags win over what --local or --stack found."""
    target = Target(region=args.region, endpoint_url=args.endpoint_url)
    if args.local:
        if not LOCAL_STACK_FILE.is_file():
            raise ConsoleError(f"{LOCAL_STACK_FILE} not found: deploy the local stack first (see local/README.md).")
        found = json.loads(LOCAL_STACK_FILE.read_text())
        target = Target(
            table_name=found.get("table_name"),
            dlq_url=found.get("dlq_url"),
            region=args.region or found.get("region") or "us-east-1",
            endpoint_url=args.endpoint_url or found.get("endpoint_url"),
            local=True,
        )
    elif args.stack:
        stacks = target.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        target.table_name, target.dlq_url = outputs.get("TableName"), outputs.get("DeliveryDLQUrl")
    target.table_name = args.table or target.table_name
    target.dlq_url = args.dlq_url or target.dlq_url
    return target


def clock() -> tuple[int, str]:
    """Now, as the store's Unix second and as the ISO time written to ``updated_at``."""
    now = datetime.now(UTC)
    return int(now.timestamp()), now.isoformat()


def iso(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def next_attempt(delivery: DeliveryRecord) -> str | None:
    """When the queue brings the delivery back by itself (nothing for failed or settled ones)."""
    return None if delivery.state.resting else iso(delivery.next_attempt_at)


def parse_since(value: str) -> datetime:
    """ISO 8601 (a time without offset is UTC) or a duration back from now: 90s, 30m, 24h, 7d."""
    text = value.strip()
    if text[:-1].isdigit() and text[-1:].lower() in DURATION_UNITS:
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * DURATION_UNITS[text[-1].lower()])
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither an ISO 8601 time (2026-11-20T08:00:00Z) nor a duration (30m, 24h, 7d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def requeue(store: Store, delivery: DeliveryRecord) -> bool:
    """Back to pending with a fresh retry horizon and a new message generation, only if it is still
    as the operator saw it (else False). A lease left by a dead attempt is kept: the next attempt
    still sees that it may have sent."""
    now, at = clock()
    change = Change(updated_at=at, waiting_since=now, attempts=0, next_attempt_at=None, retrying_since=None)
    return store.move(delivery, "operator_retry", change, now=now) is not None


def wake_after(store: Store, settled: DeliveryRecord, now: int) -> None:
    """The next delivery of the order to the same destination, waiting for this one, goes now."""
    if wake_next(store, settled, now) is Wake.WOKEN:
        print(f"woken        {settled.order_id} / {settled.destination}: the next event's delivery goes now")


def not_for_a_resend(state: DeliveryState) -> bool:
    """Waits for a paid event or a person, not for a resend (and is not in doubt)."""
    return not state.settled and state not in RETRYABLE and state is not DeliveryState.IN_DOUBT


def resolve_hint(delivery: DeliveryRecord, state: OrderState | None) -> str:
    """How to settle an in-doubt delivery: an event's names the event by its platform id."""
    if delivery.event_seq is None:
        return RESOLVE_HINT.format(order_id=delivery.order_id, destination=delivery.destination)
    record = next((e for e in state.events if e.seq == delivery.event_seq), None) if state else None
    event_id = record.event_id if record else f"<the id of event {delivery.event_seq}>"
    return EVENT_RESOLVE_HINT.format(order_id=delivery.order_id, destination=delivery.destination, event_id=event_id)


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[["-" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def describe_error(delivery: DeliveryRecord) -> str | None:
    error = delivery.last_error
    if error is None:
        return None
    status = f" ({error.status})" if error.status is not None else ""
    return f"{error.code}{status}: {error.message}"


def lease_active(delivery: DeliveryRecord) -> bool:
    return delivery.lease_until is not None and delivery.lease_until >= time.time()


# --- order ----------------------------------------------------------------------------------
def existing_order(store: Store, order_id: str, target: Target) -> OrderState:
    state = store.get_order_state(order_id)
    if state is None:
        raise ConsoleError(f"No order {order_id!r} in table {target.table_name}.")
    return state


def order_show(args: argparse.Namespace, target: Target) -> int:
    state = existing_order(target.store(), args.order_id, target)
    if args.json:
        print(json.dumps(order_view(state), indent=2, sort_keys=True))
        return 0
    print(f"order {state.order.order_id} (origin {state.order.origin}, received {state.order.received_at})")
    deliveries = sorted(state.deliveries, key=lambda d: d.destination)
    rows = [
        (
            d.destination,
            d.state,
            d.attempts,
            next_attempt(d),
            iso(d.unanswered_at),
            d.destination_ref,
            d.updated_at,
            describe_error(d),
        )
        for d in deliveries
    ]
    print_table(
        (
            "DESTINATION",
            "STATE",
            "ATTEMPTS",
            "NEXT_ATTEMPT",
            "UNANSWERED_SINCE",
            "DESTINATION_REF",
            "UPDATED_AT",
            "LAST_ERROR",
        ),
        rows,
    )
    if state.sc_order_ids:
        print("Sign Customiser order ids: " + ", ".join(str(i) for i in state.sc_order_ids))
    print_follow_ups(state)
    print_timeline(state)
    for d in deliveries:
        if d.state is DeliveryState.IN_DOUBT:
            hint = RESOLVE_HINT.format(order_id=d.order_id, destination=d.destination)
            if d.next_attempt_at is not None:  # still within its grace
                hint = (
                    f"waiting for its own order:created webhook until {iso(d.next_attempt_at)}; if none comes, {hint}"
                )
            print(f"{d.destination} is in doubt: {hint}")
    events = {e.seq: e for e in state.events}
    for d in sorted(state.event_deliveries, key=lambda d: (d.event_seq or 0, d.destination)):
        if d.state is DeliveryState.IN_DOUBT:
            record = events.get(d.event_seq or 0)
            what = f"event {d.event_seq} ({record.event_id}, {record.type})" if record else f"event {d.event_seq}"
            print(f"{d.destination} {what} is in doubt since {iso(d.unanswered_at)}: {resolve_hint(d, state)}")
    return 0


def print_follow_ups(state: OrderState) -> None:
    """Each line's supplier status, as the destination showed it at the last read."""
    for f in sorted(state.follow_ups, key=lambda f: f.destination):
        reads = f"{f.reads} read(s), last {iso(f.last_read_at) or 'not yet'}"
        following = f", next {iso(f.next_read_at)}" if f.next_read_at is not None else ""
        status = f", order {f.order_status}" if f.order_status else ""
        print(f"{f.destination} follow-up: {f.outcome}{status} ({reads}{following})")
        if f.lines:
            print_table(
                ("LINE", "STATUS", "SUPPLIER", "VERDICT"),
                [(line_id, line.status, line.supplier, line.verdict) for line_id, line in sorted(f.lines.items())],
            )
        if f.last_error is not None:
            print(f"  last read: {f.last_error.code}: {f.last_error.message}")


def order_retry(args: argparse.Namespace, target: Target) -> int:
    store = target.store()
    state = existing_order(store, args.order_id, target)
    # The order's own deliveries, then its events' (in their order), so an order retried after it
    # failed somewhere is followed by the events that failed because of it.
    deliveries = sorted(state.deliveries, key=lambda d: d.destination) + sorted(
        state.event_deliveries, key=lambda d: (d.event_seq or 0, d.destination)
    )
    if args.destination:
        deliveries = [d for d in deliveries if d.destination == args.destination]
        if not deliveries:
            names = ", ".join(d.destination for d in state.deliveries) or "none"
            raise ConsoleError(f"Order {args.order_id!r} has no delivery to {args.destination!r} (it has: {names}).")
    verb = "would requeue" if args.dry_run else "requeued"
    unchanged = 0
    for d in deliveries:
        where = f"{d.order_id} / {d.destination}" + (f" / event {d.event_seq}" if d.event_seq else "")
        if d.state is DeliveryState.IN_DOUBT:
            # A blind resend could make a second order at a destination without a duplicate rule.
            print(f"left       {where}: in doubt; {resolve_hint(d, state)}")
            unchanged += 1
        elif d.state not in RETRYABLE:
            print(f"left       {where}: {d.state}")
            unchanged += 1
        elif lease_active(d) and not args.force:
            # The attempt under way may still succeed; requeueing now only adds a message that waits for its lease.
            print(f"left       {where}: an attempt is under way (lease until {iso(d.lease_until)}); use --force")
            unchanged += 1
        elif args.dry_run or requeue(store, d):
            print(f"{verb:<10} {where}: {d.state} -> pending")
        else:
            print(f"left       {where}: its state changed meanwhile")
            unchanged += 1
    # Asking for one destination that cannot be retried is a failure; a whole-order sweep is not.
    return 1 if args.destination and unchanged else 0


def order_resolve(args: argparse.Namespace, target: Target) -> int:
    """Settle an in-doubt delivery after checking the destination by hand: it has the order (or
    the event, with --event) (--delivered), or it has not (--resend: the next attempt sends again)."""
    if args.reference and not args.delivered:
        raise ConsoleError("--reference goes with --delivered (the destination's id of the order it has).")
    store = target.store()
    seq: int | None = None
    where = f"{args.order_id} / {args.destination}"
    if args.event:
        state = existing_order(store, args.order_id, target)
        record = next((e for e in state.events if e.event_id == args.event), None)
        if record is None:
            known = ", ".join(e.event_id for e in state.events) or "none"
            raise ConsoleError(f"Order {args.order_id!r} has no event {args.event!r} (it has: {known}).")
        seq = record.seq
        where += f" / event {args.event}"
    delivery = store.get_delivery(args.order_id, args.destination, seq)
    if delivery is None:
        existing_order(store, args.order_id, target)
        if seq is None:
            raise ConsoleError(f"Order {args.order_id!r} has no delivery to {args.destination!r}.")
        raise ConsoleError(f"Order {args.order_id!r} has no delivery of event {args.event!r} to {args.destination!r}.")
    if delivery.state is not DeliveryState.IN_DOUBT:
        raise ConsoleError(
            f"{where} is {delivery.state}, not in doubt: nothing to resolve, nothing changed"
            + (" (use `signbridge order retry` to send it again)." if delivery.state in RETRYABLE else ".")
        )
    since = iso(delivery.unanswered_at) or "an unknown time"
    step = f" (step {delivery.unanswered_step})" if delivery.unanswered_step else ""
    now, at = clock()
    changed = ConsoleError(f"{where} changed meanwhile; nothing changed. Look again with `signbridge order show`.")
    if args.delivered:
        reference = args.reference or delivery.destination_ref or f"{OPERATOR_REFERENCE}-{at}"
        # The step in doubt is acknowledged; steps of the same delivery after it are sent next.
        name = "resolve_continue" if delivery.steps_left else "resolve_delivered"
        to = "pending (the steps after it are sent next)" if delivery.steps_left else "delivered"
        if args.dry_run:
            print(f"would settle {where}{step}: in_doubt (since {since}) -> {to}, reference {reference!r}")
            return 0
        change = Change(
            updated_at=at,
            destination_ref=reference,
            acknowledged=delivery.unanswered_step,
            unanswered=None,
            error=None,
            next_attempt_at=None,
        )
        moved = store.move(delivery, name, change, now=now)
        if moved is None:
            raise changed
        print(f"settled      {where}{step}: in_doubt (since {since}) -> {to}, reference {reference!r}")
        wake_after(store, moved, now)
        return 0
    if args.dry_run:
        print(f"would resend {where}{step}: in_doubt (since {since}) -> pending; the next attempt sends again")
        return 0
    change = Change(updated_at=at, waiting_since=now, attempts=0, next_attempt_at=None, retrying_since=None, error=None)
    if store.move(delivery, "resolve_resend", change, now=now) is None:
        raise changed
    print(f"resent       {where}{step}: in_doubt (since {since}) -> pending; the next attempt sends again")
    return 0


def print_timeline(state: OrderState) -> None:
    """The order's events, oldest first, and what each destination did with each."""
    if not state.events:
        return
    print("timeline:")
    deliveries = sorted(state.event_deliveries, key=lambda d: (d.event_seq or 0, d.destination))
    rows = [
        (
            event.seq,
            event.event_id,
            event.type,
            event.received_at,
            d.destination,
            d.state,
            d.attempts,
            d.destination_ref,
            describe_error(d),
        )
        for event in state.events
        for d in deliveries
        if d.event_seq == event.seq
    ]
    print_table(
        ("SEQ", "EVENT_ID", "TYPE", "RECEIVED_AT", "DESTINATION", "STATE", "ATTEMPTS", "DESTINATION_REF", "LAST_ERROR"),
        rows,
    )


# --- cancellations --------------------------------------------------------------------------
def cancellations_list(args: argparse.Namespace, target: Target) -> int:
    """Cancelled orders a destination that cannot be told of a cancellation has, or may have:
    each must be cancelled there by hand."""
    store = target.store()
    found = sorted(
        (
            d
            for destination in destination_names(None)
            for d in store.deliveries_in_state(destination, DeliveryState.ACTION_REQUIRED)
            if d.last_error is not None and d.last_error.code == CANCEL_BY_HAND
        ),
        key=lambda d: (d.updated_at, d.order_id, d.destination),
    )
    print_table(
        ("ORDER_ID", "DESTINATION", "EVENT", "FLAGGED_AT", "WHAT_TO_DO"),
        [
            (d.order_id, d.destination, d.event_seq, d.updated_at, d.last_error.message if d.last_error else None)
            for d in found
        ],
    )
    print(f"{len(found)} delivery(ies) to cancel by hand")
    if found:
        print("Once cancelled there, run `signbridge cancellations done ORDER_ID`.")
    return 0


def cancellations_done(args: argparse.Namespace, target: Target) -> int:
    """A person cancelled the order at the destination (or made sure it holds none): each flag of
    the order is settled and leaves the listing. The cancellation's own delivery reads delivered
    (it reached the destination, by hand); an order delivery withdrawn in doubt reads cancelled."""
    store = target.store()
    state = existing_order(store, args.order_id, target)
    flagged = [
        d
        for d in [*state.deliveries, *state.event_deliveries]
        if d.state is DeliveryState.ACTION_REQUIRED and d.last_error is not None and d.last_error.code == CANCEL_BY_HAND
    ]
    if not flagged:
        raise ConsoleError(f"Order {args.order_id!r} has no cancellation waiting for a person; nothing changed.")
    now, at = clock()
    for d in flagged:
        name = "done_by_hand" if d.event_seq is not None else "withdrawn_by_hand"
        to = lifecycle.MOVES[name].lands_in(d.state)
        where = f"{d.order_id} / {d.destination}" + (f" / event {d.event_seq}" if d.event_seq else "")
        if args.dry_run:
            print(f"would settle {where}: action_required -> {to} (cancelled there by hand)")
            continue
        moved = store.move(d, name, Change(updated_at=at, error=None), now=now)
        if moved is None:
            raise ConsoleError(f"{where} changed meanwhile; nothing changed.")
        print(f"settled      {where}: action_required -> {to} (cancelled there by hand)")
        wake_after(store, moved, now)
    return 0


# --- dlq ------------------------------------------------------------------------------------
@dataclass
class DlqMessage:
    message_id: str
    receipt_handle: str
    body: str
    receives: str
    sent_at: str

    def delivery_key(self) -> tuple[str, str, int]:
        """(order_id, destination, gen), or ValueError for a body the outbox would never have written
        (messages written before generations existed have no ``gen``: generation 0)."""
        try:
            data = json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"body is not JSON ({exc.msg})") from exc
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("order_id", "destination")):
            raise ValueError("body lacks order_id/destination strings")
        gen = data.get("gen", 0)
        if not isinstance(gen, int) or isinstance(gen, bool):
            raise ValueError("body's gen is not an integer")
        return data["order_id"], data["destination"], gen

    def event_seq(self) -> int | None:
        """The order event the message is about (None: the order itself)."""
        try:
            data = json.loads(self.body)
        except json.JSONDecodeError:
            return None
        seq = data.get("event_seq") if isinstance(data, dict) else None
        return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def receive_all(sqs: Any, queue_url: str, limit: int | None) -> Iterator[DlqMessage]:
    """Each message once (hidden for the run), until the queue seems empty or ``limit`` is reached."""
    seen: set[str] = set()
    while limit is None or len(seen) < limit:
        want = 10 if limit is None else min(10, limit - len(seen))
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=want,
            VisibilityTimeout=RECEIVE_VISIBILITY_SECONDS,
            WaitTimeSeconds=1,  # long polling asks every SQS server, so a small queue is not reported empty
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        fresh = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not fresh:
            return
        for m in fresh:
            seen.add(m["MessageId"])
            sent = datetime.fromtimestamp(int(m["Attributes"]["SentTimestamp"]) / 1000, UTC)
            yield DlqMessage(
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                body=m["Body"],
                receives=m["Attributes"]["ApproximateReceiveCount"],
                sent_at=sent.isoformat(timespec="seconds"),
            )


def release(sqs: Any, queue_url: str, messages: list[DlqMessage]) -> None:
    """Make messages we did not consume visible again at once."""
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def dlq_list(args: argparse.Namespace, target: Target) -> int:
    sqs, url = target.client("sqs"), target.dlq()
    store = target.store() if target.table_name else None
    messages = list(receive_all(sqs, url, args.max))
    release(sqs, url, messages)
    rows: list[tuple[object, ...]] = []
    for m in messages:
        try:
            order_id, destination, gen = m.delivery_key()
        except ValueError as exc:
            rows.append((m.message_id, m.sent_at, m.receives, f"malformed: {exc}", None, None, None))
            continue
        delivery = store.get_delivery(order_id, destination, m.event_seq()) if store else None
        current = (delivery.state if delivery else "not found") if store else None
        rows.append((m.message_id, m.sent_at, m.receives, order_id, destination, gen, current))
    print_table(("MESSAGE_ID", "SENT_AT", "RECEIVES", "ORDER_ID", "DESTINATION", "GEN", "STATE_NOW"), rows)
    print(f"{len(messages)} message(s) in {url}")
    return 0


def dlq_redrive(args: argparse.Namespace, target: Target) -> int:
    sqs, url, store = target.client("sqs"), target.dlq(), target.store()
    left: list[DlqMessage] = []
    counts = {"requeued": 0, "deleted": 0, "left": 0}

    def outcome(kind: str, m: DlqMessage, what: str) -> None:
        counts[kind] += 1
        label = DRY_RUN_LABELS.get(kind, kind) if args.dry_run else kind
        print(f"{label:<14} {m.message_id}  {what}")
        if kind == "left" or args.dry_run:
            left.append(m)
        else:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m.receipt_handle)

    for m in receive_all(sqs, url, args.max):
        try:
            order_id, destination, _gen = m.delivery_key()
        except ValueError as exc:
            outcome("left", m, f"malformed: {exc}: {m.body[:200]!r}")
            continue
        seq = m.event_seq()
        where = f"{order_id} / {destination}" + (f" / event {seq}" if seq is not None else "")
        delivery = store.get_delivery(order_id, destination, seq)
        if delivery is None:
            outcome("left", m, f"{where}: no such delivery in table {target.table_name}")
        elif delivery.state.settled:
            outcome("deleted", m, f"{where}: already {delivery.state}")
        elif not_for_a_resend(delivery.state):
            outcome("deleted", m, f"{where}: {delivery.state}, not for a resend")
        elif delivery.state is DeliveryState.IN_DOUBT:
            hint = resolve_hint(delivery, store.get_order_state(order_id) if seq is not None else None)
            outcome("left", m, f"{where}: in doubt; {hint}")
        elif lease_active(delivery):
            outcome("left", m, f"{where}: an attempt is under way (lease until {iso(delivery.lease_until)})")
        elif args.dry_run or requeue(store, delivery):
            outcome("requeued", m, f"{where}: {delivery.state} -> pending")
        else:
            outcome("left", m, f"{where}: its state changed meanwhile; run again")
    release(sqs, url, left)
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"{sum(counts.values())} message(s){' (dry run, nothing changed)' if args.dry_run else ''}: {summary}")
    return 1 if counts["left"] else 0


# --- deliveries -----------------------------------------------------------------------------
def delivery_rows(deliveries: Sequence[DeliveryRecord]) -> list[tuple[object, ...]]:
    return [
        (d.order_id, d.destination, d.state, d.attempts, d.updated_at, next_attempt(d), describe_error(d))
        for d in deliveries
    ]


DELIVERY_HEADER = ("ORDER_ID", "DESTINATION", "STATE", "ATTEMPTS", "UPDATED_AT", "NEXT_ATTEMPT", "LAST_ERROR")


def deliveries_in_state(args: argparse.Namespace, target: Target) -> int:
    """One state's deliveries across orders (every destination unless --destination)."""
    store = target.store()
    state: DeliveryState = args.state
    found, cut = find_deliveries(store, destination_names(args.destination), state, args.since, args.max)
    print_table(DELIVERY_HEADER, delivery_rows(found))
    since = f" updated since {args.since.isoformat(timespec='seconds')}" if args.since else ""
    more = f" (the first {args.max}; more match)" if cut else ""
    print(f"{len(found)} delivery(ies) {state}{since}{more}")
    if state is DeliveryState.IN_DOUBT and found:
        print("Settle each one: " + RESOLVE_HINT.format(order_id="ORDER_ID", destination="DESTINATION"))
        # An order event's delivery is settled with --event and the platform's id of the event.
        for d in (d for d in found if d.event_seq is not None):
            print(
                f"{d.order_id} / {d.destination} / event {d.event_seq}: "
                + resolve_hint(d, store.get_order_state(d.order_id))
            )
    return 0


def deliveries_reindex(args: argparse.Namespace, target: Target) -> int:
    """One-off after upgrading: unsettled deliveries written before the state index existed."""
    indexed = target.store().index_unindexed_deliveries(int(time.time()))
    for d in indexed:
        print(f"indexed  {d.order_id} / {d.destination}: {d.state}")
    print(f"{len(indexed)} delivery(ies) added to the ByDeliveryState index")
    return 0


def deliveries_supplier_problems(args: argparse.Namespace, target: Target) -> int:
    """Orders a destination accepted whose lines no supplier makes (declined, failed, skipped, an
    order partially completed), lost at the destination, or not done when the window ended: from
    the index's follow-up partitions (never a scan)."""
    store = target.store()
    rows: list[tuple[object, ...]] = []
    for destination in destination_names(args.destination):
        for stage in ("problem", ATTENTION_STAGE):
            for f in store.follow_ups(destination, stage):
                lines = f.problem_lines() or {i: line for i, line in f.lines.items() if line.verdict != "done"}
                for line_id, line in sorted(lines.items()) or [("-", None)]:
                    rows.append(
                        (
                            f.order_id,
                            f.destination,
                            f.reference,
                            f.outcome,
                            f.order_status,
                            line_id,
                            line.status if line else None,
                            line.supplier if line else None,
                            iso(f.last_read_at),
                        )
                    )
    print_table(
        ("ORDER_ID", "DESTINATION", "REFERENCE", "OUTCOME", "ORDER_STATUS", "LINE", "STATUS", "SUPPLIER", "LAST_READ"),
        rows,
    )
    orders = len({(row[0], row[1]) for row in rows})
    print(f"{orders} order(s) with a supplier problem, lost, or not done when the window ended")
    if rows:
        print(
            "Fix each at the destination (route or cancel the line; look a lost order up); `signbridge order show "
            "ORDER_ID` shows its lines. A problem still read clears itself once its lines complete."
        )
    return 0


def deliveries_stuck(args: argparse.Namespace, target: Target) -> int:
    """Deliveries that should have moved by now and have not (their due time in the index is
    older than the cutoff): a record the outbox gave up on, a lost message, a dead worker.
    --requeue puts them back to pending."""
    store = target.store()
    cutoff = int(time.time()) - args.older_than_minutes * 60
    stuck = sorted(
        (
            d
            for destination in destination_names(None)
            for state in lifecycle.QUEUED
            for d in store.deliveries_in_state(destination, state, due_before=cutoff)
        ),
        key=lambda d: (d.updated_at, d.order_id, d.destination),
    )
    print_table(DELIVERY_HEADER, delivery_rows(stuck))
    print(f"{len(stuck)} delivery(ies) overdue by more than {args.older_than_minutes} minute(s)")
    if not args.requeue:
        return 0
    for d in stuck:
        where = f"{d.order_id} / {d.destination}"
        if args.dry_run:
            print(f"would requeue {where}: {d.state} -> pending")
        elif requeue(store, d):
            print(f"requeued      {where}: {d.state} -> pending")
        else:
            print(f"left          {where}: its state changed meanwhile")
    return 0


# --- replay ---------------------------------------------------------------------------------
def replay_state(name: str) -> DeliveryState:
    """The state a replay selects; refused with the reason for states a replay must not touch."""
    try:
        state = DeliveryState(name.replace("-", "_"))
    except ValueError:
        names = ", ".join(s.value for s in RETRYABLE)
        raise ConsoleError(f"Unknown state {name!r} (replay takes: {names}).") from None
    if state is DeliveryState.IN_DOUBT:
        raise ConsoleError(
            "In-doubt deliveries are not replayed: the destination may already have the order and a blind "
            "resend could create a second one. List them with `signbridge deliveries in-doubt`, then settle "
            "each with `signbridge order resolve ORDER_ID DESTINATION [--event EVENT_ID] --delivered|--resend` "
            "(the listing prints each one's command)."
        )
    if state.settled:
        raise ConsoleError(f"{state} deliveries are settled: replaying them could send an order twice.")
    if not_for_a_resend(state):
        raise ConsoleError(
            f"{state} deliveries wait for a paid event or a person, not a resend (README, Order events)."
        )
    return state


def replay(args: argparse.Namespace, target: Target) -> int:
    """Requeue every delivery of one destination in one state (updated since --since); each gets a
    fresh retry horizon and a new message generation, so the exactly-once rules still apply."""
    state = replay_state(args.state)
    [destination] = destination_names(args.destination)
    store = target.store()
    # Read first, then write: each requeue moves its delivery out of the index partition being read.
    matched, cut = find_deliveries(store, [destination], state, args.since, args.max)
    verb = "would requeue" if args.dry_run else "requeued"
    left = 0
    for d in matched:
        where = f"{d.order_id} / {d.destination}"
        if lease_active(d):
            print(f"left          {where}: an attempt is under way (lease until {iso(d.lease_until)})")
            left += 1
        elif args.dry_run or requeue(store, d):
            print(f"{verb:<13} {where}: {d.state} -> pending")
        else:
            print(f"left          {where}: its state changed meanwhile")
            left += 1
    summary = f"{len(matched)} {state} delivery(ies) to {destination} matched"
    if args.since:
        summary += f" (updated since {args.since.isoformat(timespec='seconds')})"
    summary += f": {len(matched) - left} {verb}, {left} left"
    if cut:
        summary += f"; stopped at --max {args.max}, more match"
    print(summary + (" (dry run, nothing changed)" if args.dry_run else ""))
    return 1 if left else 0


# --- parser ---------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    where = argparse.ArgumentParser(add_help=False)
    group = where.add_argument_group("where the stack is")
    group.add_argument("--table", help="DynamoDB table name")
    group.add_argument("--dlq-url", help="delivery DLQ URL")
    group.add_argument("--region")
    group.add_argument("--endpoint-url", help="e.g. http://127.0.0.1:4566 (AWS_ENDPOINT_URL works too)")
    source = group.add_mutually_exclusive_group()
    source.add_argument("--stack", metavar="NAME", help="read TableName/DeliveryDLQUrl from this stack's outputs")
    source.add_argument("--local", action="store_true", help="read .local/stack.json (the local stack)")

    parser = argparse.ArgumentParser(prog="signbridge", description="signbridge operator console")
    commands = parser.add_subparsers(dest="command", required=True)

    order = commands.add_parser("order", help="an order's deliveries").add_subparsers(dest="action", required=True)
    show = order.add_parser(
        "show",
        parents=[where],
        help="state per destination: attempts, next attempt, in doubt since, reference, last error",
    )
    show.add_argument("order_id")
    show.add_argument("--json", action="store_true", help="the GET /orders/{order_id} view")
    show.set_defaults(run=order_show)
    retry = order.add_parser(
        "retry",
        parents=[where],
        help="put failed, held or stuck deliveries back to pending",
        description="Retries deliveries that are failed, held, retrying, pending or sending. An in-doubt "
        "delivery is refused (settle it with `order resolve`); delivered and skipped ones are left.",
    )
    retry.add_argument("order_id")
    retry.add_argument("--destination", metavar="NAME", help="only this destination (default: every retryable one)")
    retry.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    retry.add_argument("--force", action="store_true", help="also requeue a delivery whose attempt is under way")
    retry.set_defaults(run=order_retry)
    resolve = order.add_parser(
        "resolve",
        parents=[where],
        help="settle an in-doubt delivery: the destination has it (--delivered) or not (--resend)",
        description="Only for a delivery in doubt (an attempt whose answer was never heard, not confirmed "
        "by the destination's own webhook). Check the destination first. Anything else is refused, "
        "exit status 1, nothing changed.",
    )
    resolve.add_argument("order_id")
    resolve.add_argument("destination")
    outcome = resolve.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--delivered", action="store_true", help="the destination has the order: mark it delivered")
    outcome.add_argument("--resend", action="store_true", help="it does not: send it again (back to pending)")
    resolve.add_argument(
        "--event",
        metavar="EVENT_ID",
        help="settle the delivery of this order event (the platform's event id) rather than of the order",
    )
    resolve.add_argument("--reference", metavar="REF", help="with --delivered: the destination's order id")
    resolve.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    resolve.set_defaults(run=order_resolve)

    deliveries = commands.add_parser("deliveries", help="deliveries across orders (from the state index)")
    by_state = deliveries.add_subparsers(dest="action", required=True, metavar="STATE|stuck")
    for state in lifecycle.UNSETTLED:
        aliases = [state.value] if "_" in state.value else []
        listing_state = by_state.add_parser(
            state.value.replace("_", "-"),
            aliases=aliases,
            parents=[where],
            help=f"list {state} deliveries",
            description=f"{state.value} deliveries, oldest change first, from the ByDeliveryState index "
            "(never a table scan).",
        )
        listing_state.add_argument("--destination", metavar="NAME", help="only this destination (default: all)")
        listing_state.add_argument(
            "--since", type=parse_since, metavar="T", help="updated at or after T: ISO 8601, or 30m, 24h, 7d ago"
        )
        listing_state.add_argument("--max", type=positive, metavar="N", help="at most N deliveries")
        listing_state.set_defaults(run=deliveries_in_state, state=state)
    stuck = by_state.add_parser(
        "stuck",
        parents=[where],
        help="pending/sending/retrying/held and overdue (from the index)",
        description="Deliveries whose next step is overdue by more than M minutes: an outbox record given "
        "up, a lost message, a worker that died mid-attempt.",
    )
    stuck.add_argument("--older-than-minutes", type=int, default=60, metavar="M", help="default 60")
    stuck.add_argument("--requeue", action="store_true", help="put them back to pending (the stream re-enqueues)")
    stuck.add_argument("--dry-run", action="store_true", help="with --requeue: print, change nothing")
    stuck.set_defaults(run=deliveries_stuck)
    reindex = by_state.add_parser(
        "reindex",
        parents=[where],
        help="once, after upgrading: put older unsettled deliveries into the state index (a Scan)",
    )
    reindex.set_defaults(run=deliveries_reindex)
    problems = by_state.add_parser(
        "supplier-problems",
        parents=[where],
        help="delivered orders whose lines no supplier makes, lost at the destination, or never done",
        description="Follow-ups of delivered orders (Dropday) whose lines are declined, failed or skipped (an "
        "order partially completed), that the destination lost (404), or whose window ended first: from the "
        "ByDeliveryState index (never a table scan).",
    )
    problems.add_argument("--destination", metavar="NAME", help="only this destination (default: all)")
    problems.set_defaults(run=deliveries_supplier_problems)

    replaying = commands.add_parser(
        "replay",
        parents=[where],
        help="requeue every delivery of one destination in one state",
        description="Requeues each matching delivery (a fresh retry horizon, a new message generation; the "
        "table's stream enqueues it). STATE: failed, held, retrying, pending or sending. In-doubt deliveries "
        "are refused (use `order resolve`), delivered and skipped ones too (they are settled). Exit status 1 "
        "when a matching delivery could not be requeued.",
    )
    replaying.add_argument("--destination", required=True, metavar="NAME")
    replaying.add_argument("--state", required=True, metavar="STATE")
    replaying.add_argument(
        "--since", type=parse_since, metavar="T", help="updated at or after T: ISO 8601, or 30m, 24h, 7d ago"
    )
    replaying.add_argument("--dry-run", action="store_true", help="print what would be requeued, change nothing")
    replaying.add_argument("--max", type=positive, metavar="N", help="at most N deliveries")
    replaying.set_defaults(run=replay)

    cancellations = commands.add_parser(
        "cancellations", help="cancelled orders Dropday had already routed (cancel them at Dropday by hand)"
    ).add_subparsers(dest="action", required=True)
    cancel_list = cancellations.add_parser("list", parents=[where], help="orders to cancel at Dropday by hand")
    cancel_list.set_defaults(run=cancellations_list)
    cancel_done = cancellations.add_parser(
        "done", parents=[where], help="the order was cancelled at Dropday by hand: settle its flag"
    )
    cancel_done.add_argument("order_id")
    cancel_done.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    cancel_done.set_defaults(run=cancellations_done)

    dlq = commands.add_parser("dlq", help="the delivery dead-letter queue").add_subparsers(dest="action", required=True)
    listing = dlq.add_parser("list", parents=[where], help="list messages without consuming them")
    listing.add_argument("--max", type=positive, metavar="N", help="at most N messages")
    listing.set_defaults(run=dlq_list)
    redrive = dlq.add_parser(
        "redrive",
        parents=[where],
        help="requeue each message's delivery, then delete the message",
        description="Exit status 1 when a message was left in the DLQ (malformed, unknown or in-doubt delivery, ...).",
    )
    redrive.add_argument("--dry-run", action="store_true", help="list what would happen, change nothing")
    redrive.add_argument("--max", type=positive, metavar="N", help="at most N messages")
    redrive.set_defaults(run=dlq_redrive)

    # Going live (setup, connect, doctor) builds on this module, so it is imported here, not above.
    from signbridge_tools.golive import add_commands

    add_commands(commands, where)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args, resolve_target(args)))
    except ConsoleError as exc:
        print(f"signbridge: {exc}", file=sys.stderr)
    except StoreUnavailable as exc:
        print(f"signbridge: DynamoDB call failed: {exc.__cause__}", file=sys.stderr)
    except (BotoCoreError, ClientError) as exc:
        print(f"signbridge: AWS call failed: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
