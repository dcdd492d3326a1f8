"""Dropday (dropshipping order routing): POST /api/v1/orders with headers api-key and account-id.

Files: ``settings`` (its environment variables), ``models`` (the request), ``mapper`` (canonical
order -> request), ``client`` (HTTP and what each answer means), ``port`` (what the forwarding
engine calls). Only ``build`` imports the heavy parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signbridge.destinations import Credential
from signbridge.destinations.dropday.settings import DropdaySettings

if TYPE_CHECKING:
    from signbridge.logic.forwarding import DestinationPort

SETTINGS = DropdaySettings


def not_forwarded(event_type: str) -> str | None:
    from signbridge.models.events import EventType  # here: the package itself loads no order models

    if event_type == EventType.CANCELLED:
        return None  # the forwarder decides once the order's own delivery has settled
    if event_type == EventType.PAID:
        return "Dropday documents no update endpoint; a paid event releases a delivery held until paid."
    return "Dropday documents no update endpoint: recorded only."


def _key(settings: DropdaySettings, credential: Credential) -> str:
    return credential(settings.dropday_api_key_param, settings.dropday_api_key, "DROPDAY_API_KEY_PARAM")


def missing(settings: DropdaySettings, credential: Credential) -> str | None:
    if not _key(settings, credential):
        return "Dropday's API key (DROPDAY_API_KEY_PARAM)"
    if not settings.dropday_account_id:
        return "DROPDAY_ACCOUNT_ID"
    return None


def build(settings: DropdaySettings, credential: Credential) -> DestinationPort | None:
    key = _key(settings, credential)
    if not key or not settings.dropday_account_id:
        return None
    from signbridge.destinations.dropday.port import dropday_port

    return dropday_port(
        str(settings.dropday_base_url),
        key,
        settings.dropday_account_id,
        settings.destination_timeout_seconds,
        settings.dropday_source,
        settings.dropday_test,
    )
