"""The CLI's error contract for npu inputs: Timeloop architectures, problems and mappings.

Every bad input ends with exit status 2 and ONE line ``accelsim: error: FILE:LINE: FIELD:
message`` on stderr, no traceback, no output. Line numbers are those of the texts below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accelsim.cli import main

ARCH = """\
architecture:
  version: 0.4
  nodes:
  - !Container
    name: System
    attributes: {technology: "40nm", global_cycle_seconds: 1e-9}
  - !Component
    name: MainMemory
    class: DRAM
    attributes: {width: 64, datawidth: 8}
  - !Component
    name: Buffer
    class: regfile
    attributes: {depth: 16, width: 8, datawidth: 8}
  - !Component
    name: MACC
    class: intmac
    attributes: {width: 8}
"""
#  1 architecture / 2 version / 3 nodes / 4-6 System / 7-10 MainMemory / 11-14 Buffer / 15-18 MACC

PROBLEM = """\
problem:
  version: 0.4
  shape:
    name: Conv1D
    dimensions: [ R, P ]
    data_spaces:
    - {name: Weights, projection: [[[R]]]}
    - {name: Inputs, projection: [[[R], [P]]]}
    - {name: Outputs, projection: [[[P]]], read_write: True}
  instance: {R: 3, P: 16}
"""

MAPPING = """\
mapping:
  - target: MainMemory
    type: temporal
    factors: R=1 P=4
    permutation: PR
  - target: Buffer
    type: temporal
    factors: R=3 P=4
    permutation: RP
"""
#  1 mapping / 2-5 MainMemory / 6-9 Buffer


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], arch: str = ARCH, problem: str = PROBLEM,
        mapping: str | None = MAPPING) -> tuple[int, str, str, dict[str, str]]:
    paths = {"arch": write(tmp_path, "arch.yaml", arch), "prob": write(tmp_path, "prob.yaml", problem)}
    argv = ["estimate", paths["prob"], "--hw", paths["arch"]]
    if mapping is not None:
        paths["map"] = write(tmp_path, "map.yaml", mapping)
        argv += ["--mapping", paths["map"]]
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err, paths


def assert_error(rc: int, out: str, err: str, prefix: str, fragment: str) -> None:
    assert rc == 2 and out == "", err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("accelsim: error: " + prefix), lines[0]
    assert fragment in lines[0], lines[0]


def test_the_valid_inputs_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err, _ = run(tmp_path, capsys)
    assert rc == 0 and "Conv1D" in out, err


@pytest.mark.parametrize("old, new, where, fragment", [
    ("target: Buffer", "target: Bufer", "map.yaml:6: mapping[1].target: ", "did you mean 'Buffer'"),
    ("factors: R=3 P=4", "factors: R=3 P=2", "map.yaml:4: mapping: ", "factors of P multiply to 8"),
    ("factors: R=3 P=4", "factors: R=3 Z=4", "map.yaml:8: mapping[1].factors: ", "unknown dimension 'Z'"),
    ("  - target: MainMemory\n    type: temporal\n    factors: R=1 P=4",
     "  - target: MainMemory\n    type: temporal\n    factors: R=1 P=1", "map.yaml:6: mapping[1]: ",
     "level 'Buffer': the tiles (Weights 3, Inputs 18, Outputs 16: 37 words) overflow its capacity of 16 words"),
])
def test_bad_mappings(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, where: str,
                      fragment: str) -> None:
    assert old in MAPPING
    mapping = MAPPING.replace(old, new)
    if "P=1" in new:  # all of P in the 16-word buffer
        mapping = mapping.replace("factors: R=3 P=4", "factors: R=3 P=16")
    rc, out, err, paths = run(tmp_path, capsys, mapping=mapping)
    assert_error(rc, out, err, str(Path(paths["map"]).parent / where), fragment)


def test_bad_architecture_and_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err, paths = run(tmp_path, capsys, arch=ARCH.replace("depth: 16", "depth: sixteen"))
    assert_error(rc, out, err, f"{paths['arch']}:14: architecture.nodes[2].attributes.depth: ", "expected a number")
    rc, out, err, paths = run(tmp_path, capsys, problem=PROBLEM.replace("[ R, P ]", "[ R, P, X ]"))
    assert_error(rc, out, err, f"{paths['prob']}:5: problem.shape.dimensions[2]: ", "'X' is not one of")


def test_without_a_mapping_the_mapper_finds_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err, _ = run(tmp_path, capsys, mapping=None)
    assert rc == 0 and "Conv1D" in out, err


def test_no_mapping_and_no_search(tmp_path: Path) -> None:
    from accelsim.errors import MappingError
    from accelsim.frontend import load_model
    from accelsim.hw import cost_model, load_hardware

    arch, prob = write(tmp_path, "arch.yaml", ARCH), write(tmp_path, "prob.yaml", PROBLEM)
    model = cost_model(load_hardware(arch))  # no CostContext.mapper
    with pytest.raises(MappingError, match="no mapping search is available .* layer 'Conv1D'") as info:
        model.layer_costs(load_model(prob))
    assert info.value.file == arch


CONSTRAINTS = """\
mapspace_constraints:
  version: 0.4
  targets:
  - target: Buffer
    type: temporal
    factors: R=3 P<=4
    permutation: RP
  - target: Buffer
    type: dataspace
    keep: [Inputs]
    bypass: [Weights, Outputs]
"""
#  1 mapspace_constraints / 2 version / 3 targets / 4-7 temporal / 8-11 dataspace


@pytest.mark.parametrize("old, new, where, fragment", [
    ("target: Buffer\n    type: temporal", "target: Bufer\n    type: temporal", "4: mapspace_constraints.targets[0]: ",
     "unknown level 'Bufer'; did you mean 'Buffer'"),
    ("factors: R=3 P<=4", "factors: R=3 Z<=4", "4: mapspace_constraints.targets[0]: ", "unknown dimension 'Z'"),
    ("factors: R=3 P<=4", "factors: R=three", "6: mapspace_constraints.targets[0].factors: ", "cannot read"),
    ("keep: [Inputs]", "keep: [Inputz]", "8: mapspace_constraints.targets[1]: ", "unknown data space 'Inputz'"),
    ("type: dataspace", "type: skew", "9: mapspace_constraints.targets[1].type: ", "unknown constraint type"),
])
def test_bad_constraints(tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, where: str,
                         fragment: str) -> None:
    assert old in CONSTRAINTS
    path = write(tmp_path, "cons.yaml", CONSTRAINTS.replace(old, new))
    paths = {"arch": write(tmp_path, "arch.yaml", ARCH), "prob": write(tmp_path, "prob.yaml", PROBLEM)}
    rc = main(["estimate", paths["prob"], "--hw", paths["arch"], "--constraints", path])
    out, err = capsys.readouterr()
    assert_error(rc, out, err, f"{path}:{where}", fragment)


def test_constraints_narrow_the_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cons.yaml", CONSTRAINTS)
    paths = {"arch": write(tmp_path, "arch.yaml", ARCH), "prob": write(tmp_path, "prob.yaml", PROBLEM)}
    assert main(["estimate", paths["prob"], "--hw", paths["arch"], "--constraints", path, "--json"]) == 0
    nest = json.loads(capsys.readouterr().out)["layers"][0]["details"]["loop_nest"]
    buffer = nest.split("Buffer")[1]
    assert buffer.startswith(" [ Inputs:6 (6) ]") and buffer.strip().endswith("for R in [0:3)\n|       << Compute >>")


def test_constraints_need_a_mapping_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cons.yaml", CONSTRAINTS)
    rc = main(["estimate", "digits_mlp", "--hw", "tpu_v1_roofline", "--constraints", path])
    out, err = capsys.readouterr()
    assert_error(rc, out, err, f"{path}: constraints: ", "roofline hardware has none")


ERT = """\
ERT:
  version: '0.4'
  tables:
  - name: System.MainMemory[1..1]
    actions:
    - {name: read, energy: 100.0}
  - name: System.Buffer[1..4]
    actions:
    - {name: read, energy: 1.0}
"""


def test_a_warning_is_one_line_on_stderr_and_the_run_goes_on(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    # This table was made for 4 buffers; the architecture has one.
    paths = {"arch": write(tmp_path, "arch.yaml", ARCH), "prob": write(tmp_path, "prob.yaml", PROBLEM),
             "map": write(tmp_path, "map.yaml", MAPPING), "ert": write(tmp_path, "ert.yaml", ERT)}
    rc = main(["estimate", paths["prob"], "--hw", paths["arch"], "--mapping", paths["map"], "--ert", paths["ert"],
               "--json"])
    out, err = capsys.readouterr()
    assert rc == 0 and json.loads(out)["layers"][0]["name"] == "Conv1D"
    (line,) = err.splitlines()
    assert line.startswith(f"accelsim: warning: {paths['ert']}:7: ") and "Buffer" in line, line
