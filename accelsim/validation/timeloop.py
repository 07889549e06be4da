"""The npu family against Timeloop's own outputs on the Timeloop/Accelergy tutorial exercises.

Reference: ../shared/reference/timeloop (exercises 00-03 and 05 of the public
timeloop-accelergy-exercises repository: inputs, and the ``timeloop-model`` /
``timeloop-mapper`` outputs they produce). Both cases report themselves skipped when that
directory is absent (it lives beside a clone, not in the package).

* ``timeloop_model`` (exercises 00-03): with Timeloop's mapping and energy table, the cycles
  and every per-instance read, fill and update count of every level and data space must
  equal ``timeloop-model.stats.txt``'s, and the energy must agree within 1%.
* ``timeloop_mapper`` (exercise 05, unconstrained and free-bypass mapspaces): with
  Timeloop's objective (delay first, then energy: ``--objective latency``), accelsim's
  mapper must find a mapping at least as good as ``timeloop-mapper``'s: no more cycles,
  and at equal cycles no more energy (within the two decimals of fJ per MAC the report
  prints).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..estimation import estimate
from ..hw import load_hardware
from .case import CASES, Check, Skipped, ValidationCase
from .timeloop_stats import Stats, read_stats

__all__ = ["Exercise", "EXERCISES", "MAPPER_RUNS", "REFERENCE", "MapperRun", "mapper_result"]

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "timeloop"
SOURCE = "timeloop-accelergy-exercises reference outputs (../shared/reference/timeloop)"


@dataclass(frozen=True)
class Exercise:
    """One Timeloop run: files relative to the exercise directory, the output directory
    under ``ref-output`` and the tool that wrote it."""

    id: str
    directory: str
    arch: str
    problem: str
    mapping: str
    output: str
    tool: str

    def paths(self, root: Path = REFERENCE) -> dict[str, Path]:
        base = root / self.directory
        out = base / "ref-output" / self.output
        return {"arch": base / "arch" / f"{self.arch}.arch.yaml", "prob": base / "prob" / f"{self.problem}.prob.yaml",
                "map": base / self.mapping, "ert": out / f"timeloop-{self.tool}.ERT.yaml",
                "stats": out / f"timeloop-{self.tool}.stats.txt", "map_txt": out / f"timeloop-{self.tool}.map.txt"}


_05 = "05-mapper-conv1d+oc-3level"
EXERCISES: tuple[Exercise, ...] = (
    Exercise("00", "00-model-conv1d-1level", "1level", "conv1d", "map/conv1d-1level.map.yaml", "", "model"),
    Exercise("01-os", "01-model-conv1d-2level", "2level", "conv1d", "map/conv1d-2level-os.map.yaml", "os", "model"),
    Exercise("01-ws", "01-model-conv1d-2level", "2level", "conv1d", "map/conv1d-2level-ws.map.yaml", "ws", "model"),
    Exercise("02-os", "02-model-conv1d+oc-2level", "2level", "conv1d+oc", "map/conv1d+oc-2level-os.map.yaml",
             "no-tiling", "model"),
    Exercise("02-os-tiled", "02-model-conv1d+oc-2level", "2level", "conv1d+oc",
             "map/conv1d+oc-2level-os-tiled.map.yaml", "tiling", "model"),
    Exercise("03-no-bypass", "03-model-conv1d+oc-3level", "3level", "conv1d+oc", "map/conv1d+oc-3level.map.yaml",
             "no-bypass", "model"),
    Exercise("03-bypass", "03-model-conv1d+oc-3level", "3level", "conv1d+oc",
             "map/conv1d+oc-3level-bypass.map.yaml", "bypass", "model"),
    Exercise("05-baked", _05, "3level", "conv1d+oc", "ref-output/baked/timeloop-mapper.map.yaml", "baked", "mapper"),
    Exercise("05-freebypass", _05, "3level", "conv1d+oc", "ref-output/freebypass/timeloop-mapper.map.yaml",
             "freebypass", "mapper"),
    Exercise("05-null", _05, "3level", "conv1d+oc", "ref-output/null/timeloop-mapper.map.yaml", "null", "mapper"),
)


@dataclass(frozen=True)
class MapperRun:
    """A ``timeloop-mapper`` run of exercise 05 and the constraints it searched under."""

    exercise: Exercise
    constraints: str  # relative to the exercise directory

    def constraints_path(self, root: Path = REFERENCE) -> Path:
        return root / self.exercise.directory / self.constraints


MAPPER_RUNS: tuple[MapperRun, ...] = tuple(
    MapperRun(e, f"constraints/{name}.constraints.yaml")
    for e, name in ((EXERCISES[-1], "null"), (EXERCISES[-2], "conv1d+oc-3level-freebypass")))


def _require_reference() -> None:
    if not REFERENCE.is_dir():
        raise Skipped(f"Timeloop reference outputs not found at {REFERENCE}")


def _model_checks() -> list[Check]:
    _require_reference()
    checks = []
    for e in EXERCISES:
        if e.tool != "model":
            continue
        p = e.paths()
        stats = read_stats(p["stats"])
        layer = estimate(p["prob"], load_hardware(p["arch"], ert=p["ert"]), options={"mapping": p["map"]}).layers[0]
        case = f"timeloop.{e.id}"
        checks.append(Check(case, "cycles", layer.cycles, stats.cycles, 0.0, SOURCE))
        matching, total = _matching_counts(layer.details["accesses"], stats)
        checks.append(Check(case, "read/fill/update counts equal to Timeloop's", matching, total, 0.0, SOURCE))
        checks.append(Check(case, "energy J", layer.energy_j, stats.energy_j, 0.01, SOURCE))
    return checks


def _matching_counts(accesses: dict, stats: Stats) -> tuple[int, int]:
    """(counts equal to the report's, counts the report has) over levels, data spaces and
    reads / fills / updates; a data space kept on one side only counts as different."""
    matching = total = 0
    for name, level in stats.levels.items():
        if "Computes (total)" in level:
            continue
        ours = accesses.get(name, {})
        for ds in set(level["dataspaces"]) | set(ours):
            ref = level["dataspaces"].get(ds, {})
            for key, label in (("reads", "Scalar reads (per-instance)"), ("fills", "Scalar fills (per-instance)"),
                               ("updates", "Scalar updates (per-instance)")):
                total += 1
                matching += ds in ours and label in ref and ours[ds][key] == ref[label]
    return matching, total


def mapper_result(run: MapperRun) -> tuple[int, float]:
    """(cycles, energy J) of accelsim's mapping for ``run``, with Timeloop's energy table and
    objective."""
    p = run.exercise.paths()
    layer = estimate(p["prob"], load_hardware(p["arch"], ert=p["ert"]),
                     options={"objective": "latency", "constraints": run.constraints_path()}).layers[0]
    return layer.cycles, layer.energy_j


def _mapper_checks() -> list[Check]:
    _require_reference()
    checks = []
    for run in MAPPER_RUNS:
        stats = read_stats(run.exercise.paths()["stats"])
        cycles, energy = mapper_result(run)
        case = f"timeloop.{run.exercise.id}"
        checks.append(Check(case, "mapper cycles (<= timeloop-mapper's)", cycles, stats.cycles, 0.0, SOURCE,
                            kind="lower_bound"))
        if cycles == stats.cycles:  # delay ties: energy decides
            slack = 0.005 / stats.fj_per_compute["Total"]  # the report's rounding to 0.01 fJ/MAC
            checks.append(Check(case, "mapper energy J (<= timeloop-mapper's)", energy, stats.energy_j, slack,
                                SOURCE, kind="lower_bound"))
    return checks


CASES.add("timeloop_model", ValidationCase(
    "timeloop_model", "npu analysis vs timeloop-model on tutorial exercises 00-03 (counts exact, energy 1%)",
    _model_checks))
CASES.add("timeloop_mapper", ValidationCase(
    "timeloop_mapper", "npu mapper vs timeloop-mapper on exercise 05 (delay, then energy, no worse)",
    _mapper_checks))
