"""Size of the shared layer for AWS (CPython 3.13, arm64), as `make build-SharedLayer` builds it,
against the same requirements installed the way the layer was built before it was trimmed and
compiled (pip's arm64 wheels, no bytecode, everything they ship). Unzipped = the files' bytes
(what Lambda's 250 MB limit counts); zipped = a deflated zip, as `sam deploy` uploads it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

from benchmarks import ROOT
from benchmarks._common import Headline, say, table
from benchmarks._lambda_like import build_layer

GOAL_MB = 15.0
ARM64 = ["--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.13"]


def untrimmed(artifacts: Path) -> Path:
    """The layer's requirements as pip installs them for arm64, plus signbridge: no bytecode, no trimming."""
    python = artifacts / "python"
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--no-deps",
        "--disable-pip-version-check",
    ]
    subprocess.run(  # noqa: S603 - this interpreter's pip, our own requirements file
        [
            *pip,
            *ARM64,
            "--only-binary=:all:",
            "-r",
            str(ROOT / "layers/shared/requirements.txt"),
            "--target",
            str(python),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    shutil.copytree(ROOT / "layers/shared/signbridge", python / "signbridge")
    return python


def unzipped_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def zipped_bytes(folder: Path, into: Path) -> int:
    with zipfile.ZipFile(into, "w", zipfile.ZIP_DEFLATED) as archive:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                archive.write(f, Path("python") / f.relative_to(folder))
    return into.stat().st_size


def kinds(folder: Path) -> Counter[str]:
    sizes: Counter[str] = Counter()
    for f in folder.rglob("*"):
        if f.is_file():
            kind = f.suffix if f.suffix in (".py", ".pyc", ".so", ".json") else "other"
            sizes[kind] += f.stat().st_size
    return sizes


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def run() -> list[Headline]:
    say("5. Shared layer for AWS (CPython 3.13, arm64): bytes unzipped and zipped")
    with tempfile.TemporaryDirectory(prefix="signbridge-layer-") as tmp:
        work = Path(tmp)
        before = untrimmed(work / "untrimmed")
        try:
            after = build_layer(work / "built", target="aws")
        except subprocess.CalledProcessError as exc:  # e.g. no CPython 3.13 to compile with
            say(f"   `make build-SharedLayer` (aws) failed: {exc.stderr.decode().strip()}")
            say()
            return [Headline("Layer size, arm64 (not built)", "-", "-", "-")]
        sides = {"untrimmed, no bytecode": before, "make build-SharedLayer": after}
        sizes = {
            name: (unzipped_bytes(p), zipped_bytes(p, work / f"{i}.zip")) for i, (name, p) in enumerate(sides.items())
        }
        compiled = sum(1 for _ in after.rglob("*.cpython-313.pyc"))
        bytecode_only = sum(1 for p in after.rglob("*.pyc") if p.parent.name != "__pycache__")
        rows = []
        for name, path in sides.items():
            k = kinds(path)
            rows.append(
                [name, mb(sizes[name][0]), mb(sizes[name][1])]
                + [mb(k[kind]) for kind in (".py", ".pyc", ".so", ".json", "other")]
            )
    say(table(["layer", "unzipped", "zipped", ".py", ".pyc", ".so", ".json", "other"], rows))
    say(
        f"   compiled for CPython 3.13: {compiled} signbridge modules beside their source (unchecked-hash),"
        f" {bytecode_only} library modules as bytecode only; goal <= {GOAL_MB:.0f} MB unzipped"
    )
    say()
    (base_unzipped, base_zipped), (unzipped, zipped) = sizes.values()
    verdict = "" if unzipped / 1e6 <= GOAL_MB else f" (goal {GOAL_MB:.0f} MB)"
    return [
        Headline(
            "Layer size, arm64, unzipped / zipped",
            f"{mb(unzipped)} / {mb(zipped)}{verdict}",
            f"{mb(base_unzipped)} / {mb(base_zipped)} untrimmed, no bytecode",
            f"{unzipped / base_unzipped:.2f}x / {zipped / base_zipped:.2f}x the size",
        )
    ]
