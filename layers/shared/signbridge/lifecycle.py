"""The delivery lifecycle, declared once: every state a delivery can stand in, what each means to
the rest of the system, and every move between them (what happens, from which states, to which
state, by whom, under which guard, counted by which metric).

Everything else reads this module: the store's conditions (a move is written only from its
sources), the state index (only unsettled states are in it), the sweeper (what it re-enqueues and
the gauges it publishes), the console (what it lists, retries, refuses) and the docs' state
diagram (``mermaid()``). No other module spells a list of states: a test checks it.

A delivery is one order (or one of its events) to one destination. Its attempts send a plan of
steps; the item records which steps the destination acknowledged and, for every destination,
the fact that an attempt was sent and never answered (``unanswered_at``): a cancellation, a
resend or an operator reads that fact before acting.

Pure: no I/O, no AWS, no destination, no pydantic. It stands on the ground floor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    HELD = "held"
    IN_DOUBT = "in_doubt"
    AWAITING_PAYMENT = "awaiting_payment"
    ACTION_REQUIRED = "action_required"
    FAILED = "failed"
    DELIVERED = "delivered"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def kind(self) -> Kind:
        return KINDS[self]

    @property
    def settled(self) -> bool:
        return KINDS[self].settled

    @property
    def resting(self) -> bool:
        return KINDS[self].resting

    @property
    def queued(self) -> bool:
        return KINDS[self].queued

    @property
    def gauge(self) -> str:
        """The sweeper's gauge of how many deliveries stand here (unsettled states only)."""
        return "Deliveries" + "".join(part.title() for part in self.value.split("_"))


@dataclass(frozen=True)
class Kind:
    """What a state means to the rest of the system."""

    meaning: str
    # Nothing more can or should happen: the delivery leaves the state index.
    settled: bool = False
    # No attempt will be made by itself (a person, a paid event or an operator may still act):
    # an order event waiting behind it stops waiting.
    resting: bool = False
    # Its next step is a message on the delivery queue: when overdue, that message was lost and
    # the sweeper sends a fresh one (``deliveries stuck`` lists it).
    queued: bool = False
    # Counted in the age of the oldest unsettled delivery (the alarm on deliveries that wait too long).
    aged: bool = False
    # An operator's concern: counted apart, so the held / stuck alarms stay about faults.
    needs_person: bool = False
    # What a person does about a delivery in this state (``{where}``: the console's --stack or
    # --table); empty when nobody needs to. The order view's attention list and doctor say it.
    advice: str = ""


KINDS: dict[DeliveryState, Kind] = {
    DeliveryState.PENDING: Kind("waiting to be sent; the outbox puts it on the queue", queued=True, aged=True),
    DeliveryState.SENDING: Kind(
        "an attempt holds the lease (an expired lease means its worker died)", queued=True, aged=True
    ),
    DeliveryState.RETRYING: Kind(
        "a transient failure, or waiting for an earlier delivery; the queue brings it back", queued=True, aged=True
    ),
    DeliveryState.HELD: Kind(
        "the destination cannot be used as configured (no key, a refused key, a malformed setting): "
        "tried again on a slow schedule for as long as it takes",
        queued=True,
        aged=True,
        advice="the destination refuses its key or is not configured: fix that and it goes by itself; "
        "`signbridge deliveries held {where}` lists them",
    ),
    DeliveryState.IN_DOUBT: Kind(
        "a step that must not be sent twice was sent and never answered: never resent by itself; "
        "settled by the destination's own confirmation or by an operator",
        aged=True,
        needs_person=True,
        advice="look at the destination, then run the `order resolve` command "
        "`signbridge deliveries in-doubt {where}` prints for it",
    ),
    DeliveryState.AWAITING_PAYMENT: Kind(
        "not sent until the order is paid (the destination makes goods): a paid event releases it"
    ),
    DeliveryState.ACTION_REQUIRED: Kind(
        "nothing can be sent: a person must act at the destination (the command is in last_error)",
        resting=True,
        needs_person=True,
        advice="`signbridge deliveries action-required {where}` says what to do "
        "(cancellations: `signbridge cancellations list {where}`)",
    ),
    DeliveryState.FAILED: Kind(
        "refused for its content, unmappable, or still failing at the retry horizon; an operator retries it",
        resting=True,
        advice="`signbridge deliveries failed {where}` says why; once fixed, `signbridge order retry ORDER_ID {where}`",
    ),
    DeliveryState.DELIVERED: Kind("the destination has it", settled=True, resting=True),
    DeliveryState.SKIPPED: Kind("nothing of it is for this destination", settled=True, resting=True),
    DeliveryState.CANCELLED: Kind("the order was cancelled before this delivery was sent", settled=True, resting=True),
}

UNSETTLED: tuple[DeliveryState, ...] = tuple(s for s in DeliveryState if not s.settled)
QUEUED: tuple[DeliveryState, ...] = tuple(s for s in DeliveryState if s.queued)
# The states a person should look at (each with its advice).
ATTENTION: tuple[DeliveryState, ...] = tuple(s for s in DeliveryState if KINDS[s].advice)


class Actor(StrEnum):
    INTAKE = "intake"  # the API functions: an order or event received
    WORKER = "worker"  # the forwarder, on a fresh read of the order, holding no lease
    ATTEMPT = "attempt"  # the forwarder, holding the delivery's lease
    OPERATOR = "operator"  # the console (or the sweeper confirming on the destination's word)
    QUEUE = "queue"  # the sweeper or the queue adapter replacing a lost or worn-out message


class Guard(StrEnum):
    LEASE_FREE = "no attempt holds a live lease"
    HOLDS_LEASE = "this attempt holds the lease"
    LIVE_MESSAGE = "the message is the delivery's live generation"
    DUE = "its time has come (or its last attempt died)"
    NOTHING_UNANSWERED = "no attempt was ever sent without an answer"
    SOMETHING_UNANSWERED = "an attempt was sent and never answered: the destination may have it"


class Record(Protocol):
    """What the guards read of a delivery item."""

    @property
    def state(self) -> DeliveryState: ...
    @property
    def gen(self) -> int: ...
    @property
    def lease_until(self) -> int | None: ...
    @property
    def attempt_id(self) -> str | None: ...
    @property
    def next_attempt_at(self) -> int | None: ...
    @property
    def sent_at(self) -> int | None: ...
    @property
    def unanswered_at(self) -> int | None: ...


@dataclass(frozen=True)
class Seen:
    """What a guard is checked against besides the record: now, the message, the attempt."""

    now: int
    gen: int | None = None
    attempt_id: str | None = None


def _lease_free(r: Record, s: Seen) -> bool:
    return r.lease_until is None or r.lease_until < s.now


def _unanswered(r: Record, s: Seen) -> bool:
    # A lease left with ``sent_at`` means its worker died after it said it was sending.
    return r.unanswered_at is not None or (r.sent_at is not None and _lease_free(r, s))


_CHECKS = {
    Guard.LEASE_FREE: _lease_free,
    Guard.HOLDS_LEASE: lambda r, s: s.attempt_id is not None and r.attempt_id == s.attempt_id,
    Guard.LIVE_MESSAGE: lambda r, s: s.gen is None or r.gen == s.gen,
    Guard.DUE: lambda r, s: r.next_attempt_at is None or r.next_attempt_at <= s.now or r.lease_until is not None,
    Guard.NOTHING_UNANSWERED: lambda r, s: not _unanswered(r, s),
    Guard.SOMETHING_UNANSWERED: _unanswered,
}


@dataclass(frozen=True)
class Move:
    name: str
    sources: frozenset[DeliveryState]  # empty: the delivery is created in ``target``
    target: DeliveryState | None  # None: it stays where it is (a self move)
    by: tuple[Actor, ...]
    why: str
    guards: tuple[Guard, ...] = ()
    metric: str | None = None  # counted each time the move is made (the alarms watch these)
    # The delivery gets a new message generation in ``pending``: the outbox enqueues it.
    new_message: bool = False
    # The fact that an attempt went unanswered is forgotten (the operator says the destination has it not).
    forgets_unanswered: bool = False

    def allows(self, record: Record, seen: Seen) -> bool:
        """Whether the move may be made from ``record`` as it stands."""
        if self.sources and record.state not in self.sources:
            return False
        return all(_CHECKS[guard](record, seen) for guard in self.guards)

    def lands_in(self, source: DeliveryState) -> DeliveryState:
        return self.target if self.target is not None else source


def _states(*states: DeliveryState) -> frozenset[DeliveryState]:
    return frozenset(states)


# What the forwarder may move before it holds a lease: anything whose next step is a message.
_BEFORE_ATTEMPT = _states(*QUEUED)
# A delivery not yet sent that a cancellation withdraws (or, when it may have reached the destination, flags).
_WITHDRAWABLE = _states(*QUEUED, DeliveryState.AWAITING_PAYMENT, DeliveryState.FAILED)
_WORKER = (Guard.LEASE_FREE, Guard.LIVE_MESSAGE)
_ATTEMPT = (Guard.HOLDS_LEASE,)

S = DeliveryState
MOVES: dict[str, Move] = {
    move.name: move
    for move in (
        # ---- intake: an order or an event received
        Move("create", _states(), S.PENDING, (Actor.INTAKE,), "a new delivery"),
        Move("create_skipped", _states(), S.SKIPPED, (Actor.INTAKE,), "nothing of it is for this destination"),
        Move(
            "create_awaiting_payment",
            _states(),
            S.AWAITING_PAYMENT,
            (Actor.INTAKE,),
            "the destination makes goods and the order is not paid",
        ),
        Move(
            "create_for_person",
            _states(),
            S.ACTION_REQUIRED,
            (Actor.INTAKE,),
            "the order cannot be sent as received (a webhook order whose money cannot be explained)",
        ),
        Move(
            "release",
            _states(S.AWAITING_PAYMENT),
            S.PENDING,
            (Actor.INTAKE,),
            "a paid event",
            (Guard.LEASE_FREE,),
            new_message=True,
        ),
        Move(
            "withdraw",
            _WITHDRAWABLE,
            S.CANCELLED,
            (Actor.INTAKE, Actor.WORKER),
            "the order was cancelled and nothing was ever sent there",
            (Guard.LEASE_FREE, Guard.NOTHING_UNANSWERED),
        ),
        Move(
            "withdraw_uncertain",
            (_WITHDRAWABLE - {S.AWAITING_PAYMENT}) | {S.IN_DOUBT},
            S.ACTION_REQUIRED,
            (Actor.INTAKE, Actor.WORKER),
            "the order was cancelled after an attempt went unanswered: the destination may have it",
            (Guard.LEASE_FREE, Guard.SOMETHING_UNANSWERED),
            metric="CancelByHand",
        ),
        # ---- the forwarder, on a fresh read, before any request
        Move(
            "claim",
            _BEFORE_ATTEMPT,
            S.SENDING,
            (Actor.WORKER,),
            "an attempt takes the lease and says which step it sends",
            (*_WORKER, Guard.DUE),
        ),
        Move(
            "wait",
            _BEFORE_ATTEMPT,
            S.RETRYING,
            (Actor.WORKER,),
            "an earlier delivery to this destination has not settled yet",
            _WORKER,
        ),
        Move(
            "hold",
            _BEFORE_ATTEMPT,
            S.HELD,
            (Actor.WORKER,),
            "the destination cannot be used as configured",
            _WORKER,
            metric="DeliveryHeld",
        ),
        Move(
            "skip",
            _BEFORE_ATTEMPT,
            S.SKIPPED,
            (Actor.WORKER,),
            "nothing to send (or its order never went there)",
            _WORKER,
        ),
        Move(
            "block",
            _BEFORE_ATTEMPT,
            S.FAILED,
            (Actor.WORKER,),
            "an event whose order never reached the destination",
            _WORKER,
            metric="DeliveryBlocked",
        ),
        Move(
            "unmappable",
            _BEFORE_ATTEMPT,
            S.FAILED,
            (Actor.WORKER,),
            "it cannot be expressed in the destination's format",
            _WORKER,
            metric="DeliveryMappingFailed",
        ),
        Move(
            "cancel_by_hand",
            _BEFORE_ATTEMPT,
            S.ACTION_REQUIRED,
            (Actor.WORKER,),
            "a cancellation of an order the destination has, and cannot be told of: a person cancels it there",
            _WORKER,
            metric="CancelByHand",
        ),
        Move(
            "confirm",
            _states(*QUEUED, S.IN_DOUBT),
            S.DELIVERED,
            (Actor.WORKER,),
            "the destination's own webhook names this very order",
            _WORKER,
            metric="DeliveryConfirmed",
        ),
        Move(
            "doubt",
            _BEFORE_ATTEMPT,
            S.IN_DOUBT,
            (Actor.WORKER,),
            "the step to send next went unanswered before and must not be sent twice",
            (*_WORKER, Guard.SOMETHING_UNANSWERED),
            metric="DeliveryInDoubt",
        ),
        Move(
            "wake",
            _states(S.RETRYING),
            S.PENDING,
            (Actor.WORKER, Actor.INTAKE, Actor.OPERATOR),
            "the earlier delivery it waited for now rests: it goes next",
            new_message=True,
        ),
        Move(
            "look_again",
            _states(S.IN_DOUBT),
            None,
            (Actor.WORKER,),
            "no confirmation yet: wait for it, or after the grace, for an operator",
            _WORKER,
        ),
        # ---- an attempt's answers (the attempt holds the lease)
        Move("acknowledged", _states(S.SENDING), None, (Actor.ATTEMPT,), "a step answered; the next is sent", _ATTEMPT),
        Move(
            "delivered",
            _states(S.SENDING),
            S.DELIVERED,
            (Actor.ATTEMPT,),
            "the last step accepted, or a duplicate",
            _ATTEMPT,
            metric="DeliveryDelivered",
        ),
        Move(
            "rejected",
            _states(S.SENDING),
            S.FAILED,
            (Actor.ATTEMPT,),
            "refused for its content",
            _ATTEMPT,
            metric="DeliveryRejected",
        ),
        Move(
            "refused_key",
            _states(S.SENDING),
            S.HELD,
            (Actor.ATTEMPT,),
            "our credentials or configuration refused",
            _ATTEMPT,
            metric="DeliveryAuthRejected",
        ),
        Move(
            "retry",
            _states(S.SENDING),
            S.RETRYING,
            (Actor.ATTEMPT,),
            "a transient failure",
            _ATTEMPT,
            metric="DeliveryRetried",
        ),
        Move(
            "exhausted",
            _states(S.SENDING),
            S.FAILED,
            (Actor.ATTEMPT,),
            "still failing at the end of the retry horizon",
            _ATTEMPT,
            metric="DeliveryExhausted",
        ),
        Move(
            "unanswered",
            _states(S.SENDING),
            S.IN_DOUBT,
            (Actor.ATTEMPT,),
            "a step that must not be sent twice was not answered clearly",
            _ATTEMPT,
            metric="DeliveryInDoubt",
        ),
        # ---- an operator (the console), on the delivery as they saw it
        Move(
            "operator_retry",
            _states(S.FAILED, *QUEUED),
            S.PENDING,
            (Actor.OPERATOR,),
            "order retry, replay, deliveries stuck --requeue, dlq redrive: a fresh retry horizon",
            new_message=True,
        ),
        Move(
            "resolve_delivered",
            _states(S.IN_DOUBT),
            S.DELIVERED,
            (Actor.OPERATOR,),
            "order resolve --delivered: the destination has it (or its webhook said so)",
        ),
        Move(
            "resolve_continue",
            _states(S.IN_DOUBT),
            S.PENDING,
            (Actor.OPERATOR,),
            "order resolve --delivered of a step that has steps after it: they are sent next",
            new_message=True,
        ),
        Move(
            "resolve_resend",
            _states(S.IN_DOUBT),
            S.PENDING,
            (Actor.OPERATOR,),
            "order resolve --resend: the destination has it not",
            new_message=True,
            forgets_unanswered=True,
        ),
        Move(
            "done_by_hand",
            _states(S.ACTION_REQUIRED),
            S.DELIVERED,
            (Actor.OPERATOR,),
            "cancellations done: the person cancelled the order at the destination",
        ),
        Move(
            "withdrawn_by_hand",
            _states(S.ACTION_REQUIRED),
            S.CANCELLED,
            (Actor.OPERATOR,),
            "cancellations done: the person made sure the destination holds no live order",
        ),
        # ---- the queue: a lost or worn-out message replaced by a fresh one
        Move("replace_message", _states(*UNSETTLED), None, (Actor.QUEUE,), "a new message generation"),
    )
}


def move(name: str) -> Move:
    return MOVES[name]


def initial_states() -> frozenset[DeliveryState]:
    return frozenset(m.lands_in(S.PENDING) for m in MOVES.values() if not m.sources)


def allowed_pairs() -> frozenset[tuple[DeliveryState, DeliveryState]]:
    """Every (from, to) a delivery item may take in one write."""
    return frozenset((source, m.lands_in(source)) for m in MOVES.values() for source in m.sources)


def sources_of(name: str) -> tuple[DeliveryState, ...]:
    """A move's source states, in the states' own order (for conditions, listings and messages)."""
    return tuple(s for s in DeliveryState if s in MOVES[name].sources)


def by(actor: Actor) -> Iterable[Move]:
    return (m for m in MOVES.values() if actor in m.by)


def metrics() -> dict[str, list[str]]:
    """Each metric a move counts, with the moves that count it."""
    found: dict[str, list[str]] = {}
    for m in MOVES.values():
        if m.metric:
            found.setdefault(m.metric, []).append(m.name)
    return found


@dataclass(frozen=True)
class Diagram:
    """The state diagram, as mermaid text (docs/delivery-states.md is generated from it). The
    queued states are drawn as one box: a move made alike from each of them leaves the box."""

    edges: Mapping[tuple[str, str], list[str]] = field(default_factory=dict)

    def text(self) -> str:
        lines = ["stateDiagram-v2", "    direction LR", "    state queued {"]
        lines += [f"        {s.value}" for s in QUEUED]
        lines.append("    }")
        for (a, b), names in self.edges.items():
            lines.append(f"    {a} --> {b}: {', '.join(names)}")
        for state in DeliveryState:
            if state.settled:
                lines.append(f"    {state.value} --> [*]")
        return "\n".join(lines)


def mermaid() -> str:
    """Every move but the queue's message replacements (a self move on every unsettled state)."""
    queued = frozenset(QUEUED)
    edges: dict[tuple[str, str], list[str]] = {}
    for m in MOVES.values():
        if m.by == (Actor.QUEUE,):
            continue
        if not m.sources:
            edges.setdefault(("[*]", m.lands_in(S.PENDING).value), []).append(m.name)
            continue
        sources = set(sources_of(m.name))
        if m.target is not None and m.target not in queued and queued <= sources:
            edges.setdefault(("queued", m.target.value), []).append(m.name)
            sources -= queued
        for source in DeliveryState:
            if source in sources:
                edges.setdefault((source.value, m.lands_in(source).value), []).append(m.name)
    return Diagram(edges).text()


def describe() -> list[dict[str, Any]]:
    """The states and what each means (for the docs)."""
    return [
        {
            "state": s.value,
            "meaning": s.kind.meaning,
            "settled": s.settled,
            "queued": s.queued,
            "resting": s.resting,
            "moves out": sorted({m.name for m in MOVES.values() if s in m.sources}),
        }
        for s in DeliveryState
    ]
