"""Whole-process speed of ``accelsim compress``, as ratios to one ``estimate`` of the same model.

``accelsim compress resnet50 --hw edge_systolic[_sparse] --auto --target latency=0.5x`` (the
search costs ResNet-50 once per option and round) against ``accelsim estimate resnet50 --hw
edge_systolic`` (the baseline), each the median of fresh processes in the same run. The goal
the project set: the automatic search end to end under 60 s on 2 cores.

    python benchmarks/compress_speed.py [--repeats 1]
"""

from __future__ import annotations

import argparse

from whole_process import ratio_table

AUTO = ["--auto", "--target", "latency=0.5x", "--quiet"]
COMMANDS = {
    "estimate resnet50 --hw edge_systolic (baseline)": ["estimate", "resnet50", "--hw", "edge_systolic", "--quiet"],
    "compress resnet50 --hw edge_systolic --auto": ["compress", "resnet50", "--hw", "edge_systolic", *AUTO],
    "compress resnet50 --hw edge_systolic_sparse --auto": ["compress", "resnet50", "--hw", "edge_systolic_sparse", *AUTO],
    "compress digits_cnn --hw edge_systolic --passes prune:0.8:finetune,quantize:int8":
        ["compress", "digits_cnn", "--hw", "edge_systolic", "--passes", "prune:0.8:finetune,quantize:int8", "--quiet"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    repeats = parser.parse_args().repeats
    print(ratio_table({label: [*args, "--json"] for label, args in COMMANDS.items()}, repeats))


if __name__ == "__main__":
    main()
