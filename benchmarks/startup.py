"""Start-up and whole-process speed of the common path, as ratios to the import floor.

Each command runs several times as a fresh process; the table gives the median wall time
and its ratio to the *import floor*, ``python -c "import numpy, yaml, networkx"`` (what
any run of accelsim pays before it does anything), measured in the same run. Result
caches live in a scratch directory (``ACCELSIM_CACHE_DIR``): "warm" rows run once before
timing so the cache holds the run's results; "--no-cache" rows bypass it.

    python benchmarks/startup.py            # prints a Markdown table
    python benchmarks/startup.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# the console script installed beside this interpreter
ACCELSIM = str(Path(sys.executable).with_name("accelsim"))
FLOOR = "import floor: python -c 'import numpy, yaml, networkx'"


def _estimate(*args: str) -> list[str]:
    return [ACCELSIM, "estimate", *args, "--json"]


COMMANDS: dict[str, list[str]] = {
    FLOOR: [sys.executable, "-c", "import numpy, yaml, networkx"],
    "python -c 'import accelsim'": [sys.executable, "-c", "import accelsim"],
    "estimate resnet50 --hw tpu_v1": _estimate("resnet50", "--hw", "tpu_v1"),
    "estimate resnet50 --hw tpu_v1 --compat scalesim (warm cache)":
        _estimate("resnet50", "--hw", "tpu_v1", "--compat", "scalesim"),
    "estimate resnet50 --hw tpu_v1 --compat scalesim --no-cache":
        _estimate("resnet50", "--hw", "tpu_v1", "--compat", "scalesim", "--no-cache"),
    "estimate resnet50 --hw eyeriss (warm cache)": _estimate("resnet50", "--hw", "eyeriss"),
    "estimate bert_base --hw h100_roofline": _estimate("bert_base", "--hw", "h100_roofline"),
}
# Targets: ratio to the import floor at most (the systolic default mode is a closed form, so
# it meets the warm-cache target with no cache at all).
TARGETS = {"estimate resnet50 --hw tpu_v1": 2.5,
           "estimate resnet50 --hw tpu_v1 --compat scalesim (warm cache)": 2.5,
           "estimate resnet50 --hw eyeriss (warm cache)": 4.0}


def wall(cmd: list[str], repeats: int, env: dict[str, str]) -> float:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)  # warm file and result caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="accelsim-startup-") as cache:
        env = dict(os.environ, ACCELSIM_CACHE_DIR=cache)
        results = {name: wall(cmd, args.repeats, env) for name, cmd in COMMANDS.items()}
    floor = results[FLOOR]
    print(f"| command | median wall (s), {args.repeats} runs | x import floor | target |")
    print("|---|---|---|---|")
    for name, seconds in results.items():
        target = f"<= {TARGETS[name]}" if name in TARGETS else ""
        print(f"| `{name}` | {seconds:.3f} | {seconds / floor:.2f} | {target} |")


if __name__ == "__main__":
    main()
