"""Deliver one order to one destination, exactly once, however long the destination fails.

The delivery item's lease (a conditional write) keeps two workers from sending at once, and its
message generation keeps one live queue message per delivery. The destinations' own duplicate
rules (Dropday by external_id, Onward by shop_order_id) make a resend after an unanswered
attempt harmless. Sign Customiser documents no duplicate rule: an attempt whose answer we never
heard puts its delivery in doubt, and only its own order:created webhook (matched against what
we sent) or an operator settles it; it is never resent by itself.

Waits are carried by SQS (the message's visibility), never by sleeping. What moves a delivery:

- accepted / duplicate → delivered; nothing for this destination → skipped
- refused for its content (4xx), or the order cannot be mapped → failed (alarmed)
- unconfigured, credentials missing, unreadable or refused (401/403/404) → held: retried every
  ``held`` seconds for as long as it takes; no retry horizon runs while held
- 429 / 5xx / timeouts → retrying, with backoff, until the retry horizon → failed (alarmed)
- Sign Customiser with an unknown outcome → in doubt (see above)

The same rule holds for any request that says a resend is not safe (``resend_safe`` False: Onward's
shipment events, for which it documents no duplicate rule): an unanswered attempt (a timeout after
sending, a dropped connection, a 5xx, a worker that died after ``sent_at``) puts the delivery in
doubt at once, with no confirmation to wait for, until an operator settles it.

An order event (paid, cancelled, refunded, fulfilled, shipment_updated) is delivered the same
way, as a delivery of its own (its message names the event's ``event_seq``), with two rules of
order: it waits (as retrying, without a retry horizon) until the order's own delivery to that
destination and the event before it there have settled; and an event whose order never reached
the destination fails, or is skipped if the order was never to go there. A destination may
answer an event with "a person must act" (a cancellation Dropday cannot receive): the delivery
is action_required.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from signbridge.logic.order_events import parse_events, standing
from signbridge.logic.outbox import DeliveryMessage
from signbridge.mappers.errors import MappingFailed
from signbridge.models.events import OrderEvent, OrderStanding
from signbridge.models.items import (
    DeliveryError,
    DeliveryRecord,
    DeliveryState,
    OrderEventRecord,
    ProductMapping,
    ScOrderLink,
)
from signbridge.models.order import Order
from signbridge.observability import count, logger
from signbridge.outcomes import Accepted, AuthRejected, Duplicate, Outcome, Rejected, Transient
from signbridge.settings import RetrySchedule
from signbridge.store import KEEP, Claim, DeliveryChange, OrderState, Store


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
    # This destination's deliveries of the order's earlier events, by the platform's event id (each settled).
    earlier: dict[str, DeliveryRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionRequired:
    """Nothing can be sent for this event: a person must act (``metric`` counts it, for an alarm)."""

    code: str
    message: str
    metric: str


class DestinationPort(Protocol):
    name: str
    # True when the destination has no duplicate rule: an unanswered attempt must be confirmed
    # by its own order:created webhook (or an operator), never resent.
    confirms_by_webhook: bool

    def prepare(self, context: OrderContext) -> BaseModel | None: ...

    def send(self, request: Any) -> Outcome: ...

    def confirms(self, request: Any, link: ScOrderLink) -> bool:
        """Whether the destination's own record ``link`` is the order ``request`` would create."""
        ...

    def prepare_event(self, context: EventContext) -> Any:
        """What to send for an order event: a request, an ActionRequired, or None (nothing)."""
        ...

    def send_event(self, request: Any) -> Outcome: ...


def resend_safe(request: Any) -> bool:
    """Whether sending ``request`` again after an unanswered attempt is harmless (the destination's
    duplicate rule, or a body that carries the whole state). A request says so with ``resend_safe``;
    one that says nothing is safe, as every order create to a destination with a duplicate rule is."""
    return bool(getattr(request, "resend_safe", True))


class DestinationUnavailable(Exception):
    """The destination is routed but cannot be used as configured: its deliveries are held."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# Builds a destination's port from its current settings and credentials (re-read, so a key added
# or rotated later is used without a redeploy); raises DestinationUnavailable.
DestinationResolver = Callable[[str], DestinationPort]


class RetryLater(Exception):
    """The message should come back after ``delay`` seconds."""

    def __init__(self, delay: float, reason: str):
        super().__init__(reason)
        self.delay = delay


@dataclass
class Policy:
    schedule: Callable[[str], RetrySchedule]
    lease_seconds: int
    in_doubt_grace_seconds: int


def backoff_seconds(
    elapsed: float, schedule: RetrySchedule, retry_after: float | None, rng: Callable[[], float]
) -> float:
    """The wait before the next attempt of a run of transient failures that began ``elapsed``
    seconds ago: about as long again as the run has lasted (so the waits double), from ``base``
    up to ``cap``, with equal jitter (half fixed, half random: the schedule stays predictable),
    and never sooner than the destination's Retry-After.
    """
    step = min(schedule.cap, max(schedule.base, elapsed))
    delay = step / 2 + step / 2 * rng()
    if retry_after is not None:
        delay = max(delay, min(retry_after, 43_200))
    return delay


def attempt_times(schedule: RetrySchedule, jitter: float = 1.0) -> list[float]:
    """When the attempts of a run of transient failures are made, in seconds from the first, up
    to the horizon (the forwarder's own arithmetic, with the jitter fixed): for the README and tests."""
    times = [0.0]
    while times[-1] < schedule.horizon:
        wait = backoff_seconds(times[-1], schedule, None, lambda: jitter)
        times.append(min(times[-1] + max(1.0, wait), schedule.horizon))
    return times


class Forwarder:
    def __init__(
        self,
        store: Store,
        resolve: DestinationResolver,
        policy: Policy,
        clock: Callable[[], float] | None = None,
        rng: Callable[[], float] = random.random,
    ):
        self.store = store
        self.resolve = resolve
        self.policy = policy
        self.clock = clock or (lambda: datetime.now(UTC).timestamp())
        self.rng = rng

    def _now(self) -> tuple[int, str]:
        now = self.clock()
        return int(now), datetime.fromtimestamp(now, UTC).isoformat()

    def deliver(self, message: DeliveryMessage, lease_seconds: int | None = None) -> DeliveryState:
        """Make one attempt; return the state reached (the message is done), or raise RetryLater."""
        order_id, destination = message.order_id, message.destination
        log = {"order_id": order_id, "destination": destination}
        now, at = self._now()
        attempt_id = uuid.uuid4().hex
        lease = lease_seconds or self.policy.lease_seconds
        claim = self.store.claim_delivery(
            order_id, destination, attempt_id, now, lease, at, message.gen, message.event_seq
        )
        if claim is None:
            return self._not_claimed(message, now)
        attempt = _Attempt(self, claim, message, now)
        if claim.crashed and message.event_seq is not None:
            # The last attempt said it was sending an event's request that must not be sent
            # twice, then died. Nothing can confirm an event: it is in doubt, before anything
            # (waiting for an earlier event, failing) could release the lease and forget it.
            # Its platform id goes into the resolve command the operator is given.
            crashed_state = self.store.get_order_state(order_id)
            attempt.event_id = next(
                (e.event_id for e in (crashed_state.events if crashed_state else []) if e.seq == message.event_seq),
                None,
            )
            return attempt.doubt(claim.delivery.sent_at or now, "an earlier attempt was never answered", False)

        try:
            port = self.resolve(destination)
        except DestinationUnavailable as exc:
            return attempt.hold(exc.code, exc.message)

        state = self.store.get_order_state(order_id)
        if state is None:
            logger.error("delivery of an order that does not exist", extra=log)
            count("DeliveryErrored")
            return attempt.finish(
                DeliveryState.FAILED, error=DeliveryError(code="order_missing", message="order not found")
            )
        if message.event_seq is not None:
            return self._deliver_event(attempt, port, state, message.event_seq)
        order = Order.model_validate_json(state.order.body)
        custom = set(state.order.custom_line_ids)
        products = self._designs(order, custom)
        try:
            request = port.prepare(OrderContext(order, custom, products))
        except MappingFailed as exc:
            return attempt.unmappable(exc)
        if request is None:
            return attempt.nothing_to_send("Nothing in this order is for this destination.")

        if port.confirms_by_webhook:
            confirmation = next((link for link in state.sc_orders if port.confirms(request, link)), None)
            if confirmation is not None:
                # The destination's own order:created names this very order: it has it.
                logger.info("delivery confirmed by the destination's webhook", extra=log)
                count("DeliveryConfirmed")
                return attempt.finish(DeliveryState.DELIVERED, ref=str(confirmation.sc_order_id), in_doubt_since=None)
            if (stopped := attempt.before_unsafe_send(confirmable=True)) is not None:
                return stopped
        if claim.delivery.state is DeliveryState.IN_DOUBT:
            # Only a destination without a duplicate rule is ever left in doubt; should one be
            # left by an older version, a resend is what its duplicate rule makes safe.
            logger.info("resending after an unanswered attempt", extra=log)

        outcome = port.send(request)
        return attempt.settle(outcome, port.confirms_by_webhook)

    def _deliver_event(self, attempt: _Attempt, port: DestinationPort, state: OrderState, seq: int) -> DeliveryState:
        destination = attempt.message.destination
        record = next((e for e in state.events if e.seq == seq), None)
        if record is None:
            return attempt.finish(
                DeliveryState.FAILED, error=DeliveryError(code="event_missing", message=f"no event {seq} recorded")
            )
        own = next((d for d in state.deliveries if d.destination == destination), None)
        earlier = [
            d
            for d in [own, *state.event_deliveries]
            if d is not None and d.destination == destination and (d.event_seq or 0) < seq
        ]
        unsettled = [d for d in earlier if not d.state.terminal]
        if unsettled:
            first = unsettled[0]
            what = "the order itself" if first.event_seq is None else f"event {first.event_seq}"
            # Behind a delivery in doubt only an operator moves things on: look again less often.
            delay = attempt.schedule.held if first.state is DeliveryState.IN_DOUBT else None
            return attempt.wait(f"waiting for {what} to reach {destination} first ({first.state})", delay)
        if own is None or own.state in (DeliveryState.SKIPPED, DeliveryState.CANCELLED):
            return attempt.finish(
                DeliveryState.SKIPPED,
                error=DeliveryError(code="order_not_sent", message=f"The order itself was not sent to {destination}."),
            )
        if own.state is not DeliveryState.DELIVERED:
            return attempt.finish(
                DeliveryState.FAILED,
                error=DeliveryError(
                    code="order_not_delivered",
                    message=f"The order itself never reached {destination} ({own.state}): "
                    "settle it first, then retry this event.",
                ),
            )
        order = Order.model_validate_json(state.order.body)
        events = parse_events(state, up_to=seq)
        custom = set(state.order.custom_line_ids)
        products = self._designs(order, custom)
        context = EventContext(
            order=order,
            custom_line_ids=custom,
            products=products,
            event=events[-1],
            record=record,
            before=standing(order, events[:-1]),
            after=standing(order, events),
            order_delivery=own,
            earlier={e.event_id: d for e in state.events for d in earlier if d.event_seq == e.seq},
        )
        try:
            request = port.prepare_event(context)
        except MappingFailed as exc:
            return attempt.unmappable(exc)
        if request is None:
            return attempt.nothing_to_send(f"Nothing to send to {destination} for this event.")
        if isinstance(request, ActionRequired):
            count(request.metric)
            logger.critical("a person must act on an order event", extra={**attempt.log, "code": request.code})
            return attempt.finish(
                DeliveryState.ACTION_REQUIRED, error=DeliveryError(code=request.code, message=request.message)
            )
        safe = resend_safe(request)
        if not safe:
            attempt.event_id = record.event_id
            if (stopped := attempt.before_unsafe_send(confirmable=False)) is not None:
                return stopped
        return attempt.settle(port.send_event(request), confirms_by_webhook=False, safe_to_resend=safe)

    def _designs(self, order: Order, custom: set[str]) -> dict[str, ProductMapping]:
        """The stored Sign Customiser designs of the order's customised lines."""
        if not custom:
            return {}
        return self.store.get_products_by_external_id(
            [line.external_id for line in order.line_items if line.id in custom]
        )

    def _not_claimed(self, message: DeliveryMessage, now: int) -> DeliveryState:
        current = self.store.get_delivery(message.order_id, message.destination, message.event_seq)
        log = {"order_id": message.order_id, "destination": message.destination, "gen": message.gen}
        if current is None:
            logger.error("message for an unknown delivery", extra=log)
            count("DeliveryErrored")
            return DeliveryState.FAILED
        if current.gen != message.gen:
            logger.info("stale message dropped: the delivery has a newer one", extra=log)
            return current.state
        if current.state.terminal:
            return current.state  # a redelivered message: already settled
        if current.next_attempt_at is not None and current.next_attempt_at > now and not current.lease_until:
            # Early (a replacement message's delay is capped at 15 min): the schedule still holds.
            raise RetryLater(current.next_attempt_at - now, "not due yet")
        # Another attempt holds the lease: a duplicate delivery of the message, or a worker that
        # died mid-attempt. Come back once the lease has expired (then the claim sees the crash).
        raise RetryLater(max(1, (current.lease_until or now) - now + 1), "another attempt holds the lease")

    def confirm_in_doubt(self, delivery: DeliveryRecord) -> bool:
        """Settle an in-doubt delivery whose destination has since confirmed it (the sweeper)."""
        try:
            port = self.resolve(delivery.destination)
        except DestinationUnavailable:
            return False
        state = self.store.get_order_state(delivery.order_id)
        if state is None or not state.sc_orders or not port.confirms_by_webhook:
            return False
        order = Order.model_validate_json(state.order.body)
        custom = set(state.order.custom_line_ids)
        request = port.prepare(OrderContext(order, custom, {}))
        link = next((link for link in state.sc_orders if request is not None and port.confirms(request, link)), None)
        if link is None:
            return False
        _, at = self._now()
        return self.store.resolve_delivered(delivery.order_id, delivery.destination, at, str(link.sc_order_id))


class _Attempt:
    """One claimed attempt: records its outcome and decides when the message comes back."""

    def __init__(self, forwarder: Forwarder, claim: Claim, message: DeliveryMessage, now: int):
        self.forwarder = forwarder
        self.claim = claim
        self.message = message
        self.now = now
        self.schedule = forwarder.policy.schedule(message.destination)
        self.event_id: str | None = None  # the platform's id of the event this attempt delivers
        # An earlier attempt said it was sending and died: until this delivery is settled, every
        # outcome recorded keeps that (as in_doubt_since), so holding or waiting before the
        # send check never forgets it and a later attempt never sends again by itself.
        self.unanswered_since = (claim.delivery.sent_at or now) if claim.crashed else None
        self.log = {
            "order_id": message.order_id,
            "destination": message.destination,
            "attempt": claim.delivery.attempts + 1,
        }

    def finish(
        self,
        state: DeliveryState,
        *,
        ref: str | None = None,
        error: DeliveryError | None = None,
        next_attempt_at: int | None = None,
        in_doubt_since: Any = KEEP,
        retrying_since: Any = None,
    ) -> DeliveryState:
        _, at = self.forwarder._now()
        if in_doubt_since is KEEP and self.unanswered_since is not None:
            in_doubt_since = self.unanswered_since
        change = DeliveryChange(
            state=state,
            updated_at=at,
            due_at=next_attempt_at if next_attempt_at is not None else self.now,
            destination_ref=ref,
            error=error,
            clear_error=state is DeliveryState.DELIVERED,
            next_attempt_at=next_attempt_at,
            retrying_since=retrying_since,
            in_doubt_since=None if state.settled else in_doubt_since,
        )
        # The event's key part only when there is one: an order's delivery is recorded as before.
        event = {} if self.message.event_seq is None else {"event_seq": self.message.event_seq}
        if not self.forwarder.store.finish_attempt(
            self.message.order_id, self.message.destination, self.claim.attempt_id, change, **event
        ):
            logger.warning("lease lost before the outcome was recorded", extra=self.log)
        return state

    def unmappable(self, exc: MappingFailed) -> DeliveryState:
        """The request cannot be expressed in the destination's format: failed, naming the field."""
        count("DeliveryMappingFailed")
        logger.error("cannot be mapped", extra={**self.log, "field": exc.field, "reason": str(exc)})
        return self.finish(
            DeliveryState.FAILED,
            error=DeliveryError(code="mapping_failed", message=str(exc), fields={exc.field: [str(exc)]}),
        )

    def nothing_to_send(self, message: str) -> DeliveryState:
        return self.finish(DeliveryState.SKIPPED, error=DeliveryError(code="nothing_to_send", message=message))

    def later(self, state: DeliveryState, delay: float, error: DeliveryError, **changes: Any) -> DeliveryState:
        delay = max(1.0, delay)
        self.finish(state, error=error, next_attempt_at=self.now + math.ceil(delay), **changes)
        raise RetryLater(delay, error.message)

    def wait(self, reason: str, delay: float | None = None) -> DeliveryState:
        """An earlier delivery to this destination must settle first: back soon, no retry horizon."""
        return self.later(
            DeliveryState.RETRYING,
            self.schedule.base if delay is None else delay,
            DeliveryError(code="waiting_for_earlier", message=reason),
            retrying_since=None,
        )

    def hold(self, code: str, message: str, status: int | None = None) -> DeliveryState:
        count("DeliveryHeld")
        logger.error("delivery held: the destination cannot be used as configured", extra={**self.log, "code": code})
        return self.later(
            DeliveryState.HELD, self.schedule.held, DeliveryError(code=code, message=message, status=status)
        )

    def before_unsafe_send(self, confirmable: bool) -> DeliveryState | None:
        """Before sending a request that must not reach the destination twice: an earlier attempt
        never answered puts the delivery in doubt (the state reached); otherwise this attempt says
        it is sending, and None lets it send."""
        delivery = self.claim.delivery
        # An unanswered attempt stays unanswered whatever happened since (held for a while, a
        # retry or replay by an operator): only `order resolve --resend` forgets it.
        if self.claim.crashed or delivery.in_doubt_since is not None:
            since = delivery.in_doubt_since or self.unanswered_since or self.now
            return self.doubt(since, "an earlier attempt was never answered", confirmable=confirmable)
        # Say "this attempt is sending" before sending: a worker that dies before this line
        # sent nothing, and its delivery is not put in doubt.
        event = {} if self.message.event_seq is None else {"event_seq": self.message.event_seq}
        if not self.forwarder.store.mark_sent(
            self.message.order_id, self.message.destination, self.claim.attempt_id, self.now, **event
        ):
            logger.warning("lease lost before sending", extra=self.log)
            return delivery.state
        return None

    def doubt(self, since: int, reason: str, confirmable: bool = True) -> DeliveryState:
        """No resend: wait for the destination's confirmation (when it can confirm), then stay in
        doubt for an operator."""
        order_id, destination = self.message.order_id, self.message.destination
        if not confirmable:
            count("DeliveryInDoubt")
            logger.critical("delivery in doubt: an operator must settle it", extra=self.log)
            event = f" --event {self.event_id}" if self.event_id else ""
            error = DeliveryError(
                code="in_doubt",
                message=f"{reason}; the destination may have it and documents no duplicate rule, so it is not "
                f"resent. Check the destination, then run "
                f"`signbridge order resolve {order_id} {destination}{event} --delivered|--resend`.",
            )
            return self.finish(DeliveryState.IN_DOUBT, error=error, in_doubt_since=since)
        error = DeliveryError(
            code="in_doubt",
            message=f"{reason}; the destination may have the order. Waiting for its order:created webhook.",
        )
        remaining = since + self.forwarder.policy.in_doubt_grace_seconds - self.now
        if remaining > 0:
            return self.later(DeliveryState.IN_DOUBT, remaining, error, in_doubt_since=since)
        count("DeliveryInDoubt")
        logger.critical("delivery in doubt: an operator must settle it", extra=self.log)
        error = error.model_copy(
            update={
                "message": f"{reason}, and no confirmation came. Check the destination, then run "
                f"`signbridge order resolve {order_id} {destination} --delivered|--resend`."
            }
        )
        return self.finish(DeliveryState.IN_DOUBT, error=error, in_doubt_since=since)

    def settle(self, outcome: Outcome, confirms_by_webhook: bool, safe_to_resend: bool = True) -> DeliveryState:
        """``confirms_by_webhook``: an unanswered attempt waits for the destination's confirmation;
        ``safe_to_resend`` False: an unanswered attempt goes straight to an operator. Either way it
        is never resent by itself."""
        match outcome:
            case Accepted(reference) | Duplicate(reference):
                name = "DeliveryDelivered" if isinstance(outcome, Accepted) else "DeliveryDuplicate"
                count(name)
                logger.info("delivered", extra={**self.log, "reference": reference, "duplicate": name})
                return self.finish(DeliveryState.DELIVERED, ref=reference, in_doubt_since=None)
            case Rejected(status, message, fields):
                count("DeliveryRejected")
                logger.error("destination rejected the order", extra={**self.log, "status": status, "fields": fields})
                return self.finish(
                    DeliveryState.FAILED,
                    error=DeliveryError(code="rejected", message=message, status=status, fields=fields),
                )
            case AuthRejected(status, message):
                count("DeliveryAuthRejected")
                return self.hold("auth_rejected", message, status)
            case Transient(message, status, retry_after, maybe_delivered):
                unanswered = maybe_delivered or (status or 0) >= 500
                if (confirms_by_webhook or not safe_to_resend) and unanswered:
                    # A 5xx may come from a gateway after the application acted: unknown outcome.
                    return self.doubt(
                        self.now, f"the attempt was not answered clearly ({message})", confirmable=confirms_by_webhook
                    )
                return self.retry(message, status, retry_after)
        raise AssertionError(f"unhandled outcome {outcome!r}")

    def retry(self, message: str, status: int | None, retry_after: float | None) -> DeliveryState:
        error = DeliveryError(code="transient", message=message, status=status)
        since = self.claim.delivery.retrying_since or self.now
        if self.now - since >= self.schedule.horizon:
            count("DeliveryExhausted")
            logger.error(
                "delivery still failing at the end of the retry horizon", extra={**self.log, "reason": message}
            )
            return self.finish(
                DeliveryState.FAILED,
                error=error.model_copy(
                    update={"code": "retries_exhausted", "message": f"still failing after the retry horizon: {message}"}
                ),
                retrying_since=since,
            )
        count("DeliveryRetried")
        delay = backoff_seconds(self.now - since, self.schedule, retry_after, self.forwarder.rng)
        delay = min(delay, max(1.0, since + self.schedule.horizon - self.now))  # one last try at the horizon
        if retry_after is not None:
            delay = max(delay, min(retry_after, 43_200))
        logger.warning("delivery will be retried", extra={**self.log, "reason": message, "delay": delay})
        return self.later(DeliveryState.RETRYING, delay, error, retrying_since=since)
