"""Canonical order → Dropday POST /api/v1/orders.

Minor units become Decimal major units by the currency's ISO 4217 exponent. A customised-sign
line carries, in ``custom``, what the supplier needs to make the sign.
"""

from __future__ import annotations

import json
from typing import Any

from signbridge.destinations.dropday.models import DropdayAddress, DropdayOrder, DropdayProduct
from signbridge.iso import UnknownCode, country_alpha2, to_major_units
from signbridge.mappers.errors import MappingFailed
from signbridge.models.items import ProductMapping
from signbridge.models.order import LineItem, Order


def _design(mapping: ProductMapping) -> dict[str, Any]:
    """The design as a supplier reads it: description lines ("Colour: Red") and every image."""
    custom: dict[str, Any] = {"sign_customiser_product_id": mapping.product_id, "design": mapping.title}
    if mapping.description:
        custom["description"] = mapping.description
        for line in mapping.description.splitlines():
            label, sep, value = line.partition(":")
            if sep and label.strip() and value.strip():
                custom.setdefault(label.strip().lower().replace(" ", "_"), value.strip())
    if mapping.image_url:
        custom["image_url"] = mapping.image_url
    if mapping.upload_urls:
        custom["upload_urls"] = mapping.upload_urls
    snapshot = json.loads(mapping.snapshot)
    if snapshot.get("logo_upload_id") is not None:
        custom["logo_upload_id"] = snapshot["logo_upload_id"]
    return custom


def _product(line: LineItem, currency: str, mapping: ProductMapping | None) -> DropdayProduct:
    return DropdayProduct(
        external_id=line.external_id,
        ean13=line.ean13,
        name=line.name,
        reference=line.sku or line.variant_id,
        quantity=line.quantity,
        price=to_major_units(line.unit_price, currency),
        image_url=line.image_url or (mapping.image_url if mapping else None),
        brand=line.brand,
        category=line.category,
        supplier=line.supplier,
        custom=_design(mapping) if mapping else None,
    )


def to_dropday_order(
    order: Order, products: dict[str, ProductMapping], custom_line_ids: set[str], *, source: str, test: bool
) -> DropdayOrder:
    address = order.shipping_address
    try:
        country = country_alpha2(address.country)
    except UnknownCode as exc:
        raise MappingFailed(str(exc), "shipping_address.country") from exc
    return DropdayOrder(
        external_id=order.id,
        source=source,
        test=test or order.test,
        total=to_major_units(order.total, order.currency),
        shipping_cost=to_major_units(order.shipping, order.currency),
        email=order.customer.email or address.email,
        shipping_address=DropdayAddress(
            first_name=address.first_name,
            last_name=address.last_name,
            company_name=address.company,
            address1=address.address1,
            address2=address.address2,
            postcode=address.postcode,
            city=address.city,
            state=address.province,
            country=country,
            phone=address.phone,
        ),
        products=[
            _product(line, order.currency, products.get(line.external_id) if line.id in custom_line_ids else None)
            for line in order.line_items
        ],
    )
