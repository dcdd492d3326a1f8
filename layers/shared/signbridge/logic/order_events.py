"""Order events from the platform (paid, cancelled, refunded, fulfilled, shipment_updated): checked against the
order and its earlier events, recorded exactly once with one delivery per routed destination
(the same outbox as the order's own deliveries), and applied in the order they were recorded.

What each destination gets (README, "Order events"):
- Onward: every event is a delivery (an order update, an insurance refund, a shipment, a
  shipment event), sent only after Onward has the order and after the event before it.
- Dropday: documents no update or cancel. ``paid`` releases a delivery held until paid;
  ``cancelled`` cancels a delivery not yet sent, and otherwise becomes a delivery that, once the
  order is at Dropday, asks for the order to be cancelled at Dropday by hand.
- Sign Customiser: documents nothing to receive: the event is recorded only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from signbridge.destinations import plugin
from signbridge.errors import Conflict, NotFound, StoreUnavailable, ValidationFailed
from signbridge.models.events import EventType, LineStanding, OrderEvent, OrderStanding
from signbridge.models.items import DeliveryError, DeliveryRecord, DeliveryState, OrderEventRecord
from signbridge.models.order import FinancialStatus, LineItem, Order
from signbridge.settings import Destination
from signbridge.store.orders import OrderState
from signbridge.store.orders import OrderStore as Store

PAID_STATUSES = (FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.REFUNDED)
UNPAID_STATUSES = (FinancialStatus.PENDING, FinancialStatus.AUTHORIZED)
# A Dropday delivery not yet sent that a cancellation simply cancels (no attempt may hold it).
CANCELLABLE = (
    DeliveryState.AWAITING_PAYMENT,
    DeliveryState.PENDING,
    DeliveryState.RETRYING,
    DeliveryState.HELD,
    DeliveryState.FAILED,
)
ATTEMPTS_ON_RACE = 5


@dataclass
class EventIntake:
    created: bool
    event: OrderEventRecord
    state: OrderState


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
            for shipped in event.fulfilment.lines:
                result.lines[shipped.line_id].fulfilled_quantity += shipped.quantity
    return result


def _problem(field: str, message: str, **numbers: Any) -> dict[str, Any]:
    return {"field": field, "message": message, **numbers}


class _NamesALine(Protocol):
    @property
    def line_id(self) -> str: ...


_N = TypeVar("_N", bound=_NamesALine)


def _named_lines(
    payload: str, entries: Sequence[_N], lines: dict[str, LineItem], problems: list[dict[str, Any]]
) -> Iterator[tuple[str, _N, LineItem]]:
    """Each entry of a refund's or fulfilment's lines with the order line it names, once; an
    unknown or repeated line id is a problem instead."""
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{payload}.lines.{index}"
        line = lines.get(entry.line_id)
        if line is None:
            problems.append(_problem(f"{where}.line_id", "no line of the order has this id", received=entry.line_id))
        elif entry.line_id in seen:
            problems.append(_problem(f"{where}.line_id", f"the line is named twice in this {payload}"))
        else:
            seen.add(entry.line_id)
            yield where, entry, line


def contradictions(order: Order, now: OrderStanding, event: OrderEvent) -> list[dict[str, Any]]:
    """Every way ``event`` contradicts the order as it stands (empty when it does not)."""
    problems: list[dict[str, Any]] = []
    payload_of = {
        EventType.REFUNDED: "refund",
        EventType.FULFILLED: "fulfilment",
        EventType.SHIPMENT_UPDATED: "shipment",
    }
    for name in ("refund", "fulfilment", "shipment"):
        present = getattr(event, name) is not None
        wanted = payload_of.get(event.type) == name
        if present != wanted:
            problems.append(_problem(name, f"a {event.type} event {'needs' if wanted else 'does not take'} `{name}`"))
    if problems:
        return problems
    lines = {line.id: line for line in order.line_items}
    if event.type is EventType.PAID and now.cancelled:
        problems.append(_problem("type", "the order was cancelled: it cannot be paid"))
    if event.type is EventType.CANCELLED and now.cancelled:
        problems.append(_problem("type", "the order was cancelled already (by an event with another id)"))
    if event.type is EventType.FULFILLED and now.cancelled:
        problems.append(_problem("type", "the order was cancelled: it cannot be fulfilled"))
    # A parcel shipped before a cancellation still travels: its statuses are accepted. An order
    # cancelled before shipping has no fulfilment, so its shipment_updated names an unknown one.
    if event.shipment is not None and event.shipment.fulfilment_id not in now.fulfilment_ids:
        problems.append(
            _problem(
                "shipment.fulfilment_id",
                "no fulfilled event of this order has this id",
                received=event.shipment.fulfilment_id,
            )
        )
    if event.refund is not None:
        if event.refund.currency is not None and event.refund.currency.upper() != order.currency:
            problems.append(
                _problem("refund.currency", f"the order's currency is {order.currency}", received=event.refund.currency)
            )
        if not event.refund.lines and not event.refund.shipping:
            problems.append(_problem("refund.lines", "a refund names at least one line or an amount of shipping"))
        if now.refunded_shipping + event.refund.shipping > order.shipping:
            problems.append(
                _problem(
                    "refund.shipping",
                    "refunds more shipping than the order charged",
                    available=order.shipping - now.refunded_shipping,
                    received=event.refund.shipping,
                )
            )
        for where, refunded, line in _named_lines("refund", event.refund.lines, lines, problems):
            before = now.lines[line.id]
            if before.refunded_quantity + refunded.quantity > line.quantity:
                problems.append(
                    _problem(
                        f"{where}.quantity",
                        "refunds more units than were bought",
                        available=line.quantity - before.refunded_quantity,
                        received=refunded.quantity,
                    )
                )
            if before.refunded_amount + refunded.amount > line.total:
                problems.append(
                    _problem(
                        f"{where}.amount",
                        "refunds more than the line cost",
                        available=line.total - before.refunded_amount,
                        received=refunded.amount,
                    )
                )
    if event.fulfilment is not None:
        for where, shipped, line in _named_lines("fulfilment", event.fulfilment.lines, lines, problems):
            if not line.shippable:
                problems.append(_problem(f"{where}.line_id", "the line is not shippable"))
            left = line.quantity - now.lines[line.id].fulfilled_quantity
            if shipped.quantity > left:
                problems.append(
                    _problem(
                        f"{where}.quantity",
                        "ships more units than are left to ship",
                        available=left,
                        received=shipped.quantity,
                    )
                )
    return problems


def event_delivery(destination: str, event: OrderEvent, order_id: str, seq: int, at: str) -> DeliveryRecord:
    """The event's delivery to one routed destination, as first written."""
    pending = DeliveryRecord(
        order_id=order_id, destination=destination, state=DeliveryState.PENDING, updated_at=at, event_seq=seq
    )
    reason = plugin(destination).not_forwarded(event.type)
    if reason is None:
        return pending
    return pending.model_copy(
        update={"state": DeliveryState.SKIPPED, "last_error": DeliveryError(code="not_forwarded", message=reason)}
    )


def parse_events(state: OrderState, up_to: int | None = None) -> list[OrderEvent]:
    return [
        OrderEvent.model_validate_json(record.body) for record in state.events if up_to is None or record.seq <= up_to
    ]


def _apply_to_dropday(order_id: str, event: OrderEvent, store: Store, at: str) -> None:
    """Release or cancel the order's own Dropday delivery. Each move is conditional, so doing it
    again (a repeated event) changes nothing."""
    now = int(datetime.now(UTC).timestamp())
    if event.type is EventType.PAID:
        store.move_delivery(
            order_id,
            Destination.DROPDAY,
            DeliveryState.PENDING,
            from_states=(DeliveryState.AWAITING_PAYMENT,),
            updated_at=at,
            now=now,
        )
    elif event.type is EventType.CANCELLED:
        store.move_delivery(
            order_id,
            Destination.DROPDAY,
            DeliveryState.CANCELLED,
            from_states=CANCELLABLE,
            updated_at=at,
            now=now,
            error=DeliveryError(
                code="order_cancelled", message=f"The order was cancelled (event {event.id}) before it was sent."
            ),
        )


def accept_order_event(order_id: str, event: OrderEvent, store: Store) -> EventIntake:
    """Record ``event`` once; a repeat (same id, same content) is not new, the same id with other
    content is a conflict, an event that contradicts the order is refused naming the field."""
    body = event.model_dump_json()
    digest = hashlib.sha256(body.encode()).hexdigest()
    for _ in range(ATTEMPTS_ON_RACE):
        state = store.get_order_state(order_id)
        if state is None:
            raise NotFound("No order with this id.", details=[_problem("order_id", "no order with this id")])
        existing = next((e for e in state.events if e.event_id == event.id), None)
        if existing is not None:
            if existing.digest != digest:
                raise Conflict(
                    "An event with this id was already received with different content.",
                    details={"field": "id", "event_id": event.id, "received_at": existing.received_at},
                )
            if Destination.DROPDAY in state.order.destinations:
                _apply_to_dropday(order_id, event, store, datetime.now(UTC).isoformat())
            return EventIntake(created=False, event=existing, state=state)
        order = Order.model_validate_json(state.order.body)
        problems = contradictions(order, standing(order, parse_events(state)), event)
        if problems:
            raise ValidationFailed("The event contradicts the order.", details=problems)
        at = datetime.now(UTC).isoformat()
        seq = state.order.event_count + 1
        record = OrderEventRecord(
            order_id=order_id,
            event_id=event.id,
            seq=seq,
            type=event.type,
            body=body,
            digest=digest,
            received_at=at,
            destinations=state.order.destinations,
        )
        deliveries = [event_delivery(d, event, order_id, seq, at) for d in state.order.destinations]
        if store.record_event(record, state.order.event_count, deliveries):
            if Destination.DROPDAY in state.order.destinations:
                _apply_to_dropday(order_id, event, store, at)
            after = store.get_order_state(order_id)
            if after is None:  # only if the order was deleted in between
                raise StoreUnavailable("The order could not be read back; retry shortly.")
            return EventIntake(created=True, event=record, state=after)
        # Another event of this order was recorded meanwhile (or this very one): read again.
    raise StoreUnavailable("Too many events for this order at once; retry shortly.")


def timeline(state: OrderState) -> list[dict[str, Any]]:
    """The order's events in the order they apply, each with what every destination did with it."""
    by_seq: dict[int, dict[str, Any]] = {}
    for d in state.event_deliveries:
        by_seq.setdefault(d.event_seq or 0, {})[d.destination] = d.public()
    return [
        {
            "seq": record.seq,
            "event_id": record.event_id,
            "type": record.type,
            "received_at": record.received_at,
            "deliveries": dict(sorted(by_seq.get(record.seq, {}).items())),
        }
        for record in state.events
    ]


def event_view(intake: EventIntake) -> dict[str, Any]:
    """What POST /orders/{order_id}/events answers: the event and where it stands."""
    entry = next(e for e in timeline(intake.state) if e["event_id"] == intake.event.event_id)
    return {"order_id": intake.state.order.order_id, **entry}
