"""The waits between attempts: a destination's retry schedule and the backoff arithmetic (pure).

A run of transient failures is retried with waits about as long again as the run has lasted (so
they double), from ``base`` up to ``cap``, with equal jitter, never sooner than a Retry-After,
and one last attempt at the horizon; then the delivery fails. See docs/delivery.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# The longest wait signbridge ever asks for at once (a Retry-After above it is capped): SQS's
# visibility limit per receive. The queue adapter splits longer waits into fresh messages.
LONGEST_WAIT_SECONDS = 43_200


@dataclass(frozen=True)
class RetrySchedule:
    """The waits between attempts at one destination, in seconds (already scaled)."""

    base: float
    cap: float
    horizon: float
    held: float


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
        delay = max(delay, min(retry_after, LONGEST_WAIT_SECONDS))
    return delay


def next_wait(
    since: float, now: float, schedule: RetrySchedule, retry_after: float | None, rng: Callable[[], float]
) -> float | None:
    """The wait before the next attempt of a run that began at ``since``, or None when the run has
    reached the horizon (the delivery fails). The last attempt comes at the horizon itself."""
    if now - since >= schedule.horizon:
        return None
    delay = backoff_seconds(now - since, schedule, retry_after, rng)
    delay = min(delay, max(1.0, since + schedule.horizon - now))  # one last try at the horizon
    if retry_after is not None:
        delay = max(delay, min(retry_after, LONGEST_WAIT_SECONDS))
    return delay


def attempt_times(schedule: RetrySchedule, jitter: float = 1.0) -> list[float]:
    """When the attempts of a run of transient failures are made, in seconds from the first, up
    to the horizon (the forwarder's own arithmetic, with the jitter fixed): for the docs and tests."""
    times = [0.0]
    while times[-1] < schedule.horizon:
        wait = backoff_seconds(times[-1], schedule, None, lambda: jitter)
        times.append(min(times[-1] + max(1.0, wait), schedule.horizon))
    return times
