"""What the core needs from a destination, named by the core: an order sink, an optional event
sink, an optional confirmer, an optional reader of an order's supplier status, and the
destination's traits. Each destination package
(``signbridge.destinations.<name>``) implements them; the core never imports a destination, and
only the composition roots import both.

A destination answers a delivery with a ``Plan``: the requests to make, in order, each a
``Step`` that says whether sending it again after an unanswered attempt is harmless
(``resend_safe``: the destination's documented duplicate rule, or a body that carries the whole
state) or not (no duplicate rule documented: an unanswered attempt puts the delivery in doubt,
naming the step). The engine records each step the destination acknowledged, and a retry resumes
at the first step not acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from signbridge.models.events import OrderEvent, OrderStanding
from signbridge.models.items import DeliveryRecord, OrderEventRecord, ProductMapping, ScOrderLink
from signbridge.models.order import Order
from signbridge.outcomes import Outcome


class DestinationUnavailable(Exception):
    """The destination is routed but cannot be used as configured: its deliveries are held."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Cancellation(StrEnum):
    """What an order's cancellation means at a destination."""

    # It receives the cancellation as an order event (its event sink sends it).
    SENT = "sent"
    # It documents no way to receive one: a delivery not yet sent is withdrawn; an order it has,
    # or may have, must be cancelled there by a person.
    BY_HAND = "by_hand"
    # Nothing to undo there: the event is recorded only.
    RECORDED = "recorded"


@dataclass(frozen=True)
class Traits:
    """How a destination behaves, as far as the core must know. Declared by its package."""

    title: str
    cancellation: Cancellation
    # The order event types its event sink receives (the others are recorded only).
    receives: frozenset[str] = frozenset()
    # Why the events it does not receive are recorded only.
    not_forwarded: str = "documents no endpoint for order events: recorded only"
    # It documents no duplicate rule for orders, but confirms each order it creates with a webhook
    # of its own: an unanswered create waits for that confirmation before an operator is asked.
    confirms_by_webhook: bool = False
    # It makes goods for what it receives: a voided order never goes there until a paid event.
    makes_goods: bool = False
    # ... and an order that is not paid (pending, authorized) waits for its paid event too.
    hold_until_paid: bool = False
    # It takes only an order's Sign Customiser designs: an order without one is not for it.
    needs_designs: bool = False
    # Accepting an order is not the end there (it routes it on, to suppliers): once delivered, the
    # order is read back on a schedule until its lines are final (its port's ``supplier``).
    follows_up: bool = False


@dataclass(frozen=True)
class Step:
    name: str  # stable across versions: the names a delivery has acknowledged are stored
    send: Callable[[], Outcome]
    resend_safe: bool


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        names = [step.name for step in self.steps]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a plan's steps need distinct names: {names}")

    def remaining(self, acknowledged: Sequence[str]) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.name not in acknowledged)


def one_step(name: str, send: Callable[[], Outcome], resend_safe: bool) -> Plan:
    return Plan((Step(name, send, resend_safe),))


@dataclass
class OrderContext:
    order: Order
    custom_line_ids: set[str]
    products: dict[str, ProductMapping]


@dataclass
class EventContext:
    order: Order
    custom_line_ids: set[str]
    products: dict[str, ProductMapping]
    event: OrderEvent
    record: OrderEventRecord
    before: OrderStanding  # the order as the earlier events left it
    after: OrderStanding  # ... and as this event leaves it
    order_delivery: DeliveryRecord  # the order's own delivery to this destination (delivered)
    # This destination's deliveries of the order's earlier events, by the platform's event id (each resting).
    earlier: dict[str, DeliveryRecord] = field(default_factory=dict)


class OrderSink(Protocol):
    def plan_order(self, context: OrderContext) -> Plan | None:
        """The requests that deliver the order, or None when nothing in it is for this destination.
        Raises MappingFailed when the order cannot be expressed in the destination's format."""
        ...


class EventSink(Protocol):
    def plan_event(self, context: EventContext) -> Plan | None:
        """The requests that deliver the event, or None when there is nothing to send."""
        ...


class Confirmer(Protocol):
    def confirmation(self, context: OrderContext, links: Sequence[ScOrderLink]) -> ScOrderLink | None:
        """The destination's own record among ``links`` that is the order we would create, if any."""
        ...


class LineVerdict(StrEnum):
    """What one line's status at the destination means for the merchant (the destination's words
    stay its own: the port translates them)."""

    DONE = "done"  # made / shipped by its supplier
    PROBLEM = "problem"  # no supplier makes it as things stand (declined, failed, skipped, ...)
    WAITING = "waiting"  # not decided yet


@dataclass(frozen=True)
class SupplierLine:
    status: str  # the destination's own word for it
    supplier: str | None
    verdict: LineVerdict


class ReadKind(StrEnum):
    READ = "read"
    NOT_FOUND = "not_found"  # the destination has no such order
    UNAUTHORIZED = "unauthorized"  # our credentials were refused
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"  # 5xx, a timeout, a connection failure: try again later


@dataclass(frozen=True)
class SupplierReading:
    """One read of an order at the destination, after it accepted it."""

    kind: ReadKind
    reference: str | None = None  # the destination's id for the order (found by the read if not known)
    order_status: str | None = None
    lines: dict[str, SupplierLine] = field(default_factory=dict)  # by the destination's line id
    message: str | None = None
    status: int | None = None
    retry_after: float | None = None


class SupplierStatus(Protocol):
    def read(self, order_id: str, reference: str | None) -> SupplierReading:
        """The order's lines as the destination shows them now (``reference`` when known, else found
        by our order id). Never raises for an answer of the destination."""
        ...


@dataclass(frozen=True)
class Port:
    """A destination as built from its current settings and credentials."""

    orders: OrderSink
    events: EventSink | None = None
    confirmer: Confirmer | None = None
    # Reads an order's status after delivery (for a destination whose traits follow up).
    supplier: SupplierStatus | None = None
