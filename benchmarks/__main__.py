"""`python -m benchmarks` (make bench): every figure is a ratio against a baseline run side by side
in the same process. Prints a plain-text table per benchmark, then a markdown summary that is also
written to benchmarks/latest.md (paste it into the README)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import benchmarks  # noqa: F401 - prepares the environment before signbridge is imported
from benchmarks import (
    cold_start,
    forwarder_batch,
    layer_size,
    mapping,
    openapi_validation,
    signature_verify,
    warm_callback,
)
from benchmarks._common import machine, markdown, say

LATEST = Path(__file__).with_name("latest.md")


def main() -> None:
    started = time.perf_counter()
    box = machine()
    say(f"signbridge benchmarks: {box}")
    say()
    headlines = forwarder_batch.run() + signature_verify.run()
    cold, memory = cold_start.run()
    headlines += cold + warm_callback.run() + layer_size.run() + memory + mapping.run() + openapi_validation.run()
    summary = markdown(headlines)
    took = time.perf_counter() - started
    say(f"Summary ({took:.0f} s in all):")
    say()
    say(summary)
    LATEST.write_text(
        "# Benchmarks\n\n"
        f"`make bench` (`python -m benchmarks`), {datetime.now(UTC):%Y-%m-%d}, {box}.\n"
        "Each figure is measured side by side with its baseline in the same process.\n\n"
        f"{summary}\n"
    )
    say()
    say(f"written to {LATEST.relative_to(Path.cwd()) if LATEST.is_relative_to(Path.cwd()) else LATEST}")


if __name__ == "__main__":
    main()
