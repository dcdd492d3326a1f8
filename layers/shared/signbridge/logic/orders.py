"""Platform order intake: validate, route, and persist the order with one delivery per destination.

Each delivery starts where its destination's traits say (``signbridge.ports.Traits``): pending;
skipped when nothing of the order is for it; awaiting payment when it makes goods and the order is
not paid. The core names no destination."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from signbridge import clock
from signbridge.errors import (
    Conflict,
    NotFound,
    OrderIdTaken,
    StoreUnavailable,
    TotalsMismatch,
    UnknownProduct,
    ValidationFailed,
)
from signbridge.lifecycle import ATTENTION, DeliveryState
from signbridge.logic.limits import ensure_storable, storable
from signbridge.logic.notices import CANCEL_BY_HAND
from signbridge.logic.order_events import timeline
from signbridge.logic.standing import PAID_STATUSES
from signbridge.models.follow_up import FollowUpOutcome, FollowUpRecord
from signbridge.models.items import DeliveryError, DeliveryRecord, OrderRecord, ProductMapping
from signbridge.models.order import ORDER_ID_MAX_LENGTH, ORDER_ID_PATTERN, FinancialStatus, Order
from signbridge.ports import Traits
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


def custom_lines(order: Order, store: ProductStore) -> tuple[set[str], dict[str, ProductMapping]]:
    """Ids of the lines that are Sign Customiser designs, with their designs by external_id; 422
    for a line that claims to be one but whose external_id signbridge never issued."""
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
    custom = {line.id for line in order.line_items if line.external_id in issued and line.customised is not False}
    named = {line.external_id for line in order.line_items if line.id in custom}
    return custom, {external_id: issued[external_id] for external_id in named}


def initial_delivery(
    order: Order, destination: str, traits: Traits, custom_line_ids: set[str], at: str
) -> DeliveryRecord:
    pending = DeliveryRecord(order_id=order.id, destination=destination, state=DeliveryState.PENDING, updated_at=at)
    if traits.needs_designs and not custom_line_ids:
        error = DeliveryError(code="no_customised_lines", message="The order has no Sign Customiser design to send.")
        return pending.model_copy(update={"state": DeliveryState.SKIPPED, "last_error": error})
    voided = order.financial_status is FinancialStatus.VOIDED
    if (traits.makes_goods and voided) or (traits.hold_until_paid and order.financial_status not in PAID_STATUSES):
        # It makes goods for what it receives, and a voided order was never paid: wait for the paid event.
        error = DeliveryError(
            code="awaiting_payment",
            message=f"Held until the order is paid ({traits.title} makes goods for what it receives): "
            "POST a paid event to /orders/{order_id}/events to release it.",
        )
        return pending.model_copy(update={"state": DeliveryState.AWAITING_PAYMENT, "last_error": error})
    return pending


def persist_order(
    order: Order,
    origin: str,
    routes: dict[str, Traits],
    custom_line_ids: set[str],
    store: OrderStore,
    held_for: DeliveryError | None = None,
    designs: dict[str, ProductMapping] | None = None,
) -> Intake:
    """``routes``: the destinations the order goes to, with their traits. ``held_for``: nothing is
    sent anywhere, each delivery waits for a person for this reason."""
    _, at = clock.stamp()
    record = OrderRecord(
        order_id=order.id,
        origin=origin,
        received_at=at,
        body=order.model_dump_json(),  # unknown fields kept, as received
        # Only the fields signbridge reads or forwards tell a repeat from a different order: a
        # platform re-posting with a new `sent_at` or retry counter is the same order.
        digest=hashlib.sha256(order.contract_json().encode()).hexdigest(),
        destinations=list(routes),
        custom_line_ids=sorted(custom_line_ids),
        designs=designs or {},
    )
    if record.designs and not storable(record):
        # The designs are a copy kept to spare a read per delivery: an order they would make too
        # large to store goes without them (the forwarder then reads each design by its id).
        record = record.model_copy(update={"designs": {}})
    ensure_storable(record, order.model_dump(mode="json"))
    deliveries = [initial_delivery(order, name, traits, custom_line_ids, at) for name, traits in routes.items()]
    if held_for is not None:
        deliveries = [
            d.model_copy(update={"state": DeliveryState.ACTION_REQUIRED, "last_error": held_for})
            if d.state is DeliveryState.PENDING
            else d
            for d in deliveries
        ]
    written = store.create_order(record, deliveries)
    created = written is not None
    if written is not None:
        state = OrderState(order=record, deliveries=written)  # exactly what was just written
    else:
        existing = store.get_order_state(order.id)  # a consistent read of the order that was there
        if existing is None:  # only if it was deleted in between: the platform's retry writes it again
            raise StoreUnavailable("The order could not be read back; retry shortly.")
        state = existing
    if not created and state.order.origin != origin:
        raise OrderIdTaken(
            f"An order with this id came from another channel ({state.order.origin}) first; this one would "
            "reach no destination. Give it an id of its own.",
            details=[
                {"field": "id", "message": f"already names an order from {state.order.origin}", "received": order.id}
            ],
        )
    if not created and state.order.digest != record.digest:
        raise Conflict(
            "An order with this id was already received with different content.",
            details=[
                {"field": "id", "message": "received before with other content", "received_at": state.order.received_at}
            ],
        )
    return Intake(created=created, state=state)


def accept_platform_order(order: Order, store: OrderIntakeStore, routes: dict[str, Traits]) -> Intake:
    problems = order.totals_problems()
    if problems:
        raise TotalsMismatch("The order's amounts do not add up.", details=problems)
    custom, designs = custom_lines(order, store)
    return persist_order(order, ORIGIN_PLATFORM, routes, custom, store, designs=designs)


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
        raise NotFound(
            "No order with this id.",
            details=[{"field": "order_id", "message": "no order with this id", "received": order_id}],
        )
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
        "attention": attention(state),
        "follow_ups": {f.destination: follow_up_view(f) for f in sorted(state.follow_ups, key=lambda f: f.destination)},
    }


def follow_up_view(f: FollowUpRecord) -> dict[str, Any]:
    """What the destination said about the order's lines after it accepted it (its suppliers)."""
    view: dict[str, Any] = {
        "outcome": f.outcome.value,
        "lines": {
            line_id: {"status": line.status, "supplier": line.supplier, "verdict": line.verdict}
            for line_id, line in sorted(f.lines.items())
        },
        "reads": f.reads,
    }
    for name, value in (
        ("reference", f.reference),
        ("order_status", f.order_status),
        ("last_read_at", _iso(f.last_read_at)),
        ("next_read_at", _iso(f.next_read_at)),
    ):
        if value is not None:
            view[name] = value
    if f.last_error is not None:
        view["last_error"] = {"code": f.last_error.code, "message": f.last_error.message}
    return view


def _iso(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def attention(state: OrderState) -> list[dict[str, Any]]:
    """What about the order waits for a person (its own deliveries and its events'), each with
    what happened and the command that settles it: the order view says it at the top."""
    order_id = state.order.order_id
    event_ids = {e.seq: e.event_id for e in state.events}
    found = []
    for d in sorted(state.deliveries + state.event_deliveries, key=lambda d: (d.event_seq or 0, d.destination)):
        if d.state not in ATTENTION:
            continue
        event_id = event_ids.get(d.event_seq) if d.event_seq is not None else None
        entry: dict[str, Any] = {"destination": d.destination, "state": d.state.value}
        if event_id is not None:
            entry["event_id"] = event_id
        entry["message"] = d.last_error.message if d.last_error is not None else d.state.kind.meaning
        entry["command"] = _settling_command(d, order_id, event_id)
        found.append(entry)
    delivered = {d.destination: d for d in state.deliveries}
    for f in sorted(state.follow_ups, key=lambda f: f.destination):
        if f.outcome not in FOLLOW_UP_ATTENTION or f.destination not in delivered:
            continue
        found.append(
            {
                "destination": f.destination,
                "state": delivered[f.destination].state.value,
                "follow_up": f.outcome.value,
                "message": _follow_up_message(f),
                "command": "signbridge deliveries supplier-problems",
            }
        )
    return found


# The follow-up outcomes a person should act on (at the destination).
FOLLOW_UP_ATTENTION = frozenset({FollowUpOutcome.PROBLEM, FollowUpOutcome.LOST, FollowUpOutcome.WINDOW_ENDED})


def _follow_up_message(f: FollowUpRecord) -> str:
    if f.outcome is FollowUpOutcome.LOST:
        return f"The destination says it has no such order ({f.reference or 'no reference'}): look it up there."
    problems = ", ".join(f"{line_id} {line.status}" for line_id, line in sorted(f.problem_lines().items()))
    waiting = ", ".join(f"{i} {line.status}" for i, line in sorted(f.lines.items()) if line.verdict == "waiting")
    if f.outcome is FollowUpOutcome.PROBLEM:
        return f"Lines no supplier makes as things stand: {problems}. Route or cancel them at the destination."
    return f"The follow-up window ended with lines not done ({problems or waiting}): check them at the destination."


def _settling_command(d: DeliveryRecord, order_id: str, event_id: str | None) -> str:
    event = f" --event {event_id}" if event_id else ""
    if d.state is DeliveryState.IN_DOUBT:
        return f"signbridge order resolve {order_id} {d.destination}{event} --delivered|--resend"
    if d.last_error is not None and d.last_error.code == CANCEL_BY_HAND:
        return f"signbridge cancellations done {order_id}"
    if d.state is DeliveryState.HELD:
        return "signbridge deliveries held"
    if d.state is DeliveryState.FAILED:
        return f"signbridge order retry {order_id} --destination {d.destination}"
    return f"signbridge order show {order_id}"
