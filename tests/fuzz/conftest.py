"""Fuzz suites: each test records how many cases it ran and the statuses it saw, and the run
ends with one table of them (also under pytest-xdist: the figures travel in the reports)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.conftest import load_function

PROPERTY = "fuzz_statuses"


class StatusTally:
    """The statuses a fuzz test saw; ``with tally:`` records them in the test's report, pass or fail."""

    def __init__(self, record_property: Any):
        self.seen: Counter[int] = Counter()
        self._record = record_property

    def add(self, status: int) -> None:
        self.seen[status] += 1

    def __enter__(self) -> StatusTally:
        return self

    def __exit__(self, *_: object) -> None:
        self._record(PROPERTY, json.dumps({str(k): v for k, v in sorted(self.seen.items())}))


@pytest.fixture
def tally(record_property: Any) -> StatusTally:
    return StatusTally(record_property)


@pytest.fixture
def handlers(table: Any) -> dict[str, Any]:
    """The three API functions, on the moto table."""
    return {name: load_function(name).handler for name in ("products", "webhooks", "orders")}


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
