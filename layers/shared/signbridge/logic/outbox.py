"""The transactional outbox: a delivery item that becomes ``pending`` on the table's stream
becomes one message on the delivery queue."""

from __future__ import annotations

import json
from typing import Any

from signbridge.models.items import DeliveryState


def delivery_message(record: dict[str, Any]) -> dict[str, str] | None:
    """The queue message for a stream record, or None when the record is not a pending delivery.

    The template's filter already passes only such records; this check keeps the outbox
    correct where filters are not applied (local engines, a filter edited by hand).
    """
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    sk = (image.get("SK") or {}).get("S", "")
    if not sk.startswith("DELIVERY#") or (image.get("state") or {}).get("S") != DeliveryState.PENDING:
        return None
    return {"order_id": image["order_id"]["S"], "destination": image["destination"]["S"]}


def message_body(message: dict[str, str]) -> str:
    return json.dumps(message, sort_keys=True)
