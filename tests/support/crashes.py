"""Workers that die: the traces a dead attempt leaves in the table, written as the engine writes them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from signbridge.store import Change, SendingStep, Store


def die_after_sending(
    store: Store,
    order_id: str,
    destination: str,
    seq: int | None = None,
    *,
    step: str,
    resend_safe: bool,
    ago: int = 100,
) -> None:
    """A worker claimed the delivery, said it was sending ``step``, sent it and died, long enough
    ago that its 1 s lease has run out (a claim dated in the past: no sleep)."""
    then = int(time.time()) - ago
    current = store.get_delivery(order_id, destination, seq)
    assert current is not None
    change = Change(
        updated_at="then",
        lease=("dead-worker", then + 1),
        count_attempt=True,
        sending=SendingStep(step, resend_safe, 0, then),
    )
    assert store.move(current, "claim", change, now=then, gen=current.gen) is not None


def crash_before_recording(monkeypatch: pytest.MonkeyPatch, move: str, times: int = 1) -> set[str]:
    """The worker dies after the destination answered, before ``move`` is recorded: the first
    ``times`` such moves per destination raise. Returns the destinations it happened to."""
    crashed: dict[str, int] = {}
    original = Store.move

    def dying(self: Store, delivery: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == move and crashed.get(delivery.destination, 0) < times:
            crashed[delivery.destination] = crashed.get(delivery.destination, 0) + 1
            raise RuntimeError("the worker died after the destination answered")
        return original(self, delivery, name, *args, **kwargs)

    monkeypatch.setattr(Store, "move", dying)
    return crashed.keys()  # type: ignore[return-value]
