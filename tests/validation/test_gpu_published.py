"""The gpu family against measured GPU figures (../shared/reference/published-cloud-edge.md §3).

Sources:
* [M] One measured H100 SXM 80 GB point: an 8192 x 8192 x 8192 bf16 matmul through PyTorch at
  about 798 TFLOP/s (mean of ten after warm-up), a large device-to-device copy at about
  3.0 TB/s counting bytes read plus written. Tolerance 10%.
* [DLE] NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5/README.md
  (pytorch-21.03 NGC container): training img/s per GPU on DGX A100 80 GB (AMP 2470, TF32
  938; batch 256) and DGX-1 V100 16 GB (AMP 1200 at batch 256, FP32 367 at batch 128?
  -- the README trains FP32 at a smaller batch; 128 is taken here); inference on V100 16 GB
  at batch 256 (FP32 1261 img/s, AMP 3382 img/s). Tolerance 25%. The runs are PyTorch
  eager (no fusion), momentum SGD, which is what the model is asked for.

A case the model misses is an ``xfail(strict=True)`` whose reason gives the measured error
and why: it fails the suite the day the model starts to meet it, so the note is updated.
"""

from __future__ import annotations

import pytest

import accelsim
from accelsim.ir import Graph

STRICT = dict(strict=True)


def _gemm(n: int) -> Graph:
    g = Graph("gemm8192")
    for name in ("a", "b"):
        g.add(name, "input", (), {"shape": [n, n], "dtype": "bf16"})
    g.add("mm", "matmul", ["a", "b"])
    g.set_outputs(["mm"])
    return g


def _copy(elements: int) -> Graph:
    g = Graph("copy")
    g.add("x", "input", (), {"shape": [elements]})
    g.add("y", "identity", ["x"])
    g.set_outputs(["y"])
    return g


def _train(hw: str, precision: str, batch: int) -> float:
    return accelsim.train("resnet50", hw, batch=batch, precision=precision, optimizer="momentum",
                          options={"fuse": False}).samples_per_s


def _infer(precision: str) -> float:
    return accelsim.estimate("resnet50", "v100", batch=256, precision=precision,
                             options={"fuse": False}).throughput_per_s


@pytest.mark.xfail(reason="[M] model 959 TFLOP/s against 798 measured (+20%): it takes the datasheet "
                          "tensor peak as sustained; the part's clock under its 700 W limit is not "
                          "modelled", **STRICT)
def test_h100_large_bf16_gemm() -> None:
    n = 8192
    rate = 2 * n**3 / accelsim.estimate(_gemm(n), "h100", precision="bf16").latency_s
    assert rate == pytest.approx(798e12, rel=0.10)


@pytest.mark.xfail(reason="[M] model 3.35 TB/s (the datasheet peak) against 3.0 TB/s measured (+12%): "
                          "DRAM refresh and read/write turnaround are not modelled", **STRICT)
def test_h100_device_to_device_copy() -> None:
    elements = 2**28
    est = accelsim.estimate(_copy(elements), "h100", precision="fp32")
    assert 2 * elements * 4 / est.latency_s == pytest.approx(3.0e12, rel=0.10)


def test_v100_resnet50_fp32_inference_batch_256() -> None:
    assert _infer("fp32") == pytest.approx(1261, rel=0.25)  # [DLE]: model +1%


@pytest.mark.xfail(reason="[DLE] model 4,729 img/s against 3,382 (+40%): cuDNN's tensor-core "
                          "convolutions run at about 60% of peak on these shapes, the model's tiles "
                          "at about 80%", **STRICT)
def test_v100_resnet50_amp_inference_batch_256() -> None:
    assert _infer("fp16") == pytest.approx(3382, rel=0.25)


def test_v100_resnet50_fp32_training() -> None:
    assert _train("v100", "fp32", 128) == pytest.approx(367, rel=0.25)  # [DLE]: model +21%


@pytest.mark.xfail(reason="[DLE] model 1,720 img/s against 1,200 (+43%): tensor-core efficiency as "
                          "above, and AMP's casts and loss scaling are not in the step", **STRICT)
def test_v100_resnet50_amp_training() -> None:
    assert _train("v100", "fp16", 256) == pytest.approx(1200, rel=0.25)


@pytest.mark.xfail(reason="[DLE] model 3,993 img/s against 2,470 (+62%): tensor-core efficiency "
                          "and memory-bound kernels at the datasheet bandwidth", **STRICT)
def test_a100_resnet50_amp_training() -> None:
    assert _train("a100", "bf16", 256) == pytest.approx(2470, rel=0.25)


@pytest.mark.xfail(reason="[DLE] model 1,996 img/s against 938 (+113%): the model gives TF32 half "
                          "the bf16 rate, cuDNN's TF32 convolutions reach far less", **STRICT)
def test_a100_resnet50_tf32_training() -> None:
    assert _train("a100", "tf32", 256) == pytest.approx(938, rel=0.25)
