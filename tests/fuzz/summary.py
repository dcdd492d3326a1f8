"""Prints the fuzz suites' cases and statuses at the end of a run.

Registered by tests/conftest.py rather than a hook in tests/fuzz/conftest.py:
under pytest-xdist the controller never loads a sub-folder's conftest, but it receives every
report, and the figures travel in each report's user_properties.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

PROPERTY = "fuzz_statuses"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows: dict[str, dict[str, int]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, value in getattr(report, "user_properties", []):
                if name == PROPERTY:
                    rows[report.nodeid.split("::")[-1]] = json.loads(value)
    if not rows:
        return
    terminalreporter.section("fuzz: cases and statuses")
    total: Counter[str] = Counter()
    for test, seen in sorted(rows.items()):
        total.update(seen)
        statuses = ", ".join(f"{status}: {count}" for status, count in seen.items())
        terminalreporter.write_line(f"{test}: {sum(seen.values())} cases; {statuses}")
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(total.items()))
    terminalreporter.write_line(f"all: {sum(total.values())} cases; {statuses}")
    bad = total.get("500", 0) + total.get("503", 0)
    terminalreporter.write_line(f"500 or 503: {bad}")
