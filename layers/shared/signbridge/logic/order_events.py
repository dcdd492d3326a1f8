"""Order events from the platform (paid, cancelled, refunded, fulfilled, shipment_updated): checked against the
order and its earlier events, recorded exactly once with one delivery per routed destination
(the same outbox as the order's own deliveries), and applied in the order they were recorded.

What each destination gets follows from its traits (``signbridge.ports.Traits``), never from its name:
- an event type it receives is a delivery of its own, sent only after the destination has the
  order and the events before it;
- ``paid`` releases a delivery held until paid (where the destination holds unpaid orders);
- ``cancelled``, where the destination cannot be told of one, withdraws the order's delivery if
  it was never sent, and otherwise becomes a delivery that asks a person to cancel it there;
- anything else is recorded only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from signbridge import clock
from signbridge.errors import Conflict, NotFound, StoreUnavailable, ValidationFailed
from signbridge.lifecycle import MOVES, DeliveryState, Seen
from signbridge.logic.notices import uncertain_withdrawal
from signbridge.logic.standing import parse_events, standing
from signbridge.logic.wake import wake_next
from signbridge.models.events import EventType, OrderEvent, OrderStanding
from signbridge.models.items import DeliveryError, DeliveryRecord, OrderEventRecord
from signbridge.models.order import LineItem, Order
from signbridge.observability import logger
from signbridge.ports import Cancellation, Traits
from signbridge.store.orders import Change, OrderState
from signbridge.store.orders import OrderStore as Store

ATTEMPTS_ON_RACE = 5


@dataclass
class EventIntake:
    created: bool
    event: OrderEventRecord
    state: OrderState


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
                "no fulfilled event of this order has this id, nor carried it as its fulfilment.id",
                received=event.shipment.fulfilment_id,
            )
        )
    if event.fulfilment is not None and event.fulfilment.id is not None:
        used_by = now.platform_fulfilments.get(event.fulfilment.id)
        if used_by is not None and used_by != event.id:
            problems.append(
                _problem(
                    "fulfilment.id",
                    f"another fulfilled event of this order ({used_by}) carried this fulfilment id",
                    received=event.fulfilment.id,
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


def event_delivery(
    destination: str, traits: Traits, event: OrderEvent, state: OrderState, seq: int, at: str
) -> DeliveryRecord:
    """The event's delivery to one routed destination, as first written."""
    pending = DeliveryRecord(
        order_id=state.order.order_id,
        destination=destination,
        state=DeliveryState.PENDING,
        updated_at=at,
        event_seq=seq,
    )
    if event.type in traits.receives:
        return pending
    if event.type is EventType.CANCELLED and traits.cancellation is Cancellation.BY_HAND:
        return pending  # the forwarder withdraws the order there, or asks a person once it has settled
    own = state.delivery(destination)
    if event.type is EventType.PAID and own and own.state is DeliveryState.AWAITING_PAYMENT:
        error = DeliveryError(code="released", message=f"This event released the order to {traits.title}.")
    else:
        error = DeliveryError(code="not_forwarded", message=f"{traits.title} {traits.not_forwarded}.")
    return pending.model_copy(update={"state": DeliveryState.SKIPPED, "last_error": error})


def apply_to_deliveries(state: OrderState, event: OrderEvent, traits: dict[str, Traits], store: Store) -> None:
    """What the event does to the order's own deliveries: ``paid`` releases one held until paid;
    ``cancelled`` withdraws one not yet sent to a destination that cannot be told (or flags it
    for a person when an attempt went unanswered). Each move is the lifecycle's, conditional on
    the delivery as read: doing it again (a repeated event) changes nothing; one an attempt holds
    is left to the forwarder, which applies the same rule before it sends."""
    now, at = clock.stamp()
    seen = Seen(now=now)
    for delivery in state.deliveries:
        t = traits.get(delivery.destination)
        if t is None:
            continue
        change = Change(updated_at=at)
        if event.type is EventType.PAID and (t.hold_until_paid or t.makes_goods):
            name = "release"
            change.error = None
            change.waiting_since = now  # its wait for the destination starts now, not at checkout
        elif event.type is EventType.CANCELLED and t.cancellation is Cancellation.BY_HAND:
            name = "withdraw" if MOVES["withdraw"].allows(delivery, seen) else "withdraw_uncertain"
            if name == "withdraw":
                change.error = DeliveryError(
                    code="order_cancelled", message=f"The order was cancelled (event {event.id}) before it was sent."
                )
            else:
                change.error = uncertain_withdrawal(
                    t, delivery.order_id, delivery.unanswered_at or delivery.sent_at or now
                )
                change.lease, change.sending = None, None
                if delivery.unanswered_at is None:
                    change.unanswered = (delivery.sent_at or now, delivery.sending_step)
        else:
            continue
        if MOVES[name].allows(delivery, seen):
            moved = store.move(delivery, name, change, now=now)
            if moved is not None and moved.state.resting:
                wake_next(store, moved, now)  # what waits for it (the cancellation's own delivery) goes
            logger.info(
                "order delivery moved by an event",
                extra={
                    "order_id": delivery.order_id,
                    "destination": delivery.destination,
                    "move": name,
                    "done": bool(moved),
                },
            )


def by_event_ids(event: OrderEvent, now: OrderStanding) -> OrderEvent:
    """``event`` with a shipment status that names the platform's own fulfilment id naming the
    `fulfilled` event that carried it instead: one id for a parcel from here on."""
    shipment = event.shipment
    if shipment is None or shipment.fulfilment_id in now.fulfilment_ids:
        return event
    shipped_by = now.platform_fulfilments.get(shipment.fulfilment_id)
    if shipped_by is None:
        return event
    return event.model_copy(update={"shipment": shipment.model_copy(update={"fulfilment_id": shipped_by})})


def accept_order_event(order_id: str, event: OrderEvent, store: Store, traits: dict[str, Traits]) -> EventIntake:
    """Record ``event`` once; a repeat (same id, same content) is not new, the same id with other
    content is a conflict, an event that contradicts the order is refused naming the field."""
    received = event
    for _ in range(ATTEMPTS_ON_RACE):
        state = store.get_order_state(order_id)
        if state is None:
            raise NotFound("No order with this id.", details=[_problem("order_id", "no order with this id")])
        order = Order.model_validate_json(state.order.body)
        now = standing(order, parse_events(state.events))
        event = by_event_ids(received, now)
        body = event.model_dump_json()  # unknown fields kept, as received
        digest = hashlib.sha256(event.contract_json().encode()).hexdigest()
        existing = next((e for e in state.events if e.event_id == event.id), None)
        if existing is not None:
            if existing.digest != digest:
                raise Conflict(
                    "An event with this id was already received with different content.",
                    details=[
                        {
                            "field": "id",
                            "message": "received before with other content",
                            "received_at": existing.received_at,
                        }
                    ],
                )
            apply_to_deliveries(state, event, traits, store)
            return EventIntake(created=False, event=existing, state=store.get_order_state(order_id) or state)
        problems = contradictions(order, now, event)
        if problems:
            raise ValidationFailed("The event contradicts the order.", details=problems)
        _, at = clock.stamp()
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
        deliveries = [
            event_delivery(d, traits[d], event, state, seq, at) for d in state.order.destinations if d in traits
        ]
        if store.record_event(record, state.order.event_count, deliveries):
            apply_to_deliveries(state, event, traits, store)
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
