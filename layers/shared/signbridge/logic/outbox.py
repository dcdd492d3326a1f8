"""The transactional outbox: a delivery item that becomes ``pending`` on the table's stream
becomes one message on the delivery queue; and the message's shape, read by the forwarder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# DeliveryState.PENDING's value: the outbox function reads stream images as they are, and importing
# the item models (pydantic classes built at import) for this one value cost its cold start ~60 ms.
PENDING = "pending"


@dataclass(frozen=True)
class DeliveryMessage:
    """One order x one destination; ``gen`` is the delivery's message generation when it was sent;
    ``event_seq`` names one of the order's events (absent: the order itself)."""

    order_id: str
    destination: str
    gen: int = 0
    event_seq: int | None = None


def delivery_message(record: dict[str, Any]) -> DeliveryMessage | None:
    """The queue message for a stream record, or None when the record is not a pending delivery.

    The template's filter already passes only such records; this check keeps the outbox
    correct where filters are not applied (local engines, a filter edited by hand).
    """
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    image = (record.get("dynamodb") or {}).get("NewImage") or {}
    sk = (image.get("SK") or {}).get("S", "")
    if not sk.startswith("DELIVERY#") or (image.get("state") or {}).get("S") != PENDING:
        return None
    gen = int((image.get("gen") or {}).get("N", "0"))
    if (image.get("enqueued_gen") or {}).get("N") == str(gen):
        return None  # the sweeper (or the forwarder) replaced the message and sent it itself
    return DeliveryMessage(
        order_id=image["order_id"]["S"],
        destination=image["destination"]["S"],
        gen=gen,
        event_seq=int(image["event_seq"]["N"]) if "event_seq" in image else None,
    )


def message_body(message: DeliveryMessage) -> str:
    body: dict[str, Any] = {"order_id": message.order_id, "destination": message.destination, "gen": message.gen}
    if message.event_seq is not None:
        body["event_seq"] = message.event_seq
    return json.dumps(body)


def parse_message(body: str) -> DeliveryMessage | None:
    """The message, or None when the body is not one (it goes to the DLQ)."""
    try:
        data = json.loads(body)
        gen = data.get("gen", 0)
        event_seq = data.get("event_seq")
        if (
            not isinstance(data["order_id"], str)
            or not isinstance(data["destination"], str)
            or not isinstance(gen, int)
            or not (event_seq is None or (type(event_seq) is int and event_seq > 0))
        ):
            return None
        return DeliveryMessage(data["order_id"], data["destination"], gen, event_seq)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
