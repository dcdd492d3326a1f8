"""The delivery lifecycle is declared once, in signbridge.lifecycle: no other module spells a
collection of delivery states of its own (the store's conditions, the sweeper's sets, the
console's guards and listings all ask the lifecycle), and the generated states page is current."""

from __future__ import annotations

import ast
from pathlib import Path

from signbridge.lifecycle import DeliveryState
from signbridge_tools import states_doc

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = ROOT / "layers/shared/signbridge/lifecycle.py"
SOURCES = [
    *sorted((ROOT / "layers/shared/signbridge").rglob("*.py")),
    *sorted((ROOT / "functions").rglob("*.py")),
    *sorted((ROOT / "tools/signbridge_tools").rglob("*.py")),
]
STATE_NAMES = {s.name for s in DeliveryState}
STATE_VALUES = {s.value for s in DeliveryState}
# Collections whose strings happen to be spelled like states but name something else.
NOT_DELIVERY_STATES: dict[str, str] = {}


def _is_state_member(node: ast.expr) -> bool:
    """``DeliveryState.X`` (or an alias of the enum, ``S.X``)."""
    return isinstance(node, ast.Attribute) and node.attr in STATE_NAMES and isinstance(node.value, ast.Name)


def _elements(node: ast.AST) -> list[ast.expr] | None:
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return list(node.elts)
    if isinstance(node, ast.Dict):
        return [k for k in node.keys if k is not None]
    return None


def state_collections(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        elements = _elements(node)
        if not elements or len(elements) < 2:
            continue
        members = [e for e in elements if _is_state_member(e)]
        strings = [e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        spelled = len(strings) == len(elements) and all(s in STATE_VALUES for s in strings)
        if len(members) >= 2 or spelled:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:100]}")  # type: ignore[attr-defined]
    return found


def test_no_module_but_the_lifecycle_spells_a_list_of_delivery_states():
    assert LIFECYCLE in SOURCES and len(SOURCES) > 40
    offenders = [
        hit
        for path in SOURCES
        if path != LIFECYCLE and str(path.relative_to(ROOT)) not in NOT_DELIVERY_STATES
        for hit in state_collections(path)
    ]
    assert offenders == [], "ask signbridge.lifecycle (a Kind, a move's sources) instead:\n" + "\n".join(offenders)


def test_the_check_finds_a_list_of_states_spelled_elsewhere(tmp_path):
    spelled = tmp_path / "x.py"
    spelled.write_text(
        "from signbridge.lifecycle import DeliveryState\n"
        "A = (DeliveryState.HELD, DeliveryState.FAILED)\n"
        "B = {'pending': 1, 'sending': 2}\n"
        "C = ['paid', 'pending']\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert [hit.split(":")[1] for hit in state_collections(spelled)] == ["2", "3"]
    finally:
        ROOT = saved
    assert state_collections(LIFECYCLE), "the lifecycle itself spells them (the check looks where they are)"


def test_the_delivery_states_page_is_generated_from_the_lifecycle():
    page = states_doc.PAGE.read_text()
    assert page == states_doc.render(), "docs/delivery-states.md is stale: python -m signbridge_tools.states_doc"
    for state in DeliveryState:
        assert f"| `{state.value}` |" in page
