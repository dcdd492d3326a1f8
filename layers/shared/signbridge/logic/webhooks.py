"""Sign Customiser webhook deliveries: recognise the topic from the body, record each once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from signbridge.errors import OrderIdTaken, ValidationFailed
from signbridge.inbound_http import field_errors, parse_model
from signbridge.logic.limits import ensure_storable
from signbridge.mappers.webhook_record import to_sc_order_record
from signbridge.models.items import WebhookDelivery
from signbridge.models.signcustomiser import OrderCreated, ScWebhookOrder
from signbridge.store.webhooks import WebhookStore

if TYPE_CHECKING:
    from signbridge.ports import Traits
    from signbridge.store.orders import OrderState, OrderStore

ORDER_CREATED = "order:created"
PRODUCT_CREATED = "product:created"
FORM_SUBMITTED = "form:submitted"
UNRECOGNISED = "unrecognised"


def topic_of(body: Any) -> str:
    """Deliveries carry no topic header; the body's top-level key tells them apart."""
    if not isinstance(body, dict):
        return UNRECOGNISED
    if isinstance(body.get("order"), dict):
        return ORDER_CREATED
    if isinstance(body.get("product"), dict):
        return PRODUCT_CREATED
    if any(isinstance(body.get(key), dict) for key in ("form", "submission", "form_submission")):
        return FORM_SUBMITTED
    return UNRECOGNISED


@dataclass
class WebhookResult:
    topic: str
    duplicate: bool
    order: ScWebhookOrder | None = None


def record_webhook(
    raw: bytes, body: Any, store: WebhookStore, *, ttl_days: int, now: datetime | None = None
) -> WebhookResult:
    """Record the delivery (keyed by its body's digest, so redeliveries are recognised) and,
    for order:created, the order itself, exactly once per Sign Customiser order_id."""
    now = now or datetime.now(UTC)
    topic = topic_of(body)
    order = parse_model(OrderCreated, body).order if topic == ORDER_CREATED else None
    delivery = WebhookDelivery(
        digest=hashlib.sha256(raw).hexdigest(),
        topic=topic,
        received_at=now.isoformat(),
        body=raw.decode(json.detect_encoding(raw), errors="replace"),  # JSON may come in UTF-16/32
        expires_at=int(now.timestamp()) + ttl_days * 86_400,
    )
    ensure_storable(delivery, body)
    record = to_sc_order_record(order, now.isoformat()) if order is not None else None
    outcome = store.record_webhook(delivery, record)
    return WebhookResult(topic=topic, duplicate=outcome.duplicate_delivery, order=order)


def forward_webhook_order(
    order: ScWebhookOrder, store: OrderStore, routes: dict[str, Traits], traits: dict[str, Traits]
) -> bool:
    """Forward an order that reached Sign Customiser by another channel to ``routes``.

    The canonical id is the order's external_id when it has one, so the webhook of an order the
    platform posted here (and signbridge sent to a destination that confirms by webhook) is that
    very order, created once. Returns whether a new order was created; raises ValidationFailed
    when the webhook lacks what the destinations need, and OrderIdTaken when its id names a
    platform order that it is not the echo of (another channel's order under the same id).
    """
    # Only a stack that forwards webhook orders loads the order model, its country and currency
    # tables and the order intake: on its first forwarded order, not at every cold start.
    from signbridge.logic.orders import ORIGIN_SIGNCUSTOMISER, persist_order
    from signbridge.logic.webhook_money import money_hold
    from signbridge.mappers.from_signcustomiser import order_from_webhook, webhook_order_id

    order_id = webhook_order_id(order)
    existing = store.get_order_state(order_id)
    if existing is not None and existing.order.origin != ORIGIN_SIGNCUSTOMISER:
        if _echoes(order, existing, traits):
            return False  # the confirmation of an order the platform posted: nothing new to forward
        raise OrderIdTaken(
            f"The order:created webhook names id {order_id!r}, which a platform order already has.",
            details=[{"field": "order.external_id", "message": "names another order", "received": order_id}],
        )
    try:
        canonical = order_from_webhook(order)
    except ValueError as exc:  # pydantic's ValidationError, or a date fromisoformat cannot read
        details = (
            field_errors(exc)
            if isinstance(exc, ValidationError)
            else [{"field": "order.created_at", "message": str(exc)}]
        )
        raise ValidationFailed(
            "The order:created webhook cannot be forwarded: it lacks fields the destinations need.", details=details
        ) from exc
    custom = {line.id for line in canonical.line_items}
    return persist_order(canonical, ORIGIN_SIGNCUSTOMISER, routes, custom, store, held_for=money_hold(order)).created


def _echoes(order: ScWebhookOrder, existing: OrderState, traits: dict[str, Traits]) -> bool:
    """Whether the webhook's order is the one signbridge sent for the platform's order: it went to
    a destination that confirms by webhook (and was sent there), with the same number, currency
    and designs."""
    sent = any(
        d.destination in traits and traits[d.destination].confirms_by_webhook and d.attempts > 0
        for d in existing.deliveries
    )
    placed = json.loads(existing.order.body)
    designs = {
        line["external_id"] for line in placed.get("line_items", []) if line["id"] in existing.order.custom_line_ids
    }
    return (
        sent
        and order.external_order_number in (None, placed.get("number"))
        and (not order.currency or str(order.currency).upper() == str(placed.get("currency", "")).upper())
        and {p.external_id for p in order.products} == designs
    )
