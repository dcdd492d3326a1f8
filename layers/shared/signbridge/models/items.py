"""What the DynamoDB table holds: one model per item type, and the keys that place it.

Single-table design (see docs/development.md, "Data model"):

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

A delivery that is not settled (see ``signbridge.lifecycle``) is also in the sparse index
``ByDeliveryState``: partition ``{destination}#{state}``, sort key the Unix second by which
something should next happen to it (see ``DeliveryRecord.due_at``). The sweeper and the console
read that index, never the whole table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, model_validator

from signbridge.lifecycle import DeliveryState

__all__ = ["DeliveryState"]  # the lifecycle's; re-exported for the stored items that carry it


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
    # The designs the custom lines name, as the intake found them (by external_id): the forwarder
    # reads them with the order, not again per delivery. Orders written before lack them.
    designs: dict[str, ProductMapping] = Field(default_factory=dict)


class DeliveryError(BaseModel):
    code: str
    message: str
    status: int | None = None
    fields: dict[str, list[str]] | list[str] | None = None


class DeliveryRecord(BaseModel):
    """One order (or one of its events) to one destination. Its moves are ``signbridge.lifecycle``'s."""

    order_id: str
    destination: str
    state: DeliveryState
    # Incremented by every write: a move decided on a read is written only if nothing changed since.
    rev: int = 0
    attempts: int = 0
    destination_ref: str | None = None
    last_error: DeliveryError | None = None
    updated_at: str
    created_at: int | None = None  # Unix seconds; older items lack it
    # Set while an attempt is under way; an expired lease means the worker died mid-attempt.
    attempt_id: str | None = None
    lease_until: int | None = None
    # Set by an attempt just before it sends a step (and cleared with its lease): a worker that
    # died with this set may have reached the destination with ``sending_step``.
    sent_at: int | None = None
    sending_step: str | None = None
    sending_safe: bool | None = None  # whether ``sending_step`` may be sent again after no answer
    steps_left: int | None = None  # how many steps of the plan come after ``sending_step``
    # The steps the destination acknowledged: a retry resumes at the first one not in here.
    acked_steps: list[str] = Field(default_factory=list)
    # A fact for every destination: an attempt at ``unanswered_step`` was sent and never answered
    # (a timeout, a dropped connection, a 5xx, a worker that died after sending), since this Unix
    # second. The destination may have acted on it. Forgotten only once the step is answered or an
    # operator says the destination has it not (``order resolve --resend``).
    unanswered_at: int | None = Field(default=None, validation_alias=AliasChoices("unanswered_at", "in_doubt_since"))
    unanswered_step: str | None = None
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
    # When the delivery last started waiting (created, or put back by an operator): the age the
    # oldest-unsettled alarm watches.
    waiting_since: int | None = None
    # Set on the delivery of an order event: which one (its seq in the order's events).
    event_seq: int | None = None
    # The index's sort key as stored (when something was due to happen next): read, never written
    # from here (the store writes it with every move).
    indexed_due_at: int | None = Field(default=None, validation_alias="due_at", exclude=True)
    # Read from an item written before ``unanswered_at`` had its name (``in_doubt_since``): the
    # next write moves it. Never stored.
    legacy_doubt: bool = Field(default=False, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: Any) -> Any:
        if isinstance(data, dict) and "in_doubt_since" in data and "unanswered_at" not in data:
            return {**data, "legacy_doubt": True}
        return data

    def due_at(self, now: int) -> int:
        """When something should next happen to this delivery (the index's sort key)."""
        if self.lease_until is not None and self.state is DeliveryState.SENDING:
            return self.lease_until
        if self.next_attempt_at is not None and not self.state.resting:
            return self.next_attempt_at
        return now

    def public(self) -> dict[str, Any]:
        view = self.model_dump(
            include={"destination", "state", "attempts", "destination_ref", "last_error", "updated_at"},
            exclude_none=True,
            mode="json",
        )
        if self.acked_steps:
            view["acknowledged_steps"] = list(self.acked_steps)
        if self.unanswered_at is not None:
            # The destination may have acted on an attempt whose answer never came.
            view["unanswered"] = {"since": datetime.fromtimestamp(self.unanswered_at, UTC).isoformat()}
            if self.unanswered_step:
                view["unanswered"]["step"] = self.unanswered_step
            if self.state is DeliveryState.IN_DOUBT:
                view["in_doubt_since"] = view["unanswered"]["since"]
        if self.next_attempt_at is not None and not self.state.resting:
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
