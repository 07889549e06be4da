"""The accelsim ``kind: npu`` YAML, and the npu cost model on whole graphs.

The example machine is Eyeriss v1 as published (Chen et al., ISSCC 2016 / JSSC 2017;
../shared/reference/published.md section 2a): 12 x 14 PEs, a 108 kB global buffer,
per-PE scratchpads of 24 B (ifmap), 448 B (filter) and 48 B (psum), 16-bit words,
65 nm, 200 MHz.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim import estimate
from accelsim.errors import MappingError, SpecError
from accelsim.hw import load_hardware
from accelsim.ir import Graph

EYERISS = """\
kind: npu
version: 1
name: eyeriss
frequency: 200 MHz
technology: {node: 65 nm}
precision: int16
levels:
  - name: DRAM
    class: dram
    block: 4
    bandwidth: {read: 4, write: 4}
  - name: GLB
    class: sram
    size: 108 kB
    block: 4
    keep: [Inputs, Outputs]
  - name: PEs
    mesh: [14, 12]
    parallel:
      - {name: ifmap_spad, class: regfile, size: 24 B, keep: [Inputs]}
      - {name: filter_spad, class: regfile, size: 448 B, keep: [Weights]}
      - {name: psum_spad, class: regfile, size: 48 B, keep: [Outputs]}
mac:
  mesh: [14, 12]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_eyeriss_in_the_native_format(tmp_path: Path) -> None:
    spec = load_hardware(write(tmp_path, "eyeriss.yaml", EYERISS))
    assert [l.name for l in spec.levels] == ["DRAM", "GLB", "ifmap_spad", "filter_spad", "psum_spad"]
    glb, ifmap, filt = spec.levels[1], spec.levels[2], spec.levels[3]
    assert glb.size_words == 54000 and (glb.mesh_x, glb.mesh_y) == (1, 1)
    assert (ifmap.size_words, filt.size_words, ifmap.instances) == (12, 224, 168)
    assert ifmap.group == filt.group == "PEs"
    assert spec.fanout(1) == (14, 12) and spec.fanout(4) == (1, 1)
    assert not glb.keeps_by_default("Weights") and not ifmap.keeps_by_default("Outputs")
    assert spec.frequency_hz == 200e6 and spec.default_precision == "int16"
    assert spec.arithmetic.instances == 168 and spec.arithmetic.energy_j > 0
    # technology-table energies grow with capacity
    assert spec.levels[0].energy.read_j > glb.energy.read_j > filt.energy.read_j > 0


@pytest.mark.parametrize("old, new, field, message", [
    ("    keep: [Inputs, Outputs]\n", "    keep: [Inputs, Outputs]\n    mesh: [3, 1]\n", "levels[2].mesh",
     "mesh 14x12 is not a multiple of the enclosing level's 3x1"),
    ("mac:\n  mesh: [14, 12]", "mac:\n  mesh: [7, 12]", "mac.mesh", "not a multiple"),
    ("    size: 108 kB\n", "    size: 108 kB\n    sise: 1\n", "levels[1].sise", "did you mean 'size'"),
    ("    size: 108 kB\n", "    size: 108 MHz\n", "levels[1].size", "is a frequency"),
    ("{name: filter_spad,", "{name: ifmap_spad,", "levels", "appear twice"),
    ("    keep: [Inputs, Outputs]\n", "    keep: [Inputs]\n    bypass: [Inputs]\n", "levels[1].bypass",
     "both kept and bypassed"),
    ("    class: sram\n", "    class: sdram\n", "levels[1].class", "did you mean 'sram'"),
    ("    mesh: [14, 12]\n", "    mesh: [14, 12]\n    unroll: {x: [P, Z]}\n", "levels[2].unroll.x",
     "unknown dimension 'Z'; expected some of N, G, K, C, P, Q, R, S"),
    ("    mesh: [14, 12]\n", "    mesh: [14, 12]\n    unroll: {z: [P]}\n", "levels[2].unroll.z", "unknown field"),
])
def test_native_errors(tmp_path: Path, old: str, new: str, field: str, message: str | None) -> None:
    assert old in EYERISS
    with pytest.raises(SpecError) as exc:
        load_hardware(write(tmp_path, "bad.yaml", EYERISS.replace(old, new)))
    assert exc.value.field == field and exc.value.line is not None
    if message:
        assert message in exc.value.message


def test_unroll_names_what_each_fanout_axis_may_spread(tmp_path: Path) -> None:
    text = EYERISS.replace("    mesh: [14, 12]\n    parallel:", "    mesh: [14, 12]\n    unroll: {x: [P], y: [R, C]}\n"
                           "    parallel:").replace("mac:\n  mesh: [14, 12]", "mac:\n  mesh: [14, 12]\n  unroll: {x: [K]}")
    spec = load_hardware(write(tmp_path, "eyeriss.yaml", text))
    assert spec.unroll(1) == (("P",), ("R", "C"))  # the GLB's fanout, into the PE group
    assert spec.levels[4].unroll_x == ("P",)  # every member of the group carries it
    assert spec.unroll(4) == (("K",), None)  # into the MACs
    assert load_hardware(write(tmp_path, "plain.yaml", EYERISS)).unroll(1) == (None, None)


MAPPING = """\
mapping:
  - {target: DRAM, type: temporal, factors: K=4, permutation: K}
  - {target: GLB, type: temporal, factors: P=2, permutation: P}
  - {target: GLB, type: spatial, factors: Q=4 C=2 S=3, permutation: QCS, split: 1}
  - {target: ifmap_spad, type: temporal, factors: "", permutation: ""}
  - {target: filter_spad, type: temporal, factors: R=3, permutation: R}
  - {target: psum_spad, type: temporal, factors: K=2 P=2, permutation: KP}
"""


def small_cnn() -> Graph:
    g = Graph("small")
    g.add("x", "input", (), {"shape": [1, 2, 6, 6], "dtype": "int16"})
    g.add("conv", "conv2d", ("x",), {"out_channels": 8, "kernel": 3, "bias": False})
    g.add("relu", "relu", ("conv",))
    g.add("flat", "flatten", ("relu",))
    return g


def test_graph_with_a_mapping_file(tmp_path: Path) -> None:
    hw = write(tmp_path, "eyeriss.yaml", EYERISS)
    est = estimate(small_cnn(), hw, options={"mapping": write(tmp_path, "map.yaml", MAPPING)})
    conv, relu, flat = est.layers
    # 8 x 2 x 4 x 4 x 3 x 3 = 2304 MACs on 4 x 6 = 24 PEs: 96 temporal steps
    assert conv.macs == 2304 and conv.cycles == 96 and conv.bound == "compute"
    assert conv.utilization == pytest.approx(2304 / (96 * 168))
    assert set(conv.details["accesses"]) == {"DRAM", "GLB", "ifmap_spad", "filter_spad", "psum_spad"}
    assert conv.details["utilized_instances"]["psum_spad"] == 24
    assert "(Spatial-Y)" in conv.details["loop_nest"]
    # the DRAM reads every weight once: K4 outermost, weights bypass the GLB
    assert conv.details["accesses"]["DRAM"]["Weights"]["reads"] == 8 * 2 * 3 * 3
    # relu runs vector-style: 128 ops on 168 MACs would take one cycle, but its 128 input and
    # 128 output words cross DRAM at 4 words/cycle each way: 32 cycles, DRAM-bound
    assert (relu.cycles, relu.bound) == (32, "DRAM") and dict(relu.bytes_by_level)["DRAM"] == 2 * 128 * 2
    assert flat.cycles == 0 and flat.energy_j == 0


def test_without_a_mapping_file_the_mapper_does_at_least_as_well(tmp_path: Path) -> None:
    hw = write(tmp_path, "eyeriss.yaml", EYERISS)
    given = estimate(small_cnn(), hw, options={"mapping": write(tmp_path, "map.yaml", MAPPING)}).layers[0]
    searched = estimate(small_cnn(), hw).layers[0]  # minimises energy x delay
    assert searched.energy_j * searched.cycles <= given.energy_j * given.cycles


def test_a_mapping_that_overflows_points_at_the_file(tmp_path: Path) -> None:
    # the 12-word ifmap spad asked to hold weights (K2 x R3 = 6), inputs (P2 + R3 - 1 = 4) and
    # outputs (K2 x P2 = 4): 14 words
    overflow = MAPPING + "  - {target: ifmap_spad, type: dataspace, keep: [Weights, Inputs, Outputs]}\n"
    path = write(tmp_path, "map.yaml", overflow)
    hw = write(tmp_path, "eyeriss.yaml", EYERISS)
    with pytest.raises(MappingError) as exc:
        estimate(small_cnn(), hw, options={"mapping": path})
    assert exc.value.file == str(path) and exc.value.line == 5
    assert "layer 'conv': level 'ifmap_spad': the tiles (Weights 6, Inputs 4, Outputs 4: 14 words) overflow its " \
           f"capacity of 12 words (hardware: {hw})" == exc.value.message


def test_compatibility_modes(tmp_path: Path) -> None:
    hw, mapping = write(tmp_path, "eyeriss.yaml", EYERISS), write(tmp_path, "map.yaml", MAPPING)
    current = estimate(small_cnn(), hw, options={"mapping": mapping}).layers[0]
    legacy = estimate(small_cnn(), hw, options={"mapping": mapping, "compat": "timeloop-legacy"}).layers[0]
    assert legacy.cycles == current.cycles  # the stride rules change accesses, never the nest
    with pytest.raises(SpecError, match="'scalesim' does not apply to npu hardware"):
        estimate(small_cnn(), hw, options={"mapping": mapping, "compat": "scalesim"})
