"""The webhooks function's dependencies: its settings, the webhook secrets, the webhook aggregate
of the table, and the order aggregate (an order:created forwarded to the destinations)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from signbridge.roots import destination_traits, signing_secrets
from signbridge.settings import Settings, get_settings
from signbridge.store.base import dynamodb_client
from signbridge.store.webhooks import WebhookStore

if TYPE_CHECKING:
    from signbridge.ports import Traits
    from signbridge.store.orders import OrderStore


def settings() -> Settings:
    return get_settings()


def webhook_secrets() -> list[str]:
    s = settings()
    return signing_secrets(
        s.webhook_secrets_param, s.webhook_secrets, "WEBHOOK_SECRETS_PARAM", required="webhook secret"
    )


@cache
def _client() -> Any:
    return dynamodb_client()  # one client for both aggregates


@cache
def webhooks() -> WebhookStore:
    return WebhookStore(settings().table_name, _client())


@cache
def orders() -> OrderStore:
    from signbridge.store.orders import OrderStore  # only when webhook orders are forwarded

    return OrderStore(settings().table_name, _client())


def traits() -> dict[str, Traits]:
    return destination_traits()


def routes() -> dict[str, Traits]:
    """Where a webhook order is forwarded (FORWARD_WEBHOOK_ORDERS_TO), with each destination's traits."""
    known = traits()
    return {str(d): known[str(d)] for d in settings().forward_webhook_orders_to}


def reset() -> None:
    for built in (_client, webhooks, orders):
        built.cache_clear()
