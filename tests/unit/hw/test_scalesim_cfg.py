"""SCALE-Sim .cfg files as systolic specs: what is read, and located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.errors import SpecError
from accelsim.hw import load_hardware

CFGS = Path(__file__).resolve().parents[2] / "data" / "scalesim" / "configs"
USER = (CFGS / "sa32_user_small_ws.cfg").read_text()
# line numbers of USER: 1 [general] 2 run_name 4 [architecture_presets] 5 ArrayHeight
# 6 ArrayWidth 7 IfmapSramSzkB 8 FilterSramSzkB 9 OfmapSramSzkB 13 Bandwidth 14 Dataflow
# 15 ReadRequestBuffer 18 [layout] 20 IfmapSRAMBankBandwidth 21 IfmapSRAMBankNum 28 [sparsity]
# 29 SparsitySupport 35 [run_presets] 36 InterfaceBandwidth


def test_reference_cfgs_load():
    spec = load_hardware(CFGS / "sa32_user_small_ws.cfg")
    assert (spec.name, spec.kind, spec.mode, spec.bandwidth_mode) == ("sa32_user_small_ws", "systolic", "scalesim", "user")
    assert (spec.rows, spec.cols, spec.dataflow, spec.sram_words) == (32, 32, "ws", (8192, 8192, 4096))
    assert spec.words_per_cycle() == (10, 10, 10) and spec.frequency_hz == 1e9
    calc = load_hardware(CFGS / "sa32_calc_is.cfg")
    assert (calc.bandwidth_mode, calc.dataflow, calc.dram_bandwidth_bps) == ("calc", "is", None)


def test_layout_section_may_be_omitted(tmp_path):
    text = "\n".join(line for line in USER.splitlines()
                     if not line.startswith(("[layout]", "Ifmap", "Filter")) or "Szk" in line or "Offset" in line)
    path = tmp_path / "no_layout.cfg"
    path.write_text(text)
    assert load_hardware(path).words_per_cycle() == (10, 10, 10)  # SCALE-Sim's defaults


def check(tmp_path, text, line, field, fragment):
    path = tmp_path / "bad.cfg"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_hardware(path)
    assert (info.value.file, info.value.line, info.value.field) == (str(path), line, field)
    assert fragment in str(info.value)


@pytest.mark.parametrize("old,new,line,field,fragment", [
    ("Dataflow : ws", "Dataflow : xs", 14, "architecture_presets.Dataflow", "unknown value 'xs'"),
    ("ArrayHeight:    32", "ArrayHeight:    3.5", 5, "architecture_presets.ArrayHeight", "integer"),
    ("OfmapSramSzkB:   4", "OfmapSramSzkB:   0", 9, "architecture_presets.OfmapSramSzkB", "at least 1"),
    ("Bandwidth : 10", "Bandwidth : 10, x", 13, "architecture_presets.Bandwidth", "integer"),
    ("IfmapSRAMBankNum: 1", "IfmapSRAMBankNum: 3", 20, "layout.IfmapSRAMBankBandwidth", "divisible by 3"),
    ("InterfaceBandwidth: USER", "InterfaceBandwidth: BOTH", 36, "run_presets.InterfaceBandwidth", "CALC"),
    ("SparsitySupport : false", "SparsitySupport : true", 29, "sparsity.SparsitySupport", "not supported"),
    ("ReadRequestBuffer: 32", "ReadRequestBufer: 32", 15, "architecture_presets.ReadRequestBufer", "did you mean 'ReadRequestBuffer'"),
])
def test_bad_values_are_located(tmp_path, old, new, line, field, fragment):
    assert old in USER
    check(tmp_path, USER.replace(old, new), line, field, fragment)


def test_missing_section_and_syntax(tmp_path):
    without_run = USER[:USER.index("[run_presets]")]
    check(tmp_path, without_run, None, "run_presets", "missing section")
    check(tmp_path, "ArrayHeight: 32\n" + USER, 1, None, "not a SCALE-Sim config")


def test_cfg_of_earlier_release_without_request_buffers_loads(tmp_path):
    """SCALE-Sim 2.x files have no ReadRequestBuffer / WriteRequestBuffer; SCALE-Sim 3's
    scale_config starts both at 60, and the keys only matter for Ramulator traces."""
    old = "\n".join(line for line in USER.splitlines() if "RequestBuffer" not in line)
    path = tmp_path / "v2.cfg"
    path.write_text(old)
    spec, reference = load_hardware(path), load_hardware(CFGS / "sa32_user_small_ws.cfg")
    assert (spec.rows, spec.cols, spec.dataflow, spec.sram_words, spec.words_per_cycle()) == (
        reference.rows, reference.cols, reference.dataflow, reference.sram_words, reference.words_per_cycle())
    bad = tmp_path / "bad.cfg"
    bad.write_text(USER.replace("ReadRequestBuffer: 32", "ReadRequestBuffer: -1"))
    with pytest.raises(SpecError, match="at least 0") as info:
        load_hardware(bad)
    assert info.value.field == "architecture_presets.ReadRequestBuffer"


def test_messages_keep_the_keys_case(tmp_path):
    check(tmp_path, USER.replace("ArrayWidth:     32\n", ""), 4, "architecture_presets",
          "missing key 'ArrayWidth'")
    check(tmp_path, USER.replace("Dataflow : ws", "DATAFLOW : xs"), 14, "architecture_presets.DATAFLOW",
          "unknown value 'xs'")
    check(tmp_path, USER.replace("ReadRequestBuffer: 32", "readrequestbufer: 32"), 15,
          "architecture_presets.readrequestbufer", "did you mean 'ReadRequestBuffer'")
