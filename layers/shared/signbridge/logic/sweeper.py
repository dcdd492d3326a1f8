"""The sweeper: nothing stuck unseen.

Run on a schedule, it finds deliveries that should have moved by now and have not: a pending
delivery the outbox never enqueued, a retrying or held one whose message was lost, an attempt
whose worker died (an expired lease). Each gets a fresh message of a new generation (any older
message becomes stale and is dropped when it comes). In-doubt deliveries are never resent: the
sweeper only looks for the confirmation that settles them. It also reports how many deliveries
stand in each unsettled state and how old the oldest unsettled one is, for the alarms. Then it
reads the follow-ups that are due (``signbridge.logic.follow_up``), at most a cap per run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from signbridge.lifecycle import UNSETTLED, DeliveryState
from signbridge.logic.follow_up import FollowUpReport, FollowUps
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
    # destination -> deliveries only a person can move on: in doubt past their grace, and every
    # one whose state needs a person otherwise (action required)
    awaiting_operator: dict[str, int] = field(default_factory=dict)
    # Re-enqueueing was skipped: the queue had a backlog (overdue deliveries are probably in it)
    backlog: int = 0
    # In-doubt deliveries whose confirmation could not be checked (each logged with its error)
    errors: int = 0
    follow_ups: FollowUpReport = field(default_factory=FollowUpReport)


def _since(delivery: DeliveryRecord) -> int:
    """When the delivery began its current wait (created, or put back by an operator)."""
    if delivery.waiting_since is not None:
        return delivery.waiting_since
    if delivery.created_at is not None:
        return delivery.created_at
    return int(datetime.fromisoformat(delivery.updated_at).timestamp())


def _reenqueue(
    store: Store, delivery: DeliveryRecord, enqueue: Callable[[DeliveryMessage], None], now: int, report: SweepReport
) -> None:
    gen = store.replace_message(delivery.order_id, delivery.destination, delivery.gen, now, delivery.event_seq)
    if gen is None:
        return  # it moved on meanwhile
    enqueue(DeliveryMessage(delivery.order_id, delivery.destination, gen, delivery.event_seq))
    report.reenqueued += 1
    logger.warning(
        "overdue delivery re-enqueued",
        extra={"order_id": delivery.order_id, "destination": delivery.destination, "state": delivery.state},
    )


def _look_at_doubt(
    delivery: DeliveryRecord, confirm: Callable[[DeliveryRecord], bool], now: int, grace: int, report: SweepReport
) -> None:
    """Settle it if its destination confirmed it since; else count it for an operator once past its grace."""
    try:
        confirmed = confirm(delivery)
    except Exception:
        # One delivery that cannot be checked (its order unmappable now, say) must not stop the
        # sweep of the others or their gauges: counted (InDoubtCheckFailedAlarm).
        report.errors += 1
        logger.exception(
            "in-doubt delivery could not be checked",
            extra={"order_id": delivery.order_id, "destination": delivery.destination},
        )
        confirmed = False
    if confirmed:
        report.confirmed += 1
        logger.info("in-doubt delivery confirmed", extra={"order_id": delivery.order_id})
        return
    if delivery.next_attempt_at is None or delivery.next_attempt_at < now - grace:
        # past its grace, or its message lost: only a person can settle it now
        report.awaiting_operator[delivery.destination] = report.awaiting_operator.get(delivery.destination, 0) + 1


def sweep(
    store: Store,
    destinations: Iterable[str],
    enqueue: Callable[[DeliveryMessage], None],
    confirm: Callable[[DeliveryRecord], bool],
    *,
    now: int,
    grace_seconds: int,
    queue_backlog: int = 0,
    follow_ups: FollowUps | None = None,
    following: Iterable[str] = (),
    at: str = "",
) -> SweepReport:
    """``queue_backlog``: messages waiting in the delivery queue. While there are any, overdue
    deliveries are most likely among them (the forwarders are behind, not the messages lost), and
    replacing their messages would only put them at the back again: nothing is re-enqueued.
    ``follow_ups``: read the due follow-ups of the ``following`` destinations after the rest."""
    report = SweepReport(backlog=queue_backlog)
    for destination in destinations:
        oldest = 0
        report.awaiting_operator[destination] = 0
        # One read of each unsettled state's partition of the index: what is overdue, what is in
        # doubt, and the gauges all come from it.
        for state in UNSETTLED:
            found = list(store.deliveries_in_state(destination, state))
            report.counts[(destination, state)] = len(found)
            for delivery in found:
                if state.kind.aged:
                    oldest = max(oldest, now - _since(delivery))
                due = delivery.indexed_due_at if delivery.indexed_due_at is not None else now
                if state.queued and not queue_backlog and due < now - grace_seconds:
                    # its next step is a queue message, long overdue: the message was lost
                    _reenqueue(store, delivery, enqueue, now, report)
                if state is DeliveryState.IN_DOUBT:
                    _look_at_doubt(delivery, confirm, now, grace_seconds, report)
                elif state.kind.needs_person:
                    report.awaiting_operator[destination] += 1
        report.oldest_unsettled[destination] = oldest
    if follow_ups is not None:
        report.follow_ups = follow_ups.run(list(following), now=now, at=at)
    return report
