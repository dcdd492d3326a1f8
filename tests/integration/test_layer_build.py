"""The shared layer as `sam build` makes it (Makefile `build-SharedLayer`), for this machine's python.

The build trims what signbridge never reads (pycountry's translation catalogues and language
databases, packaged tests, ...); these tests run code from the built layer, in a process of
its own, to show that what the functions use is still there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BASE_ENV
from tests.support.lambda_runtime import runtime_packages
from tests.support.template import ROOT


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = tmp_path_factory.mktemp("layer")
    subprocess.run(
        [
            "make",
            "-s",
            "build-SharedLayer",
            "LAYER_TARGET=local",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return artifacts / "python"


def run_in_layer(layer: Path, code: str, *extra_path: Path) -> str:
    """Run ``code`` with the layer on sys.path (as /opt/python is on Lambda), then boto3, and nothing else."""
    path = [*map(str, extra_path), str(layer), str(runtime_packages(layer.parent / "runtime"))]
    env = {**os.environ, **BASE_ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    prelude = f"import sys; sys.path[:0] = {path!r}\n"
    result = subprocess.run(
        [sys.executable, "-S", "-c", prelude + code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_trimmed_layer_still_finds_countries_and_subdivisions_by_name(layer: Path) -> None:
    assert not (layer / "pycountry" / "locales").exists()  # the 22 MB of translations are gone

    out = run_in_layer(
        layer,
        "import json, pycountry\n"
        "from signbridge.iso import country_alpha2, subdivision_code\n"
        "assert pycountry.__file__.startswith(sys.path[0])\n"
        "print(json.dumps([country_alpha2('Australia'), country_alpha2('Türkiye'), country_alpha2('DEU'),\n"
        "    country_alpha2('United Kingdom'), subdivision_code('AU', 'Queensland'), subdivision_code('US', 'ca')]))",
    )

    assert json.loads(out) == ["AU", "TR", "DE", "GB", "QLD", "CA"]


@pytest.mark.parametrize("function", ["products", "webhooks", "orders", "outbox", "forwarder", "sweeper"])
def test_every_function_imports_from_the_built_layer(layer: Path, function: str) -> None:
    out = run_in_layer(
        layer,
        "import app, signbridge\nprint(signbridge.__file__)",
        ROOT / "functions" / function,
    )

    assert out.splitlines()[-1].startswith(str(layer))


def test_anyio_stays_lazy_in_the_built_layer(layer: Path) -> None:
    """anyio (httpcore imports it on every client's first request) reads its own source to import
    lazily; without it, it silently imports all its modules up front."""
    out = run_in_layer(layer, "import anyio\nprint(len([m for m in sys.modules if m.startswith('anyio')]))")

    assert int(out.splitlines()[-1]) <= 5


def test_libraries_run_from_bytecode_alone_and_signbridge_tracebacks_keep_their_source(layer: Path) -> None:
    out = run_in_layer(
        layer,
        "import traceback, pydantic\n"
        "from signbridge.signature import verify_signature\n"
        "print(pydantic.__file__)\n"
        "try:\n"
        "    verify_signature(b'{}', {}, ['secret'], now=0, tolerance_seconds=300)\n"
        "except Exception:\n"
        "    print(traceback.format_exc())\n",
    )

    assert out.splitlines()[0].endswith("pydantic/__init__.pyc")
    assert not (layer / "pydantic" / "__init__.py").exists()
    # The failing frame in signbridge is shown with its line of code, as on Lambda.
    assert "signbridge/signature.py" in out and "raise " in out


# What only the forwarder (or products in platform mode) uses: a function that does not call a
# destination must not pay for loading it at every cold start.
FORWARDING_ONLY = (
    "httpx",
    "simplejson",
    "signbridge.logic.forwarding",
    "signbridge.outbound_http",
    "signbridge.clients.platform",
)
# Any destination's own modules (its models, mapper, client, port, ...): the registry and the
# packages' light __init__ and settings may load, nothing else.
DESTINATION_PARTS = "signbridge.destinations."


@pytest.mark.parametrize("function", ["products", "webhooks", "orders", "outbox"])
def test_functions_that_forward_nothing_do_not_load_the_forwarding_path(layer: Path, function: str) -> None:
    out = run_in_layer(
        layer,
        "import app\n"
        f"print(sorted(m for m in sys.modules if m in {FORWARDING_ONLY!r} or (m.startswith({DESTINATION_PARTS!r})"
        " and m.count('.') == 3 and not m.endswith('.settings'))))",
        ROOT / "functions" / function,
    )

    assert out.splitlines()[-1] == "[]"


def test_the_aws_layer_holds_arm64_binaries_and_unchecked_bytecode_for_cpython_313(tmp_path: Path) -> None:
    show = ["make", "-s", "-C", str(ROOT), "--eval", "show:;@echo $(LAYER_PYTHON)", "show"]
    probe = subprocess.run(show, capture_output=True, text=True, check=False)
    if not probe.stdout.strip():
        pytest.skip("no CPython 3.13 here to compile the AWS layer with (see the Makefile's LAYER_PYTHON)")
    subprocess.run(
        ["make", "-s", "build-SharedLayer", f"ARTIFACTS_DIR={tmp_path}", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    layer = tmp_path / "python"

    binaries = list(layer.rglob("*.so"))
    assert binaries and all("cpython-313-aarch64-linux-gnu" in so.name for so in binaries)
    sources = list((layer / "signbridge").rglob("*.py"))
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        # PEP 552 header: the flags word says hash-based (bit 0) and not checked against the source (bit 1 clear).
        assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01, pyc
    assert not (layer / "pycountry" / "locales").exists()
    # Libraries are bytecode only, compiled by CPython 3.13 (its magic number opens every .pyc).
    magic = subprocess.run(
        [
            probe.stdout.strip(),
            "-c",
            "import importlib.util, sys; sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)",
        ],
        capture_output=True,
        check=True,
    ).stdout
    sourced = {str(p.relative_to(layer)) for p in layer.rglob("*.py") if "signbridge" not in p.relative_to(layer).parts}
    assert sourced == {"anyio/__init__.py", "anyio/abc/__init__.py"}  # read by anyio itself
    assert (layer / "pydantic" / "main.pyc").read_bytes()[:4] == magic
    assert not (layer / "aws_lambda_powertools" / "utilities" / "idempotency").exists()


# Each API/stream function's composition root wires only the store aggregates its own path uses
# (webhooks: the order aggregate only when it forwards an order, not at import); the item models
# stay out of the outbox (it reads stream images as they are).
AGGREGATES = (
    "signbridge.store.products",
    "signbridge.store.orders",
    "signbridge.store.intake",
    "signbridge.store.webhooks",
    "signbridge.store.queries",
    "signbridge.store.composed",
    "signbridge.models.items",
)
LOADED = {
    "products": ["signbridge.models.items", "signbridge.store.products"],
    "webhooks": ["signbridge.models.items", "signbridge.store.webhooks"],  # orders: only once one is forwarded
    "orders": [
        "signbridge.models.items",
        "signbridge.store.intake",
        "signbridge.store.orders",
        "signbridge.store.products",
    ],
    "outbox": [],
}


def test_the_outbox_loads_neither_the_core_settings_nor_the_xray_sdk(layer: Path) -> None:
    """A stream-to-queue relay: boto3, Powertools' batch, logger and metrics, its own one-field
    settings model, and nothing heavier."""
    heavy = ("signbridge.settings", "aws_xray_sdk", "httpx", "pycountry", "signbridge.models.items")
    out = run_in_layer(
        layer, f"import app\nprint(sorted(m for m in {heavy!r} if m in sys.modules))", ROOT / "functions" / "outbox"
    )

    assert out.splitlines()[-1] == "[]"


def test_the_outbox_without_its_queue_fails_to_start_naming_the_variable(layer: Path) -> None:
    path = [str(ROOT / "functions" / "outbox"), str(layer), str(runtime_packages(layer.parent / "runtime"))]
    env = {k: v for k, v in {**os.environ, **BASE_ENV}.items() if k != "DELIVERY_QUEUE_URL"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {path!r}\nimport app"],
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    assert "delivery_queue_url" in result.stderr and "Field required" in result.stderr


@pytest.mark.parametrize("function", sorted(LOADED))
def test_each_function_loads_only_its_own_store_aggregates(layer: Path, function: str) -> None:
    out = run_in_layer(
        layer,
        f"import app\nprint(sorted(m for m in {AGGREGATES!r} if m in sys.modules))",
        ROOT / "functions" / function,
    )

    assert out.splitlines()[-1] == str(LOADED[function])
