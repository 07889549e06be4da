"""Timeloop mapping YAML read as a Mapping, and its errors (file, line, field).

Line numbers in the expectations are those of the YAML texts below, counted from 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.errors import MappingError, SpecError
from accelsim.hw.npu.mapping import Loop
from accelsim.hw.npu.mapping_file import read_mapping
from accelsim.hw.npu.problem import DataSpace, Problem
from accelsim.hw.npu.spec import ArithmeticLevel, NpuSpec, StorageLevel
from accelsim.hw.technology import Technology

PROBLEM = Problem("conv1d_oc", ("K", "R", "P"), (32, 3, 16), (
    DataSpace("Weights", (((1, 0),), ((1, 1),))),
    DataSpace("Inputs", (((1, 1), (1, 2)),)),
    DataSpace("Outputs", (((1, 0),), ((1, 2),)), read_write=True)), aliases=(("M", "K"),))

SPEC = NpuSpec(name="m", kind="npu", frequency_hz=1e9, technology=Technology(), levels=(
    StorageLevel("DRAM", "dram", 8),
    StorageLevel("GLB", "sram", 8, size_words=4096, bypass=("Weights",)),
    StorageLevel("inter_PE_spatial", "dummy", 1, dummy=True),
    StorageLevel("RF", "regfile", 8, size_words=64, mesh_x=4, mesh_y=2)),
    arithmetic=ArithmeticLevel(mesh_x=4, mesh_y=2))

MAPPING = """\
mapping:
  - target: DRAM
    type: temporal
    factors: K=4 R=1 P=1
    permutation: KRP
  - target: GLB
    type: temporal
    factors: [P=4, M2]
    permutation: [P, K, R]
  - target: PE
    type: spatial
    factors: K4 P2
    permutation: KPR
    split: 1
  - target: RF
    type: temporal
    factors: R=3 P=2
    permutation: RP
  - target: RF
    type: dataspace
    keep: [Outputs]
    bypass: [Weights, Inputs]
"""


def read(tmp_path: Path, text: str):
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    return path, read_mapping(path, PROBLEM, SPEC)


def test_directives_become_levels_outermost_first(tmp_path: Path) -> None:
    _, source = read(tmp_path, MAPPING)
    dram, glb, pe, rf = source.mapping.levels
    assert dram.temporal == (Loop("K", 4),)
    # permutation lists the innermost loop first; M is Timeloop's name for K
    assert glb.temporal == (Loop("K", 2), Loop("P", 4))
    # split 1: the first permutation entry (K) on X, the rest on Y; outermost first
    assert pe.level == "inter_PE_spatial" and pe.spatial == (Loop("P", 2, "Y"), Loop("K", 4, "X"))
    assert rf.temporal == (Loop("P", 2), Loop("R", 3))
    # defaults: keep, except what the architecture bypasses; placeholders keep nothing
    assert (dram.keep, glb.keep, pe.keep, rf.keep) == (
        ("Weights", "Inputs", "Outputs"), ("Inputs", "Outputs"), (), ("Outputs",))


@pytest.mark.parametrize("old, new, line, field, message", [
    ("target: GLB", "target: GLBB", 6, "mapping[1].target", "did you mean 'GLB'"),
    ("factors: K=4 R=1 P=1", "factors: K=4 Z=1 P=1", 4, "mapping[0].factors", "unknown dimension 'Z'"),
    ("factors: K=4 R=1 P=1", "factors: K=4 K=1 P=1", 4, "mapping[0].factors", "'K' appears twice"),
    ("factors: K=4 R=1 P=1", "factors: K=4,2 R=1 P=1", 4, "mapping[0].factors", "imperfect factorisation"),
    ("factors: K=4 R=1 P=1", "factors: K=four", 4, "mapping[0].factors", "cannot read"),
    ("permutation: KRP", "permutation: KRK", 5, "mapping[0].permutation", "'K' appears twice"),
    ("    type: dataspace", "    type: skew", 20, "mapping[4].type", "skews are not supported"),
    ("keep: [Outputs]", "keep: [Output]", 21, "mapping[4].keep", "did you mean 'Outputs'"),
    ("    split: 1", "    split: -1", 14, "mapping[2].split", "non-negative integer"),
    ("    permutation: RP\n", "    permutation: RP\n    bypass: [Inputs]\n", 19, "mapping[3].bypass",
     "unknown key for a temporal directive"),
])
def test_malformed_directives(tmp_path: Path, old: str, new: str, line: int, field: str, message: str) -> None:
    assert old in MAPPING
    with pytest.raises(SpecError) as exc:
        read(tmp_path, MAPPING.replace(old, new, 1))
    assert (exc.value.line, exc.value.field) == (line, field)
    assert message in exc.value.message


@pytest.mark.parametrize("old, new, line, message", [
    ("factors: K=4 R=1 P=1", "factors: K=8 R=1 P=1", 4, "factors of K multiply to 64 across the mapping, but the "
     "layer's K is 32"),
    ("  - target: PE\n    type: spatial", "  - target: DRAM\n    type: spatial", 10, "'DRAM' has no spatial fanout"),
    ("    bypass: [Weights, Inputs]\n", "    bypass: [Weights, Inputs]\n  - {target: DRAM, type: bypass, "
     "bypass: [Inputs]}\n  - {target: GLB, type: bypass, bypass: [Inputs]}\n", 1, "'Inputs' bypasses every level"),
])
def test_unmappable_files(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    with pytest.raises(MappingError) as exc:
        read(tmp_path, MAPPING.replace(old, new, 1))
    assert exc.value.line == line and message in exc.value.message


def test_placeholder_levels_keep_nothing(tmp_path: Path) -> None:
    text = MAPPING + "  - {target: PE, type: dataspace, keep: [Inputs]}\n"
    with pytest.raises(SpecError, match="placeholder for a fanout and keeps nothing"):
        read(tmp_path, text)


def test_not_a_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="top-level 'mapping:' list"):
        read(tmp_path, "problem: {}\n")
