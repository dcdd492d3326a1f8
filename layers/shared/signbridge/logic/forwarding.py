"""Deliver one order to one destination, exactly once.

The delivery item's lease (a conditional write) keeps two workers from sending at once; the
destinations' own duplicate rules (Dropday by external_id, Onward by shop_order_id) make a
resend after a crash harmless; for Sign Customiser, which documents no duplicate rule, an
attempt whose outcome was never heard first waits for Sign Customiser's own order:created
webhook to confirm it before anything is sent again.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from signbridge.clients.outcomes import Accepted, AuthRejected, Duplicate, Outcome, Rejected, Transient
from signbridge.mappers.errors import MappingFailed
from signbridge.models.items import DeliveryError, DeliveryState, ProductMapping
from signbridge.models.order import Order
from signbridge.observability import logger, metrics
from signbridge.store.table import Store


@dataclass
class OrderContext:
    order: Order
    custom_line_ids: set[str]
    products: dict[str, ProductMapping]


class DestinationPort(Protocol):
    name: str
    # True when a resend must first look for the destination's own confirmation (no duplicate rule).
    confirms_by_webhook: bool

    def prepare(self, context: OrderContext) -> BaseModel | None: ...

    def send(self, request: Any) -> Outcome: ...


class RetryLater(Exception):
    """The message should come back after ``delay`` seconds."""

    def __init__(self, delay: int, reason: str):
        super().__init__(reason)
        self.delay = delay


@dataclass
class Policy:
    max_attempts: int
    retry_base_seconds: int
    retry_max_seconds: int
    lease_seconds: int
    in_doubt_grace_seconds: int


def backoff_seconds(attempt: int, policy: Policy, retry_after: float | None, rng: Callable[[], float]) -> int:
    """Exponential backoff with full jitter, never sooner than the destination's Retry-After.

    The wait is carried out by SQS (the message's visibility), not by sleeping, so no retry
    library applies here; the formula is AWS's "full jitter".
    """
    ceiling = min(policy.retry_max_seconds, policy.retry_base_seconds * 2 ** max(0, attempt - 1))
    delay = ceiling * rng()
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.retry_max_seconds))
    return math.ceil(delay)  # rounding down could come back before Retry-After


class Forwarder:
    def __init__(
        self,
        store: Store,
        destinations: dict[str, DestinationPort | None],
        policy: Policy,
        clock: Callable[[], float] | None = None,
        rng: Callable[[], float] = random.random,
    ):
        self.store = store
        self.destinations = destinations
        self.policy = policy
        self.clock = clock or (lambda: datetime.now(UTC).timestamp())
        self.rng = rng

    def _now(self) -> tuple[int, str]:
        now = self.clock()
        return int(now), datetime.fromtimestamp(now, UTC).isoformat()

    def deliver(self, order_id: str, destination: str, receive_count: int) -> DeliveryState:
        """Make one attempt; return the state reached, or raise RetryLater."""
        now, at = self._now()
        attempt_id = uuid.uuid4().hex
        claim = self.store.claim_delivery(order_id, destination, attempt_id, now, self.policy.lease_seconds, at)
        if claim is None:
            current = self.store.get_delivery(order_id, destination)
            if current is None:
                logger.error(
                    "message for an unknown delivery", extra={"order_id": order_id, "destination": destination}
                )
                return DeliveryState.FAILED
            if current.state.terminal:
                return current.state  # a duplicate message: already settled
            # Another attempt holds the lease. This may be a duplicate, or the message of a worker
            # that died mid-attempt: come back when the lease has expired (then the delivery is
            # in doubt). Were this the last receive, the DLQ and its alarm take it from here.
            wait = max(1, (current.lease_until or now) - now + 1)
            raise RetryLater(wait, "another attempt holds the lease")

        def finish(
            state: DeliveryState, ref: str | None = None, error: DeliveryError | None = None, in_doubt: bool = False
        ) -> DeliveryState:
            finished, finished_at = self._now()
            if not self.store.finish_attempt(
                order_id,
                destination,
                attempt_id,
                state,
                finished_at,
                ref,
                error,
                in_doubt_at=finished if in_doubt else None,
            ):
                logger.warning(
                    "lease lost before the outcome was recorded",
                    extra={"order_id": order_id, "destination": destination},
                )
            return state

        port = self.destinations.get(destination)
        if port is None:
            return finish(
                DeliveryState.SKIPPED,
                error=DeliveryError(
                    code="destination_disabled", message=f"{destination} is not configured (no credentials)."
                ),
            )

        state = self.store.get_order_state(order_id)
        if state is None:
            return finish(DeliveryState.FAILED, error=DeliveryError(code="order_missing", message="order not found"))

        if port.confirms_by_webhook and state.sc_order_ids:
            # The destination's own order:created names this order: it has it, whatever we heard.
            logger.info("delivery confirmed by order:created", extra={"order_id": order_id, "destination": destination})
            return finish(DeliveryState.DELIVERED, ref=str(state.sc_order_ids[0]))
        if claim.was_in_doubt and port.confirms_by_webhook:
            waited = now - (claim.delivery.in_doubt_since or now)
            if waited < self.policy.in_doubt_grace_seconds:
                error = DeliveryError(
                    code="awaiting_confirmation",
                    message="An earlier attempt may have reached the destination; waiting for its webhook.",
                )
                if receive_count >= self.policy.max_attempts:
                    # The message goes to the DLQ now; say so, and keep the doubt for a redrive.
                    finish(DeliveryState.FAILED, error=error.model_copy(update={"code": "unconfirmed"}))
                    raise RetryLater(0, "attempts exhausted while awaiting confirmation: to the DLQ")
                finish(DeliveryState.RETRYING, error=error)
                raise RetryLater(self.policy.in_doubt_grace_seconds - waited, "awaiting confirmation")

        order = Order.model_validate_json(state.order.body)
        custom = set(state.order.custom_line_ids)
        products = (
            self.store.get_products_by_external_id([line.external_id for line in order.line_items if line.id in custom])
            if custom
            else {}
        )
        try:
            request = port.prepare(OrderContext(order, custom, products))
        except MappingFailed as exc:
            metrics.add_metric(name="DeliveryRejected", unit="Count", value=1)
            logger.error(
                "order cannot be mapped",
                extra={"order_id": order_id, "destination": destination, "field": exc.field, "reason": str(exc)},
            )
            return finish(
                DeliveryState.FAILED,
                error=DeliveryError(code="mapping_failed", message=str(exc), fields={exc.field: [str(exc)]}),
            )
        if request is None:
            return finish(
                DeliveryState.SKIPPED,
                error=DeliveryError(code="nothing_to_send", message="Nothing in this order is for this destination."),
            )

        outcome = port.send(request)
        return self._settle(order_id, destination, outcome, claim.delivery.attempts, receive_count, finish)

    def _settle(
        self,
        order_id: str,
        destination: str,
        outcome: Outcome,
        attempts: int,
        receive_count: int,
        finish: Callable[..., DeliveryState],
    ) -> DeliveryState:
        log = {"order_id": order_id, "destination": destination, "attempt": attempts}
        match outcome:
            case Accepted(reference):
                metrics.add_metric(name="DeliveryDelivered", unit="Count", value=1)
                logger.info("delivered", extra={**log, "reference": reference})
                return finish(DeliveryState.DELIVERED, ref=reference)
            case Duplicate(reference):
                metrics.add_metric(name="DeliveryDuplicate", unit="Count", value=1)
                logger.info("destination already had the order", extra={**log, "reference": reference})
                return finish(DeliveryState.DELIVERED, ref=reference)
            case Rejected(status, message, fields):
                metrics.add_metric(name="DeliveryRejected", unit="Count", value=1)
                logger.error("destination rejected the order", extra={**log, "status": status, "fields": fields})
                return finish(
                    DeliveryState.FAILED,
                    error=DeliveryError(code="rejected", message=message, status=status, fields=fields),
                )
            case AuthRejected(status, message):
                metrics.add_metric(name="DeliveryAuthRejected", unit="Count", value=1)
                logger.critical("destination refused our credentials or configuration", extra={**log, "status": status})
                return finish(
                    DeliveryState.FAILED, error=DeliveryError(code="auth_rejected", message=message, status=status)
                )
            case Transient(message, status, retry_after, maybe_delivered):
                error = DeliveryError(code="transient", message=message, status=status)
                if max(attempts, receive_count) >= self.policy.max_attempts:
                    metrics.add_metric(name="DeliveryExhausted", unit="Count", value=1)
                    logger.error("delivery attempts exhausted", extra={**log, "reason": message})
                    finish(DeliveryState.FAILED, error=error.model_copy(update={"code": "attempts_exhausted"}))
                    raise RetryLater(0, "attempts exhausted: to the DLQ")
                finish(DeliveryState.RETRYING, error=error, in_doubt=maybe_delivered)
                metrics.add_metric(name="DeliveryRetried", unit="Count", value=1)
                delay = backoff_seconds(attempts, self.policy, retry_after, self.rng)
                logger.warning("delivery will be retried", extra={**log, "reason": message, "delay": delay})
                raise RetryLater(delay, message)
        raise AssertionError(f"unhandled outcome {outcome!r}")
