"""Should Powertools validate the request (enable_validation, what its OpenAPI generation reads)
instead of signbridge's own checks? The product callback both ways, with nothing else in the
function (benchmarks/openapi_variants/): what it costs at cold start (fresh process, import +
first call, as cold_start.py measures) and per warm call, and whether the answers stay the same
(the signature is checked before the body; a bad body gets the ``{"error": ...}`` 422).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks._common import Headline, best_per_call, median, say, table
from benchmarks._lambda_like import build_layer, product_created, xray_daemon_sink
from benchmarks.cold_start import cold_start, lambda_environment
from tests.conftest import INTEGRATION_SECRET, LambdaContext
from tests.support.events import api_event, signed_headers
from tests.support.lambda_runtime import runtime_packages

REPEATS = 9
VARIANTS = Path(__file__).with_name("openapi_variants")
SIDES = {"signbridge's checks (today)": "hand", "Powertools enable_validation": "powertools"}


def load(variant: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"openapi_variant_{variant}", VARIANTS / variant / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invalid_product(*, signed: bool) -> dict[str, Any]:
    raw = json.dumps({"product": {"title": "no id"}}).encode()
    headers = signed_headers(INTEGRATION_SECRET, raw) if signed else {}
    return api_event("POST", "/sign-customiser/products", raw, {"content-type": "application/json", **headers})


def run() -> list[Headline]:
    cold: dict[str, list[float]] = {name: [] for name in SIDES}
    cpu: dict[str, list[float]] = {name: [] for name in SIDES}
    with tempfile.TemporaryDirectory(prefix="signbridge-openapi-") as tmp, xray_daemon_sink() as xray:
        work = Path(tmp)
        path = [str(build_layer(work / "layer")), str(runtime_packages(work / "runtime"))]
        for _ in range(REPEATS):
            for name, variant in SIDES.items():
                folder = work / "task" / variant
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy(VARIANTS / variant / "app.py", folder / "app.py")
                env = lambda_environment(folder, {"AWS_XRAY_DAEMON_ADDRESS": xray})
                result: Any = cold_start(folder, path, product_created(), env, work)
                assert result["outcome"] == "200", result["log"]
                cold[name].append(result["import_s"] + result["invoke_s"])
                cpu[name].append(result["cpu_s"])

    handlers = {name: load(variant).handler for name, variant in SIDES.items()}
    context = LambdaContext()
    event = product_created()
    warm = best_per_call({name: (lambda h=h: h(event, context)) for name, h in handlers.items()})
    answers = {
        name: [
            (r["statusCode"], json.loads(r["body"]))
            for r in (h(invalid_product(signed=s), context) for s in (False, True))
        ]
        for name, h in handlers.items()
    }

    say("7. Request validation: signbridge's checks vs Powertools' enable_validation (product callback only)")
    rows = []
    for name in SIDES:
        statuses = " / ".join(str(status) for status, _ in answers[name])
        cold_ms, cpu_ms = median(cold[name]) * 1000, median(cpu[name]) * 1000
        rows.append([name, f"{cold_ms:.0f}", f"{cpu_ms:.0f}", f"{warm[name] * 1e6:.0f}", statuses])
    say(table(["side", "cold ms", "CPU ms", "warm µs/call", "unsigned bad body / signed bad body"], rows))
    hand, powertools = (answers[name] for name in SIDES)
    same = hand == powertools
    say(f"   same status and body for both bad requests: {'yes' if same else 'no'}")
    if not same:
        say(f"   today: {json.dumps(hand)}\n   powertools: {json.dumps(powertools)}")
    say()
    hand_name, pt_name = SIDES
    hand_cpu, pt_cpu = median(cpu[hand_name]), median(cpu[pt_name])
    return [
        Headline(
            "Powertools request validation (OpenAPI from the resolver): cold start CPU / warm call",
            f"{pt_cpu * 1000:.0f} ms / {warm[pt_name] * 1e6:.0f} µs",
            f"{hand_cpu * 1000:.0f} ms / {warm[hand_name] * 1e6:.0f} µs signbridge's checks",
            f"{pt_cpu / hand_cpu:.2f}x / {warm[pt_name] / warm[hand_name]:.2f}x the time",
        )
    ]
