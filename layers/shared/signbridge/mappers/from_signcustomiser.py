"""An order:created webhook's order → the canonical order, for merchants whose orders reach Sign
Customiser through another channel and should still be forwarded to Dropday/Onward.

The webhook has no per-line quantity, and its totals (``order_total``, ``app_total``) do not split
into lines. A line's quantity is derived only where the totals prove it (``app_total`` is the
sum of the listed prices, or one sign's price times a whole number); the canonical order covers
the signs alone (``app_total``): what else the order holds (other goods, shipping, tax) is not a
sign, is not ours to forward, and never becomes shipping. An order whose money cannot be
explained this way is held (``unexplained_money``) rather than sent with invented figures.
"""

from __future__ import annotations

from datetime import UTC, datetime

from signbridge.models.order import Address, Customer, LineItem, Order
from signbridge.models.signcustomiser import ScProduct, ScWebhookAddress, ScWebhookOrder


def webhook_order_id(order: ScWebhookOrder) -> str:
    """The platform's id when Sign Customiser has one (so both routes name the order alike)."""
    return order.external_id or f"sc-order-{order.order_id}"


def _quantity(product: ScProduct) -> int:
    """The webhook documents no per-line quantity; one that is sent and is a whole number counts
    (LineItem then bounds it), anything else counts once."""
    value = (product.model_extra or {}).get("quantity")
    if isinstance(value, str) and value.isdigit() and len(value) <= 9:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return 1


def _address(address: ScWebhookAddress | None) -> Address:
    a = address or ScWebhookAddress()
    return Address.model_validate(
        {
            "first_name": a.first_name,
            "last_name": a.last_name,
            "company": a.company,
            "address1": a.address_1,
            "address2": a.address_2,
            "city": a.city,
            "province": a.state,
            "postcode": a.postcode,
            "country": a.country,
            "phone": a.phone,
            "email": a.email,
        }
    )


def sign_quantities(order: ScWebhookOrder) -> tuple[list[int], str | None]:
    """Each product's quantity as the totals prove it (or as the webhook states it, when it states
    one the totals agree with), and why they cannot be told when they cannot (then the quantities
    are the stated ones or 1, for the record only)."""
    prices = [p.price for p in order.products]
    ones = [_quantity(p) for p in order.products]  # a quantity the webhook does send counts
    signs = order.app_total if order.app_total is not None else order.order_total
    if signs is None:
        return ones, "neither order_total nor app_total is given: the quantities cannot be told"
    if signs == sum(price * n for price, n in zip(prices, ones, strict=True)):
        return ones, None
    field = "app_total" if order.app_total is not None else "order_total"
    if order.order_total is not None and order.app_total is not None and order.app_total > order.order_total:
        return ones, f"app_total ({order.app_total}) exceeds order_total ({order.order_total})"
    if order.app_total is not None and len(prices) == 1 and prices[0] > 0 and signs % prices[0] == 0:
        return [signs // prices[0]], None
    listed = " + ".join(str(p) for p in prices) or "nothing"
    return ones, (
        f"{field} ({signs}) is not the listed sign prices ({listed}) or one sign's price times a whole number: "
        "the quantities cannot be told"
    )


def unexplained_money(order: ScWebhookOrder) -> str | None:
    """Why the order's money cannot be explained by its signs, or None when it can."""
    return sign_quantities(order)[1]


def order_from_webhook(order: ScWebhookOrder) -> Order:
    """Raises pydantic.ValidationError when the webhook lacks what a destination needs."""
    quantities, _ = sign_quantities(order)
    lines = [
        LineItem(
            id=f"{order.order_id}-{index}",
            external_id=p.external_id or f"sc-product-{p.product_id}",
            variant_id=str(p.product_id),
            name=p.title,
            quantity=quantities[index],
            unit_price=p.price,
            image_url=p.product_image_url,
            customised=None,
        )
        for index, p in enumerate(order.products)
    ]
    subtotal = sum(line.total for line in lines)
    customer = order.customer
    created = datetime.fromisoformat(order.created_at) if order.created_at else datetime.now(UTC)
    return Order(
        id=webhook_order_id(order),
        number=order.external_order_number or str(order.order_number or order.order_id),
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        currency=order.currency or "",
        subtotal=subtotal,
        shipping=0,  # not told apart from the order's other goods and taxes: never guessed
        total=subtotal,
        customer=Customer(
            id=(customer.external_id if customer and customer.external_id else f"sc-customer-{order.order_id}"),
            first_name=(customer.first_name if customer else None) or "-",
            last_name=(customer.last_name if customer else None) or "-",
            email=customer.email if customer else None,
            phone=customer.phone if customer else None,
        ),
        billing_address=_address(order.billing_address) if order.billing_address else None,
        shipping_address=_address(order.shipping_address or order.billing_address),
        shipping_line=order.shipping_line,
        line_items=lines,
    )
