"""Canonical order → Onward POST /api/v1/orders.

Onward wants ISO codes; platforms send names as often as codes ("Australia"/"Queensland"), so
both are normalised with pycountry. An address that cannot be normalised fails the mapping.
"""

from __future__ import annotations

from signbridge.destinations.onward.models import (
    OnwardAddress,
    OnwardCustomer,
    OnwardFinancialStatus,
    OnwardLineItem,
    OnwardMoney,
    OnwardOrder,
)
from signbridge.iso import UnknownCode, country_alpha2, subdivision_code
from signbridge.mappers.errors import MappingFailed
from signbridge.models.items import ProductMapping
from signbridge.models.order import FinancialStatus, LineItem, Order, created_at_iso

FINANCIAL_STATUS = {
    FinancialStatus.PENDING: OnwardFinancialStatus.PENDING,
    FinancialStatus.AUTHORIZED: OnwardFinancialStatus.PENDING,  # not captured yet
    FinancialStatus.PAID: OnwardFinancialStatus.PAID,
    FinancialStatus.PARTIALLY_REFUNDED: OnwardFinancialStatus.PAID,  # still shipping what is left
    FinancialStatus.REFUNDED: OnwardFinancialStatus.REFUNDED,
    FinancialStatus.VOIDED: OnwardFinancialStatus.VOIDED,
}


def _image_url(line: LineItem, index: int, products: dict[str, ProductMapping]) -> str:
    """Onward requires an image for every line: the line's own, else the sign's design image."""
    mapping = products.get(line.external_id)
    image = line.image_url or (mapping.image_url if mapping else None)
    if not image:
        raise MappingFailed("Onward requires an image_url for every line.", f"line_items.{index}.image_url")
    return image


def to_onward_order(order: Order, products: dict[str, ProductMapping] | None = None) -> OnwardOrder:
    """``products``: the Sign Customiser designs among the lines, by external_id (for their images)."""

    def money(minor: int) -> OnwardMoney:
        return OnwardMoney(cents=minor, currency=order.currency)

    address = order.shipping_address
    try:
        country = country_alpha2(address.country)
    except UnknownCode as exc:
        raise MappingFailed(str(exc), "shipping_address.country") from exc
    if not address.province:
        raise MappingFailed(
            "Onward needs a province/state (ISO 3166-2) in the shipping address.", "shipping_address.province"
        )
    try:
        province = subdivision_code(country, address.province)
    except UnknownCode as exc:
        raise MappingFailed(str(exc), "shipping_address.province") from exc
    insured = order.onward_quote_token is not None and order.amount_insured is not None
    return OnwardOrder(
        shop_order_id=order.id,
        shop_order_number=order.number,
        subtotal_price=money(order.subtotal),
        total_discounts_price=money(order.discounts),
        total_shipping_price=money(order.shipping),
        total_tax_price=money(order.tax),
        total_price=money(order.total),
        amount_insured=money(order.amount_insured) if insured and order.amount_insured is not None else None,
        purchased_quote_token=order.onward_quote_token if insured else None,
        created_at=created_at_iso(order.created_at),
        financial_status=FINANCIAL_STATUS[order.financial_status],
        customer=OnwardCustomer(
            shop_customer_id=order.customer.id,
            first_name=order.customer.first_name,
            last_name=order.customer.last_name,
            email=order.customer.email,
            phone_number=order.customer.phone,
        ),
        shipping_address=OnwardAddress(
            address1=address.address1,
            address2=address.address2,
            province_code=province,
            city=address.city,
            postal_code=address.postcode,
            country_code=country,
        ),
        line_items=[
            OnwardLineItem(
                shop_line_item_id=line.id,
                shop_product_id=line.external_id,
                shop_variant_id=line.variant_id,
                name=line.name,
                unit_price=money(line.unit_price),
                total_price=money(line.total),
                quantity=line.quantity,
                image_url=_image_url(line, index, products or {}),
                grams=line.grams,
                is_insured=insured and line.shippable,
            )
            for index, line in enumerate(order.line_items)
        ],
    )
