"""The npu family against Timeloop's own outputs on the Timeloop/Accelergy tutorial exercises.

Reference: ../shared/reference/timeloop (exercises 00-03 and 05 of the public
timeloop-accelergy-exercises repository: inputs, and the ``timeloop-model`` /
``timeloop-mapper`` outputs they produce). For each case ``accelsim estimate PROB --hw ARCH
--mapping MAP --ert ERT --json`` must give Timeloop's cycle count and every per-instance
scalar read, fill and update of every level and data space printed in
``timeloop-*.stats.txt``, the same data spaces kept at each level, an energy within 0.1%
per level and in total (the stats print fJ/MAC with two decimals; 1% is the requirement),
and, for the model runs, the loop nest of ``timeloop-model.map.txt`` character for
character. Exercise 05's mapper results are checked as model runs of the mappings the
mapper chose (``timeloop-mapper.map.yaml``).

The stats parser is ``accelsim.validation.timeloop_stats``, shared with ``accelsim validate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accelsim.cli import main
from accelsim.validation.timeloop_stats import read_stats

REF = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "timeloop"

# (case id, exercise dir, arch, problem, mapping (relative to the exercise), output dir, tool)
CASES = [
    ("00", "00-model-conv1d-1level", "1level", "conv1d", "map/conv1d-1level.map.yaml", "", "model"),
    ("01-os", "01-model-conv1d-2level", "2level", "conv1d", "map/conv1d-2level-os.map.yaml", "os", "model"),
    ("01-ws", "01-model-conv1d-2level", "2level", "conv1d", "map/conv1d-2level-ws.map.yaml", "ws", "model"),
    ("02-os", "02-model-conv1d+oc-2level", "2level", "conv1d+oc", "map/conv1d+oc-2level-os.map.yaml",
     "no-tiling", "model"),
    ("02-os-tiled", "02-model-conv1d+oc-2level", "2level", "conv1d+oc", "map/conv1d+oc-2level-os-tiled.map.yaml",
     "tiling", "model"),
    ("03-no-bypass", "03-model-conv1d+oc-3level", "3level", "conv1d+oc", "map/conv1d+oc-3level.map.yaml",
     "no-bypass", "model"),
    ("03-bypass", "03-model-conv1d+oc-3level", "3level", "conv1d+oc", "map/conv1d+oc-3level-bypass.map.yaml",
     "bypass", "model"),
    ("05-baked", "05-mapper-conv1d+oc-3level", "3level", "conv1d+oc", "ref-output/baked/timeloop-mapper.map.yaml",
     "baked", "mapper"),
    ("05-freebypass", "05-mapper-conv1d+oc-3level", "3level", "conv1d+oc",
     "ref-output/freebypass/timeloop-mapper.map.yaml", "freebypass", "mapper"),
    ("05-null", "05-mapper-conv1d+oc-3level", "3level", "conv1d+oc", "ref-output/null/timeloop-mapper.map.yaml",
     "null", "mapper"),
]


def _paths(case: tuple) -> dict[str, Path]:
    _, exercise, arch, prob, mapping, out, tool = case
    root = REF / exercise
    outputs = root / "ref-output" / out
    return {"arch": root / "arch" / f"{arch}.arch.yaml", "prob": root / "prob" / f"{prob}.prob.yaml",
            "map": root / mapping, "ert": outputs / f"timeloop-{tool}.ERT.yaml",
            "stats": outputs / f"timeloop-{tool}.stats.txt", "map_txt": outputs / f"timeloop-{tool}.map.txt"}


def _run(case: tuple, capsys: pytest.CaptureFixture[str]) -> dict:
    paths = _paths(case)
    if not REF.is_dir():
        pytest.skip(f"Timeloop reference outputs not found at {REF}")
    status = main(["estimate", str(paths["prob"]), "--hw", str(paths["arch"]), "--mapping", str(paths["map"]),
                   "--ert", str(paths["ert"]), "--json"])
    out = capsys.readouterr()
    assert status == 0, out.err
    return json.loads(out.out)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_counts_cycles_and_energy_match_timeloop(case: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    data = _run(case, capsys)
    stats = read_stats(_paths(case)["stats"])
    levels = stats.levels
    (layer,) = data["layers"]
    assert layer["cycles"] == stats.cycles
    assert layer["macs"] == stats.computes
    accesses = layer["details"]["accesses"]
    storage = {name: level for name, level in levels.items() if "Computes (total)" not in level}
    assert list(accesses) == list(reversed(storage))  # same levels, outermost first
    for name, level in storage.items():
        assert set(accesses[name]) == set(level["dataspaces"]), f"{name}: kept data spaces"
        for ds, ref in level["dataspaces"].items():
            got = accesses[name][ds]
            want = {"reads": ref["Scalar reads (per-instance)"], "fills": ref["Scalar fills (per-instance)"],
                    "updates": ref["Scalar updates (per-instance)"]}
            assert got == want, f"{name}.{ds}"
    computes = stats.computes
    per_component = stats.fj_per_compute
    for component, energy in layer["energy_by_component_j"].items():
        assert energy == pytest.approx(per_component[component] * computes * 1e-15, rel=1e-3), component
    assert layer["energy_j"] == pytest.approx(per_component["Total"] * computes * 1e-15, rel=1e-3)


def test_timeloops_own_flattened_architecture_reads_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    """``parsed-processed-input.yaml`` holds the architecture as Timeloop's front end hands
    it to Timeloop (v0.3 subtree/local form); it must give the same results."""
    case = next(c for c in CASES if c[0] == "03-bypass")
    paths = _paths(case)
    flattened = paths["stats"].parent / "parsed-processed-input.yaml"
    if not flattened.is_file():
        pytest.skip(f"Timeloop reference outputs not found at {REF}")
    argv = ["estimate", str(paths["prob"]), "--mapping", str(paths["map"]), "--ert", str(paths["ert"]), "--json"]
    assert main([*argv, "--hw", str(paths["arch"])]) == 0
    nested = json.loads(capsys.readouterr().out)["layers"][0]
    assert main([*argv, "--hw", str(flattened)]) == 0
    flat = json.loads(capsys.readouterr().out)["layers"][0]
    assert (flat["details"]["accesses"], flat["cycles"], flat["energy_j"]) == (nested["details"]["accesses"], nested["cycles"],
                                                                   nested["energy_j"])


@pytest.mark.parametrize("case", [c for c in CASES if c[6] == "model"], ids=[c[0] for c in CASES if c[6] == "model"])
def test_loop_nest_matches_timeloop_map_txt(case: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    data = _run(case, capsys)
    assert data["layers"][0]["details"]["loop_nest"] == _paths(case)["map_txt"].read_text(encoding="utf-8")
