"""`signbridge doctor --stack NAME`: go / no-go. One line per check, green when it holds, red with
the fix when it does not; exit status 1 on any red.

What it checks, and only by reading: every secret parameter present and readable; each
destination accepting its credential (see ``providers``); the order:created subscription
pointing at this stack with its secret stored; the alarm topic having a confirmed subscriber;
the state index current (nothing left out of it, nothing overdue in it); the DLQ and the outbox's
failed queue empty; no delivery held, failed, in doubt or waiting for a person.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from signbridge import lifecycle
from signbridge.destinations import Destination
from signbridge.lifecycle import DeliveryState
from signbridge.store import Store
from signbridge_tools.console import Target, destination_names, find_deliveries

from .connect import SIGNCUSTOMISER_DEFAULT_BASE, same_url, split_secrets
from .deployment import WEBHOOK_SECRETS, Deployment, Secret, read_deployment
from .providers import (
    ORDER_CREATED,
    CredentialRefused,
    ProviderError,
    SignCustomiserApi,
    Subscription,
    probe_dropday,
    probe_onward,
)

# `deliveries stuck`'s default: overdue by more than this is stuck.
STUCK_AFTER_MINUTES = 60
LISTED_AT_MOST = 50


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    fix: str | None = None


def green(what: str) -> Check:
    return Check(True, what)


def red(what: str, fix: str) -> Check:
    return Check(False, what, fix)


@dataclass
class Doctor:
    deployment: Deployment
    values: dict[str, str | None]  # SSM name -> value read (None: missing or unreadable)

    @property
    def where(self) -> str:
        return f"--stack {self.deployment.name}"

    def value(self, parameter: str) -> str | None:
        return self.values.get(self.deployment.ssm_name(parameter))

    # ---- parameters
    def parameters(self) -> Iterator[Check]:
        d = self.deployment
        wanted: list[tuple[str, str, str]] = [
            (s.parameter, s.label, f"`signbridge setup {self.where}` (it asks for it: {s.where})")
            for s in d.secrets
            if not s.optional
        ]
        wanted.append(
            (WEBHOOK_SECRETS, "Sign Customiser webhook secrets", f"`signbridge connect {self.where}` stores it")
        )
        for parameter, label, fix in wanted:
            name = d.ssm_name(parameter)
            try:
                value = d.read_secret(name)
            except (ClientError, BotoCoreError) as exc:
                self.values[name] = None
                yield red(
                    f"parameter {name} ({label}) unreadable: {exc}",
                    "let this identity read it (ssm:GetParameter, kms:Decrypt) and check its KMS key",
                )
                continue
            self.values[name] = value
            if value and value.strip():
                yield green(f"parameter {name} ({label}) present")
            else:
                yield red(f"parameter {name} ({label}) missing", fix)

    # ---- destinations
    def credentials(self) -> Iterator[Check]:
        d = self.deployment
        for destination in d.destinations:
            secret = next(s for s in d.secrets if s.destination is destination)
            yield from CREDENTIAL_CHECKS[destination](self, secret)

    def not_checked(self, secret: Secret) -> Check:
        return red(
            f"{secret.label} not checked: no value in {self.deployment.ssm_name(secret.parameter)}",
            f"`signbridge setup {self.where}`",
        )

    def refused(self, secret: Secret, exc: CredentialRefused, extra: str = "") -> Check:
        name = self.deployment.ssm_name(secret.parameter)
        return red(
            f"{secret.label} refused ({exc}){extra}",
            f"put a current one in {name} with `signbridge setup {self.where}` ({secret.where})",
        )

    def signcustomiser(self, secret: Secret) -> Iterator[Check]:
        token = self.value(secret.parameter)
        if not token:
            yield self.not_checked(secret)
            yield red("webhook subscription not checked: no API token", f"`signbridge setup {self.where}`")
            return
        base = self.deployment.parameters.get("SignCustomiserBaseUrl") or SIGNCUSTOMISER_DEFAULT_BASE
        try:
            subscriptions = SignCustomiserApi(base, token).subscriptions()
        except CredentialRefused as exc:
            yield self.refused(secret, exc)
            yield red("webhook subscription not checked: the token is refused", "fix the token first")
            return
        except ProviderError as exc:
            yield red(f"Sign Customiser not reached at {base}: {exc}", "check SignCustomiserBaseUrl and the network")
            return
        yield green(f"{secret.label} accepted (GET /api/v2/webhooks)")
        yield self.subscription(subscriptions)

    def subscription(self, subscriptions: list[Subscription]) -> Check:
        url = self.deployment.webhook_url
        ours = [s for s in subscriptions if s.topic == ORDER_CREATED and same_url(s.url, url)]
        connect = f"`signbridge connect {self.where}`"
        if not ours:
            return red(f"no {ORDER_CREATED} webhook subscription points at this stack ({url})", connect)
        stored = split_secrets(self.value(WEBHOOK_SECRETS))
        if not any(s.secret in stored for s in ours):
            name = self.deployment.ssm_name(WEBHOOK_SECRETS)
            return red(
                f"subscription {ours[0].id} points at this stack but its secret is not in {name}: "
                "its webhooks would be refused",
                connect,
            )
        return green(f"{ORDER_CREATED} subscription {ours[0].id} points at this stack, its secret stored")

    def dropday(self, secret: Secret) -> Iterator[Check]:
        key = self.value(secret.parameter)
        account = self.deployment.parameters.get("DropdayAccountId", "")
        if not account:
            yield red(
                "DropdayAccountId is empty",
                "redeploy with DropdayAccountId=<your Dropday account id> in the parameter_overrides",
            )
            return
        if not key:
            yield self.not_checked(secret)
            return
        base = self.deployment.parameters.get("DropdayBaseUrl") or "https://dropday.io"
        try:
            probe_dropday(base, key, account)
        except CredentialRefused as exc:
            yield self.refused(secret, exc, f" with account id {account}")
        except ProviderError as exc:
            yield red(f"Dropday not reached at {base}: {exc}", "check DropdayBaseUrl and the network")
        else:
            yield green(f"{secret.label} accepted (GET /api/v1/orders?per_page=1)")

    def onward(self, secret: Secret) -> Iterator[Check]:
        key = self.value(secret.parameter)
        if not key:
            yield self.not_checked(secret)
            return
        base = self.deployment.parameters.get("OnwardBaseUrl") or "https://app.useonward.com"
        try:
            probe_onward(base, key)
        except CredentialRefused as exc:
            yield self.refused(secret, exc)
        except ProviderError as exc:
            yield red(f"Onward not reached at {base}: {exc}", "check OnwardBaseUrl and the network")
        else:
            yield green(f"{secret.label} accepted (an update of an order that does not exist: 404, nothing written)")

    # ---- alarms
    def alarm_topic(self) -> Check:
        d = self.deployment
        fix = "redeploy with AlarmEmail=<you@example.com> (or AlarmTopicArn=<topic>) in the parameter_overrides"
        arn = d.parameters.get("AlarmTopicArn") or self.stack_resource("AlarmTopic")
        if not arn:
            return red("no alarm topic: the alarms notify no one", fix)
        sns = d.target.client("sns")
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", [])
        confirmed = [s for s in subscriptions if s.get("SubscriptionArn", "").startswith("arn:")]
        pending = [s for s in subscriptions if not s.get("SubscriptionArn", "").startswith("arn:")]
        if confirmed:
            who = ", ".join(f"{s.get('Protocol')}:{s.get('Endpoint')}" for s in confirmed)
            return green(f"alarm topic {arn} has {len(confirmed)} subscriber(s): {who}")
        if pending:
            who = ", ".join(str(s.get("Endpoint")) for s in pending)
            return red(
                f"alarm topic {arn}: its subscription waits for confirmation ({who})",
                "open the email from AWS Notifications and follow its Confirm subscription link",
            )
        return red(f"alarm topic {arn} has no subscriber: the alarms notify no one", fix)

    def stack_resource(self, logical_id: str) -> str | None:
        try:
            answer = self.deployment.target.client("cloudformation").describe_stack_resource(
                StackName=self.deployment.name, LogicalResourceId=logical_id
            )
        except ClientError:
            return None
        return answer["StackResourceDetail"].get("PhysicalResourceId") or None

    # ---- the table and the queues
    def state_index(self, store: Store) -> Iterator[Check]:
        unindexed = count_unindexed(store)
        if unindexed:
            yield red(
                f"{unindexed} unsettled delivery(ies) missing from the state index",
                f"`signbridge deliveries reindex {self.where}`",
            )
        else:
            yield green("every unsettled delivery is in the state index")
        cutoff = int(time.time()) - STUCK_AFTER_MINUTES * 60
        stuck = sum(
            1
            for destination in destination_names(None)
            for state in lifecycle.QUEUED
            for _ in store.deliveries_in_state(destination, state, due_before=cutoff)
        )
        if stuck:
            yield red(
                f"{stuck} delivery(ies) overdue by more than {STUCK_AFTER_MINUTES} minutes",
                f"`signbridge deliveries stuck {self.where} --requeue`",
            )
        else:
            yield green(f"nothing overdue by more than {STUCK_AFTER_MINUTES} minutes")

    def queues(self) -> Iterator[Check]:
        sqs = self.deployment.target.client("sqs")
        fixes = {
            "DeliveryDLQUrl": ("delivery DLQ", f"`signbridge dlq list {self.where}`, then `signbridge dlq redrive`"),
            "OutboxFailedQueueUrl": (
                "outbox's failed queue",
                f"`signbridge deliveries stuck {self.where} --requeue` (the sweeper does it too), then purge it",
            ),
        }
        for output, (label, fix) in fixes.items():
            url = self.deployment.outputs.get(output)
            if not url:
                continue
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            waiting = sum(int(v) for v in attributes.values())
            yield green(f"{label} empty") if not waiting else red(f"{label} holds {waiting} message(s)", fix)

    def attention(self, store: Store) -> Iterator[Check]:
        for state in lifecycle.ATTENTION:
            found, more = find_deliveries(store, destination_names(None), state, None, LISTED_AT_MOST)
            if not found:
                yield green(f"no delivery {state}")
                continue
            count = f"{len(found)}{'+' if more else ''}"
            yield red(f"{count} delivery(ies) {state}", state.kind.advice.format(where=self.where))

    def run(self) -> list[Check]:
        checks = [*self.parameters(), *self.credentials(), self.alarm_topic()]
        table = self.deployment.outputs.get("TableName")
        if table:
            store = Store(table, self.deployment.target.client("dynamodb"))
            checks += [*self.state_index(store), *self.attention(store)]
        checks += list(self.queues())
        return checks


CREDENTIAL_CHECKS: dict[Destination, Callable[[Doctor, Secret], Iterator[Check]]] = {
    Destination.SIGN_CUSTOMISER: Doctor.signcustomiser,
    Destination.DROPDAY: Doctor.dropday,
    Destination.ONWARD: Doctor.onward,
}


def count_unindexed(store: Store) -> int:
    """Unsettled deliveries without a state index key: what `deliveries reindex` would index (a
    counting Scan, nothing written)."""
    settled = [s for s in DeliveryState if s.settled]
    values = {":delivery": {"S": "DELIVERY#"}, **{f":settled{n}": {"S": s.value} for n, s in enumerate(settled)}}
    kwargs = {
        "TableName": store.table_name,
        "Select": "COUNT",
        "FilterExpression": "begins_with(SK, :delivery) AND attribute_not_exists(state_key) "
        f"AND NOT #s IN ({', '.join(f':settled{n}' for n in range(len(settled)))})",
        "ExpressionAttributeNames": {"#s": "state"},
        "ExpressionAttributeValues": values,
    }
    total = 0
    while True:
        answer = store.client.scan(**kwargs)
        total += int(answer.get("Count", 0))
        if "LastEvaluatedKey" not in answer:
            return total
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def paint(check: Check, colour: bool) -> list[str]:
    mark = "ok  " if check.ok else "FAIL"
    if colour:
        mark = f"\033[{32 if check.ok else 31}m{mark}\033[0m"
    lines = [f"  {mark}  {check.what}"]
    if check.fix:
        lines.append(f"        fix: {check.fix}")
    return lines


def run_doctor(args: argparse.Namespace, target: Target) -> int:
    deployment = read_deployment(args, target)
    colour = args.colour == "always" or (args.colour == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    print(f"signbridge doctor: stack {deployment.name}")
    checks = Doctor(deployment, {}).run()
    for check in checks:
        for line in paint(check, colour):
            print(line)
    failed = sum(not c.ok for c in checks)
    if failed:
        print(f"no-go: {failed} of {len(checks)} check(s) failed")
        return 1
    print(f"go: all {len(checks)} checks passed")
    return 0


def add_parser(commands: argparse._SubParsersAction, where: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "doctor",
        parents=[where],
        help="go / no-go: is the stack wired right and nothing waiting for a person",
        description="Reads, changes nothing. Each line is ok or FAIL with the fix; exit status 1 on any FAIL.",
    )
    parser.add_argument("--colour", "--color", choices=["auto", "always", "never"], default="auto")
    parser.set_defaults(run=run_doctor)
