"""The deployed local stack (`make dev`): real API Gateway routing, Lambda runtime and table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.template import ROOT

STACK_FILE = Path(os.environ.get("SIGNBRIDGE_STACK_FILE", ROOT / ".local" / "stack.json"))


@pytest.fixture(scope="session")
def stack() -> dict[str, Any]:
    if not STACK_FILE.exists():
        message = f"no local stack ({STACK_FILE} is missing): run `make dev` first"
        if os.environ.get("SIGNBRIDGE_E2E") == "required":
            pytest.fail(message)
        pytest.skip(message)
    return dict(json.loads(STACK_FILE.read_text()))


@pytest.fixture(scope="session")
def http() -> httpx.Client:
    return httpx.Client(timeout=30)
