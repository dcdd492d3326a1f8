"""Platform order intake: validate, route, and persist the order with one delivery per destination."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from signbridge.errors import Conflict, NotFound, StoreUnavailable, TotalsMismatch, UnknownProduct, ValidationFailed
from signbridge.logic.limits import ensure_storable
from signbridge.logic.order_events import timeline
from signbridge.models.items import DeliveryError, DeliveryRecord, DeliveryState, OrderRecord
from signbridge.models.order import ORDER_ID_MAX_LENGTH, ORDER_ID_PATTERN, FinancialStatus, Order
from signbridge.settings import Destination
from signbridge.store.orders import OrderState, OrderStore

if TYPE_CHECKING:  # annotations only: the webhooks function forwards orders without the product aggregate
    from signbridge.store.intake import OrderIntakeStore
    from signbridge.store.products import ProductStore

ORIGIN_PLATFORM = "platform"
ORIGIN_SIGNCUSTOMISER = "signcustomiser"


@dataclass
class Intake:
    created: bool
    state: OrderState


def custom_lines(order: Order, store: ProductStore) -> set[str]:
    """Ids of the lines that are Sign Customiser designs; 422 for a line that claims to be one
    but whose external_id signbridge never issued."""
    issued = store.get_products_by_external_id([line.external_id for line in order.line_items])
    unknown = [
        {
            "field": f"line_items.{index}.external_id",
            "line_id": line.id,
            "external_id": line.external_id,
            "message": "customised is true but this external_id was never issued by a product:created callback",
        }
        for index, line in enumerate(order.line_items)
        if line.customised is True and line.external_id not in issued
    ]
    if unknown:
        raise UnknownProduct("A customised line references a product signbridge did not issue.", details=unknown)
    return {line.id for line in order.line_items if line.external_id in issued and line.customised is not False}


def initial_delivery(order_id: str, destination: Destination, custom_line_ids: set[str], at: str) -> DeliveryRecord:
    if destination is Destination.SIGN_CUSTOMISER and not custom_line_ids:
        return DeliveryRecord(
            order_id=order_id,
            destination=destination,
            state=DeliveryState.SKIPPED,
            updated_at=at,
            last_error=DeliveryError(
                code="no_customised_lines", message="The order has no Sign Customiser design to send."
            ),
        )
    return DeliveryRecord(order_id=order_id, destination=destination, state=DeliveryState.PENDING, updated_at=at)


def awaiting_payment(delivery: DeliveryRecord) -> DeliveryRecord:
    """Dropday makes goods for what it receives: an unpaid order's delivery waits for its paid event."""
    return delivery.model_copy(
        update={
            "state": DeliveryState.AWAITING_PAYMENT,
            "last_error": DeliveryError(
                code="awaiting_payment",
                message="Held until the order is paid (DROPDAY_HOLD_UNTIL_PAID): "
                "POST a paid event to /orders/{order_id}/events to release it.",
            ),
        }
    )


def persist_order(
    order: Order,
    origin: str,
    destinations: list[Destination],
    custom_line_ids: set[str],
    store: OrderStore,
    hold_dropday_until_paid: bool = False,
    held_for: DeliveryError | None = None,
) -> Intake:
    """``held_for``: nothing is sent anywhere, each delivery waits for a person for this reason."""
    at = datetime.now(UTC).isoformat()
    record = OrderRecord(
        order_id=order.id,
        origin=origin,
        received_at=at,
        body=order.model_dump_json(),  # unknown fields kept, as received
        # Only the fields signbridge reads or forwards tell a repeat from a different order: a
        # platform re-posting with a new `sent_at` or retry counter is the same order.
        digest=hashlib.sha256(order.contract_json().encode()).hexdigest(),
        destinations=[str(d) for d in destinations],
        custom_line_ids=sorted(custom_line_ids),
    )
    ensure_storable(record, order.model_dump(mode="json"))
    deliveries = [initial_delivery(order.id, d, custom_line_ids, at) for d in destinations]
    if hold_dropday_until_paid and order.financial_status in (FinancialStatus.PENDING, FinancialStatus.AUTHORIZED):
        deliveries = [awaiting_payment(d) if d.destination == Destination.DROPDAY else d for d in deliveries]
    if held_for is not None:
        deliveries = [
            d.model_copy(update={"state": DeliveryState.ACTION_REQUIRED, "last_error": held_for})
            if d.state is DeliveryState.PENDING
            else d
            for d in deliveries
        ]
    created = store.create_order(record, deliveries)
    state = store.get_order_state(order.id)  # a consistent read of what was just written, or existed
    if state is None:  # only if it was deleted in between: the platform's retry writes it again
        raise StoreUnavailable("The order could not be read back; retry shortly.")
    if not created and state.order.origin == origin and state.order.digest != record.digest:
        raise Conflict(
            "An order with this id was already received with different content.",
            details={"order_id": order.id, "received_at": state.order.received_at},
        )
    return Intake(created=created, state=state)


def accept_platform_order(
    order: Order, store: OrderIntakeStore, routes: list[Destination], hold_dropday_until_paid: bool = False
) -> Intake:
    problems = order.totals_problems()
    if problems:
        raise TotalsMismatch("The order's amounts do not add up.", details=problems)
    return persist_order(order, ORIGIN_PLATFORM, routes, custom_lines(order, store), store, hold_dropday_until_paid)


def find_order(order_id: str, store: OrderStore) -> OrderState:
    """The order named in a URL: 422 for an id POST /orders could never have accepted (so it
    never reaches the store's key limits), 404 for one never received."""
    if len(order_id) > ORDER_ID_MAX_LENGTH or not re.fullmatch(ORDER_ID_PATTERN, order_id):
        raise ValidationFailed(
            "This is not an order id signbridge accepts.",
            details=[
                {
                    "field": "order_id",
                    "message": f"must match {ORDER_ID_PATTERN} and be at most {ORDER_ID_MAX_LENGTH} characters",
                    "type": "string_pattern_mismatch",
                }
            ],
        )
    state = store.get_order_state(order_id)
    if state is None:
        raise NotFound("No order with this id.", details={"order_id": order_id})
    return state


def order_view(state: OrderState) -> dict[str, Any]:
    """What GET /orders/{order_id} shows: where the order stands at each destination."""
    return {
        "order_id": state.order.order_id,
        "origin": state.order.origin,
        "received_at": state.order.received_at,
        "deliveries": {d.destination: d.public() for d in sorted(state.deliveries, key=lambda d: d.destination)},
        "sign_customiser_order_ids": state.sc_order_ids,
        "timeline": timeline(state),
    }
