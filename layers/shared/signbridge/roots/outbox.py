"""The outbox function's dependencies: its settings, the delivery queue's client, and (built when
the first delivered order comes) what starts a follow-up. No table client for the queue's path: the
stream record carries everything the message needs.

The outbox has a settings model of its own, with the variables it reads: the core model
(``signbridge.settings``) would cost this stream-to-queue relay 78 ms of CPU at every cold start
to build, against 52 ms for this one (pydantic and pydantic-settings included).
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from signbridge.logic.follow_up_stream import Delivered
    from signbridge.store.follow_ups import FollowUpStore


class OutboxSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True, env_ignore_empty=True)

    delivery_queue_url: str = Field(min_length=1, description="The delivery queue (the template sets it).")
    table_name: str = Field(default="", description="The table, for follow-ups (the template sets it).")


@cache
def settings() -> OutboxSettings:
    return OutboxSettings()  # type: ignore[call-arg]  # values come from the environment


def sqs() -> Any:
    return _sqs()


@cache
def _sqs() -> Any:
    return boto3.client("sqs")


@cache
def follow_up_store() -> FollowUpStore:
    from signbridge.store.follow_ups import FollowUpStore

    return FollowUpStore(settings().table_name)


def _test_order(store: FollowUpStore, order_id: str) -> bool:
    """Whether the order was posted as a test (the destination routes it to no supplier)."""
    from signbridge.models.items import order_key
    from signbridge.store.base import dependency, from_item, key_of

    with dependency():
        item = store.client.get_item(
            TableName=store.table_name, Key=key_of(order_key(order_id)), ProjectionExpression="body"
        ).get("Item")
    body = json.loads(from_item(item)["body"]) if item else {}
    return bool(body.get("test", False))


def start_follow_up(delivered: Delivered) -> bool:
    """Start following the order at its destination, when the destination's traits follow up and
    the order is not a test; False when not (or it was started before: a redelivered record)."""
    from signbridge.clock import stamp
    from signbridge.destinations import plugin
    from signbridge.logic.follow_up import start_follow_up as start

    if not settings().table_name:
        return False
    try:
        if not plugin(delivered.destination).traits().follows_up:
            return False
    except ValueError:  # not a destination signbridge knows
        return False
    store = follow_up_store()
    if _test_order(store, delivered.order_id):
        return False
    policy = _follow_up_settings().policy()
    return start(
        store,
        delivered.order_id,
        delivered.destination,
        delivered.reference,
        delivered.accepted_at,
        policy,
        stamp()[1],
    )


@cache
def _follow_up_settings() -> Any:
    from signbridge.follow_up_settings import FollowUpSettings

    return FollowUpSettings()


def reset() -> None:
    settings.cache_clear()
    _sqs.cache_clear()
    follow_up_store.cache_clear()
    _follow_up_settings.cache_clear()
