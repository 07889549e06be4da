"""Timing whole ``accelsim`` processes against the first of them, shared by the benchmarks
that compare command lines (``gpu_speed.py``, ``distributed_speed.py``)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

# the console script installed beside this interpreter
ACCELSIM = str(Path(sys.executable).with_name("accelsim"))


def wall(args: Sequence[str]) -> float:
    """Seconds one ``accelsim ARGS`` process takes, its output discarded."""
    start = time.perf_counter()
    subprocess.run([ACCELSIM, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def ratio_table(commands: Mapping[str, Sequence[str]], repeats: int) -> str:
    """A Markdown table of each command's median wall time over ``repeats`` runs, after one
    warm-up run (file-system and numba caches), and its ratio to the first command's."""
    medians = {}
    for label, args in commands.items():
        wall(args)
        medians[label] = statistics.median(wall(args) for _ in range(repeats))
    base = next(iter(medians.values()))
    rows = [f"| command | median wall (s), {repeats} runs | x baseline |", "|---|---|---|"]
    rows += [f"| `{label}` | {t:.3f} | {t / base:.2f} |" for label, t in medians.items()]
    return "\n".join(rows)


def median_wall(fn: Callable[[], object], repeats: int, *, warm_up: bool = False) -> float:
    """Median wall time of ``fn()`` in this process over ``repeats`` calls (after one
    uncounted call with ``warm_up``, so that numba's compilation is not timed)."""
    if warm_up:
        fn()
    walls = []
    for _ in range(repeats):
        begin = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - begin)
    return statistics.median(walls)
