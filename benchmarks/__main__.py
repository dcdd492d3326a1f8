"""`python -m benchmarks` (make bench): every figure is a ratio against a baseline run side by side
in the same process. Prints a plain-text table per benchmark, then a markdown summary that is also
written to benchmarks/latest.md (paste it into the README).

`python -m benchmarks cold_start warm_callback` runs only the benchmarks named (latest.md is then
left alone)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import benchmarks  # noqa: F401 - prepares the environment before signbridge is imported
from benchmarks import (
    cold_start,
    forwarder_batch,
    growth,
    layer_size,
    mapping,
    openapi_validation,
    order_cost,
    signature_verify,
    warm_callback,
)
from benchmarks._common import Headline, machine, markdown, say

LATEST = Path(__file__).with_name("latest.md")


def cold_start_and_memory() -> list[Headline]:
    cold, memory = cold_start.run()
    return cold + memory


BENCHMARKS: dict[str, Callable[[], list[Headline]]] = {
    "forwarder_batch": forwarder_batch.run,
    "signature_verify": signature_verify.run,
    "cold_start": cold_start_and_memory,
    "warm_callback": warm_callback.run,
    "layer_size": layer_size.run,
    "mapping": mapping.run,
    "openapi_validation": openapi_validation.run,
    "order_cost": order_cost.run,
    "growth": growth.run,
}


def main() -> None:
    chosen = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    started = time.perf_counter()
    box = machine()
    say(f"signbridge benchmarks: {box}")
    say()
    headlines = [headline for name in chosen for headline in BENCHMARKS[name]()]
    summary = markdown(headlines)
    took = time.perf_counter() - started
    say(f"Summary ({took:.0f} s in all):")
    say()
    say(summary)
    if sys.argv[1:]:
        return
    LATEST.write_text(
        "# Benchmarks\n\n"
        f"`make bench` (`python -m benchmarks`), {datetime.now(UTC):%Y-%m-%d}, {box}.\n"
        "Each figure is measured side by side with its baseline, in the same run.\n\n"
        f"{summary}\n"
    )
    say()
    say(f"written to {LATEST.relative_to(Path.cwd()) if LATEST.is_relative_to(Path.cwd()) else LATEST}")


if __name__ == "__main__":
    main()
