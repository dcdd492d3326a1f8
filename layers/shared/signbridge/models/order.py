"""signbridge's canonical order: what the merchant's platform posts to ``POST /orders``.

It carries what Sign Customiser, Dropday and Onward need between them. Money is integer minor
units of ``currency`` (cents for USD, yen for JPY, fils for KWD); no float anywhere.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from signbridge.iso import UnknownCode, country_alpha2, currency_exponent

MinorUnits = Annotated[int, Field(ge=0, le=10**13, description="Integer minor units of the order's currency.")]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:#/-]*$")]
# An order id is also a URL path segment (GET /orders/{order_id}): no `/` (a second segment)
# and no `#` (a fragment), so every accepted id can be read back.
ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
ORDER_ID_MAX_LENGTH = 128
OrderId = Annotated[str, Field(min_length=1, max_length=ORDER_ID_MAX_LENGTH, pattern=ORDER_ID_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=512)]


def _currency(code: str) -> str:
    try:
        currency_exponent(code)
    except UnknownCode as exc:
        raise ValueError(str(exc)) from None
    return code.upper()


def _country(name: str) -> str:
    try:
        country_alpha2(name)
    except UnknownCode as exc:
        raise ValueError(str(exc)) from None
    return name


class FinancialStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"


class Address(BaseModel):
    model_config = ConfigDict(extra="allow")

    first_name: Text
    last_name: Text
    company: str | None = None
    address1: Text
    address2: str | None = None
    city: Text
    province: str | None = Field(default=None, description="Name or ISO 3166-2 code ('Queensland', 'QLD').")
    postcode: Text
    country: Annotated[str, AfterValidator(_country)] = Field(
        description="Name or ISO 3166-1 code ('Australia', 'AU')."
    )
    phone: str | None = None
    email: str | None = None


class Customer(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Identifier
    first_name: Text
    last_name: Text
    email: str | None = None
    phone: str | None = None


class LineItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: Identifier
    external_id: Identifier = Field(
        description="The product's id on the platform; for a custom sign, the external_id signbridge issued."
    )
    variant_id: Identifier = Field(description="Variant id or SKU.")
    sku: str | None = None
    name: Text
    quantity: int = Field(gt=0, le=100_000)
    unit_price: MinorUnits
    image_url: str | None = None
    grams: int = Field(default=0, ge=0)
    shippable: bool = True
    customised: bool | None = Field(
        default=None,
        description="true: this line is a Sign Customiser design (its external_id must be one signbridge "
        "issued). Omitted: decided by looking the external_id up.",
    )
    ean13: str | None = None
    brand: str | None = None
    category: str | None = None
    supplier: str | None = None

    @property
    def total(self) -> int:
        return self.unit_price * self.quantity


class Order(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: OrderId = Field(description="The platform's order id; the idempotency key of POST /orders.")
    number: Text = Field(description="The order number shown to the customer.")
    created_at: AwareDatetime
    currency: Annotated[str, AfterValidator(_currency)] = Field(description="ISO 4217 code.")
    subtotal: MinorUnits = Field(description="Sum of line totals.")
    discounts: MinorUnits = 0
    shipping: MinorUnits = 0
    tax: MinorUnits = 0
    taxes_included: bool = Field(default=False, description="true when line prices already include tax.")
    total: MinorUnits
    financial_status: FinancialStatus = FinancialStatus.PAID
    customer: Customer
    billing_address: Address | None = None
    shipping_address: Address
    shipping_line: str | None = None
    line_items: list[LineItem] = Field(min_length=1, max_length=500)
    onward_quote_token: str | None = None
    amount_insured: MinorUnits | None = None
    test: bool = False

    @model_validator(mode="after")
    def _lines_unique(self) -> Order:
        seen: set[str] = set()
        for index, line in enumerate(self.line_items):
            if line.id in seen:
                raise ValueError(f"line_items[{index}].id {line.id!r} is used by two lines")
            seen.add(line.id)
        return self

    def totals_problems(self) -> list[dict[str, object]]:
        """Every way the money does not add up, with the numbers (empty when it does)."""
        problems: list[dict[str, object]] = []
        lines = sum(line.total for line in self.line_items)
        if lines != self.subtotal:
            problems.append(
                {
                    "field": "subtotal",
                    "expected": lines,
                    "received": self.subtotal,
                    "message": "subtotal must equal the sum of unit_price * quantity",
                }
            )
        expected_total = self.subtotal - self.discounts + self.shipping + (0 if self.taxes_included else self.tax)
        if expected_total != self.total:
            problems.append(
                {
                    "field": "total",
                    "expected": expected_total,
                    "received": self.total,
                    "message": "total must equal subtotal - discounts + shipping + tax"
                    + (" (tax included in prices)" if self.taxes_included else ""),
                }
            )
        if self.discounts > self.subtotal:
            problems.append(
                {
                    "field": "discounts",
                    "expected": f"<= {self.subtotal}",
                    "received": self.discounts,
                    "message": "discounts exceed the subtotal",
                }
            )
        if self.amount_insured is not None and self.amount_insured > self.subtotal:
            problems.append(
                {
                    "field": "amount_insured",
                    "expected": f"<= {self.subtotal}",
                    "received": self.amount_insured,
                    "message": "amount_insured exceeds the subtotal",
                }
            )
        return problems

    @property
    def billing(self) -> Address:
        return self.billing_address or self.shipping_address

    def contract_json(self) -> str:
        """The order without its unknown fields: what signbridge reads and forwards."""
        return self.model_dump_json(exclude=unknown_fields(self))  # type: ignore[arg-type]


def unknown_fields(model: BaseModel) -> dict[Any, Any]:
    """A pydantic ``exclude`` naming every field kept only because of ``extra="allow"``."""
    spec: dict[Any, Any] = dict.fromkeys(model.model_extra or {}, True)
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel) and (inner := unknown_fields(value)):
            spec[name] = inner
        elif isinstance(value, list):
            items = {i: inner for i, v in enumerate(value) if isinstance(v, BaseModel) and (inner := unknown_fields(v))}
            if items:
                spec[name] = items
    return spec


def created_at_iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
