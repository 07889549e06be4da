"""Whole-process speed of the gpu family and the training step, as ratios to the roofline.

``accelsim estimate resnet50 --hw h100 --json`` and ``accelsim train resnet50 --hw h100
--json`` against ``accelsim estimate resnet50 --hw h100_roofline --json`` (the baseline),
each the median of several fresh processes in the same run.

    python benchmarks/gpu_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ACCELSIM = str(Path(sys.executable).with_name("accelsim"))
COMMANDS = {
    "estimate resnet50 --hw h100_roofline (baseline)": ["estimate", "resnet50", "--hw", "h100_roofline"],
    "estimate resnet50 --hw h100": ["estimate", "resnet50", "--hw", "h100"],
    "train resnet50 --hw h100": ["train", "resnet50", "--hw", "h100"],
}


def _wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([ACCELSIM, *args, "--json"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    medians = {}
    for label, args in COMMANDS.items():
        _wall(args)  # warm-up: file-system caches
        medians[label] = statistics.median(_wall(args) for _ in range(repeats))
    base = next(iter(medians.values()))
    print(f"| command | median wall (s), {repeats} runs | x baseline |\n|---|---|---|")
    for label, wall in medians.items():
        print(f"| `{label}` | {wall:.3f} | {wall / base:.2f} |")


if __name__ == "__main__":
    main()
