"""Which table stream records start a follow-up (``signbridge.logic.follow_up``): an order's own
delivery (not an event's) that has just become ``delivered``. Read from the stream image as it is,
without the item models: the outbox's path stays light until such a record comes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# DeliveryState.DELIVERED's value (see logic/outbox.py on why the outbox spells it).
DELIVERED = "delivered"


@dataclass(frozen=True)
class Delivered:
    order_id: str
    destination: str
    reference: str | None
    accepted_at: int  # Unix seconds of the move into delivered


def _state(image: dict[str, Any]) -> str | None:
    return (image.get("state") or {}).get("S")


def delivered_order(record: dict[str, Any]) -> Delivered | None:
    if record.get("eventName") != "MODIFY":
        return None
    change = record.get("dynamodb") or {}
    new, old = change.get("NewImage") or {}, change.get("OldImage") or {}
    sk = (new.get("SK") or {}).get("S", "")
    if not sk.startswith("DELIVERY#") or "event_seq" in new or "#EVENT#" in sk:
        return None
    if _state(new) != DELIVERED or _state(old) == DELIVERED:
        return None
    updated = (new.get("updated_at") or {}).get("S")
    accepted = (
        int(datetime.fromisoformat(updated).timestamp())
        if updated
        else int(change.get("ApproximateCreationDateTime", 0))
    )
    reference = (new.get("destination_ref") or {}).get("S")
    return Delivered(new["order_id"]["S"], new["destination"]["S"], reference, accepted)
