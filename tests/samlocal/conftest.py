"""`make sam-local`, run once for the session: every function through SAM CLI's local runtime.

Opt-in (it provisions a container engine and takes about a minute and a half):
SIGNBRIDGE_SAMLOCAL=1 runs it, skipping when this machine has no Docker daemon and Podman cannot be
provisioned; SIGNBRIDGE_SAMLOCAL=required (CI) fails instead of skipping. MINISTACK_PORT picks
the local stack, as for `make dev`.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.support.template import ROOT

RESULTS = ROOT / ".local" / "sam-local" / "results.json"
TIMINGS = ROOT / ".local" / "sam-local" / "timings.json"
NO_ENGINE = 3  # local/sam-local.sh's exit status when no container engine can be provisioned


def _not_run(reason: str) -> None:
    if os.environ.get("SIGNBRIDGE_SAMLOCAL") == "required":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def samlocal() -> dict[str, Any]:
    """The results of one `local/sam-local.sh` run (what `make sam-local` runs)."""
    if os.environ.get("SIGNBRIDGE_SAMLOCAL") not in ("1", "required"):
        pytest.skip("sam local invoke suite is opt-in: set SIGNBRIDGE_SAMLOCAL=1 (CI: =required)")
    # Every run first removes Podman's default bridge, as on a machine that never ran a container:
    # the fresh-machine path is taken on every machine, not only on a new one.
    env = {**os.environ, "SAMLOCAL_FRESH_BRIDGE": "1"}
    for stale in (RESULTS, TIMINGS):
        stale.unlink(missing_ok=True)
    done = subprocess.run(
        ["bash", str(ROOT / "local" / "sam-local.sh")], cwd=ROOT, capture_output=True, text=True, env=env
    )
    if done.returncode == NO_ENGINE:
        _not_run(f"no container engine for sam local invoke on this machine:\n{done.stderr[-2000:]}")
    if not RESULTS.exists():
        pytest.fail(f"local/sam-local.sh exited {done.returncode} without results:\n{done.stderr[-4000:]}")
    results = dict(json.loads(RESULTS.read_text()))
    results["timings"] = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    return results


START_API = ROOT / ".local" / "sam-local" / "start-api.json"


@pytest.fixture(scope="session")
def start_api() -> dict[str, Any]:
    """The answers to real HTTP requests through `sam local start-api` (what `make start-api`
    serves): `local/sam-local.sh start-api --check`."""
    if os.environ.get("SIGNBRIDGE_SAMLOCAL") not in ("1", "required"):
        pytest.skip("sam local start-api suite is opt-in: set SIGNBRIDGE_SAMLOCAL=1 (CI: =required)")
    START_API.unlink(missing_ok=True)
    done = subprocess.run(
        ["bash", str(ROOT / "local" / "sam-local.sh"), "start-api", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode == NO_ENGINE:
        _not_run(f"no container engine for sam local start-api on this machine:\n{done.stderr[-2000:]}")
    if not START_API.exists():
        pytest.fail(f"local/sam-local.sh start-api exited {done.returncode} without results:\n{done.stderr[-4000:]}")
    results = dict(json.loads(START_API.read_text()))
    results["printed"] = done.stdout + done.stderr
    return results
