"""An order:created webhook's order -> what signbridge keeps of it (matched later against what a
Sign Customiser delivery sent, to confirm it). Loads no canonical order model (nor country data):
the webhooks function records every delivery, and builds an order only when it forwards one."""

from __future__ import annotations

from signbridge.models.items import ScOrderRecord
from signbridge.models.signcustomiser import ScWebhookOrder


def to_sc_order_record(order: ScWebhookOrder, received_at: str) -> ScOrderRecord:
    """What signbridge keeps of an order:created webhook's order."""
    return ScOrderRecord(
        sc_order_id=order.order_id,
        order_number=order.order_number,
        external_order_number=order.external_order_number,
        external_id=order.external_id,
        order_total=order.order_total,
        app_total=order.app_total,
        currency=order.currency,
        received_at=received_at,
        product_external_ids=[p.external_id for p in order.products if p.external_id],
    )
