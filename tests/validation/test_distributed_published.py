"""Training on clusters against published runs (../shared/reference/published-cloud-edge.md §4)
and the trends the literature reports.

Sources:
* [Goyal] Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
  arXiv:1706.02677 (2017): ResNet-50, 256 P100 (Caffe2, 8 per server, 50 Gbit/s Ethernet),
  32 images per GPU (global 8,192), 90 epochs in about 1 hour, about 90% scaling efficiency
  from 8 to 256 GPUs.
* [Jia] Jia et al., "Highly Scalable Deep Learning Training System with Mixed-Precision",
  arXiv:1807.11205 (2018): ResNet-50, 2,048 P40 over 100 Gbit/s Ethernet, global batch 64K
  (32 per GPU), 90 epochs in 6.6 minutes, 87.9% scaling efficiency. The P40 has no fast fp16
  arithmetic (1/64 of its fp32 rate), so its "mixed precision" is taken as fp32 compute with
  fp16 gradients on the wire: ``compress="fp16"``.
* [Horovod] Sergeev and Del Balso, "Horovod: fast and easy distributed deep learning in
  TensorFlow", arXiv:1802.05799, and the horovod/horovod README: 128 servers x 4 Pascal GPUs
  over 25 Gbit/s RoCE, ring allreduce with tensor fusion: about 90% scaling efficiency for
  Inception V3 and ResNet-101, 68% for VGG-16. The per-GPU batch is not stated; 64 is taken.
* [DLE] NVIDIA DeepLearningExamples, PyTorch/Classification/ConvNets/resnet50v1.5/README.md:
  DGX A100 80 GB, ResNet-50 AMP at batch 256 per GPU, 2,470 img/s on one GPU and 16,621 on
  eight (6.72x).
* Trends: parameter servers with one shard saturate (Li et al., OSDI 2014, shard the server
  for this reason) while ring allreduce keeps scaling; SSP (Ho et al., NIPS 2013) lies between
  BSP and ASP under stragglers; wait-free backpropagation (Zhang et al., Poseidon, ATC 2017)
  gains most on models with large late layers (VGG-16's fully connected layers); 1-bit SGD
  (Seide et al., Interspeech 2014) pays off where the network is slow.

Each run is costed with momentum SGD and no fusion (what the frameworks of these papers ran),
within 25% on time or efficiency. A case the model misses is an ``xfail(strict=True)`` whose
reason gives the measured error and why: it fails the suite the day the model meets it.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from accelsim.distributed import DistributedOptions, DistributedStep, scaling_curve, train_distributed

STRICT = dict(strict=True)
HOUR = 3600.0


@lru_cache(maxsize=None)
def run(model: str, cluster: str, batch: int, precision: str = "fp32", **options: object) -> DistributedStep:
    return train_distributed(model, cluster, batch=batch, precision=precision, optimizer="momentum",
                             family_options={"fuse": False}, options=DistributedOptions(**options))


def goyal() -> DistributedStep:
    return run("resnet50", "p100_50gbe", 32, data=256)


def jia() -> DistributedStep:
    return run("resnet50", "p40_100gbe", 32, data=2048, compress="fp16")


def horovod(model: str, **options: object) -> DistributedStep:
    return run(model, "roce25_p100", 64, data=512, **options)


def dgx(gpus: int) -> DistributedStep:
    return run("resnet50", "dgx_a100_ib", 256, "bf16", data=gpus)


# ---------------------------------------------------------------- published runs

def test_goyal_scaling_from_8_to_256_p100() -> None:
    eight = run("resnet50", "p100_50gbe", 32, data=8)
    efficiency = goyal().samples_per_s / (32 * eight.samples_per_s)
    assert goyal().global_batch == 8192
    assert efficiency == pytest.approx(0.90, rel=0.25)  # [Goyal]: model 0.95 (+5%)


@pytest.mark.xfail(reason="[Goyal] model 1,528 s against about 3,600 s for 90 epochs (-58%): one P100 is "
                          "costed at 313 img/s at batch 32, the run implies about 140 (Caffe2 in 2017 on "
                          "cuDNN 6, and a data pipeline the model does not have)", **STRICT)
def test_goyal_90_epochs_in_about_an_hour() -> None:
    assert goyal().time_to_train_s == pytest.approx(1 * HOUR, rel=0.25)


def test_jia_scaling_efficiency_on_2048_p40() -> None:
    step = jia()
    assert step.global_batch == 65536 and step.to_dict()["large_batch"]["within_published_range"]
    assert step.scaling_efficiency == pytest.approx(0.879, rel=0.25)  # [Jia]: model 0.97 (+11%)


@pytest.mark.xfail(reason="[Jia] model 234 s against 396 s for 90 epochs (-41%): one P40 is costed at "
                          "252 img/s at batch 32 in fp32, the run implies about 160 (TensorFlow input "
                          "pipeline and small-batch kernels not modelled)", **STRICT)
def test_jia_90_epochs_in_6_6_minutes() -> None:
    assert jia().time_to_train_s == pytest.approx(6.6 * 60, rel=0.25)


@pytest.mark.parametrize("model", ["inception_v3", "resnet101"])
def test_horovod_about_90_percent_on_512_gpus(model: str) -> None:
    # [Horovod]: model 0.97 (Inception V3), 0.98 (ResNet-101): within 10% of 0.90
    assert horovod(model).comm in ("ring", "tree", "hierarchical")
    assert horovod(model).scaling_efficiency == pytest.approx(0.90, rel=0.25)


@pytest.mark.xfail(reason="[Horovod] VGG-16 model 1.00 against 0.68 (+47%): with wait-free backprop the "
                          "model hides all 355 ms of gradient traffic behind a 687 ms iteration, the "
                          "fully connected layers' 410 MB included; without overlap it gives 0.66. "
                          "Horovod's fusion buffer and TensorFlow's op ordering delay the first "
                          "allreduce, which the bucket model does not", **STRICT)
def test_horovod_68_percent_for_vgg16() -> None:
    assert horovod("vgg16").scaling_efficiency == pytest.approx(0.68, rel=0.25)


def test_dgx_a100_eight_gpu_speedup() -> None:
    speedup = dgx(8).samples_per_s / dgx(1).samples_per_s
    assert speedup == pytest.approx(6.72, rel=0.25)  # [DLE]: model 7.98 (+19%)


@pytest.mark.xfail(reason="[DLE] model 31,875 img/s against 16,621 (+92%): it inherits the one-device "
                          "over-prediction (3,993 img/s against 2,470, tests/validation/"
                          "test_gpu_published.py) and the eight GPUs' NVLink allreduce hides fully", **STRICT)
def test_dgx_a100_eight_gpu_throughput() -> None:
    assert dgx(8).samples_per_s == pytest.approx(16621, rel=0.25)


# ---------------------------------------------------------------- trends

def test_one_parameter_server_saturates_while_ring_allreduce_keeps_scaling() -> None:
    def rates(comm: str) -> dict[int, float]:
        options = dict(data=64, comm=comm, ps_shards=1)
        step = run("resnet50", "ethernet_10g", 32, **options)
        curve = scaling_curve(step, "ethernet_10g", DistributedOptions(**options))
        return {int(p["devices"]): p["samples_per_s"] for p in curve}

    ps, ring = rates("ps"), rates("ring")
    assert ps[64] < 1.2 * ps[8]  # one server NIC: more workers, hardly more throughput
    assert ring[64] > 5 * ring[8]  # 8x the devices, most of it kept
    assert ring[64] > 10 * ps[64]


def test_ssp_lies_between_bsp_and_asp_and_approaches_bsp_as_s_shrinks() -> None:
    def rate(sync: str, stragglers: str) -> float:
        return run("resnet50", "dgx_h100_ib", 32, data=32, sync=sync, comm="ps", ps_shards=8,
                   stragglers=stragglers, overlap=False).samples_per_s

    for stragglers in ("lognormal:0.3", "slow:0.05x3"):
        bsp, asp = rate("bsp", stragglers), rate("asp", stragglers)
        ssp = [rate(f"ssp:{s}", stragglers) for s in (0, 1, 4, 16)]
        assert bsp < asp
        assert all(a <= b * (1 + 1e-9) for a, b in zip(ssp, ssp[1:]))  # grows with the bound
        assert bsp * 0.98 <= min(ssp) and max(ssp) <= asp * 1.0001
        assert ssp[0] == pytest.approx(bsp, rel=0.02)  # s = 0 is BSP (by simulation and by formula)
        assert asp - ssp[-1] < asp - ssp[0]


def test_overlap_saves_vgg16_more_time_than_resnet50() -> None:
    def saved(model: str) -> float:
        return (horovod(model, overlap=False).time_per_iteration_s
                - horovod(model).time_per_iteration_s)

    assert saved("vgg16") > 3 * saved("resnet50") > 0


def test_one_bit_compression_helps_most_on_the_slowest_network() -> None:
    def speedup(cluster: str) -> float:
        return (run("resnet50", cluster, 32, data=16).time_per_iteration_s
                / run("resnet50", cluster, 32, data=16, compress="1bit").time_per_iteration_s)

    slow, fast = speedup("ethernet_10g"), speedup("dgx_h100_ib")
    assert slow > 1.5  # 10 Gbit/s Ethernet: the gradients were most of the step
    assert fast < 1.05  # 400 Gbit/s per GPU: nothing to save, the codec costs
    assert slow > speedup("p100_50gbe") > fast * 0.99
