"""Waking the delivery that waits for another: an order's deliveries to one destination go in
the order they were recorded, and one that finds an earlier one not yet at rest waits (the
lifecycle's ``wait``) until that one, coming to rest, wakes it (``wake``)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from signbridge.lifecycle import DeliveryState
from signbridge.models.items import DeliveryRecord
from signbridge.observability import logger
from signbridge.store.orders import Change
from signbridge.store.orders import OrderStore as Store

# A delivery waiting for an earlier one looks again this seldom: the move that lets it go wakes it.
WAIT_SECONDS = 6 * 3_600
WAITING = "waiting_for_earlier"  # the waiting delivery's last_error code


class Wake(StrEnum):
    WOKEN = "woken"
    NOTHING = "nothing waits for it"
    FAILED = "failed"  # the table could not be read or written: try again


def wake_next(store: Store, rested: DeliveryRecord, now: int) -> Wake:
    """``rested`` rests now: the next delivery of its order to the same destination, if it waits
    for it, goes at once (the lifecycle's ``wake``).

    Reads the waiter afresh (consistently) after ``rested``'s own move was written, so a waiter
    that began to wait while ``rested`` was still under way is seen. Never raises: on FAILED the
    forwarder keeps ``rested``'s message and wakes again when it comes back; elsewhere the
    waiter's own look again is what is left."""
    if not rested.state.resting:
        return Wake.NOTHING  # it wakes what waits for it when it comes to rest
    try:
        for _ in range(3):  # a wake that lost a race with another write of the waiter reads again
            waiting = store.first_later_unrested(rested.order_id, rested.destination, rested.event_seq)
            if (
                waiting is None
                or waiting.state is not DeliveryState.RETRYING
                or waiting.last_error is None
                or waiting.last_error.code != WAITING
            ):
                return Wake.NOTHING
            at = datetime.fromtimestamp(now, UTC).isoformat()
            woken = store.move(waiting, "wake", Change(updated_at=at, next_attempt_at=None, error=None), now=now)
            if woken is not None:
                logger.info(
                    "the next delivery of the order goes now",
                    extra={
                        "order_id": rested.order_id,
                        "destination": rested.destination,
                        "event_seq": waiting.event_seq,
                    },
                )
                return Wake.WOKEN
        logger.warning(
            "the next delivery of the order changed under every wake: it looks again later",
            extra={"order_id": rested.order_id, "destination": rested.destination},
        )
        return Wake.FAILED
    except Exception:
        logger.warning(
            "the next delivery of the order could not be woken now: it looks again later",
            extra={"order_id": rested.order_id, "destination": rested.destination},
            exc_info=True,
        )
        return Wake.FAILED
