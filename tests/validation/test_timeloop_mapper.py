"""accelsim's npu mapper against ``timeloop-mapper`` on Timeloop tutorial exercise 05.

Reference: ../shared/reference/timeloop/05-mapper-conv1d+oc-3level: a 3-level machine
(DRAM, global buffer, register file) and a 1-D convolution with output channels, searched
by Timeloop under two mapspaces: unconstrained (``null``) and with factors and loop orders
fixed but keep/bypass free (``freebypass``); ``ref-output/*/timeloop-mapper.stats.txt``
holds the cycles and energy of the mapping it chose. With the same architecture, problem,
constraints and energy table (``--ert``) and Timeloop's objective (delay, then energy:
``--objective latency``), accelsim's mapping must be at least as good: no more cycles and,
at equal cycles, no more energy (to the 0.01 fJ/MAC the report prints). The runs and the
comparison are defined in accelsim/validation/timeloop.py (``accelsim validate``).
"""

from __future__ import annotations

import json

import pytest

from accelsim.cli import main
from accelsim.validation import CASES, Skipped
from accelsim.validation.timeloop import MAPPER_RUNS, REFERENCE
from accelsim.validation.timeloop_stats import read_stats

pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"Timeloop reference outputs not found at {REFERENCE}")


def _checks() -> list:
    try:
        return CASES.get("timeloop_mapper").run()
    except Skipped as why:  # pragma: no cover - guarded by pytestmark
        pytest.skip(str(why))


@pytest.mark.parametrize("run", MAPPER_RUNS, ids=lambda r: r.exercise.id)
def test_the_cli_finds_a_mapping_at_least_as_good_as_timeloops(run, capsys: pytest.CaptureFixture[str]) -> None:
    p = run.exercise.paths()
    ref = read_stats(p["stats"])
    argv = ["estimate", str(p["prob"]), "--hw", str(p["arch"]), "--ert", str(p["ert"]), "--objective", "latency",
            "--constraints", str(run.constraints_path()), "--json"]
    assert main(argv) == 0
    (layer,) = json.loads(capsys.readouterr().out)["layers"]
    assert layer["cycles"] <= ref.cycles
    if layer["cycles"] == ref.cycles:
        fj_per_mac = layer["energy_j"] / ref.computes * 1e15
        assert fj_per_mac <= ref.fj_per_compute["Total"] + 0.005


def test_the_validation_case_agrees() -> None:
    checks = _checks()
    assert len(checks) == 2 * len(MAPPER_RUNS)  # delays tie (every mapping keeps the MAC busy): energy checked
    assert all(c.ok for c in checks), [(c.case, c.quantity, c.predicted, c.reference) for c in checks if not c.ok]


def test_without_constraints_it_beats_timeloops_unconstrained_search() -> None:
    # timeloop-mapper's linear-pruned search stopped at 235520.50 fJ/MAC for the null mapspace;
    # keeping the register file and buffer busy costs about 29100 fJ/MAC
    (null,) = [c for c in _checks() if c.case == "timeloop.05-null" and "energy" in c.quantity]
    assert null.predicted < 0.2 * null.reference
