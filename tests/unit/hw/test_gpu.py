"""The gpu family: spec loading, the tile model on hand-derived cases, fusion, launches."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import accelsim
from accelsim.errors import SpecError
from accelsim.hw import bundled_hardware, load_hardware
from accelsim.hw.gpu.tiles import Gemm, GpuCore, plan_gemm, plan_tile
from accelsim.ir import Graph

GPUS = ("p100", "p40", "v100", "t4", "a100", "a100_40gb", "h100", "h200", "jetson_orin")


def _core(sms: int = 4, rate: float = 1e12) -> GpuCore:
    return GpuCore(sms=sms, rate_per_sm=rate, smem_bps_per_sm=1e15, smem_per_sm=228 * 1024,
                   registers_per_sm=256 * 1024, hbm_bps=1e15, l2_bytes=50e6, l2_bps=None)


def _gemm_graph(m: int, n: int, k: int, precision: str = "bf16") -> Graph:
    g = Graph("gemm")
    g.add("a", "input", (), {"shape": [m, k], "dtype": precision})
    g.add("b", "input", (), {"shape": [k, n], "dtype": precision})
    g.add("mm", "matmul", ["a", "b"])
    g.set_outputs(["mm"])
    return g


@pytest.mark.parametrize("name", GPUS)
def test_every_bundled_gpu_loads_and_cites_its_sources(name: str) -> None:
    spec = load_hardware(name)
    assert spec.kind == "gpu" and spec.sms > 0 and spec.hbm_bps > 0
    assert "Sources" in bundled_hardware()[name].read_text()


def test_unknown_gpu_field_suggests_the_right_one(tmp_path: Path) -> None:
    text = bundled_hardware()["h100"].read_text().replace("sms: 132", "smss: 132")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match="sms") as info:
        load_hardware(path)
    assert info.value.line is not None


def test_a_sparse_peak_needs_a_dense_one(tmp_path: Path) -> None:
    text = bundled_hardware()["h100"].read_text().replace("  fp64: 66.9 TFLOPS\n  tf32", "  tf32", 1)
    text = text.replace("tensor_sparse:\n", "tensor_sparse:\n  fp64: 1 TFLOPS\n")
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match="needs a dense one"):
        load_hardware(path)


def test_one_wave_of_whole_tiles_takes_one_tile_time() -> None:
    """256 x 256 x 512 with 128 x 128 tiles: 4 tiles on 4 SMs, one wave; each tile is
    2 * 128 * 128 * 512 operations at 1e12 per second per SM (hand-derived)."""
    core = _core(sms=4)
    plan = plan_gemm(Gemm(1, 256, 256, 512, 256 * 512 * 2, 512 * 256 * 2, 256 * 256 * 2, 2), core)
    assert plan.waves == 1
    tile_ops = 2 * plan.tile[0] * plan.tile[1] * 512
    tiles_per_sm = math.ceil(plan.tiles / 4)
    assert plan.compute_s == pytest.approx(tiles_per_sm * tile_ops / 1e12)
    assert 2 * 256 * 256 * 512 / plan.time_s <= 4e12 * (1 + 1e-9)


def test_one_tile_more_than_the_sms_hold_costs_a_whole_wave() -> None:
    """Wave quantisation: 5 tiles of 128 x 128 on 4 SMs take two waves."""
    core = GpuCore(sms=4, rate_per_sm=1e12, smem_bps_per_sm=1e15, smem_per_sm=64 * 1024,
                   registers_per_sm=128 * 1024, hbm_bps=1e15, l2_bytes=50e6, l2_bps=None)
    fits = plan_tile(Gemm(1, 512, 128, 4096, 0, 0, 0, 2), core, 128, 128, 1)
    over = plan_tile(Gemm(1, 640, 128, 4096, 0, 0, 0, 2), core, 128, 128, 1)
    assert (fits.ctas_per_sm, fits.waves, over.waves) == (1, 1, 2)
    assert over.time_s / fits.time_s == pytest.approx(2.0, rel=1e-6)


def test_small_gemms_run_far_below_peak_and_large_ones_near_it() -> None:
    spec = load_hardware("h100")
    peak = spec.tensor_peak("bf16")
    rate = {n: 2 * n**3 / accelsim.estimate(_gemm_graph(n, n, n), spec).latency_s for n in (256, 8192)}
    assert rate[256] < 0.05 * peak
    assert rate[8192] > 0.8 * peak


def test_depthwise_convolutions_are_memory_bound_not_tensor_bound() -> None:
    est = accelsim.estimate("mobilenet_v2", "a100", batch=64, options={"fuse": False})
    depthwise = [c for c in est.layers if c.op == "conv2d" and c.details["tile"] is None]
    assert len(depthwise) == 17
    assert {c.bound for c in depthwise} <= {"hbm", "l2", "vector", "launch"}
    dense = [c for c in est.layers if c.op == "conv2d" and c.details["tile"]]
    assert any(c.bound == "tensor" for c in dense)


def test_fusion_folds_pointwise_layers_into_their_producers() -> None:
    fused = accelsim.estimate("resnet50", "h100", batch=8)
    plain = accelsim.estimate("resnet50", "h100", batch=8, options={"fuse": False})
    kernels = lambda est: sum(dict(c.counts).get("kernel_launches", 0) for c in est.layers)
    # 53 convolutions + maxpool + avgpool + fc: batchnorm, relu and residual adds all fold.
    assert kernels(fused) == 56
    assert kernels(plain) > 150
    rows = {c.name: c for c in fused.layers}
    relu = rows["layer1.0.relu"]
    assert relu.latency_s == 0 and relu.details["kernel"] == rows["layer1.0.relu"].details["kernel"] != "layer1.0.relu"
    assert fused.latency_s < plain.latency_s


def test_batch_one_cnn_is_launch_bound_unless_cuda_graphs_replay_it() -> None:
    eager = accelsim.estimate("resnet50", "h100", batch=1)
    graphs = accelsim.estimate("resnet50", "h100", batch=1, options={"cuda_graphs": True})
    launch = sum(c.latency_s for c in eager.layers if c.bound == "launch")
    assert launch > 0.9 * eager.latency_s
    assert graphs.latency_s < eager.latency_s / 3


def test_gpu_rows_name_kernel_tile_waves_and_bound() -> None:
    row = accelsim.estimate("resnet50", "a100", batch=32).to_dict()["layers"][0]
    assert row["details"]["kernel"] == row["name"]
    assert row["details"]["tile"] and row["details"]["waves"] >= 1
    assert row["bound"] in ("tensor", "vector", "hbm", "l2", "smem", "launch")


def test_a_precision_without_tensor_cores_runs_on_cuda_cores() -> None:
    est = accelsim.estimate(_gemm_graph(4096, 4096, 4096, "fp32"), "p100", precision="fp32")
    assert est.layers[0].bound == "vector"
    assert 2 * 4096**3 / est.latency_s <= load_hardware("p100").vector_peak("fp32")


def test_gpu_flags_apply_to_gpu_hardware_only(capsys: pytest.CaptureFixture[str]) -> None:
    from accelsim.cli import main

    assert main(["estimate", "digits_cnn", "--hw", "h100", "--no-fuse", "--cuda-graphs", "--json"]) == 0
    capsys.readouterr()
    assert main(["estimate", "digits_cnn", "--hw", "tpu_v1", "--no-fuse"]) == 2
    assert "does not apply to systolic" in capsys.readouterr().err
