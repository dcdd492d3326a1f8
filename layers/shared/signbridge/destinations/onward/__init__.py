"""Onward (shipping protection): POST /api/v1/orders, then order updates, insurance refunds and
shipments (header X-API-Key).

Files: ``settings`` (its environment variables), ``models`` (the requests), ``mapper`` (canonical
order -> order request), ``updates`` (order events -> update or shipment), ``client`` (HTTP and
what each answer means), ``port`` (what the forwarding engine calls). Only ``build`` imports the
heavy parts.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from signbridge.destinations import Credential
from signbridge.destinations.onward.settings import OnwardSettings

if TYPE_CHECKING:
    from signbridge.ports import Port, Traits

SETTINGS = OnwardSettings


@cache
def traits() -> Traits:
    from signbridge.ports import Cancellation, Traits

    # Every event reaches Onward: an order update (a cancellation voids the order there), an
    # insurance refund, a shipment or a shipment event.
    return Traits(
        title="Onward",
        cancellation=Cancellation.SENT,
        receives=frozenset({"paid", "cancelled", "refunded", "fulfilled", "shipment_updated"}),
    )


def _key(settings: OnwardSettings, credential: Credential) -> str:
    return credential(settings.onward_api_key_param, settings.onward_api_key, "ONWARD_API_KEY_PARAM")


def missing(settings: OnwardSettings, credential: Credential) -> str | None:
    return None if _key(settings, credential) else "Onward's API key (ONWARD_API_KEY_PARAM)"


def build(settings: OnwardSettings, credential: Credential) -> Port | None:
    key = _key(settings, credential)
    if not key:
        return None
    from signbridge.destinations.onward.port import onward_port

    return onward_port(str(settings.onward_base_url), key, settings.destination_timeout_seconds)
