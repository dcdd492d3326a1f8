"""Every way a delivery can come to need someone is watched by an alarm in template.yaml: each
move into a state a person must look at (signbridge.lifecycle.ATTENTION) counts a metric an alarm
watches, or its state is counted by a sweeper gauge an alarm watches."""

from __future__ import annotations

from signbridge.lifecycle import ATTENTION, MOVES, DeliveryState
from tests.support.template import template

# What the sweeper publishes for each state besides its own gauge (functions/sweeper/app.py):
# DeliveriesAwaitingOperator counts what needs a person (in doubt past its grace, action required).
TOTALS = {s: ["DeliveriesAwaitingOperator"] for s in DeliveryState if s.kind.needs_person}


def alarmed_metrics() -> set[str]:
    return {
        r["Properties"]["MetricName"]
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and "MetricName" in r["Properties"]
    }


def watchers(state: DeliveryState) -> list[str]:
    return [state.gauge, *TOTALS.get(state, [])]


def unwatched(alarmed: set[str]) -> list[str]:
    return [
        f"{m.name} -> {m.target}"
        for m in MOVES.values()
        if m.target in ATTENTION and m.metric not in alarmed and not any(w in alarmed for w in watchers(m.target))
    ]


def test_every_move_into_a_state_a_person_must_look_at_is_alarmed():
    assert len([m for m in MOVES.values() if m.target in ATTENTION]) >= 10
    assert unwatched(alarmed_metrics()) == [], "add an alarm on the move's metric or the state's gauge"


def test_every_state_a_person_must_look_at_is_counted_by_an_alarmed_gauge_or_by_each_move_into_it():
    alarmed = alarmed_metrics()
    for state in ATTENTION:
        into = [m for m in MOVES.values() if m.target is state]
        by_gauge = any(w in alarmed for w in watchers(state))
        by_moves = all(m.metric in alarmed for m in into)
        assert by_gauge or by_moves, state


def test_the_check_sees_an_unwatched_move():
    assert unwatched(alarmed_metrics() - {"DeliveryRejected"}) == ["rejected -> failed"]
