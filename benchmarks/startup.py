"""Start-up and whole-process speed of the common path.

Runs each command several times as a fresh process and reports the median wall time and
its ratio to a bare ``python -c pass`` measured in the same run (the baseline).

    python benchmarks/startup.py            # prints a Markdown table
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 7
# the console script installed beside this interpreter
ACCELSIM = str(Path(sys.executable).with_name("accelsim"))

COMMANDS = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "python -c 'import accelsim'": [sys.executable, "-c", "import accelsim"],
    "python -c 'import accelsim.estimation'": [sys.executable, "-c", "import accelsim.estimation"],
    "accelsim estimate resnet50 --hw tpu_v1 --json": [
        ACCELSIM, "estimate", "resnet50", "--hw", "tpu_v1", "--json"],
    "accelsim estimate bert_base --hw h100_roofline --json": [
        ACCELSIM, "estimate", "bert_base", "--hw", "h100_roofline", "--json"],
    "accelsim estimate gpt2_small --hw h100_roofline --json": [
        ACCELSIM, "estimate", "gpt2_small", "--hw", "h100_roofline", "--json"],
}


def wall(cmd: list[str]) -> float:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # warm the file cache
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    results = {name: wall(cmd) for name, cmd in COMMANDS.items()}
    base = results["python -c pass (baseline)"]
    print(f"| command | median wall (s), {REPEATS} runs | x baseline |")
    print("|---|---|---|")
    for name, seconds in results.items():
        print(f"| `{name}` | {seconds:.3f} | {seconds / base:.1f} |")


if __name__ == "__main__":
    main()
