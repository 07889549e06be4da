"""Text and CSV renderings agree with the Estimate they render."""

import csv
import io

import pytest

from accelsim import estimate
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
        sum(float(total[k]) for k in total if k.startswith("energy_") and k.endswith("_j") and k != "energy_j"))


def test_table_has_every_layer_and_a_summary(est):
    text = render_table(est)
    for cost in est.layers:
        assert cost.name in text
    assert "TOTAL" in text
    assert text.rstrip().splitlines()[-1].startswith("digits_cnn on edge_npu (roofline), batch 1, int8")
