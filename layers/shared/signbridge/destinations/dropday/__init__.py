"""Dropday (dropshipping order routing): POST /api/v1/orders with headers api-key and account-id.

Files: ``settings`` (its environment variables), ``models`` (the request), ``mapper`` (canonical
order -> request), ``client`` (HTTP and what each answer means), ``port`` (what the forwarding
engine calls). Only ``build`` imports the heavy parts.

Its traits: it makes goods for what it receives, so an order that is not paid is held until a
paid event (DROPDAY_HOLD_UNTIL_PAID); it documents no update or cancel endpoint, so it receives
no order event, and a cancellation withdraws a delivery not yet sent or asks a person to cancel
an order it has (or may have) by hand. Its answer to a create is not the end: it routes the order
to suppliers afterwards, so a delivered order is followed up (read back until its lines are
final), except while every order is sent as a test (DROPDAY_TEST), which no supplier receives.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from signbridge.destinations import Credential
from signbridge.destinations.dropday.settings import DropdayHoldSettings, DropdaySettings

if TYPE_CHECKING:
    from signbridge.ports import Port, Traits

SETTINGS = DropdaySettings


@cache
def traits() -> Traits:
    from signbridge.ports import Cancellation, Traits

    hold = DropdayHoldSettings()
    return Traits(
        title="Dropday",
        cancellation=Cancellation.BY_HAND,
        not_forwarded="documents no update endpoint: recorded only",
        makes_goods=True,
        hold_until_paid=hold.dropday_hold_until_paid,
        follows_up=not hold.dropday_test,
    )


def _key(settings: DropdaySettings, credential: Credential) -> str:
    return credential(settings.dropday_api_key_param, settings.dropday_api_key, "DROPDAY_API_KEY_PARAM")


def missing(settings: DropdaySettings, credential: Credential) -> str | None:
    if not _key(settings, credential):
        return "Dropday's API key (DROPDAY_API_KEY_PARAM)"
    if not settings.dropday_account_id:
        return "DROPDAY_ACCOUNT_ID"
    return None


def build(settings: DropdaySettings, credential: Credential) -> Port | None:
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
