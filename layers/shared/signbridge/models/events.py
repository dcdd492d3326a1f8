"""An order event from the merchant's platform: what ``POST /orders/{order_id}/events`` takes.

Money is integer minor units of the order's currency, as in the order itself. Unknown fields are
kept (``extra="allow"``), as an order's are: a platform may add its own (a retry counter, a
``sent_at``), and a repeat that differs only in them is the same event.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from signbridge.models.order import Identifier, MinorUnits, Order, Text, unknown_fields


class EventType(StrEnum):
    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    FULFILLED = "fulfilled"
    SHIPMENT_UPDATED = "shipment_updated"


class ShipmentStatus(StrEnum):
    """Onward's shipment event statuses (``POST /shipments/{id}/events``)."""

    LABEL_PRINTED = "label_printed"
    LABEL_PURCHASED = "label_purchased"
    ATTEMPTED_DELIVERY = "attempted_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"
    CARRIER_PICKED_UP = "carrier_picked_up"
    CONFIRMED = "confirmed"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    FAILURE = "failure"
    PICKED_UP = "picked_up"


class RefundLine(BaseModel):
    model_config = ConfigDict(extra="allow")

    line_id: Identifier = Field(description="The order line's id (line_items[].id).")
    quantity: int = Field(ge=0, le=100_000, description="How many of the line's units this refund returns.")
    amount: MinorUnits = Field(description="How much of the line this refund pays back.")


class Refund(BaseModel):
    model_config = ConfigDict(extra="allow")

    lines: list[RefundLine] = Field(default_factory=list, max_length=500)
    shipping: MinorUnits = Field(default=0, description="Shipping paid back.")
    currency: str | None = Field(default=None, description="When given, must be the order's currency.")


class FulfilmentLine(BaseModel):
    model_config = ConfigDict(extra="allow")

    line_id: Identifier
    quantity: int = Field(gt=0, le=100_000)


class Fulfilment(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Identifier | None = Field(
        default=None,
        description="The platform's own id of this fulfilment, if it has one: a later `shipment_updated` "
        "may name it instead of the event's id.",
    )
    carrier: Text
    tracking_number: Text
    tracking_url: str | None = Field(default=None, max_length=2048)
    lines: list[FulfilmentLine] = Field(min_length=1, max_length=500)


class ShipmentUpdate(BaseModel):
    """A later status of a parcel that a ``fulfilled`` event shipped."""

    model_config = ConfigDict(extra="allow")

    fulfilment_id: Identifier = Field(
        description="The parcel's fulfilment: the id of the `fulfilled` event that shipped it, or the "
        "platform's own fulfilment id that event carried (`fulfilment.id`)."
    )
    status: ShipmentStatus = Field(description="The parcel's new status, in Onward's terms.")
    occurred_at: AwareDatetime | None = Field(default=None, description="When the carrier reported it.")
    message: str | None = Field(
        default=None, max_length=512, description="The carrier's words, kept in signbridge's record only."
    )


class OrderEvent(BaseModel):
    """One thing that happened to an order after checkout. ``refund`` goes with ``refunded``,
    ``fulfilment`` with ``fulfilled``, ``shipment`` with ``shipment_updated``; ``paid`` and
    ``cancelled`` carry none."""

    model_config = ConfigDict(extra="allow")

    id: Identifier = Field(description="The platform's id of this event: the idempotency key.")
    type: EventType
    occurred_at: AwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=512, description="Why (a cancellation's reason).")
    refund: Refund | None = None
    fulfilment: Fulfilment | None = None
    shipment: ShipmentUpdate | None = None

    def contract_json(self) -> str:
        """The event without its unknown fields: what signbridge compares a repeat by. (A
        fulfilment without the platform's own id reads as it did before that field existed, so
        the events recorded then still match their repeats.)"""
        exclude = unknown_fields(self)
        if self.fulfilment is not None and self.fulfilment.id is None:
            inner = exclude.get("fulfilment")
            exclude["fulfilment"] = {**(inner if isinstance(inner, dict) else {}), "id": True}
        return self.model_dump_json(exclude=exclude)  # type: ignore[arg-type]


class LineStanding(BaseModel):
    refunded_quantity: int = 0
    refunded_amount: int = 0
    fulfilled_quantity: int = 0


class OrderStanding(BaseModel):
    """The order as its events so far leave it."""

    paid: bool
    cancelled: bool = False
    refunded_shipping: int = 0
    lines: dict[str, LineStanding] = Field(default_factory=dict)
    fulfilment_ids: list[str] = Field(default_factory=list)  # the `fulfilled` events so far
    # the platform's own fulfilment ids those events carried -> the event's id
    platform_fulfilments: dict[str, str] = Field(default_factory=dict)
    last_event_at: datetime | None = None

    @property
    def refunded_total(self) -> int:
        return self.refunded_shipping + sum(line.refunded_amount for line in self.lines.values())

    def fully_refunded(self, order: Order) -> bool:
        return self.refunded_total >= order.total or all(
            self.lines[line.id].refunded_quantity >= line.quantity for line in order.line_items
        )
