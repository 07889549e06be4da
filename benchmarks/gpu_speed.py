"""Whole-process speed of the gpu family and the training step, as ratios to the roofline.

``accelsim estimate resnet50 --hw h100 --json`` and ``accelsim train resnet50 --hw h100
--json`` against ``accelsim estimate resnet50 --hw h100_roofline --json`` (the baseline),
each the median of several fresh processes in the same run.

    python benchmarks/gpu_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse

from whole_process import ratio_table

COMMANDS = {
    "estimate resnet50 --hw h100_roofline (baseline)": ["estimate", "resnet50", "--hw", "h100_roofline"],
    "estimate resnet50 --hw h100": ["estimate", "resnet50", "--hw", "h100"],
    "train resnet50 --hw h100": ["train", "resnet50", "--hw", "h100"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    print(ratio_table({label: [*args, "--json"] for label, args in COMMANDS.items()}, repeats))


if __name__ == "__main__":
    main()
