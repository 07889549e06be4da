"""Whole-process speed of training on a cluster, as ratios to the one-device training step.

The cluster is the bundled ``dgx_h100_ib`` grown to 512 nodes (4,096 H100s; written to a
scratch folder). Rows, each the median of several fresh processes after one warm-up:

* ``train resnet50 --hw h100 --json``: one device, the baseline;
* ``train resnet50 --hw CLUSTER --json``: one iteration on all 4,096 GPUs;
* ``... --report DIR``: that, plus the scaling sweep at 1, 2, 4, ..., 4,096 devices and both
  figures drawn (matplotlib included): the sweep the issue asks to finish within 5 s;
* ``... --sync ssp:3 --comm ps --ps-shards 64 --stragglers lognormal:0.1 --iterations 200``:
  4,096 workers played out event by event (about 0.8 million events).

    python benchmarks/distributed_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

from whole_process import ratio_table

from accelsim.resources import data_dir

NODES = 512


def _cluster(folder: Path) -> Path:
    text = (data_dir("hw_configs") / "dgx_h100_ib.yaml").read_text()
    text = re.sub(r"(?m)^nodes: \d+$", f"nodes: {NODES}", text)
    text = re.sub(r"(?m)^name: .*$", "name: dgx_h100_4096", text)
    path = folder / "dgx_h100_4096.yaml"
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory(prefix="accelsim-dist-bench-") as scratch:
        folder = Path(scratch)
        cluster = str(_cluster(folder))
        report = str(folder / "report")
        commands = {
            "train resnet50 --hw h100 --json (baseline)": ["train", "resnet50", "--hw", "h100", "--json"],
            f"train resnet50 --hw dgx_h100_4096 --json ({NODES * 8} GPUs)":
                ["train", "resnet50", "--hw", cluster, "--json"],
            "... --report DIR (sweep 1..4096 and both figures)":
                ["train", "resnet50", "--hw", cluster, "--report", report, "--quiet"],
            "... --sync ssp:3 --comm ps --ps-shards 64 --stragglers lognormal:0.1 --iterations 200 --json":
                ["train", "resnet50", "--hw", cluster, "--sync", "ssp:3", "--comm", "ps", "--ps-shards", "64",
                 "--stragglers", "lognormal:0.1", "--iterations", "200", "--json"],
        }
        print(ratio_table(commands, repeats))


if __name__ == "__main__":
    main()
