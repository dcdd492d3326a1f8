"""Dropday's POST /api/v1/orders body. Amounts are Decimal major units (435.45), never float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field


class DropdayAddress(BaseModel):
    first_name: str
    last_name: str
    company_name: str | None = None
    address1: str
    address2: str | None = None
    postcode: str
    city: str
    state: str | None = None
    country: str
    phone: str | None = None


class DropdayProduct(BaseModel):
    external_id: str
    ean13: str | None = None
    name: str
    reference: str | None = None
    quantity: int = Field(gt=0)
    price: Decimal
    image_url: str | None = None
    brand: str | None = None
    category: str | None = None
    supplier: str | None = None
    custom: dict[str, Any] | None = None


class DropdayOrder(BaseModel):
    external_id: str
    source: str
    test: bool = False
    total: Decimal
    shipping_cost: Decimal
    email: str | None = None
    shipping_address: DropdayAddress
    products: list[DropdayProduct] = Field(min_length=1)
