"""Sign Customiser's inbound payloads: the product:created callback and webhook deliveries.

The outbound POST /api/v2/orders models are in ``signbridge.destinations.signcustomiser.models``.

Inbound models keep unknown fields (``extra="allow"``): Sign Customiser may add fields, and a
delivery must not be rejected for that.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

INBOUND = ConfigDict(extra="allow", coerce_numbers_to_str=True)

# Sign Customiser's ids are database ids (64-bit); money is cents, bounded like the canonical
# order's. Both are stored as DynamoDB numbers, which hold 38 digits: a bound here makes an
# absurd value a 422 naming the field instead of a write the store refuses.
ScId = Annotated[int, Field(ge=0, le=2**63 - 1)]
Cents = Annotated[int, Field(ge=0, le=10**13, description="Integer cents.")]
SignedCents = Annotated[int, Field(ge=-(10**13), le=10**13, description="Integer cents.")]
# The platform's order id, which also names a stored key (the link to our order).
ExternalOrderId = Annotated[str, Field(max_length=128)]


class Upload(BaseModel):
    model_config = INBOUND

    url: str
    path: str | None = None
    type: str | None = None


class ScProduct(BaseModel):
    """A finished design, as posted to the Create Product URL and inside webhook orders."""

    model_config = INBOUND

    product_id: ScId
    title: str = Field(min_length=1)
    description: str | None = None
    description_html: str | None = None
    external_id: str | None = None
    # Documented as an object, delivered as [] when empty.
    external_data: dict[str, Any] | list[Any] | None = None
    price: Cents
    compare_price: Cents | None = None
    customiser_id: ScId | None = None
    logo_upload_id: ScId | None = None
    product_image_url: str | None = None
    uploads: list[Upload] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None


class ProductCreated(BaseModel):
    """Body of the product:created callback."""

    model_config = INBOUND

    product: ScProduct


class ScWebhookAddress(BaseModel):
    model_config = INBOUND

    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    address_1: str | None = None
    address_2: str | None = None
    city: str | None = None
    state: str | None = None  # the webhook says "state" where the v2 order request says "province"
    postcode: str | None = None
    country: str | None = None
    phone: str | None = None
    email: str | None = None


class ScWebhookCustomer(BaseModel):
    model_config = INBOUND

    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    email: str | None = None
    external_id: str | None = None


class ScWebhookOrder(BaseModel):
    model_config = INBOUND

    order_id: ScId
    order_number: ScId | None = None
    external_order_number: str | None = None
    external_id: ExternalOrderId | None = None
    order_total: SignedCents | None = None
    app_total: SignedCents | None = None
    currency: str | None = None
    shipping_line: str | None = None
    billing_address: ScWebhookAddress | None = None
    shipping_address: ScWebhookAddress | None = None
    customer: ScWebhookCustomer | None = None
    products: list[ScProduct] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None


class OrderCreated(BaseModel):
    """Body of an order:created webhook delivery."""

    model_config = INBOUND

    order: ScWebhookOrder
