"""Benchmarks: `python -m benchmarks` (make bench) prints figures, each a ratio against a baseline
run side by side in the same process. Speed and memory are measured here, never in timed tests.

Importing this package prepares the environment the way tests/conftest.py does, before anything
imports signbridge (Powertools reads its settings when the shared logger and metrics are built).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests` (fixtures, template reader) lives at the repository root
    sys.path.insert(0, str(ROOT))

_DESTINATION_PREFIXES = ("SIGNCUSTOMISER_", "DROPDAY_", "ONWARD_", "EXTERNAL_ID_", "PLATFORM_", "ROUTE_", "FORWARD_")
for _key in list(os.environ):
    if _key.startswith(_DESTINATION_PREFIXES):
        del os.environ[_key]
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("LAMBDA_TASK_ROOT", None)
# Per-delivery INFO lines would bury the figures; both sides of every benchmark log at ERROR alike.
os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"

# tests.conftest applies BASE_ENV (region, fake credentials, table name, secrets) before it imports signbridge.
from tests.conftest import BASE_ENV  # noqa: E402

os.environ.update(BASE_ENV)
