"""The outbox function's dependencies: the delivery queue's URL and client. No table client:
the stream record carries everything the message needs.

The outbox reads its one setting, DELIVERY_QUEUE_URL, itself rather than through
``signbridge.settings``: the settings model would load pydantic and pydantic-settings for one
string, about a quarter of this function's cold start.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3

from signbridge.errors import ConfigurationError

QUEUE_URL = "DELIVERY_QUEUE_URL"


def queue_url() -> str:
    """Read at each send (a dictionary lookup): a record sent while it is unset fails, and is retried."""
    url = os.environ.get(QUEUE_URL, "").strip()
    if not url:
        raise ConfigurationError(f"{QUEUE_URL} is not set.", details={"setting": QUEUE_URL})
    return url


def sqs() -> Any:
    return _sqs()


@cache
def _sqs() -> Any:
    return boto3.client("sqs")


def reset() -> None:
    _sqs.cache_clear()
