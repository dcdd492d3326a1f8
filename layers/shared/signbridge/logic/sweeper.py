"""The sweeper: nothing stuck unseen.

Run on a schedule, it finds deliveries that should have moved by now and have not: a pending
delivery the outbox never enqueued, a retrying or held one whose message was lost, an attempt
whose worker died (an expired lease). Each gets a fresh message of a new generation (any older
message becomes stale and is dropped when it comes). In-doubt deliveries are never resent: the
sweeper only looks for the confirmation that settles them. It also reports how many deliveries
stand in each unsettled state and how old the oldest unsettled one is, for the alarms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from signbridge.lifecycle import QUEUED, UNSETTLED, DeliveryState
from signbridge.logic.outbox import DeliveryMessage
from signbridge.models.items import DeliveryRecord
from signbridge.observability import logger
from signbridge.store import Store


@dataclass
class SweepReport:
    reenqueued: int = 0
    confirmed: int = 0
    # (destination, state) -> how many deliveries stand there
    counts: dict[tuple[str, DeliveryState], int] = field(default_factory=dict)
    # destination -> age in seconds of its oldest delivery still waiting (0 when none)
    oldest_unsettled: dict[str, int] = field(default_factory=dict)
    # destination -> in-doubt deliveries past their grace: an operator must settle them
    awaiting_operator: dict[str, int] = field(default_factory=dict)
    # Re-enqueueing was skipped: the queue had a backlog (overdue deliveries are probably in it)
    backlog: int = 0
    # In-doubt deliveries whose confirmation could not be checked (each logged with its error)
    errors: int = 0


def _since(delivery: DeliveryRecord) -> int:
    """When the delivery began its current wait (created, or put back by an operator)."""
    if delivery.waiting_since is not None:
        return delivery.waiting_since
    if delivery.created_at is not None:
        return delivery.created_at
    return int(datetime.fromisoformat(delivery.updated_at).timestamp())


def sweep(
    store: Store,
    destinations: Iterable[str],
    enqueue: Callable[[DeliveryMessage], None],
    confirm: Callable[[DeliveryRecord], bool],
    *,
    now: int,
    grace_seconds: int,
    queue_backlog: int = 0,
) -> SweepReport:
    """``queue_backlog``: messages waiting in the delivery queue. While there are any, overdue
    deliveries are most likely among them (the forwarders are behind, not the messages lost), and
    replacing their messages would only put them at the back again: nothing is re-enqueued."""
    report = SweepReport(backlog=queue_backlog)
    for destination in destinations:
        for state in QUEUED if not queue_backlog else ():  # their next step is a queue message
            for delivery in store.deliveries_in_state(destination, state, due_before=now - grace_seconds):
                gen = store.replace_message(delivery.order_id, destination, delivery.gen, now, delivery.event_seq)
                if gen is None:
                    continue  # it moved on meanwhile
                enqueue(DeliveryMessage(delivery.order_id, destination, gen, delivery.event_seq))
                report.reenqueued += 1
                logger.warning(
                    "overdue delivery re-enqueued",
                    extra={"order_id": delivery.order_id, "destination": destination, "state": state},
                )
        for delivery in store.deliveries_in_state(destination, DeliveryState.IN_DOUBT, due_before=now + 1):
            try:
                confirmed = confirm(delivery)
            except Exception:
                # One delivery that cannot be checked (its order unmappable now, say) must not stop
                # the sweep of the others or their gauges: counted (InDoubtCheckFailedAlarm).
                report.errors += 1
                logger.exception(
                    "in-doubt delivery could not be checked",
                    extra={"order_id": delivery.order_id, "destination": destination},
                )
                continue
            if confirmed:
                report.confirmed += 1
                logger.info("in-doubt delivery confirmed", extra={"order_id": delivery.order_id})
        oldest = 0
        for state in UNSETTLED:
            count = 0
            for delivery in store.deliveries_in_state(destination, state):
                count += 1
                if state.kind.aged:
                    oldest = max(oldest, now - _since(delivery))
                if state is DeliveryState.IN_DOUBT and (
                    delivery.next_attempt_at is None or delivery.next_attempt_at < now - grace_seconds
                ):
                    # past its grace, or its message lost: only a person can settle it now
                    report.awaiting_operator[destination] = report.awaiting_operator.get(destination, 0) + 1
            report.counts[(destination, state)] = count
        report.oldest_unsettled[destination] = oldest
        report.awaiting_operator.setdefault(destination, 0)
    return report
