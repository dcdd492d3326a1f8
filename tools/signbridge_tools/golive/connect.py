"""`signbridge connect --stack NAME`: Sign Customiser's order:created webhook, subscribed to the
stack's WebhookUrl, and its secret where the webhooks function reads it.

With the API token from SSM it lists the subscriptions (``GET /api/v2/webhooks``), creates
order:created for the stack's WebhookUrl unless one exists, and adds that subscription's secret
to the webhook-secrets parameter. The secrets already there stay beside it (a rotation: the old
subscription's deliveries still verify until it is deleted). Running it again changes nothing.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from signbridge_tools.console import ConsoleError, Target

from .deployment import WEBHOOK_SECRETS, Deployment, read_deployment, say_next
from .providers import ORDER_CREATED, CredentialRefused, ProviderError, SignCustomiserApi, Subscription

SIGNCUSTOMISER_DEFAULT_BASE = "https://web.signcustomiser.com"


def same_url(a: str, b: str) -> bool:
    x, y = urlsplit(a.strip()), urlsplit(b.strip())
    return (x.scheme.lower(), x.netloc.lower(), x.path.rstrip("/"), x.query) == (
        y.scheme.lower(),
        y.netloc.lower(),
        y.path.rstrip("/"),
        y.query,
    )


def split_secrets(raw: str | None) -> list[str]:
    """As the webhooks function reads the parameter: comma-separated, blanks dropped."""
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def signcustomiser_api(deployment: Deployment) -> tuple[SignCustomiserApi, str]:
    """The API client with the stack's token, and the token's parameter name; ConsoleError without one."""
    name = deployment.ssm_name("SignCustomiserApiTokenParam")
    token = deployment.read_secret(name)
    if not token:
        raise ConsoleError(f"No Sign Customiser API token in {name}: run {say_next(deployment, 'setup')} first.")
    base = deployment.parameters.get("SignCustomiserBaseUrl") or SIGNCUSTOMISER_DEFAULT_BASE
    return SignCustomiserApi(base, token), name


def subscriptions_of(api: SignCustomiserApi, token_name: str, deployment: Deployment) -> list[Subscription]:
    try:
        return api.subscriptions()
    except CredentialRefused as exc:
        raise ConsoleError(
            f"Sign Customiser refused the API token in {token_name} ({exc}): put a current one with "
            f"{say_next(deployment, 'setup')}."
        ) from None
    except ProviderError as exc:
        raise ConsoleError(f"Sign Customiser's webhook subscriptions could not be read: {exc}.") from None


def run_connect(args: argparse.Namespace, target: Target) -> int:
    deployment = read_deployment(args, target)
    api, token_name = signcustomiser_api(deployment)
    url = deployment.webhook_url
    subscriptions = subscriptions_of(api, token_name, deployment)
    ours = [s for s in subscriptions if s.topic == ORDER_CREATED and same_url(s.url, url)]
    elsewhere = [s for s in subscriptions if s.topic == ORDER_CREATED and not same_url(s.url, url)]

    for s in ours:
        print(f"found        subscription {s.id}: {ORDER_CREATED} -> {s.url}")
    if not ours and args.dry_run:
        print(f"would create subscription {ORDER_CREATED} -> {url}")
    elif not ours:
        try:
            created = api.subscribe(ORDER_CREATED, url)
        except ProviderError as exc:
            raise ConsoleError(f"Sign Customiser did not create the subscription: {exc}.") from None
        print(f"created      subscription {created.id}: {ORDER_CREATED} -> {created.url or url}")
        ours = [created]
    for s in elsewhere:
        print(f"left         subscription {s.id}: {ORDER_CREATED} -> {s.url} (not this stack)")

    secrets_name = deployment.ssm_name(WEBHOOK_SECRETS)
    stored = split_secrets(deployment.read_secret(secrets_name))
    new = [s for s in ours if s.secret and s.secret not in stored]
    if not ours:  # a dry run that would create one
        print(f"would add    the new subscription's secret to {secrets_name}" + beside(stored))
    elif not new:
        print(f"unchanged    {secrets_name}: it holds the secret of subscription {ours[0].id}")
    else:
        ids = ", ".join(str(s.id) for s in new)
        if not args.dry_run:
            value = ",".join([*(s.secret for s in new), *stored])
            deployment.write_secret(secrets_name, value, "signbridge: Sign Customiser webhook subscription secrets")
        verb = "would add   " if args.dry_run else "added       "
        print(f"{verb} the secret of subscription {ids} to {secrets_name}" + beside(stored))
    if any(not s.secret for s in ours):
        raise ConsoleError("Sign Customiser showed the subscription without its secret; copy it from Sign Customiser.")
    if args.dry_run:
        print("dry run: nothing changed")
    else:
        print(f"connected: Sign Customiser sends {ORDER_CREATED} to {url}. Next: {say_next(deployment, 'doctor')}.")
    return 0


def beside(stored: list[str]) -> str:
    if not stored:
        return ""
    return (
        f", beside {len(stored)} older one(s) (kept while an older subscription may still sign with them; "
        "remove them from the parameter once it is deleted)"
    )


def add_parser(commands: argparse._SubParsersAction, where: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "connect",
        parents=[where],
        help="subscribe Sign Customiser's order:created webhook to the stack and store its secret",
        description="Lists Sign Customiser's webhook subscriptions with the stack's API token, creates "
        "order:created for the stack's WebhookUrl unless one exists, and adds its secret to the "
        "webhook-secrets parameter (older secrets stay beside it). Idempotent.",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    parser.set_defaults(run=run_connect)
