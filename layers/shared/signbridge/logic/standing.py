"""Where an order stands after its events, in the order they were recorded (pure)."""

from __future__ import annotations

from signbridge.models.events import EventType, LineStanding, OrderEvent, OrderStanding
from signbridge.models.items import OrderEventRecord
from signbridge.models.order import FinancialStatus, Order

# A voided order was never paid, whatever came before: it is no paid status.
PAID_STATUSES = (FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED)


def standing(order: Order, events: list[OrderEvent]) -> OrderStanding:
    """Where the order stands after ``events`` (in the order they were recorded)."""
    result = OrderStanding(
        paid=order.financial_status in PAID_STATUSES, lines={line.id: LineStanding() for line in order.line_items}
    )
    for event in events:
        if event.type is EventType.PAID:
            result.paid = True
        elif event.type is EventType.CANCELLED:
            result.cancelled = True
        elif event.type is EventType.REFUNDED and event.refund is not None:
            result.refunded_shipping += event.refund.shipping
            for refunded in event.refund.lines:
                line = result.lines[refunded.line_id]
                line.refunded_quantity += refunded.quantity
                line.refunded_amount += refunded.amount
        elif event.type is EventType.FULFILLED and event.fulfilment is not None:
            result.fulfilment_ids.append(event.id)
            if event.fulfilment.id is not None:
                result.platform_fulfilments.setdefault(event.fulfilment.id, event.id)
            for shipped in event.fulfilment.lines:
                result.lines[shipped.line_id].fulfilled_quantity += shipped.quantity
    return result


def parse_events(records: list[OrderEventRecord], up_to: int | None = None) -> list[OrderEvent]:
    """The recorded events (by seq), up to and including ``up_to``."""
    return [OrderEvent.model_validate_json(record.body) for record in records if up_to is None or record.seq <= up_to]
