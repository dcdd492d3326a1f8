"""Fuzz suites: each test records how many cases it ran and the statuses it saw in its report;
``tests.fuzz.summary`` prints them as one table at the end of the run."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.conftest import load_function
from tests.fuzz.summary import PROPERTY


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
