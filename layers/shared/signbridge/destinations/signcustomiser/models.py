"""Sign Customiser's POST /api/v2/orders: the request signbridge sends and the answer it reads."""

from __future__ import annotations

from pydantic import BaseModel, Field

from signbridge.models.signcustomiser import INBOUND


class ScOrderAddress(BaseModel):
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None
    address_1: str
    address_2: str | None = None
    city: str
    province: str | None = None
    postcode: str
    country: str


class ScOrderCustomer(BaseModel):
    first_name: str
    last_name: str
    email: str | None = None
    phone: str | None = None


class ScOrderProduct(BaseModel):
    external_id: str
    quantity: int = Field(gt=0)
    price: int = Field(ge=0, description="Integer cents.")


class ScCreateOrderRequest(BaseModel):
    integration_id: int
    external_id: str
    external_order_number: str
    currency: str
    billing_address: ScOrderAddress
    shipping_address: ScOrderAddress
    shipping_line: str | None = None
    customer: ScOrderCustomer
    products: list[ScOrderProduct] = Field(min_length=1)


class ScCreatedOrder(BaseModel):
    model_config = INBOUND

    order_id: int


class ScCreateOrderResponse(BaseModel):
    model_config = INBOUND

    order: ScCreatedOrder
