"""The roofline model on cases small enough to work out by hand."""

from pathlib import Path

import pytest

from accelsim import estimate
from accelsim.errors import MappingError
from accelsim.hw import load_hardware
from accelsim.ir import Graph

TOY_HW = (Path(__file__).resolve().parents[2] / "data" / "toy_roofline.yaml").read_text()


def make_toy(tmp_path, bandwidth="1 GB/s"):
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_HW.replace("1 GB/s", bandwidth))
    return load_hardware(path)


@pytest.fixture()
def toy(tmp_path):
    return make_toy(tmp_path)


def fc(n: int, batch: int = 1) -> Graph:
    g = Graph("fc")
    g.add("x", "input", (), {"shape": [batch, n], "dtype": "int8"})
    g.add("fc", "linear", ("x",), {"out_features": n})
    return g


def test_weight_streaming_layer_is_dram_bound(toy):
    est = estimate(fc(1024), toy)
    (layer,) = est.layers
    # DRAM: weights 1024*1024 + bias 1024, the graph input 1024 and output 1024 bytes.
    dram = 1024 * 1024 + 1024 + 1024 + 1024
    assert dict(layer.bytes_by_level)["dram"] == dram
    assert layer.latency_s == pytest.approx(dram / 1e9)
    assert layer.bound == "dram"
    assert layer.cycles == round(dram / 1e9 * 1e9)
    # compute-only time: 2 * 1024^2 MAC ops at 1 TOPS, so utilisation = that / latency
    assert layer.utilization == pytest.approx(2 * 1024**2 / 1e12 / (dram / 1e9))
    # energy: int8 MACs at 0.23 pJ, bias adds at 0.03 pJ, DDR at 243.75 pJ/B, the 1 MiB SRAM
    # at 100 pJ per 64-bit read (every operand byte crosses it once).
    e = dict(layer.energy_by_component_j)
    assert e["compute"] == pytest.approx(1024**2 * 0.23e-12 + 1024 * 0.03e-12)
    assert e["dram"] == pytest.approx(dram * 243.75e-12)
    assert e["sram"] == pytest.approx((1024 + 1024 * 1024 + 1024 + 1024) * 100e-12 / 8)


def test_large_batch_becomes_compute_bound(tmp_path):
    # 1 TOPS / 10 GB/s: the ridge is at 50 MACs per DRAM byte. fc(256) at batch B does
    # 65,536 B MACs over 65,792 + 512 B DRAM bytes: 42.7 per byte at B=64, 128 at B=4096.
    toy = make_toy(tmp_path, "10 GB/s")
    small = estimate(fc(256, batch=64), toy).layers[0]
    large = estimate(fc(256, batch=4096), toy).layers[0]
    assert small.bound == "dram"
    assert large.bound == "compute"


def test_activations_stay_on_chip_when_they_fit(toy):
    g = fc(256)
    g.add("act", "relu", ("fc",))
    g.add("fc2", "linear", ("act",), {"out_features": 256})
    layers = {c.name: dict(c.bytes_by_level)["dram"] for c in estimate(g, toy).layers}
    assert layers["act"] == 0                       # input and output resident
    assert layers["fc2"] == 256 * 256 + 256 + 256   # weights + bias + the graph output


def test_activations_spill_when_they_do_not_fit(toy):
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 1024 * 1024], "dtype": "int8"})  # 1 MiB alone
    g.add("a", "relu", ("x",))
    g.add("b", "relu", ("a",))
    layers = {c.name: dict(c.bytes_by_level)["dram"] for c in estimate(g, toy).layers}
    assert layers["a"] == 2 * 1024 * 1024  # reads x, writes a: 2 MiB > 1 MiB working set
    assert layers["b"] == 2 * 1024 * 1024


def three_fcs() -> Graph:
    g = fc(256)  # fc: 256 x 256 weights + 256 bias = 65,792 B
    g.add("fc2", "linear", ("fc",), {"out_features": 256})
    g.add("fc3", "linear", ("fc2",), {"out_features": 256})
    return g


def dram_bytes_with_sram(tmp_path, sram: str) -> dict[str, float]:
    """DRAM bytes per layer of ``three_fcs`` on the toy machine with its SRAM level replaced."""
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_HW.replace("{name: sram, size: 1 MiB}", sram))
    return {c.name: dict(c.bytes_by_level)["dram"] for c in estimate(three_fcs(), load_hardware(path)).layers}


def test_resident_weights_are_read_only_where_they_did_not_fit(tmp_path):
    # 100,000 B of the 1 MiB SRAM keep weights: fc takes 65,792, fc2 the remaining 34,208
    # (of its 65,792), fc3 none. Each layer reads from DRAM only what found no room, plus
    # the graph's input (fc) and output (fc3); activations (256 B) stay on chip.
    layers = dram_bytes_with_sram(tmp_path, "{name: sram, size: 1 MiB, resident_weights: 100000 B}")
    assert layers == {"fc": 256, "fc2": 65792 - 34208, "fc3": 65792 + 256}


def test_all_of_a_level_keeps_weights_in_what_activations_leave_free(tmp_path):
    layers = dram_bytes_with_sram(tmp_path, "{name: sram, size: 140000 B, resident_weights: all}")
    # the largest working set is 256 B in + 256 B out: 139,488 B keep weights. fc and fc2
    # (131,584 B) stay, fc3 finds 7,904 B; the 512 B left hold the activations between layers.
    assert layers == {"fc": 256, "fc2": 0, "fc3": 65792 - 7904 + 256}


def test_explicit_resident_weights_take_their_bytes_from_the_activations(tmp_path):
    layers = dram_bytes_with_sram(tmp_path, "{name: sram, size: 140000 B, resident_weights: 139800 B}")
    # fc3 finds 8,216 B; the 200 B left cannot hold a 512 B working set: every activation
    # goes off chip and back.
    assert layers == {"fc": 512, "fc2": 512, "fc3": 65792 - 8216 + 512}


def test_edge_npu_caches_a_small_model_whole():
    # coral.ai: the Edge TPU's 8 MB SRAM caches the parameters; MobileNet v2's 3.5 M int8
    # parameters fit, so an inference moves only its input image and its logits.
    est = estimate("mobilenet_v2", "edge_npu", precision="int8")
    assert est.to_dict()["totals"]["bytes_dram"] == 3 * 224 * 224 + 1000


@pytest.mark.parametrize("entry, message", [
    ("{name: sram, size: 1 KiB, resident_weights: 2 KiB}", "do not fit"),
    ("{name: dram2, type: ddr, resident_weights: all}", "only an sram level"),
    ("{name: sram, size: 1 KiB, resident_weights: lots}", "resident_weights"),
])
def test_resident_weights_errors_name_the_field(tmp_path, entry, message):
    from accelsim.errors import SpecError

    path = tmp_path / "toy.yaml"
    path.write_text(TOY_HW.replace("{name: sram, size: 1 MiB}", entry))
    with pytest.raises(SpecError, match=message) as info:
        load_hardware(path)
    assert info.value.field.endswith("resident_weights") and info.value.line == 11


def test_precision_without_peak_is_a_mapping_error(toy):
    with pytest.raises(MappingError, match="no peak for fp32"):
        estimate(fc(16), toy, precision="fp32")


def test_network_totals_by_hand(toy):
    # fc(256) -> relu -> fc2(256), int8, on the toy machine (1 TOPS, 1 GB/s DDR, 1 MiB SRAM,
    # 1 GHz). Every activation (512 B working sets) fits on chip; x and fc2's output are
    # graph input and output, so they go off chip.
    #   fc:   DRAM 65,536 weights + 256 bias + 256 x = 66,048 B -> 66.048 us (compute: 2 x
    #         65,536 / 1e12 + 256 bias adds / 1e12 = 0.13 us): 66,048 cycles, dram-bound.
    #         SRAM 65,792 + 256 + 256 = 66,304 B.
    #   relu: 256 ops / 1e12 = 0.256 ns, nothing off chip: 1 cycle; SRAM 512 B.
    #   fc2:  as fc, the output (256 B) instead of the input off chip: 66,048 B, 66,048 cycles.
    # Energy: int8 MAC 0.23 pJ, int8 add 0.03 pJ, DDR 243.75 pJ/B, 1 MiB SRAM 12.5 pJ/B:
    #   compute 2 x (65,536 x 0.23 + 256 x 0.03) + 256 x 0.03 = 30,169.6 pJ
    #   dram    132,096 B x 243.75 = 32,198,400 pJ;  sram 133,120 B x 12.5 = 1,664,000 pJ
    g = fc(256)
    g.add("act", "relu", ("fc",))
    g.add("fc2", "linear", ("act",), {"out_features": 256})
    est = estimate(g, toy)
    t = est.to_dict()["totals"]
    assert t["macs"] == 2 * 256 * 256
    assert t["cycles"] == 66048 + 1 + 66048
    assert t["latency_s"] == pytest.approx(2 * 66.048e-6 + 0.256e-9)
    assert t["bytes_dram"] == 132096
    e = t["energy_by_component_j"]
    assert e["compute"] == pytest.approx(30169.6e-12)
    assert e["dram"] == pytest.approx(32198400e-12)
    assert e["sram"] == pytest.approx(1664000e-12)
    assert t["energy_j"] == pytest.approx((30169.6 + 32198400 + 1664000) * 1e-12)
    assert est.throughput_per_s == pytest.approx(1 / 132.096256e-6)  # batch 1
    assert t["bound"] == "dram"


def test_bundled_configs_load():
    for name in ("tpu_v1_roofline", "h100_roofline", "edge_npu"):
        spec = load_hardware(name)
        assert spec.kind == "roofline"
    assert load_hardware("tpu_v1_roofline").peak("int8") == pytest.approx(65536 * 2 * 0.7e9)


def test_masks_and_indices_cost_at_their_inputs_precision(toy):
    # a comparison's 1-bit mask and argmax's int64 indices are results, not the precision
    # the arithmetic runs in: the layers run at int8 like their inputs (1 TOPS: 1 ps per op)
    g = fc(256)
    g.add("mask", "greater", ("fc", "fc"))
    g.add("pick", "where", ("mask", "fc", "x"))
    g.add("best", "argmax", ("pick",), {"axis": 1})
    layers = {c.name: c for c in estimate(g, toy).layers}
    assert [layers[k].ops for k in ("mask", "pick", "best")] == [256, 256, 256]
    assert dict(layers["best"].bytes_by_level)["dram"] == 8  # one int64 index leaves the chip
