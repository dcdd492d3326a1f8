"""Deliver one order, or one of its events, to one destination: read, decide, move, send.

Each message is handled the same way. The order's partition is read (consistently); the
lifecycle (``signbridge.lifecycle``) says which move the delivery may make from where it stands;
that one move is written, conditional on the delivery still being what was read. Only a
``claim`` is followed by requests: the attempt then holds the delivery's lease, says before each
request which step it sends (a worker that dies after that may have reached the destination),
and records each answer as the next move.

What a destination's answer means (every destination, every step):
- accepted or a duplicate: the step is acknowledged; after the last one the delivery is delivered
- refused for its content (4xx): failed; refused credentials (401/403/404): held, tried again on
  the held schedule for as long as it takes
- 429 / 5xx / timeouts / dropped connections: retried with backoff until the retry horizon, then
  failed; except that a step that must not be sent twice (``Step.resend_safe`` False) is put in
  doubt the moment it goes unanswered (a 5xx may come after the destination acted)
- every unanswered attempt, at any destination, is recorded as a fact on the delivery
  (``unanswered_at``): a cancellation reads it before it withdraws a delivery

The order of events: an event's delivery waits (without a retry horizon) until the order's own
delivery to that destination and every earlier event's there rest; an event whose order never
went to the destination is skipped, one whose order failed to get there fails (alarmed).

Waits are carried by the queue (a ``ComeBack`` verdict), never by sleeping.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from signbridge import clock as signbridge_clock
from signbridge.lifecycle import DeliveryState
from signbridge.logic.notices import CANCEL_BY_HAND, in_doubt_error, uncertain_withdrawal
from signbridge.logic.outbox import DeliveryMessage
from signbridge.logic.standing import parse_events, standing
from signbridge.logic.wake import WAIT_SECONDS, WAITING, Wake, wake_next
from signbridge.mappers.errors import MappingFailed
from signbridge.models.events import EventType, OrderStanding
from signbridge.models.items import DeliveryError, DeliveryRecord, ProductMapping
from signbridge.models.order import Order
from signbridge.observability import count, logger
from signbridge.outcomes import Accepted, AuthRejected, Duplicate, Outcome, Rejected, Transient
from signbridge.ports import (
    Cancellation,
    DestinationUnavailable,
    EventContext,
    OrderContext,
    Plan,
    Port,
    Step,
    Traits,
)
from signbridge.retry import RetrySchedule, next_wait
from signbridge.store import KEEP, Change, OrderState, SendingStep, Store


@dataclass(frozen=True)
class Done:
    """The message is finished with (the delivery moved on, or there was nothing to do)."""

    state: DeliveryState | None


@dataclass(frozen=True)
class ComeBack:
    """The message should come back after ``delay`` seconds."""

    delay: float
    reason: str


Verdict = Done | ComeBack


# Builds a destination's port from its current settings and credentials (re-read, so a key added
# or rotated later is used without a redeploy); raises DestinationUnavailable.
DestinationResolver = Callable[[str], Port]


@dataclass(frozen=True)
class Policy:
    schedule: Callable[[str], RetrySchedule]
    lease_seconds: int
    in_doubt_grace_seconds: int


class Forwarder:
    def __init__(
        self,
        store: Store,
        resolve: DestinationResolver,
        traits: Callable[[str], Traits],
        policy: Policy,
        clock: Callable[[], float] | None = None,
        rng: Callable[[], float] = random.random,
    ):
        self.store = store
        self.resolve = resolve
        self.traits = traits
        self.policy = policy
        self.clock = clock or (lambda: signbridge_clock.now())
        self.rng = rng

    def now(self) -> tuple[int, str]:
        now = self.clock()
        return int(now), datetime.fromtimestamp(now, UTC).isoformat()

    def deliver(self, message: DeliveryMessage, lease_seconds: int | None = None) -> Verdict:
        """Handle one message: what the queue should do with it."""
        log = {"order_id": message.order_id, "destination": message.destination, "event_seq": message.event_seq}
        state = self.store.get_order_state(message.order_id)
        delivery = state.delivery(message.destination, message.event_seq) if state else None
        if state is None or delivery is None:
            logger.error("message for a delivery that does not exist", extra=log)
            count("DeliveryErrored")
            return Done(None)
        if delivery.gen != message.gen:
            logger.info("stale message dropped: the delivery has a newer one", extra={**log, "gen": message.gen})
            return Done(delivery.state)
        return _Handling(self, state, delivery, message, lease_seconds or self.policy.lease_seconds).run()

    def confirm_in_doubt(self, delivery: DeliveryRecord) -> bool:
        """Settle an in-doubt delivery whose destination has since confirmed it (the sweeper)."""
        if delivery.event_seq is not None or not self.traits(delivery.destination).confirms_by_webhook:
            return False
        state = self.store.get_order_state(delivery.order_id)
        current = state.delivery(delivery.destination) if state else None
        if state is None or current is None or current.state is not DeliveryState.IN_DOUBT or not state.sc_orders:
            return False
        try:
            port = self.resolve(delivery.destination)
        except DestinationUnavailable:
            return False
        link = _confirmation(port, _order_context(state, {}), state)
        if link is None:
            return False
        now, at = self.now()
        moved = self.store.move(
            current,
            "confirm",
            Change(updated_at=at, destination_ref=str(link), error=None, unanswered=None, next_attempt_at=None),
            now=now,
        )
        if moved is not None:
            wake_next(self.store, moved, now)
        return moved is not None


def _order_context(state: OrderState, products: dict[str, ProductMapping]) -> OrderContext:
    order = Order.model_validate_json(state.order.body)
    return OrderContext(order, set(state.order.custom_line_ids), products)


def _confirmation(port: Port, context: OrderContext, state: OrderState) -> int | None:
    if port.confirmer is None:
        return None
    link = port.confirmer.confirmation(context, state.sc_orders)
    return link.sc_order_id if link is not None else None


class _Handling:
    """One message's handling: the decision on a fresh read, then (after a claim) the attempt."""

    def __init__(
        self, forwarder: Forwarder, state: OrderState, delivery: DeliveryRecord, message: DeliveryMessage, lease: int
    ):
        self.forwarder = forwarder
        self.store = forwarder.store
        self.state = state
        self.delivery = delivery
        self.message = message
        self.lease = lease
        self.now, self.at = forwarder.now()
        self.destination = message.destination
        self.traits = forwarder.traits(self.destination)
        self.schedule = forwarder.policy.schedule(self.destination)
        self.record = state.event(message.event_seq) if message.event_seq is not None else None
        self.event_id = self.record.event_id if self.record else None
        self.log: dict[str, Any] = {
            "order_id": message.order_id,
            "destination": self.destination,
            "event_seq": message.event_seq,
            "attempt": delivery.attempts + 1,
        }
        # An earlier attempt said it was sending a step and died: the destination may have it.
        d = delivery
        crashed = d.sent_at is not None and d.lease_until is not None and d.lease_until < self.now
        self.crash: tuple[int, str | None] | None = (d.sent_at or self.now, d.sending_step) if crashed else None
        self.attempt_id: str | None = None

    # ------------------------------------------------------------------ the decision
    def run(self) -> Verdict:
        d = self.delivery
        if d.state is DeliveryState.IN_DOUBT:
            return self.look_again()
        if not d.state.queued:
            # A redelivered message: it rests, settled, or awaits its paid event. A message of a
            # delivery that rests wakes what waits for it again (its first wake may have failed).
            if wake_next(self.store, d, self.now) is Wake.FAILED:
                # Once more kept, no further: the waiter's own look again is what is left.
                count("DeliveryWakeFailed")
            return Done(d.state)
        if d.lease_until is not None and d.lease_until >= self.now:
            # Another attempt holds the lease: a duplicate of the message, or a worker that may
            # still be sending. Come back once the lease has expired (then the crash is seen).
            return ComeBack(d.lease_until - self.now + 1, "another attempt holds the lease")
        if d.lease_until is None and d.next_attempt_at is not None and d.next_attempt_at > self.now:
            return ComeBack(d.next_attempt_at - self.now, "not due yet")  # an early message
        if self.crash is not None:
            logger.warning("the last attempt died after it said it was sending", extra=self.log)
            # Not known to be safe (an item an older version left says nothing): never resent blindly.
            if d.sending_safe is not True:
                return self.doubt(self.crash[0], self.crash[1], "a worker died after sending it", d.steps_left)
        if self.message.event_seq is not None and (waiting := self.waiting_for()) is not None:
            return waiting
        if self.message.event_seq is None and self.cancelled_here():
            return self.withdraw()
        try:
            port = self.forwarder.resolve(self.destination)
        except DestinationUnavailable as exc:
            return self.hold(exc.code, exc.message)
        if self.message.event_seq is not None:
            return self.event(port)
        return self.order(port)

    def standing(self, up_to: int | None = None) -> tuple[Order, OrderStanding, list[Any]]:
        order = Order.model_validate_json(self.state.order.body)
        events = parse_events(self.state.events, up_to=up_to)
        return order, standing(order, events), events

    def cancelled_here(self) -> bool:
        """The order was cancelled, and this destination cannot be told: the delivery must not go."""
        if self.traits.cancellation is not Cancellation.BY_HAND or not self.state.events:
            return False
        return self.standing()[1].cancelled

    def waiting_for(self) -> Verdict | None:
        """An earlier delivery to this destination that does not rest yet, if any: wait for it."""
        seq = self.message.event_seq or 0
        own = self.state.delivery(self.destination)
        earlier = [own] if own else []
        earlier += [
            d for d in self.state.event_deliveries if d.destination == self.destination and (d.event_seq or 0) < seq
        ]
        first = next((d for d in earlier if not d.state.resting), None)
        if first is None:
            return None
        if first is own and first.state is DeliveryState.AWAITING_PAYMENT and self.cancelled_here():
            # Waiting for a payment that will never come: the cancellation withdraws it (the intake
            # does so when the event arrives; this is for a withdrawal the intake did not get to make).
            error = DeliveryError(code="order_cancelled", message="The order was cancelled before it was sent.")
            withdrawn = self.store.move(first, "withdraw", Change(updated_at=self.at, error=error), now=self.now)
            if withdrawn is not None:
                self.state.deliveries = [withdrawn if d is first else d for d in self.state.deliveries]
                return None
        what = "the order itself" if first.event_seq is None else f"event {first.event_seq}"
        return self.wait(f"waiting for {what} to reach {self.destination} first ({first.state})", first)

    def products(self, order: Order) -> dict[str, ProductMapping]:
        custom = set(self.state.order.custom_line_ids)
        if not custom:
            return {}
        if self.state.order.designs:
            return self.state.order.designs  # found by the intake, read with the order
        return self.store.get_products_by_external_id(
            [line.external_id for line in order.line_items if line.id in custom]
        )

    def order(self, port: Port) -> Verdict:
        order = Order.model_validate_json(self.state.order.body)
        context = OrderContext(order, set(self.state.order.custom_line_ids), self.products(order))
        try:
            plan = port.orders.plan_order(context)
        except MappingFailed as exc:
            return self.unmappable(exc)
        if plan is None:
            return self.skip("nothing_to_send", "Nothing in this order is for this destination.")
        if self.traits.confirms_by_webhook and (link := _confirmation(port, context, self.state)) is not None:
            logger.info("delivery confirmed by the destination's webhook", extra=self.log)
            return self.confirm(str(link))
        return self.send(plan, confirmable=self.traits.confirms_by_webhook)

    def event(self, port: Port) -> Verdict:
        record = self.record
        own = self.state.delivery(self.destination)
        if record is None or own is None:
            return self.block("event_missing", f"No event {self.message.event_seq} or order delivery is recorded.")
        order, after, events = self.standing(up_to=record.seq)
        event = events[-1]
        has_it = own.state is DeliveryState.DELIVERED
        may_have_it = has_it or own.unanswered_at is not None
        if event.type is EventType.CANCELLED and self.traits.cancellation is Cancellation.BY_HAND:
            if not may_have_it:
                return self.skip("order_not_sent", f"The order itself was never sent to {self.destination}.")
            return self.cancel_by_hand(own)
        if own.state.settled and not has_it:
            return self.skip("order_not_sent", f"The order itself was not sent to {self.destination} ({own.state}).")
        if not has_it:
            return self.block(
                "order_not_delivered",
                f"The order itself never reached {self.destination} ({own.state}): settle it first "
                f"(`signbridge order retry {self.message.order_id}`), then this event goes after it.",
            )
        if port.events is None or event.type not in self.traits.receives:
            return self.skip("not_forwarded", f"{self.traits.title} {self.traits.not_forwarded}")
        earlier = {
            e.event_id: d
            for e in self.state.events
            for d in self.state.event_deliveries
            if d.destination == self.destination and d.event_seq == e.seq and e.seq < record.seq
        }
        context = EventContext(
            order=order,
            custom_line_ids=set(self.state.order.custom_line_ids),
            products=self.products(order),
            event=event,
            record=record,
            before=standing(order, events[:-1]),
            after=after,
            order_delivery=own,
            earlier=earlier,
        )
        try:
            plan = port.events.plan_event(context)
        except MappingFailed as exc:
            return self.unmappable(exc)
        if plan is None:
            return self.skip("nothing_to_send", f"Nothing to send to {self.destination} for this event.")
        return self.send(plan, confirmable=False)

    # ------------------------------------------------------------------ moves without requests
    def _move(self, name: str, verdict: Verdict, **change: Any) -> Verdict:
        """Write one move decided on the read; if the delivery changed meanwhile, look again soon."""
        if self.crash is not None and "unanswered" not in change:
            change["unanswered"] = self.crash  # the dead attempt may have reached the destination
        change.setdefault("lease", None)
        change.setdefault("sending", None)
        change.setdefault("steps_left", None)
        moved = self.store.move(
            self.delivery, name, Change(updated_at=self.at, **change), now=self.now, gen=self.message.gen
        )
        if moved is None:
            logger.info("the delivery changed while this message was handled: looking again", extra=self.log)
            return ComeBack(1, "changed meanwhile")
        return self.wake_next(moved, verdict)

    def wake_next(self, moved: DeliveryRecord, verdict: Verdict) -> Verdict:
        """``verdict``, once what waits for ``moved`` (if it rests now) is woken; if it could not
        be, the message comes back soon to wake it again."""
        if moved.state.resting and wake_next(self.store, moved, self.now) is Wake.FAILED:
            return ComeBack(60, "the next delivery of the order is still to be woken")
        return verdict

    def later(self, name: str, delay: float, error: DeliveryError, **change: Any) -> Verdict:
        delay = max(1.0, delay)
        return self._move(
            name, ComeBack(delay, error.message), error=error, next_attempt_at=self.now + math.ceil(delay), **change
        )

    def wait(self, reason: str, first: DeliveryRecord) -> Verdict:
        """``first``, an earlier delivery to this destination, must rest first: no retry horizon runs.

        The earlier delivery wakes this one the moment it rests (``wake_next``), so this one looks
        again only seldom, for a wake-up that was missed. The two sides cannot miss each other:
        each writes its own move, then reads the other's item (consistently), and the one that
        sees the other's move does the waking."""
        error = DeliveryError(code=WAITING, message=reason)
        moved = self.store.move(
            self.delivery,
            "wait",
            Change(
                updated_at=self.at,
                error=error,
                next_attempt_at=self.now + WAIT_SECONDS,
                retrying_since=None,
                lease=None,
                sending=None,
                steps_left=None,
                unanswered=self.crash if self.crash is not None else KEEP,
            ),
            now=self.now,
            gen=self.message.gen,
        )
        if moved is None:
            return ComeBack(1, "changed meanwhile")
        again = self.store.get_delivery(first.order_id, first.destination, first.event_seq)
        if again is not None and again.state.resting:  # it rested meanwhile, before it could see this wait
            woken = self.store.move(
                moved, "wake", Change(updated_at=self.at, next_attempt_at=None, error=None), now=self.now
            )
            if woken is not None:
                return Done(DeliveryState.PENDING)  # its new message is on its way (the outbox)
        return ComeBack(WAIT_SECONDS, reason)

    def hold(self, code: str, message: str, status: int | None = None) -> Verdict:
        logger.error("delivery held: the destination cannot be used as configured", extra={**self.log, "code": code})
        return self.later("hold", self.schedule.held, DeliveryError(code=code, message=message, status=status))

    def skip(self, code: str, message: str) -> Verdict:
        return self._move("skip", Done(DeliveryState.SKIPPED), error=DeliveryError(code=code, message=message))

    def block(self, code: str, message: str) -> Verdict:
        logger.error("an event cannot be delivered", extra={**self.log, "code": code})
        return self._move("block", Done(DeliveryState.FAILED), error=DeliveryError(code=code, message=message))

    def unmappable(self, exc: MappingFailed) -> Verdict:
        logger.error("cannot be mapped", extra={**self.log, "field": exc.field, "reason": str(exc)})
        error = DeliveryError(code="mapping_failed", message=str(exc), fields={exc.field: [str(exc)]})
        return self._move("unmappable", Done(DeliveryState.FAILED), error=error)

    def confirm(self, reference: str) -> Verdict:
        return self._move(
            "confirm",
            Done(DeliveryState.DELIVERED),
            destination_ref=reference,
            error=None,
            unanswered=None,
            next_attempt_at=None,
        )

    def withdraw(self) -> Verdict:
        """The order was cancelled before this destination (which cannot be told) got it."""
        unanswered = self.crash or (
            (self.delivery.unanswered_at, self.delivery.unanswered_step) if self.delivery.unanswered_at else None
        )
        if unanswered is None:
            return self._move(
                "withdraw",
                Done(DeliveryState.CANCELLED),
                error=DeliveryError(code="order_cancelled", message="The order was cancelled before it was sent."),
            )
        logger.critical("a cancelled order may be at the destination: a person must check", extra=self.log)
        return self._move(
            "withdraw_uncertain",
            Done(DeliveryState.ACTION_REQUIRED),
            error=uncertain_withdrawal(self.traits, self.message.order_id, unanswered[0]),
        )

    def cancel_by_hand(self, own: DeliveryRecord) -> Verdict:
        logger.critical("a person must cancel the order at the destination", extra=self.log)
        if own.state is DeliveryState.DELIVERED:
            where = f"after {self.traits.title} received it (reference {own.destination_ref or 'unknown'})"
        else:
            since = datetime.fromtimestamp(own.unanswered_at or self.now, UTC).isoformat(timespec="seconds")
            where = f"after an attempt to send it at {since} went unanswered: {self.traits.title} may have it"
        error = DeliveryError(
            code=CANCEL_BY_HAND,
            message=f"The order was cancelled (event {self.event_id}) {where}. {self.traits.title} has no cancel "
            f"endpoint: cancel it there by hand, then run `signbridge cancellations done {self.message.order_id}`.",
        )
        return self._move("cancel_by_hand", Done(DeliveryState.ACTION_REQUIRED), error=error)

    def doubt(self, since: int, step: str | None, reason: str, steps_left: int | None = None) -> Verdict:
        """A step that must not be sent twice may have reached the destination: no resend."""
        confirmable = self.traits.confirms_by_webhook and self.message.event_seq is None
        error = in_doubt_error(self.message.order_id, self.destination, self.event_id, step, reason, confirmable)
        logger.critical("delivery in doubt", extra={**self.log, "step": step})
        until = since + self.forwarder.policy.in_doubt_grace_seconds if confirmable else None
        verdict: Verdict = Done(DeliveryState.IN_DOUBT)
        if until is not None and until > self.now:
            verdict = ComeBack(until - self.now, "waiting for the destination's confirmation")
        return self._move(
            "doubt",
            verdict,
            error=error,
            unanswered=(since, step),
            next_attempt_at=until if until else None,
            steps_left=steps_left,
        )

    def look_again(self) -> Verdict:
        """In doubt: confirmed meanwhile, still within the grace, or now for an operator."""
        d = self.delivery
        if self.traits.confirms_by_webhook and self.message.event_seq is None and self.state.sc_orders:
            try:
                port = self.forwarder.resolve(self.destination)
            except DestinationUnavailable:
                port = None
            link = _confirmation(port, _order_context(self.state, {}), self.state) if port else None
            if link is not None:
                return self.confirm(str(link))
        if d.next_attempt_at is None:
            return Done(d.state)  # already waiting for an operator
        if d.next_attempt_at > self.now:
            return ComeBack(d.next_attempt_at - self.now, "waiting for the destination's confirmation")
        error = in_doubt_error(
            self.message.order_id, self.destination, self.event_id, d.unanswered_step, "no confirmation came", False
        )
        return self._move("look_again", Done(d.state), error=error, next_attempt_at=None, steps_left=KEEP)

    # ------------------------------------------------------------------ the attempt
    def send(self, plan: Plan, confirmable: bool) -> Verdict:
        steps = plan.remaining(self.delivery.acked_steps)
        if not steps:
            return self.confirm(self.delivery.destination_ref or "acknowledged")
        # An unanswered attempt that names no step (an item an older version wrote) may have been this one.
        unanswered = self.crash is not None or self.delivery.unanswered_at is not None
        unanswered_step = self.crash[1] if self.crash else self.delivery.unanswered_step
        if not steps[0].resend_safe and unanswered and unanswered_step in (None, steps[0].name):
            since = self.crash[0] if self.crash else (self.delivery.unanswered_at or self.now)
            return self.doubt(since, steps[0].name, "an earlier attempt was never answered", len(steps) - 1)
        self.attempt_id = uuid.uuid4().hex
        claimed = self.store.move(
            self.delivery,
            "claim",
            Change(
                updated_at=self.at,
                lease=(self.attempt_id, self.now + self.lease),
                count_attempt=True,
                sending=SendingStep(steps[0].name, steps[0].resend_safe, len(steps) - 1, self.now),
                unanswered=self.crash if self.crash else KEEP,
            ),
            now=self.now,
            gen=self.message.gen,
        )
        if claimed is None:
            # The write may have landed and only its answer been lost (the client retried it):
            # if the lease is this attempt's, the attempt goes on; otherwise someone else moved it.
            current = self.store.get_delivery(self.message.order_id, self.destination, self.message.event_seq)
            if current is None or current.attempt_id != self.attempt_id:
                return ComeBack(1, "changed meanwhile")
            claimed = current
        self.delivery = claimed
        for index, step in enumerate(steps):
            outcome = step.send()
            following = steps[index + 1] if index + 1 < len(steps) else None
            if following is not None and isinstance(outcome, Accepted | Duplicate):
                if not self.acknowledge(step, following, len(steps) - index - 2):
                    return ComeBack(1, "lease lost")
                continue
            return self.answered(step, outcome, confirmable)
        raise AssertionError("unreachable: the last step's answer returns")

    def _answer(self, name: str, verdict: Verdict, **change: Any) -> Verdict:
        """Record an answer as the attempt's move (conditional on its lease)."""
        change.setdefault("lease", None)
        change.setdefault("sending", None)
        change.setdefault("steps_left", None)
        _, at = self.forwarder.now()
        moved = self.store.move(
            self.delivery, name, Change(updated_at=at, **change), now=self.now, attempt_id=self.attempt_id
        )
        if moved is None:
            logger.warning("lease lost before the answer was recorded", extra=self.log)
        else:
            self.delivery = moved
            return self.wake_next(moved, verdict)
        return verdict

    def acknowledge(self, step: Step, following: Step, left: int) -> bool:
        """A step answered, the next about to be sent: one write says both (the lease is kept)."""
        now, at = self.forwarder.now()
        forget = self.delivery.unanswered_step == step.name
        moved = self.store.move(
            self.delivery,
            "acknowledged",
            Change(
                updated_at=at,
                acknowledged=step.name,
                sending=SendingStep(following.name, following.resend_safe, left, now),
                unanswered=None if forget else KEEP,
            ),
            now=now,
            attempt_id=self.attempt_id,
        )
        if moved is None:
            logger.warning("lease lost between two steps", extra={**self.log, "step": step.name})
            return False
        self.delivery = moved
        return True

    def answered(self, step: Step, outcome: Outcome, confirmable: bool) -> Verdict:
        log = {**self.log, "step": step.name}
        match outcome:
            case Accepted(reference) | Duplicate(reference):
                if isinstance(outcome, Duplicate):
                    count("DeliveryDuplicate")
                logger.info("delivered", extra={**log, "reference": reference})
                return self._answer(
                    "delivered",
                    Done(DeliveryState.DELIVERED),
                    destination_ref=reference,
                    acknowledged=step.name,
                    error=None,
                    unanswered=None,
                    next_attempt_at=None,
                    retrying_since=None,
                )
            case Rejected(status, message, fields):
                logger.error("destination refused the request", extra={**log, "status": status, "fields": fields})
                error = DeliveryError(code="rejected", message=message, status=status, fields=fields)
                return self._answer("rejected", Done(DeliveryState.FAILED), error=error)
            case AuthRejected(status, message):
                count("DeliveryHeld")
                error = DeliveryError(code="auth_rejected", message=message, status=status)
                delay = max(1.0, self.schedule.held)
                return self._answer(
                    "refused_key", ComeBack(delay, message), error=error, next_attempt_at=self.now + math.ceil(delay)
                )
            case Transient(message, status, retry_after, maybe_delivered):
                # A 5xx may come from a gateway after the application acted: the answer is unknown.
                unanswered = maybe_delivered or (status or 0) >= 500
                if unanswered and not step.resend_safe:
                    return self.unanswered(step, f"the attempt was not answered clearly ({message})", confirmable)
                fact = (self.now, step.name) if unanswered and self.delivery.unanswered_at is None else KEEP
                return self.retry(message, status, retry_after, fact)
        raise AssertionError(f"unhandled outcome {outcome!r}")

    def unanswered(self, step: Step, reason: str, confirmable: bool) -> Verdict:
        error = in_doubt_error(self.message.order_id, self.destination, self.event_id, step.name, reason, confirmable)
        logger.critical("delivery in doubt", extra={**self.log, "step": step.name})
        until = self.now + self.forwarder.policy.in_doubt_grace_seconds if confirmable else None
        verdict: Verdict = Done(DeliveryState.IN_DOUBT)
        if until is not None and until > self.now:
            verdict = ComeBack(until - self.now, "waiting for the destination's confirmation")
        return self._answer(
            "unanswered",
            verdict,
            error=error,
            unanswered=(self.now, step.name),
            next_attempt_at=until,
            # How many steps follow the one in doubt: an operator's --delivered sends them next.
            steps_left=self.delivery.steps_left,
        )

    def retry(self, message: str, status: int | None, retry_after: float | None, fact: Any) -> Verdict:
        error = DeliveryError(code="transient", message=message, status=status)
        since = self.delivery.retrying_since or self.now
        wait = next_wait(since, self.now, self.schedule, retry_after, self.forwarder.rng)
        if wait is None:
            logger.error("still failing at the end of the retry horizon", extra={**self.log, "reason": message})
            error = error.model_copy(
                update={"code": "retries_exhausted", "message": f"still failing after the retry horizon: {message}"}
            )
            return self._answer("exhausted", Done(DeliveryState.FAILED), error=error, unanswered=fact)
        logger.warning("delivery will be retried", extra={**self.log, "reason": message, "delay": wait})
        delay = max(1.0, wait)
        return self._answer(
            "retry",
            ComeBack(delay, message),
            error=error,
            next_attempt_at=self.now + math.ceil(delay),
            retrying_since=since,
            unanswered=fact,
        )
