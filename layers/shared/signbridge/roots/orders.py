"""The orders function's dependencies: its settings, the platform's signing secret (when POST
/orders must be signed), and the order aggregate with the product mappings an order's lines name."""

from __future__ import annotations

from functools import cache

from signbridge.ports import Traits
from signbridge.roots import destination_traits, signing_secrets
from signbridge.settings import Settings, get_settings
from signbridge.store.intake import OrderIntakeStore


def settings() -> Settings:
    return get_settings()


@cache
def store() -> OrderIntakeStore:
    return OrderIntakeStore(settings().table_name)


def traits() -> dict[str, Traits]:
    return destination_traits()


def routes() -> dict[str, Traits]:
    """Where a platform order goes (ROUTE_PLATFORM_ORDERS_TO), each destination with its traits."""
    known = traits()
    return {str(d): known[str(d)] for d in settings().route_platform_orders_to}


def platform_order_secrets() -> list[str]:
    """The secret POST /orders must be signed with; empty when signing is not required."""
    s = settings()
    return signing_secrets(
        s.platform_orders_secret_param, s.platform_orders_secret, "PLATFORM_ORDERS_SECRET_PARAM", required=None
    )


def reset() -> None:
    store.cache_clear()
