"""The follow-up of an order a destination accepted (one item per order and destination): what its
lines' supplier statuses were at the last read, and when the next read is due.

| item                          | PK                | SK                     |
|-------------------------------|-------------------|------------------------|
| follow-up of a delivered order | ORDER#{order_id} | FOLLOW#{destination}   |
| a destination's read pause    | FOLLOW#{destination} | PAUSE               |

It is in the ``ByDeliveryState`` index while anything is still to happen to it or a person should
see it, under a partition of its own per stage (``{destination}#follow_up#{stage}``, which no
delivery state can spell: states have no ``#``): ``reading``, ``problem`` and ``held`` sorted by
the next read's due time (the sweeper reads only what is due), ``attention`` (lost, or the window
ended) sorted by when it got there (listed, never read again). A completed follow-up leaves it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from signbridge.models.items import DeliveryError


class FollowUpOutcome(StrEnum):
    FOLLOWING = "following"  # read on the schedule; nothing wrong so far
    PROBLEM = "problem"  # a line no supplier makes as things stand: still read, until fixed or the window ends
    HELD = "held"  # the destination refused our credentials: tried again on the held schedule
    COMPLETED = "completed"  # every line done: never read again
    LOST = "lost"  # the destination has no such order (404)
    WINDOW_ENDED = "window_ended"  # the window ended before every line was done

    @property
    def stage(self) -> str | None:
        """The index partition's stage, or None: out of the index."""
        return _STAGES[self]


_STAGES: dict[FollowUpOutcome, str | None] = {
    FollowUpOutcome.FOLLOWING: "reading",
    FollowUpOutcome.PROBLEM: "problem",
    FollowUpOutcome.HELD: "held",
    FollowUpOutcome.COMPLETED: None,
    FollowUpOutcome.LOST: "attention",
    FollowUpOutcome.WINDOW_ENDED: "attention",
}
# The stages the sweeper reads (sorted by due time), and the one it never reads.
READ_STAGES = ("held", "problem", "reading")
ATTENTION_STAGE = "attention"


def follow_up_key(order_id: str, destination: str) -> dict[str, str]:
    return {"PK": f"ORDER#{order_id}", "SK": f"FOLLOW#{destination}"}


def pause_key(destination: str) -> dict[str, str]:
    return {"PK": f"FOLLOW#{destination}", "SK": "PAUSE"}


def follow_up_index_key(destination: str, stage: str) -> str:
    """The ``ByDeliveryState`` partition of one destination's follow-ups at one stage."""
    return f"{destination}#follow_up#{stage}"


class SupplierLineRecord(BaseModel):
    status: str = Field(description="The destination's own word for the line's status.")
    supplier: str | None = None
    verdict: str = Field(description="done, problem or waiting (signbridge.ports.LineVerdict).")


class FollowUpRecord(BaseModel):
    order_id: str
    destination: str
    reference: str | None = None  # the destination's id for the order
    accepted_at: int  # Unix seconds: when the destination accepted the order
    outcome: FollowUpOutcome = FollowUpOutcome.FOLLOWING
    next_read_at: int | None = None  # Unix seconds; None once nothing is read any more
    reads: int = 0  # answered reads
    last_read_at: int | None = None
    order_status: str | None = None
    lines: dict[str, SupplierLineRecord] = Field(default_factory=dict)
    last_error: DeliveryError | None = None
    # A SupplierProblem was counted for it (once per follow-up, however often it is read).
    problem_reported: bool = False
    settled_at: int | None = None  # when it became lost / window_ended / completed
    rev: int = 0  # incremented by every write: a change decided on a read is written only if nothing changed since
    updated_at: str

    def due_at(self) -> int | None:
        """The index's sort key: the next read, or (attention) when it got there."""
        if self.outcome.stage == ATTENTION_STAGE:
            return self.settled_at
        return self.next_read_at

    def problem_lines(self) -> dict[str, SupplierLineRecord]:
        return {line_id: line for line_id, line in self.lines.items() if line.verdict == "problem"}
