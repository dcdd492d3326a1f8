"""signbridge: the operator console. Where an order stands, retrying its deliveries, redriving the DLQ.

    signbridge order show ORDER_ID [--json]
    signbridge order retry ORDER_ID [--destination NAME] [--dry-run] [--force]
    signbridge dlq list
    signbridge dlq redrive [--dry-run] [--max N]
    signbridge deliveries stuck [--older-than-minutes M] [--requeue] [--dry-run]

Every command takes where to find the stack: --table/--dlq-url/--region/--endpoint-url, or
--stack NAME (CloudFormation outputs), or --local (.local/stack.json of the local stack).
A retried delivery goes back to ``pending``; the table's stream then enqueues it again, so the
console never sends to the delivery queue itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from signbridge.errors import StoreUnavailable
from signbridge.logic.orders import order_view
from signbridge.models.items import DeliveryRecord, DeliveryState
from signbridge.store.table import Store

ROOT = Path(__file__).resolve().parents[2]
LOCAL_STACK_FILE = ROOT / ".local" / "stack.json"
RETRYABLE = (DeliveryState.FAILED, DeliveryState.RETRYING, DeliveryState.PENDING, DeliveryState.SENDING)
# Long enough to hide a message for the whole run (so it is not read twice), short enough that a
# message we leave behind reappears soon even if the release at the end never happens.
RECEIVE_VISIBILITY_SECONDS = 30
DRY_RUN_LABELS = {"requeued": "would requeue", "deleted": "would delete"}


class ConsoleError(Exception):
    """A problem the operator can fix; printed without a traceback, exit status 1."""


@dataclass
class Target:
    table_name: str | None = None
    dlq_url: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    local: bool = False

    def client(self, service: str) -> Any:
        # MiniStack accepts any credentials; a machine without AWS credentials should still reach it.
        dummy = "test" if self.local else None
        return boto3.client(  # type: ignore[call-overload]  # the stubs type only literal service names
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=dummy,
            aws_secret_access_key=dummy,
        )

    def store(self) -> Store:
        if not self.table_name:
            raise ConsoleError("Which table? Pass --table, --stack NAME or --local.")
        return Store(self.table_name, self.client("dynamodb"))

    def dlq(self) -> str:
        if not self.dlq_url:
            raise ConsoleError("Which DLQ? Pass --dlq-url, --stack NAME or --local.")
        return self.dlq_url


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


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


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
def order_show(args: argparse.Namespace, target: Target) -> int:
    state = target.store().get_order_state(args.order_id)
    if state is None:
        raise ConsoleError(f"No order {args.order_id!r} in table {target.table_name}.")
    if args.json:
        print(json.dumps(order_view(state), indent=2, sort_keys=True))
        return 0
    print(f"order {state.order.order_id} (origin {state.order.origin}, received {state.order.received_at})")
    rows = [
        (d.destination, d.state, d.attempts, d.destination_ref, describe_error(d), d.updated_at)
        for d in sorted(state.deliveries, key=lambda d: d.destination)
    ]
    print_table(("DESTINATION", "STATE", "ATTEMPTS", "DESTINATION_REF", "LAST_ERROR", "UPDATED_AT"), rows)
    if state.sc_order_ids:
        print("Sign Customiser order ids: " + ", ".join(str(i) for i in state.sc_order_ids))
    return 0


def order_retry(args: argparse.Namespace, target: Target) -> int:
    store = target.store()
    state = store.get_order_state(args.order_id)
    if state is None:
        raise ConsoleError(f"No order {args.order_id!r} in table {target.table_name}.")
    deliveries = sorted(state.deliveries, key=lambda d: d.destination)
    if args.destination:
        deliveries = [d for d in deliveries if d.destination == args.destination]
        if not deliveries:
            names = ", ".join(d.destination for d in state.deliveries) or "none"
            raise ConsoleError(f"Order {args.order_id!r} has no delivery to {args.destination!r} (it has: {names}).")
    verb = "would requeue" if args.dry_run else "requeued"
    unchanged = 0
    for d in deliveries:
        where = f"{d.order_id} / {d.destination}"
        if d.state not in RETRYABLE:
            print(f"left       {where}: {d.state}")
            unchanged += 1
        elif lease_active(d) and not args.force:
            # The attempt under way may still succeed; requeueing now only adds a message that waits for its lease.
            print(f"left       {where}: an attempt is under way (lease until {d.lease_until}); use --force")
            unchanged += 1
        elif args.dry_run or store.requeue_delivery(d.order_id, d.destination, now_iso()):
            print(f"{verb:<10} {where}: {d.state} -> pending")
        else:
            print(f"left       {where}: its state changed meanwhile")
            unchanged += 1
    # Asking for one destination that cannot be retried is a failure; a whole-order sweep is not.
    return 1 if args.destination and unchanged else 0


# --- dlq ------------------------------------------------------------------------------------
@dataclass
class DlqMessage:
    message_id: str
    receipt_handle: str
    body: str
    receives: str
    sent_at: str

    def delivery_key(self) -> tuple[str, str]:
        """(order_id, destination), or ValueError for a body the outbox would never have written."""
        try:
            data = json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"body is not JSON ({exc.msg})") from exc
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("order_id", "destination")):
            raise ValueError("body lacks order_id/destination strings")
        return data["order_id"], data["destination"]


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
            order_id, destination = m.delivery_key()
        except ValueError as exc:
            rows.append((m.message_id, m.sent_at, m.receives, f"malformed: {exc}", None, None))
            continue
        delivery = store.get_delivery(order_id, destination) if store else None
        current = (delivery.state if delivery else "not found") if store else None
        rows.append((m.message_id, m.sent_at, m.receives, order_id, destination, current))
    print_table(("MESSAGE_ID", "SENT_AT", "RECEIVES", "ORDER_ID", "DESTINATION", "STATE_NOW"), rows)
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
            order_id, destination = m.delivery_key()
        except ValueError as exc:
            outcome("left", m, f"malformed: {exc}: {m.body[:200]!r}")
            continue
        where = f"{order_id} / {destination}"
        delivery = store.get_delivery(order_id, destination)
        if delivery is None:
            outcome("left", m, f"{where}: no such delivery in table {target.table_name}")
        elif delivery.state in (DeliveryState.DELIVERED, DeliveryState.SKIPPED):
            outcome("deleted", m, f"{where}: already {delivery.state}")
        elif lease_active(delivery):
            outcome("left", m, f"{where}: an attempt is under way (lease until {delivery.lease_until})")
        elif args.dry_run or store.requeue_delivery(order_id, destination, now_iso()):
            outcome("requeued", m, f"{where}: {delivery.state} -> pending")
        else:
            outcome("left", m, f"{where}: its state changed meanwhile; run again")
    release(sqs, url, left)
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    print(f"{sum(counts.values())} message(s){' (dry run, nothing changed)' if args.dry_run else ''}: {summary}")
    return 1 if counts["left"] else 0


# --- deliveries -----------------------------------------------------------------------------
def deliveries_stuck(args: argparse.Namespace, target: Target) -> int:
    """Deliveries that should have settled by now: after an outbox alarm (its records were given
    up), or any doubt that a message is still on its way. --requeue puts them back to pending."""
    store = target.store()
    cutoff = datetime.fromtimestamp(time.time() - args.older_than_minutes * 60, UTC).isoformat()
    stuck = sorted(store.unsettled_deliveries(cutoff), key=lambda d: (d.updated_at, d.order_id, d.destination))
    rows = [(d.order_id, d.destination, d.state, d.attempts, d.updated_at) for d in stuck]
    print_table(("ORDER_ID", "DESTINATION", "STATE", "ATTEMPTS", "UPDATED_AT"), rows)
    print(f"{len(stuck)} delivery(ies) unsettled for more than {args.older_than_minutes} minute(s)")
    if not args.requeue:
        return 0
    for d in stuck:
        where = f"{d.order_id} / {d.destination}"
        if args.dry_run:
            print(f"would requeue {where}: {d.state} -> pending")
        elif store.requeue_delivery(d.order_id, d.destination, now_iso()):
            print(f"requeued      {where}: {d.state} -> pending")
        else:
            print(f"left          {where}: its state changed meanwhile")
    return 0


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
    show = order.add_parser("show", parents=[where], help="state per destination")
    show.add_argument("order_id")
    show.add_argument("--json", action="store_true", help="the GET /orders/{order_id} view")
    show.set_defaults(run=order_show)
    retry = order.add_parser("retry", parents=[where], help="put failed or stuck deliveries back to pending")
    retry.add_argument("order_id")
    retry.add_argument("--destination", metavar="NAME", help="only this destination (default: every retryable one)")
    retry.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    retry.add_argument("--force", action="store_true", help="also requeue a delivery whose attempt is under way")
    retry.set_defaults(run=order_retry)

    dlq = commands.add_parser("dlq", help="the delivery dead-letter queue").add_subparsers(dest="action", required=True)
    listing = dlq.add_parser("list", parents=[where], help="list messages without consuming them")
    listing.add_argument("--max", type=int, metavar="N", help="at most N messages")
    listing.set_defaults(run=dlq_list)
    redrive = dlq.add_parser(
        "redrive",
        parents=[where],
        help="requeue each message's delivery, then delete the message",
        description="Exit status 1 when a message was left in the DLQ (malformed, unknown delivery, ...).",
    )
    redrive.add_argument("--dry-run", action="store_true", help="list what would happen, change nothing")
    redrive.add_argument("--max", type=int, metavar="N", help="at most N messages")
    redrive.set_defaults(run=dlq_redrive)

    deliveries = commands.add_parser("deliveries", help="deliveries across orders").add_subparsers(
        dest="action", required=True
    )
    stuck = deliveries.add_parser("stuck", parents=[where], help="pending/sending/retrying for too long (a Scan)")
    stuck.add_argument("--older-than-minutes", type=int, default=60, metavar="M", help="default 60")
    stuck.add_argument("--requeue", action="store_true", help="put them back to pending (the stream re-enqueues)")
    stuck.add_argument("--dry-run", action="store_true", help="with --requeue: print, change nothing")
    stuck.set_defaults(run=deliveries_stuck)
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
