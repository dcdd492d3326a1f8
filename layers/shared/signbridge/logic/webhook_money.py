"""An order:created webhook's money: forwarded only when its totals explain its signs."""

from __future__ import annotations

from signbridge.mappers.from_signcustomiser import unexplained_money
from signbridge.models.items import DeliveryError
from signbridge.models.signcustomiser import ScWebhookOrder
from signbridge.observability import logger, metrics


def money_hold(order: ScWebhookOrder) -> DeliveryError | None:
    """Why the order is recorded and held, not sent (alarmed), or None when its money is explained."""
    problem = unexplained_money(order)
    if problem is None:
        return None
    metrics.add_metric(name="WebhookOrderMoneyUnexplained", unit="Count", value=1)
    logger.error("webhook order held: its money cannot be explained", extra={"sc_order_id": order.order_id})
    return DeliveryError(
        code="money_unexplained",
        message=f"Not sent: {problem}. Enter this order at the destination by hand, or post it to POST /orders.",
    )
