"""Text and CSV renderings: the figures they show, in the columns they name."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from accelsim import estimate
from accelsim.ir import Graph
from accelsim.report.table import render_csv, render_table


@pytest.fixture(scope="module")
def est():
    return estimate("digits_cnn", "edge_npu")


def test_csv_rows_and_total(est):
    rows = list(csv.DictReader(io.StringIO(render_csv(est))))
    assert [r["name"] for r in rows[:-1]] == [c.name for c in est.layers]
    total = rows[-1]
    assert total["name"] == "TOTAL"
    assert int(total["macs"]) == sum(int(r["macs"]) for r in rows[:-1])
    assert float(total["latency_s"]) == pytest.approx(sum(float(r["latency_s"]) for r in rows[:-1]))
    assert float(total["energy_j"]) == pytest.approx(
        sum(float(total[k]) for k in total if k.startswith("energy_by_component_j.")))


TOY = (Path(__file__).resolve().parents[2] / "data" / "toy_roofline.yaml").read_text()


def test_table_shows_hand_derived_figures(tmp_path):
    # fc(256) -> relu -> fc2(256), int8, batch 1 on a 1 TOPS, 1 GB/s roofline (derived in
    # tests/unit/hw/test_roofline.py::test_network_totals_by_hand): each fc moves 66,048 B
    # off chip (66.048 us, 66,048 cycles; 66,304 B through the SRAM), the relu 0 B (256 ops:
    # 0.256 ns, 1 cycle; 512 B). Totals: 131,072 MACs, 132,097 cycles, 132.096 us,
    # 132,096 B DRAM, 133,120 B SRAM, 33.89 uJ; 1 / 132.096 us = 7,570.2 samples/s,
    # 33.89 uJ / 132.096 us = 257 mW; params 2 x (65,536 + 256) = 131,584.
    (tmp_path / "toy.yaml").write_text(TOY)
    g = Graph("three")
    g.add("x", "input", (), {"shape": [1, 256], "dtype": "int8"})
    g.add("fc", "linear", ("x",), {"out_features": 256})
    g.add("act", "relu", ("fc",))
    g.add("fc2", "linear", ("act",), {"out_features": 256})
    lines = [" ".join(line.split()) for line in render_table(estimate(g, tmp_path / "toy.yaml")).splitlines()]
    assert lines[0] == "layer op output MACs cycles latency energy dram B sram B util bound"
    assert lines[2:6] == [
        "fc linear 1x256 65.5 k 66048 66 µs 16.9 µJ 66 k 66.3 k 0% dram",
        "act relu 1x256 0 1 0.256 ns 6.41 nJ 0 512 - compute",
        "fc2 linear 1x256 65.5 k 66048 66 µs 16.9 µJ 66 k 66.3 k 0% dram",
        "TOTAL 131 k 132097 132 µs 33.9 µJ 132 k 133 k 0% dram",
    ]
    assert lines[-1] == ("three on toy (roofline), batch 1, int8: 132 µs, 7,570.2 samples/s, 33.9 µJ, 257 mW, "
                         "131 k MACs, 132 k params")


def test_report_modules_import_without_matplotlib():
    # A fresh interpreter: matplotlib is loaded only when a plot is drawn (--report).
    code = ("import sys, accelsim.report, accelsim.report.table, accelsim.report.html, accelsim.report.scalesim; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"
