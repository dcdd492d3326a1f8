"""Onward's request bodies: POST /api/v1/orders (and its PATCH), shipments and shipment events.
Money is {"cents": minor units, "currency": ISO 4217}."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class OnwardMoney(BaseModel):
    cents: int = Field(ge=0)
    currency: str


class OnwardFinancialStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"
    VOIDED = "voided"


class OnwardCustomer(BaseModel):
    shop_customer_id: str
    first_name: str
    last_name: str
    email: str | None = None
    phone_number: str | None = None


class OnwardAddress(BaseModel):
    address1: str
    address2: str | None = None
    province_code: str
    city: str
    postal_code: str
    country_code: str = Field(pattern=r"^[A-Z]{2}$")


class OnwardLineItem(BaseModel):
    shop_line_item_id: str
    shop_product_id: str
    shop_variant_id: str
    name: str
    unit_price: OnwardMoney
    total_price: OnwardMoney
    quantity: int = Field(gt=0)
    image_url: str
    grams: int = Field(ge=0)
    is_insured: bool
    # Updates (PATCH /orders/{shopOrderId}) only: what has been refunded of this line so far.
    refunded_quantity: int | None = Field(default=None, ge=0)
    refunded_price: OnwardMoney | None = None


class OnwardOrder(BaseModel):
    shop_order_id: str
    shop_order_number: str
    subtotal_price: OnwardMoney
    total_discounts_price: OnwardMoney
    total_shipping_price: OnwardMoney
    total_tax_price: OnwardMoney
    total_price: OnwardMoney
    amount_insured: OnwardMoney | None = None
    purchased_quote_token: str | None = None
    created_at: str
    financial_status: OnwardFinancialStatus
    customer: OnwardCustomer
    shipping_address: OnwardAddress
    line_items: list[OnwardLineItem] = Field(min_length=1)


class OnwardShipmentLine(BaseModel):
    shop_line_item_id: str
    quantity: int = Field(gt=0)


class OnwardShipment(BaseModel):
    """POST /api/v1/shipments. The stored contract lists the endpoint and its answers, not its
    fields: these names follow the order's (shop_* ids) and are an assumption (docs/api.md)."""

    shop_order_id: str
    shop_shipment_id: str
    carrier: str
    tracking_number: str
    tracking_url: str | None = None
    line_items: list[OnwardShipmentLine] = Field(min_length=1)


class OnwardShipmentEvent(BaseModel):
    """POST /api/v1/shipments/{id}/events: a later status of a shipment. ``status`` is one of
    Onward's documented statuses; ``occurred_at`` follows the order's ISO 8601 ``created_at``."""

    status: str
    occurred_at: str | None = None
