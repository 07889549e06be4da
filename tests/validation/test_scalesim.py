"""SCALE-Sim 3.0.0 compatibility: every report field of every measured case, exactly.

The references are SCALE-Sim's own outputs on the same inputs (tests/data/scalesim, see its
README). accelsim reads the same .cfg and topology files; in scalesim mode (the default for
a .cfg) its figures must equal SCALE-Sim's, quirks included, to the last bit of the floats.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.estimation import estimate
from accelsim.hw.systolic.memory import REPORT_FIELDS

from accelsim.validation.scalesim import DATA, load_cases, topology_file

CASES = load_cases()


def figures_of(cfg: Path, topology: Path) -> list[dict]:
    est = estimate(topology, cfg)
    return [dict(layer.details["scalesim"]) for layer in est.layers]


def assert_fields_equal(got: dict, row: dict[str, str], case: str) -> None:
    wrong = [f"{k}: accelsim {got[k]!r}, SCALE-Sim {row[k]}" for k in REPORT_FIELDS
             if float(got[k]) != float(row[k])]
    assert not wrong, f"{case}: " + "; ".join(wrong)


def test_every_case_is_covered():
    assert len(CASES) == 55  # 54 from the reference run, 1 re-measured
    assert len(REPORT_FIELDS) == 30
    assert all(topology_file(row).exists() for row in CASES.values())


@pytest.mark.parametrize("case", sorted(CASES))
def test_reproduces_scalesim_exactly(case):
    row = CASES[case]
    (got,) = figures_of(DATA / "configs" / f"{row['cfg']}.cfg", topology_file(row))
    assert_fields_equal(got, row, case)


@pytest.mark.parametrize("cfg", ["sa32_calc_os", "sa32_user_small_is"])
def test_two_layer_topology_matches_each_layer(cfg):
    # SCALE-Sim simulates the layers of a topology independently: each row of a two-layer
    # topology equals the one-layer run of that layer.
    got = figures_of(DATA / "configs" / f"{cfg}.cfg", DATA / "topologies" / "multi_gemm_2layers.csv")
    assert len(got) == 2
    for figures, layer in zip(got, ("gemm_17x129x33", "gemm_33x17x129")):
        assert_fields_equal(figures, CASES[f"{cfg}__gemm_{layer}"], f"{cfg} {layer}")
