"""What the DynamoDB table holds: one model per item type, and the keys that place it.

Single-table design (see README, "Data model"):

| item                     | PK                        | SK                      |
|--------------------------|---------------------------|-------------------------|
| product, by SC id        | SCPRODUCT#{product_id}    | PRODUCT                 |
| product, by our id       | PRODUCT#{external_id}     | PRODUCT                 |
| webhook delivery (TTL)   | WEBHOOK#{sha256(body)}    | DELIVERY                |
| SC order (webhook)       | SCORDER#{order_id}        | ORDER                   |
| SC order ↔ our order     | ORDER#{external_id}       | SCORDER#{order_id}      |
| our order                | ORDER#{order_id}          | ORDER                   |
| delivery of our order    | ORDER#{order_id}          | DELIVERY#{destination}  |
| order event (platform)   | ORDER#{order_id}          | EVENT#{event_id}        |
| delivery of an event     | ORDER#{order_id}          | DELIVERY#{destination}#EVENT#{seq:06d} |

A delivery that is not settled (not delivered or skipped) is also in the sparse index
``ByDeliveryState``: partition ``{destination}#{state}``, sort key the Unix second by which
something should next happen to it (see ``DeliveryRecord.due_at``). The sweeper and the console
read that index, never the whole table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting to be sent; the only state the outbox enqueues
    SENDING = "sending"  # an attempt holds the lease (a lease that expires here means a crash)
    RETRYING = "retrying"  # an attempt failed transiently; SQS brings the message back
    # The destination is routed but cannot be used as configured (no credentials, credentials
    # refused or unreadable): retried on a slow schedule, for as long as it takes, until fixed.
    HELD = "held"
    # The destination may have acted on an attempt whose answer we never heard, and it has no
    # duplicate rule: never resent by itself; settled by its own confirmation or by an operator.
    IN_DOUBT = "in_doubt"
    DELIVERED = "delivered"
    FAILED = "failed"  # refused for its content, or still failing at the end of the retry horizon
    SKIPPED = "skipped"  # nothing in this order is for this destination
    # Not sent until the order is paid (Dropday makes goods): released by a ``paid`` event. Not
    # a fault: never re-enqueued by the sweeper, counted apart from held deliveries.
    AWAITING_PAYMENT = "awaiting_payment"
    CANCELLED = "cancelled"  # the order was cancelled before this delivery was sent
    # Nothing can be sent, a person must act (a cancellation of an order Dropday already routed).
    ACTION_REQUIRED = "action_required"

    @property
    def terminal(self) -> bool:
        """No attempt will be made by itself (an operator's replay or resolve still can)."""
        return self in (
            DeliveryState.DELIVERED,
            DeliveryState.FAILED,
            DeliveryState.SKIPPED,
            DeliveryState.CANCELLED,
            DeliveryState.ACTION_REQUIRED,
        )

    @property
    def settled(self) -> bool:
        """Nothing more can or should happen: the delivery leaves the index of unsettled ones."""
        return self in (DeliveryState.DELIVERED, DeliveryState.SKIPPED, DeliveryState.CANCELLED)


UNSETTLED_STATES = tuple(state for state in DeliveryState if not state.settled)


def product_by_sc_key(product_id: int) -> dict[str, str]:
    return {"PK": f"SCPRODUCT#{product_id}", "SK": "PRODUCT"}


def product_by_external_key(external_id: str) -> dict[str, str]:
    return {"PK": f"PRODUCT#{external_id}", "SK": "PRODUCT"}


def webhook_key(digest: str) -> dict[str, str]:
    return {"PK": f"WEBHOOK#{digest}", "SK": "DELIVERY"}


def sc_order_key(sc_order_id: int) -> dict[str, str]:
    return {"PK": f"SCORDER#{sc_order_id}", "SK": "ORDER"}


def sc_order_link_key(order_id: str, sc_order_id: int) -> dict[str, str]:
    return {"PK": f"ORDER#{order_id}", "SK": f"SCORDER#{sc_order_id}"}


def order_key(order_id: str) -> dict[str, str]:
    return {"PK": f"ORDER#{order_id}", "SK": "ORDER"}


def delivery_key(order_id: str, destination: str, event_seq: int | None = None) -> dict[str, str]:
    """A delivery of the order itself, or (``event_seq``) of the order's event number ``event_seq``."""
    suffix = "" if event_seq is None else f"#EVENT#{event_seq:06d}"
    return {"PK": f"ORDER#{order_id}", "SK": f"DELIVERY#{destination}{suffix}"}


def order_event_key(order_id: str, event_id: str) -> dict[str, str]:
    return {"PK": f"ORDER#{order_id}", "SK": f"EVENT#{event_id}"}


DELIVERY_STATE_INDEX = "ByDeliveryState"


def delivery_state_key(destination: str, state: str) -> str:
    """The partition of ``ByDeliveryState`` that holds one destination's deliveries in one state."""
    return f"{destination}#{state}"


class ProductMapping(BaseModel):
    """Sign Customiser product ↔ our external_id, with the design a supplier needs to make it."""

    product_id: int
    external_id: str
    title: str
    description: str | None = None
    price: int
    image_url: str | None = None
    upload_urls: list[str] = Field(default_factory=list)
    snapshot: str = Field(description="The product as Sign Customiser sent it (JSON).")
    created_at: str


class WebhookDelivery(BaseModel):
    digest: str
    topic: str
    received_at: str
    body: str
    expires_at: int


class ScOrderLink(BaseModel):
    """What an order:created webhook said about one of our orders: enough to tell whether it is
    the order we sent (same id, number, currency and designs), not one that another channel
    created under the same external_id."""

    sc_order_id: int
    external_id: str
    external_order_number: str | None = None
    currency: str | None = None
    product_external_ids: list[str] = Field(default_factory=list)
    linked_at: str | None = None


class ScOrderRecord(BaseModel):
    """An order:created webhook's order, recorded once per Sign Customiser order_id."""

    sc_order_id: int
    order_number: int | None = None
    external_order_number: str | None = None
    external_id: str | None = None
    order_total: int | None = None
    app_total: int | None = None
    currency: str | None = None
    received_at: str
    product_external_ids: list[str] = Field(default_factory=list)


class OrderRecord(BaseModel):
    order_id: str
    origin: str  # "platform" or "signcustomiser" (an order:created webhook forwarded on)
    received_at: str
    body: str = Field(description="The canonical order (JSON).")
    digest: str = Field(description="sha256 of the canonical body: tells a repeat from a different order.")
    destinations: list[str]
    custom_line_ids: list[str] = Field(default_factory=list, description="Lines that are Sign Customiser designs.")
    event_count: int = Field(default=0, description="How many platform events were recorded (the last one's seq).")


class DeliveryError(BaseModel):
    code: str
    message: str
    status: int | None = None
    fields: dict[str, list[str]] | list[str] | None = None


class DeliveryRecord(BaseModel):
    order_id: str
    destination: str
    state: DeliveryState
    attempts: int = 0
    destination_ref: str | None = None
    last_error: DeliveryError | None = None
    updated_at: str
    created_at: int | None = None  # Unix seconds; older items lack it
    # Set while an attempt is under way; an expired lease means the worker died mid-attempt.
    attempt_id: str | None = None
    lease_until: int | None = None
    # Set when an attempt's outcome was never heard (a timeout, a dropped connection, a crash).
    in_doubt_since: int | None = None
    # Unix seconds of the next attempt the queue will bring (retrying, held, in doubt).
    next_attempt_at: int | None = None
    # When the current run of transient failures began: the retry horizon counts from here.
    retrying_since: int | None = None
    # The generation of the one live queue message for this delivery; a message of another
    # generation is stale (a redelivery, or one the sweeper replaced) and is dropped.
    gen: int = 0
    # Set when the sweeper or the forwarder sent this generation's message itself (the outbox
    # then leaves the delivery's "pending" write alone).
    enqueued_gen: int | None = None
    # Set by an attempt just before it sends (and cleared with its lease): a worker that died
    # with this set may have reached the destination.
    sent_at: int | None = None
    # When the delivery last started waiting (created, or put back by an operator): the age the
    # oldest-unsettled alarm watches.
    waiting_since: int | None = None
    # Set on the delivery of an order event: which one (its seq in the order's events).
    event_seq: int | None = None

    def due_at(self, now: int) -> int:
        """When something should next happen to this delivery (the index's sort key)."""
        if self.state is DeliveryState.SENDING and self.lease_until is not None:
            return self.lease_until
        if self.next_attempt_at is not None and self.state in (
            DeliveryState.RETRYING,
            DeliveryState.HELD,
            DeliveryState.IN_DOUBT,
        ):
            return self.next_attempt_at
        return now

    def public(self) -> dict[str, Any]:
        view = self.model_dump(
            exclude={
                "order_id",
                "attempt_id",
                "lease_until",
                "gen",
                "enqueued_gen",
                "sent_at",
                "retrying_since",
                "waiting_since",
                "created_at",
                "next_attempt_at",
                "event_seq",
            },
            exclude_none=True,
            mode="json",
        )
        if self.next_attempt_at is not None and not self.state.terminal:
            view["next_attempt_at"] = datetime.fromtimestamp(self.next_attempt_at, UTC).isoformat()
        return view


class OrderEventRecord(BaseModel):
    """A platform event on one of our orders, recorded once per (order, event id)."""

    order_id: str
    event_id: str
    seq: int = Field(description="1, 2, ...: the order in which the order's events apply.")
    type: str
    body: str = Field(description="The event as received (canonical JSON).")
    digest: str
    received_at: str
    destinations: list[str] = Field(default_factory=list, description="Destinations the event was routed to.")
