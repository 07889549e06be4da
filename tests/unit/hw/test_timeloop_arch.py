"""Timeloop v0.4 architecture files and Accelergy ERTs read as npu specs.

Expected flattenings follow timeloopfe's ``v4_to_v3`` transpiler (what Timeloop itself
sees): a container's fanout goes on a placeholder level ``inter_<name>_spatial`` carrying
the instances outside it; ``!Parallel`` members become consecutive levels.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from accelsim.errors import SpecError
from accelsim.hw import load_hardware

EYERISS_LIKE = """\
architecture:
  version: 0.4
  nodes:
  - !Container
    name: system
    attributes: {technology: "65nm", global_cycle_seconds: 5e-9}
  - !Component
    name: DRAM
    class: DRAM
    attributes: {type: LPDDR4, width: 64, datawidth: 16}
  - !Component
    name: shared_glb
    class: smartbuffer_SRAM
    attributes: {depth: 13824, width: 64, n_banks: 32, datawidth: 16, read_bandwidth: 16}
    constraints:
      dataspace: {keep: [Inputs, Outputs], bypass: [Weights]}
  - !Container
    name: PE_column
    spatial: {meshX: 14}
  - !Container
    name: PE
    spatial: {meshY: 12}
  - !Parallel
    nodes:
    - !Component
      name: ifmap_spad
      class: smartbuffer_RF
      attributes: {depth: 12, width: 16, datawidth: 16}
    - !Component
      name: weights_spad
      class: smartbuffer_RF
      attributes: {depth: 224, width: 16, datawidth: 16}
    - !Component
      name: psum_spad
      class: smartbuffer_RF
      attributes: {depth: 24, width: 16, datawidth: 16}
  - !Component
    name: mac
    class: intmac
    attributes: {datawidth: 16}
"""

ERT = """\
ERT:
  version: '0.4'
  tables:
  - name: system_top_level.DRAM[1..1]
    actions:
    - {name: read, energy: 512.0}
    - {name: write, energy: 500.0}
    - {name: leak, energy: 0.0}
  - name: system_top_level.weights_spad[1..168]
    actions:
    - {name: read, arguments: {address_delta: 0}, energy: 0.5}
    - {name: read, arguments: {address_delta: 1}, energy: 0.75}
    - {name: update, energy: 0.6}
  - name: system_top_level.mac[1..168]
    actions:
    - {name: compute, energy: 2.2}
"""


def write(tmp_path: Path, text: str, name: str = "arch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_eyeriss_like_tree_flattens_as_timeloop_sees_it(tmp_path: Path) -> None:
    spec = load_hardware(write(tmp_path, EYERISS_LIKE))
    assert [l.name for l in spec.levels] == ["DRAM", "shared_glb", "inter_PE_column_spatial", "inter_PE_spatial",
                                            "ifmap_spad", "weights_spad", "psum_spad"]
    meshes = [(l.mesh_x, l.mesh_y) for l in spec.levels]
    assert meshes == [(1, 1), (1, 1), (1, 1), (14, 1), (14, 12), (14, 12), (14, 12)]
    assert (spec.arithmetic.mesh_x, spec.arithmetic.mesh_y) == (14, 12)
    assert spec.fanout(2) == (14, 1) and spec.fanout(3) == (1, 12)
    dram, glb, dummy = spec.levels[0], spec.levels[1], spec.levels[2]
    assert (dram.cls, dram.size_words, dram.block_size) == ("dram", None, 4)  # 64-bit wide, 16-bit words
    assert (glb.size_words, glb.block_size, glb.read_bandwidth, glb.banks) == (13824 * 4, 4, 16.0, 32)
    assert glb.keeps_by_default("Inputs") and not glb.keeps_by_default("Weights")
    assert dummy.dummy and not dummy.keeps_by_default("Inputs")
    groups = {l.group for l in spec.levels[4:]}
    assert len(groups) == 1 and None not in groups and spec.levels[1].group is None
    assert spec.frequency_hz == pytest.approx(200e6)
    assert spec.technology.node_m == pytest.approx(65e-9)
    assert spec.default_precision == "int16"


def test_ert_energies_with_timeloop_action_fallbacks(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # DRAM[1..1], weights_spad[1..168], mac[1..168]: 1 and 14 x 12
        spec = load_hardware(write(tmp_path, EYERISS_LIKE), ert=write(tmp_path, ERT, "ert.yaml"))
    dram = spec.levels[0]
    assert (dram.energy.read_j, dram.energy.fill_j, dram.energy.update_j) == pytest.approx((512e-12, 500e-12, 500e-12))
    spad = spec.levels[5]
    # the largest of an action's argument variants; no write action: fills cost the largest action
    assert (spad.energy.read_j, spad.energy.update_j, spad.energy.fill_j) == pytest.approx((0.75e-12, 0.6e-12, 0.75e-12))
    assert spad.energy_source == "ERT" and spec.levels[4].energy_source == "technology"
    assert spec.arithmetic.energy_j == pytest.approx(2.2e-12)


def test_ert_instance_count_other_than_the_architecture_s_warns(tmp_path: Path) -> None:
    # The PE containers give 14 x 12 = 168 scratchpads and MACs; this table was made for 84.
    ert = write(tmp_path, ERT.replace("weights_spad[1..168]", "weights_spad[1..84]"), "ert.yaml")
    arch = write(tmp_path, EYERISS_LIKE)
    with pytest.warns(UserWarning) as record:
        spec = load_hardware(arch, ert=ert)
    (warning,) = record
    text = str(warning.message)
    assert text.startswith(f"{ert}:9: ")  # the line of the table entry
    assert "'system_top_level.weights_spad[1..84]'" in text and "84 instances of 'weights_spad'" in text
    assert f"{arch} has 168" in text
    assert spec.levels[5].energy_source == "ERT"  # per-instance energies: still used
    assert spec.levels[5].energy.read_j == pytest.approx(0.75e-12)


V02_ERT = """\
ERT:
  version: 0.2
  tables:
    System.PE[0..15].RF[0..1]:
      read: [{energy: 0.5}]
    System.PE[0..15].MAC[0..1]:
      compute: [{energy: 2.0}]
"""


def test_v02_ert_multiplies_the_ranges_of_its_keys(tmp_path: Path) -> None:
    # V03 below: PE[0..15] x RF[0..1] = 32 RFs and 32 MACs; the v0.2 key's two ranges give
    # 16 x 2 = 32, matching. PE[0..7] gives 8 x 2 = 16, which does not.
    arch = write(tmp_path, V03)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = load_hardware(arch, ert=write(tmp_path, V02_ERT, "ert.yaml"))
    assert spec.levels[1].energy.read_j == pytest.approx(0.5e-12) and spec.arithmetic.energy_j == pytest.approx(2e-12)
    wrong = write(tmp_path, V02_ERT.replace("PE[0..15]", "PE[0..7]"), "wrong.yaml")
    with pytest.warns(UserWarning) as record:
        load_hardware(arch, ert=wrong)
    rf, mac = (str(w.message) for w in record)
    assert rf.startswith(f"{wrong}:4: ") and mac.startswith(f"{wrong}:6: ")
    assert "'System.PE[0..7].RF[0..1]' is for 16 instances of 'RF', but " + f"{arch} has 32;" in rf
    assert "'System.PE[0..7].MAC[0..1]' is for 16 instances of 'MAC', but " + f"{arch} has 32;" in mac


def test_ert_with_an_empty_instance_range_is_an_error(tmp_path: Path) -> None:
    ert = write(tmp_path, ERT.replace("mac[1..168]", "mac[168..1]"), "ert.yaml")
    with pytest.raises(SpecError, match="empty instance range") as exc:
        load_hardware(write(tmp_path, EYERISS_LIKE), ert=ert)
    assert (exc.value.file, exc.value.line, exc.value.field) == (str(ert), 14, "ERT.tables[2].name")


REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "timeloop"


def test_reference_erts_match_their_architectures() -> None:
    # The Timeloop/Accelergy tutorial exercises (00-03, 05): every ERT Accelergy wrote for
    # an exercise's architecture states the instance counts that architecture has.
    if not REFERENCE.is_dir():
        pytest.skip(f"Timeloop reference outputs not found at {REFERENCE}")
    erts = sorted(REFERENCE.glob("*/ref-output/**/timeloop-*.ERT.yaml"))
    assert len(erts) == 10
    for ert in erts:
        (arch,) = (REFERENCE / ert.relative_to(REFERENCE).parts[0] / "arch").glob("*.arch.yaml")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            spec = load_hardware(arch, ert=ert)
        assert all(level.energy_source == "ERT" for level in spec.levels if not level.dummy), ert
        assert spec.arithmetic.energy_source == "ERT", ert


def test_component_with_its_own_fanout_gets_a_placeholder_before_it(tmp_path: Path) -> None:
    text = EYERISS_LIKE.replace("    name: shared_glb\n", "    name: shared_glb\n    spatial: {meshX: 2}\n")
    names = [(l.name, l.mesh_x) for l in load_hardware(write(tmp_path, text)).levels[:3]]
    assert names == [("DRAM", 1), ("inter_shared_glb_spatial", 1), ("shared_glb", 2)]


@pytest.mark.parametrize("old, new, line, field, message", [
    ("    spatial: {meshX: 14}\n", "    spatail: {meshX: 14}\n", 19, "architecture.nodes[3].spatail",
     "did you mean 'spatial'"),
    ("{depth: 12, width: 16, datawidth: 16}", "{depth: 12, width: 12, datawidth: 16}", 28,
     "architecture.nodes[5].nodes[0].attributes.width", "width 12 is not a multiple of datawidth 16"),
    ("{depth: 24, width: 16, datawidth: 16}", "{width: 16, datawidth: 16}", 36,
     "architecture.nodes[5].nodes[2].attributes", "needs depth, entries or sizeKB"),
    ("    class: intmac\n", "    class: multiplier\n", 39, "architecture.nodes[6].class",
     "unknown component class 'multiplier'"),
    ("depth: 13824,", "depth: 2 ** 14,", 14, "architecture.nodes[2].attributes.depth", "expressions are not evaluated"),
    ("  - !Container\n    name: PE\n", "  - name: PE\n", 20, "architecture.nodes[4]", "expected a tagged node"),
    ('technology: "65nm"', 'technology: "3nm"', 6, "architecture.nodes[0].attributes.technology",
     "outside the scaled range"),
])
def test_errors_name_file_line_and_field(tmp_path: Path, old: str, new: str, line: int, field: str,
                                         message: str) -> None:
    assert old in EYERISS_LIKE
    path = write(tmp_path, EYERISS_LIKE.replace(old, new))
    with pytest.raises(SpecError) as exc:
        load_hardware(path)
    assert (exc.value.file, exc.value.line, exc.value.field) == (str(path), line, field)
    assert message in exc.value.message


def test_structural_errors(tmp_path: Path) -> None:
    no_mac = EYERISS_LIKE[:EYERISS_LIKE.index("  - !Component\n    name: mac")]
    with pytest.raises(SpecError, match="must be a compute component"):
        load_hardware(write(tmp_path, no_mac))
    after = EYERISS_LIKE + "  - !Component\n    name: late\n    class: regfile\n    attributes: {depth: 1}\n"
    with pytest.raises(SpecError, match="nothing may follow the compute component 'mac'"):
        load_hardware(write(tmp_path, after))
    v03 = "architecture:\n  version: 0.3\n  subtree: []\n"
    with pytest.raises(SpecError, match="a list of one subtree"):
        load_hardware(write(tmp_path, v03))
    bad_ert = write(tmp_path, "ERT:\n  version: '0.4'\n  tables:\n  - name: x\n    actions:\n    - {name: read, energy: -1}\n",
                    "bad_ert.yaml")
    with pytest.raises(SpecError) as exc:
        load_hardware(write(tmp_path, EYERISS_LIKE), ert=bad_ert)
    assert (exc.value.line, exc.value.field) == (6, "ERT.tables[0].actions[0].energy")


V03 = """\
architecture:
  version: 0.3
  subtree:
  - name: System
    attributes: {technology: 40nm}
    local:
    - name: DRAM
      class: DRAM
      attributes: {width: 64, datawidth: 8}
    subtree:
    - name: PE[0..15]
      local:
      - name: RF[0..1]
        class: regfile
        attributes: {depth: 16, width: 8, datawidth: 8, meshX: 8}
      - name: MAC[0..1]
        class: intmac
        attributes: {datawidth: 8, meshX: 8}
"""


def test_v03_subtree_chains(tmp_path: Path) -> None:
    # PE[0..15] replicates its subtree 16 times, RF[0..1] twice more: 32 RFs on an 8-wide mesh
    spec = load_hardware(write(tmp_path, V03))
    assert [(l.name, l.mesh_x, l.mesh_y) for l in spec.levels] == [("DRAM", 1, 1), ("RF", 8, 4)]
    assert (spec.arithmetic.name, spec.arithmetic.instances) == ("MAC", 32)
    with pytest.raises(SpecError) as exc:
        load_hardware(write(tmp_path, V03.replace("meshX: 8}\n      - name: MAC", "meshX: 5}\n      - name: MAC")))
    assert (exc.value.line, exc.value.field) == (15, "architecture.subtree[0].subtree[0].local[0].attributes.meshX")
