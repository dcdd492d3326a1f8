"""Order events → Onward: an order update (PATCH /orders/{shopOrderId}, the create's body with
the financial status and each line's refunds so far), an insurance refund, a shipment, a
shipment event (POST /shipments/{id}/events)."""

from __future__ import annotations

from dataclasses import dataclass

from signbridge.destinations.onward.mapper import FINANCIAL_STATUS, to_onward_order
from signbridge.destinations.onward.models import (
    OnwardFinancialStatus,
    OnwardMoney,
    OnwardOrder,
    OnwardShipment,
    OnwardShipmentEvent,
    OnwardShipmentLine,
)
from signbridge.models.events import EventType, OrderEvent, OrderStanding
from signbridge.models.items import ProductMapping
from signbridge.models.order import Order


@dataclass(frozen=True)
class OnwardEventRequest:
    """One event's requests, sent in this order: the update, then the insurance refund; or a
    shipment; or a shipment event (to the shipment ``shipment_id``)."""

    update: OnwardOrder | None = None
    refund_insurance: bool = False
    shipment: OnwardShipment | None = None
    shipment_event: OnwardShipmentEvent | None = None
    shipment_id: str | None = None


def financial_status(order: Order, now: OrderStanding) -> OnwardFinancialStatus:
    if now.fully_refunded(order) and (now.paid or now.refunded_total):
        return OnwardFinancialStatus.REFUNDED
    if now.cancelled and not now.paid:
        return OnwardFinancialStatus.VOIDED
    if now.paid:
        return OnwardFinancialStatus.PAID
    return FINANCIAL_STATUS[order.financial_status]


def to_onward_update(order: Order, products: dict[str, ProductMapping], now: OrderStanding) -> OnwardOrder:
    """The order as Onward should hold it now: every refund so far, per line, and its status."""
    base = to_onward_order(order, products)
    lines = []
    for line in base.line_items:
        standing = now.lines[line.shop_line_item_id]
        if standing.refunded_quantity or standing.refunded_amount:
            line = line.model_copy(
                update={
                    "refunded_quantity": standing.refunded_quantity,
                    "refunded_price": OnwardMoney(cents=standing.refunded_amount, currency=order.currency),
                }
            )
        lines.append(line)
    return base.model_copy(update={"financial_status": financial_status(order, now), "line_items": lines})


def to_onward_shipment(order: Order, event: OrderEvent) -> OnwardShipment:
    assert event.fulfilment is not None
    return OnwardShipment(
        shop_order_id=order.id,
        shop_shipment_id=event.id,
        carrier=event.fulfilment.carrier,
        tracking_number=event.fulfilment.tracking_number,
        tracking_url=event.fulfilment.tracking_url,
        line_items=[
            OnwardShipmentLine(shop_line_item_id=line.line_id, quantity=line.quantity)
            for line in event.fulfilment.lines
        ],
    )


def to_onward_shipment_event(event: OrderEvent) -> OnwardEventRequest:
    assert event.shipment is not None
    occurred_at = event.shipment.occurred_at or event.occurred_at
    return OnwardEventRequest(
        shipment_id=event.shipment.fulfilment_id,  # the shipment's shop_shipment_id
        shipment_event=OnwardShipmentEvent(
            status=event.shipment.status, occurred_at=occurred_at.isoformat() if occurred_at else None
        ),
    )


def to_onward_event(
    order: Order,
    products: dict[str, ProductMapping],
    event: OrderEvent,
    before: OrderStanding,
    after: OrderStanding,
) -> OnwardEventRequest:
    if event.type is EventType.FULFILLED:
        return OnwardEventRequest(shipment=to_onward_shipment(order, event))
    if event.type is EventType.SHIPMENT_UPDATED:
        return to_onward_shipment_event(event)
    update = to_onward_update(order, products, after)
    ended = (OnwardFinancialStatus.REFUNDED, OnwardFinancialStatus.VOIDED)
    insured = update.purchased_quote_token is not None
    # The customer's protection is paid back once, when the order is wholly refunded or voided.
    refund_insurance = insured and update.financial_status in ended and financial_status(order, before) not in ended
    return OnwardEventRequest(update=update, refund_insurance=refund_insurance)
