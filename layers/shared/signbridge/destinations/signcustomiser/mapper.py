"""Canonical order → Sign Customiser POST /api/v2/orders (only the customised-sign lines)."""

from __future__ import annotations

import contextlib

from signbridge.destinations.signcustomiser.models import (
    ScCreateOrderRequest,
    ScOrderAddress,
    ScOrderCustomer,
    ScOrderProduct,
)
from signbridge.iso import UnknownCode, country_alpha2, subdivision_code
from signbridge.mappers.errors import MappingFailed
from signbridge.models.order import Address, Customer, Order


def _address(address: Address, customer: Customer, field: str) -> ScOrderAddress:
    try:
        country = country_alpha2(address.country)
    except UnknownCode as exc:
        raise MappingFailed(str(exc), f"{field}.country") from exc
    province = address.province
    if province:
        # Sign Customiser takes free text: send the ISO code when there is one, else what came.
        with contextlib.suppress(UnknownCode):
            province = subdivision_code(country, province)
    return ScOrderAddress(
        first_name=address.first_name,
        last_name=address.last_name,
        email=address.email or customer.email,
        phone=address.phone or customer.phone,
        address_1=address.address1,
        address_2=address.address2,
        city=address.city,
        province=province,
        postcode=address.postcode,
        country=country,
    )


def to_signcustomiser_order(
    order: Order, custom_line_ids: set[str], integration_id: int
) -> ScCreateOrderRequest | None:
    """None when the order has no customised-sign line: Sign Customiser has nothing to make."""
    lines = [line for line in order.line_items if line.id in custom_line_ids]
    if not lines:
        return None
    return ScCreateOrderRequest(
        integration_id=integration_id,
        external_id=order.id,
        external_order_number=order.number,
        currency=order.currency,
        billing_address=_address(order.billing, order.customer, "billing_address"),
        shipping_address=_address(order.shipping_address, order.customer, "shipping_address"),
        shipping_line=order.shipping_line,
        customer=ScOrderCustomer(
            first_name=order.customer.first_name,
            last_name=order.customer.last_name,
            email=order.customer.email,
            phone=order.customer.phone,
        ),
        products=[
            ScOrderProduct(external_id=line.external_id, quantity=line.quantity, price=line.unit_price)
            for line in lines
        ],
    )
