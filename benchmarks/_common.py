"""Timing, memory and reporting helpers shared by the benchmarks."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Headline:
    """One row of the summary table."""

    benchmark: str
    measured: str
    baseline: str
    ratio: str


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def machine() -> str:
    return (
        f"{platform.python_implementation()} {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {cores()} usable cores (os.cpu_count()={os.cpu_count()})"
    )


def best_per_call(
    functions: dict[str, Callable[[], object]], *, repeat: int = 7, target_seconds: float = 0.04
) -> dict[str, float]:
    """Seconds per call, best of ``repeat``; the functions' repeats are interleaved so drift hits all alike."""
    numbers: dict[str, int] = {}
    for name, fn in functions.items():
        fn()  # warm up
        number = 1
        while True:  # calibrate: enough calls for one repeat to last about target_seconds
            start = time.perf_counter()
            for _ in range(number):
                fn()
            if time.perf_counter() - start >= target_seconds / 4 or number >= 1 << 20:
                per_call = (time.perf_counter() - start) / number
                numbers[name] = max(1, round(target_seconds / per_call))
                break
            number *= 4
    best = {name: float("inf") for name in functions}
    for _ in range(repeat):
        for name, fn in functions.items():
            number = numbers[name]
            gc.disable()
            try:
                start = time.perf_counter()
                for _ in range(number):
                    fn()
                elapsed = time.perf_counter() - start
            finally:
                gc.enable()
            best[name] = min(best[name], elapsed / number)
    return best


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak traced allocation of one call, above what was allocated before it."""
    fn()  # warm caches so only the call's own allocations count
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak - before


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(headers: list[str], rows: list[list[str]], *, left: int = 1) -> str:
    """A compact plain-text table; the first ``left`` columns left-aligned, the rest right-aligned."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def markdown(headlines: list[Headline]) -> str:
    rows = ["| Benchmark | Measured | Baseline | Ratio |", "|---|---:|---:|---:|"]
    rows += [f"| {h.benchmark} | {h.measured} | {h.baseline} | {h.ratio} |" for h in headlines]
    return "\n".join(rows)


def say(text: str = "") -> None:
    print(text, flush=True)
    sys.stdout.flush()
