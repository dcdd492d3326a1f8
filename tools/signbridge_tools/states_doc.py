"""docs/delivery-states.md, generated from the lifecycle table (signbridge.lifecycle).

The table is the source of truth; the committed page is its rendering, and a test fails when the
two differ. Regenerate after changing a state or a move::

    python -m signbridge_tools.states_doc            # writes <repo>/docs/delivery-states.md
    python -m signbridge_tools.states_doc --check    # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from signbridge import lifecycle
from signbridge.lifecycle import MOVES, Actor, DeliveryState

PAGE = Path(__file__).resolve().parents[2] / "docs" / "delivery-states.md"


def _kind(state: DeliveryState) -> str:
    k = state.kind
    words = [
        name
        for name, on in (
            ("settled", k.settled),
            ("resting", k.resting and not k.settled),
            ("queued", k.queued),
            ("needs a person", k.needs_person),
        )
        if on
    ]
    return ", ".join(words) or "waiting"


def _states(states: frozenset[DeliveryState]) -> str:
    if not states:
        return "(created)"
    if states == frozenset(lifecycle.UNSETTLED):
        return "any unsettled"
    return ", ".join(f"`{s.value}`" for s in DeliveryState if s in states)


def render() -> str:
    lines = [
        "# Delivery states",
        "",
        "<!-- Generated from layers/shared/signbridge/lifecycle.py by"
        " `python -m signbridge_tools.states_doc`: edit the table there, not this page. -->",
        "",
        "Every delivery (an order, or one event of it, to one destination) is an item in the table",
        "with one of these states. Every write of a delivery is one of the moves below, made",
        "conditionally on the delivery as it was read: a move whose source state or guard no longer",
        "holds changes nothing. Settled deliveries leave the state index; the others are listed by",
        "`signbridge deliveries STATE` and counted by the sweeper's gauges.",
        "",
        "```mermaid",
        lifecycle.mermaid(),
        "```",
        "",
        "The queue's own moves (a lost or worn-out message replaced, on any unsettled state) are left",
        "out of the diagram.",
        "",
        "## States",
        "",
        "| state | kind | gauge | meaning | what a person does |",
        "|---|---|---|---|---|",
    ]
    for state in DeliveryState:
        gauge = "" if state.settled else f"`{state.gauge}`"
        advice = state.kind.advice.format(where="--stack NAME")
        lines.append(f"| `{state.value}` | {_kind(state)} | {gauge} | {state.kind.meaning} | {advice} |")
    lines += [
        "",
        "*queued*: its next step is a message on the delivery queue; when it is overdue the sweeper",
        "sends a fresh one. *resting*: nothing happens by itself; an event waiting behind it goes on.",
        "",
        "## Moves",
        "",
        "| move | from | to | by | guards | metric | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for move in MOVES.values():
        target = "(stays)" if move.target is None else f"`{move.target.value}`"
        by = ", ".join(a.value for a in move.by)
        guards = "; ".join(g.value for g in move.guards)
        metric = f"`{move.metric}`" if move.metric else ""
        sources = _states(move.sources)
        lines.append(f"| `{move.name}` | {sources} | {target} | {by} | {guards} | {metric} | {move.why} |")
    lines += ["", "## Who moves a delivery", ""]
    for actor in Actor:
        names = ", ".join(f"`{m.name}`" for m in lifecycle.by(actor))
        lines.append(f"- **{actor.value}**: {names}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed page is stale")
    parser.add_argument("--output", type=Path, default=PAGE)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not args.output.exists() or args.output.read_text() != text:
            print(f"{args.output} is stale: run python -m signbridge_tools.states_doc", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
