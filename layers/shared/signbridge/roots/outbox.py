"""The outbox function's dependencies: its settings and the delivery queue's client. No table
client: the stream record carries everything the message needs."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3

from signbridge.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


def sqs() -> Any:
    return _sqs()


@cache
def _sqs() -> Any:
    return boto3.client("sqs")


def reset() -> None:
    _sqs.cache_clear()
