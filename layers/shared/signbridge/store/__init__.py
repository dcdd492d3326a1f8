"""All reads and writes of the signbridge table, one module per aggregate over a shared base:
``products``, ``orders`` (orders, their deliveries and events), ``webhooks`` and ``queries`` (the
operator's and the sweeper's reads of the delivery state index).

``from signbridge.store import Store`` gives all of them in one object. It is resolved on first
use, so that a function importing one aggregate's module does not load the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from signbridge.store.base import dynamodb_client, to_item
    from signbridge.store.composed import Store
    from signbridge.store.orders import KEEP, Change, OrderState, SendingStep

_HOMES = {
    "Store": "composed",
    "OrderState": "orders",
    "Change": "orders",
    "SendingStep": "orders",
    "KEEP": "orders",
    "to_item": "base",
    "dynamodb_client": "base",
}

__all__ = ["KEEP", "Change", "OrderState", "SendingStep", "Store", "dynamodb_client", "to_item"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)
