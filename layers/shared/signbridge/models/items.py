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
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting to be sent; the only state the outbox enqueues
    SENDING = "sending"  # an attempt holds the lease (a lease that expires here means a crash)
    RETRYING = "retrying"  # an attempt failed transiently; SQS brings the message back
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def terminal(self) -> bool:
        return self in (DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.SKIPPED)


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


def delivery_key(order_id: str, destination: str) -> dict[str, str]:
    return {"PK": f"ORDER#{order_id}", "SK": f"DELIVERY#{destination}"}


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
    # Set while an attempt is under way; an expired lease means the worker died mid-attempt.
    attempt_id: str | None = None
    lease_until: int | None = None
    # Set when an attempt started and its outcome was never recorded (a crash after sending).
    in_doubt_since: int | None = None

    def public(self) -> dict[str, Any]:
        return self.model_dump(exclude={"order_id", "attempt_id", "lease_until"}, exclude_none=True, mode="json")
