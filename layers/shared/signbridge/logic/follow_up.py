"""After delivery: an order a destination accepted is followed until its lines are final.

Some destinations accept an order and route it on afterwards (to suppliers); whether the goods will
be made is known only by reading the order back (``signbridge.ports.SupplierStatus``). A follow-up
starts when such a delivery becomes delivered (the outbox), and the sweeper reads what is due on
every run: the first read ``schedule[0]`` seconds after acceptance, each next one the following
wait later, the last wait repeating, until every line is done (``completed``) or the window ends
(``window_ended``). A line no supplier makes (``problem``) is counted once and listed, and still
read: a merchant who re-routes it at the destination sees the follow-up complete. The reads are
bounded: at most ``per_run`` per run; a 429 stops the run and pauses reads until its Retry-After;
a 5xx or no answer leaves the follow-up due for the next run; refused credentials hold it (the
held gauge) and stop the run; a 404 means the destination lost it (``lost``).

The core names no destination: the port reads and translates, the traits say who follows up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from signbridge.models.follow_up import READ_STAGES, FollowUpOutcome, FollowUpRecord, SupplierLineRecord
from signbridge.models.items import DeliveryError
from signbridge.observability import count, logger
from signbridge.ports import DestinationUnavailable, LineVerdict, ReadKind, SupplierReading, SupplierStatus
from signbridge.store.follow_ups import FollowUpStore

Outcome = FollowUpOutcome
# Metrics, each counted once per follow-up that gets there (never per read).
METRICS = {
    Outcome.COMPLETED: "FollowUpCompleted",
    Outcome.PROBLEM: "SupplierProblem",
    Outcome.LOST: "OrderLostAtDestination",
    Outcome.WINDOW_ENDED: "FollowUpWindowEnded",
}
# Transient failures in a row after which the run stops reading (the destination is down).
UNAVAILABLE_IN_A_ROW = 3


@dataclass(frozen=True)
class Policy:
    schedule: tuple[int, ...] = (600, 3_600, 21_600)  # the wait before each read; the last repeats
    window_seconds: int = 14 * 86_400
    per_run: int = 50
    held_retry_seconds: int = 300

    def first_read(self, accepted_at: int) -> int:
        return self.next_read(accepted_at, accepted_at, 0)

    def next_read(self, accepted_at: int, now: int, reads: int) -> int:
        """When to read next, after ``reads`` answered reads, the last at ``now``: never past the
        window's end (one last read there)."""
        wait = self.schedule[min(reads, len(self.schedule) - 1)]
        return min(now + wait, self.window_end(accepted_at))

    def window_end(self, accepted_at: int) -> int:
        return accepted_at + self.window_seconds


@dataclass
class FollowUpReport:
    reads: int = 0
    # destination -> follow-ups held (refused credentials), for the held gauge
    held: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)  # outcome -> follow-ups that got there this run
    rate_limited: bool = False
    unavailable: int = 0


def _lines(reading: SupplierReading) -> dict[str, SupplierLineRecord]:
    return {
        line_id: SupplierLineRecord(status=line.status, supplier=line.supplier, verdict=line.verdict.value)
        for line_id, line in reading.lines.items()
    }


def _verdict(lines: dict[str, SupplierLineRecord]) -> Outcome:
    verdicts = {line.verdict for line in lines.values()}
    if verdicts and verdicts == {LineVerdict.DONE.value}:
        return Outcome.COMPLETED
    if LineVerdict.PROBLEM.value in verdicts:
        return Outcome.PROBLEM
    return Outcome.FOLLOWING


def after_read(record: FollowUpRecord, reading: SupplierReading, policy: Policy, now: int, at: str) -> FollowUpRecord:
    """The follow-up as an answered read leaves it (``reading.kind`` READ or NOT_FOUND)."""
    update: dict[str, object] = {"updated_at": at, "last_read_at": now, "last_error": None}
    if reading.kind is ReadKind.NOT_FOUND:
        error = DeliveryError(code="not_found", message=reading.message or "not found", status=reading.status)
        return record.model_copy(
            update={**update, "outcome": Outcome.LOST, "next_read_at": None, "settled_at": now, "last_error": error}
        )
    lines = _lines(reading)
    outcome = _verdict(lines)
    update |= {"lines": lines, "order_status": reading.order_status, "reads": record.reads + 1}
    update["reference"] = reading.reference or record.reference
    if outcome is Outcome.COMPLETED:
        return record.model_copy(update={**update, "outcome": outcome, "next_read_at": None, "settled_at": now})
    if now >= policy.window_end(record.accepted_at):
        return record.model_copy(
            update={**update, "outcome": Outcome.WINDOW_ENDED, "next_read_at": None, "settled_at": now}
        )
    next_read = policy.next_read(record.accepted_at, now, record.reads + 1)
    return record.model_copy(update={**update, "outcome": outcome, "next_read_at": next_read})


def _count_transition(before: FollowUpRecord, after: FollowUpRecord, report: FollowUpReport) -> FollowUpRecord:
    """Counts what the follow-up got to, once each (a problem once per follow-up, also when it
    first shows at the window's end); the record, remembering a problem counted."""
    if after.outcome is not before.outcome and after.outcome in (Outcome.COMPLETED, Outcome.LOST, Outcome.WINDOW_ENDED):
        count(METRICS[after.outcome])
        report.outcomes[after.outcome.value] = report.outcomes.get(after.outcome.value, 0) + 1
    if after.outcome in (Outcome.PROBLEM, Outcome.WINDOW_ENDED) and not after.problem_reported:
        count(METRICS[Outcome.PROBLEM])
        report.outcomes[Outcome.PROBLEM.value] = report.outcomes.get(Outcome.PROBLEM.value, 0) + 1
        logger.warning(
            "supplier problem",
            extra={"order_id": after.order_id, "destination": after.destination, "lines": list(after.problem_lines())},
        )
        return after.model_copy(update={"problem_reported": True})
    return after


@dataclass
class FollowUps:
    store: FollowUpStore
    # the destination's reader, as configured now; DestinationUnavailable when it cannot be built
    reader: Callable[[str], SupplierStatus | None]
    policy: Policy

    def run(self, destinations: Sequence[str], *, now: int, at: str) -> FollowUpReport:
        report = FollowUpReport()
        budget = self.policy.per_run
        for destination in destinations:
            budget -= self._destination(destination, now, at, budget, report)
        for destination in destinations:
            report.held[destination] = self.store.count_follow_ups(destination, "held")
        return report

    def _due(self, destination: str, now: int, budget: int) -> list[FollowUpRecord]:
        """What is due, held ones first (they tell whether the key works again), then the soonest due."""
        found: list[FollowUpRecord] = []
        for stage in READ_STAGES:
            if len(found) >= budget:
                break
            found += self.store.follow_ups(destination, stage, due_by=now, limit=budget - len(found))
        return found

    def _destination(self, destination: str, now: int, at: str, budget: int, report: FollowUpReport) -> int:
        """Reads up to ``budget`` due follow-ups of one destination; returns how many were read."""
        due = self._due(destination, now, budget) if budget > 0 else []
        if not due or self.store.read_pause(destination) > now:
            return 0
        try:
            reader = self.reader(destination)
        except DestinationUnavailable as exc:
            reader, unavailable = None, exc.message
        else:
            unavailable = "its port reads no supplier status"
        reads, in_a_row = 0, 0
        for record in due:
            if reader is None:
                self._hold(record, DeliveryError(code="destination_unavailable", message=unavailable), now, at)
                break
            reading = reader.read(record.order_id, record.reference)
            reads += 1
            report.reads += 1
            if reading.kind in (ReadKind.READ, ReadKind.NOT_FOUND):
                in_a_row = 0
                after = _count_transition(record, after_read(record, reading, self.policy, now, at), report)
                self._save(record, after)
                continue
            error = DeliveryError(code=reading.kind.value, message=reading.message or "", status=reading.status)
            if reading.kind is ReadKind.UNAUTHORIZED:
                self._hold(record, error, now, at)
                break  # the same key for every order: the others wait for it to work again
            if reading.kind is ReadKind.RATE_LIMITED:
                report.rate_limited = True
                until = now + max(1, int(reading.retry_after or 0))
                self.store.pause_reads(destination, until)
                logger.warning("follow-up reads rate limited", extra={"destination": destination, "until": until})
                break
            report.unavailable += 1
            in_a_row += 1
            self._unanswered(record, error, now, at, report)
            if in_a_row >= UNAVAILABLE_IN_A_ROW:
                break
        return reads

    def _hold(self, record: FollowUpRecord, error: DeliveryError, now: int, at: str) -> None:
        held = record.model_copy(
            update={
                "outcome": Outcome.HELD,
                "next_read_at": now + self.policy.held_retry_seconds,
                "last_error": error,
                "updated_at": at,
            }
        )
        logger.warning(
            "follow-up held",
            extra={"order_id": record.order_id, "destination": record.destination, "error": error.code},
        )
        self._save(record, held)

    def _unanswered(
        self, record: FollowUpRecord, error: DeliveryError, now: int, at: str, report: FollowUpReport
    ) -> None:
        """Due again next run (behind those due before it); at the window's end, it ends."""
        update: dict[str, object] = {"last_error": error, "updated_at": at, "next_read_at": now}
        if now >= self.policy.window_end(record.accepted_at):
            update |= {"outcome": Outcome.WINDOW_ENDED, "next_read_at": None, "settled_at": now}
        elif record.outcome is Outcome.HELD:
            update["outcome"] = _verdict(record.lines)  # the key works again: it answered something else
        self._save(record, _count_transition(record, record.model_copy(update=update), report))

    def _save(self, before: FollowUpRecord, after: FollowUpRecord) -> None:
        if not self.store.save_follow_up(before, after):
            logger.info("follow-up changed meanwhile", extra={"order_id": before.order_id})


def start_follow_up(
    store: FollowUpStore,
    order_id: str,
    destination: str,
    reference: str | None,
    accepted_at: int,
    policy: Policy,
    at: str,
) -> bool:
    """The follow-up of an order the destination just accepted; False when it already has one."""
    record = FollowUpRecord(
        order_id=order_id,
        destination=destination,
        reference=reference,
        accepted_at=accepted_at,
        next_read_at=policy.first_read(accepted_at),
        updated_at=at,
    )
    return store.start_follow_up(record)
