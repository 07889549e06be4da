"""One training iteration on a cluster (accelsim.distributed.step): the identities its
figures must keep, hand-derived counts, and the refusals.

The one-device figures come from ``accelsim.train`` and are tested there; what is checked
here is what the cluster adds on top: a step on one replica is the one-device step, the
parts of a BSP iteration add up to it, compression divides the bytes by its wire ratio,
and the options that cannot work together are refused naming the option.
"""

from __future__ import annotations

import math

import pytest

import accelsim
from accelsim.distributed import DistributedOptions, scaling_curve, train_distributed
from accelsim.errors import AccelsimError, SpecError

PARTS = ("compute_s", "bubble_s", "exposed_comm_s", "codec_s", "straggler_wait_s")


def step(cluster: str = "p100_50gbe", batch: int = 32, **options: object) -> accelsim.distributed.DistributedStep:
    return train_distributed("resnet50", cluster, batch=batch, options=DistributedOptions(**options))


@pytest.mark.parametrize("options", [
    {"data": 256},
    {"data": 256, "overlap": False},
    {"data": 64, "compress": "1bit"},
    {"data": 16, "pipeline": 4, "microbatches": 8},
    {"data": 32, "tensor": 2, "comm": "ring"},
])
def test_the_parts_of_a_bsp_iteration_add_up(options: dict) -> None:
    s = step(**options)
    assert sum(getattr(s, p) for p in PARTS) == pytest.approx(s.time_per_iteration_s, rel=1e-12)
    assert s.to_dict()["breakdown_s"] == {p: getattr(s, p) for p in PARTS}


def test_one_replica_is_the_one_device_step() -> None:
    s = step(data=1)
    alone = accelsim.train("resnet50", "p100", batch=32)
    assert s.time_per_iteration_s == pytest.approx(alone.time_per_iteration_s, rel=1e-12)
    assert s.scaling_efficiency == pytest.approx(1.0)
    assert s.exposed_comm_s == 0 and sum(s.comm_bytes.values()) == 0


def test_without_overlap_every_gradient_transfer_is_exposed() -> None:
    off, on = step(data=256, overlap=False), step(data=256)
    assert off.exposed_comm_s == pytest.approx(off.gradient_comm_s, rel=1e-9)
    assert on.exposed_comm_s < off.exposed_comm_s
    assert on.compute_s == pytest.approx(off.compute_s)


def test_ring_allreduce_bytes_by_hand() -> None:
    # 256 replicas in one flat ring: each sends 2(p-1)/p of the 4-byte gradients, and the
    # ring crosses a node boundary on one link in eight (servers of 8 GPUs)
    s = step(data=256, comm="ring")
    params = 25_557_032  # ResNet-50 (torchvision's weights metadata)
    sent = 256 * 2 * 255 / 256 * 4 * params
    assert sum(s.comm_bytes.values()) == pytest.approx(sent, rel=1e-9)
    assert s.comm_bytes["inter_node"] == pytest.approx(sent / 8, rel=1e-9)


def test_one_bit_compression_divides_the_bytes_by_its_wire_ratio() -> None:
    plain, packed = step(data=64, comm="ring"), step(data=64, comm="ring", compress="1bit")
    ratio = 4 / (1 / 8 + 2 * 4 / 512)  # fp32 against a sign bit and two fp32 values per 512 (Seide et al. 2014)
    assert sum(plain.comm_bytes.values()) / sum(packed.comm_bytes.values()) == pytest.approx(ratio, rel=1e-9)
    assert packed.codec_s > 0 and plain.codec_s == 0


def test_pipeline_bubble_shrinks_with_more_microbatches() -> None:
    few, many = step(data=8, pipeline=4, microbatches=2), step(data=8, pipeline=4, microbatches=16)
    flat = step(data=8)
    assert flat.bubble_s == 0 and len(flat.stages) == 1
    assert len(few.stages) == 4 and sum(st["layers"] for st in few.stages) == sum(
        st["layers"] for st in flat.stages)
    assert 0 < many.bubble_s / many.time_per_iteration_s < few.bubble_s / few.time_per_iteration_s


def test_1f1b_takes_gpipes_time_with_fewer_activations_in_flight() -> None:
    gpipe = step(data=8, pipeline=4, microbatches=8, schedule="gpipe")
    one_f_one_b = step(data=8, pipeline=4, microbatches=8)
    assert one_f_one_b.time_per_iteration_s == pytest.approx(gpipe.time_per_iteration_s)
    assert one_f_one_b.memory_per_device_bytes < gpipe.memory_per_device_bytes


def test_tensor_parallelism_splits_the_matrix_work_and_talks_inside_the_node() -> None:
    alone, split = step(data=128, comm="ring"), step(data=128, tensor=2, comm="ring")
    assert split.devices == 256 and split.compute_s < alone.compute_s
    assert split.comm_bytes["intra_node"] > alone.comm_bytes["intra_node"]


def test_time_to_train_is_epochs_times_iterations() -> None:
    s = step(data=256, epochs=90)
    assert s.global_batch == 8192
    assert s.iterations_per_epoch == math.ceil(1_281_167 / 8192)
    assert s.time_to_train_s == pytest.approx(90 * 157 * s.time_per_iteration_s)


def test_a_batch_past_every_published_recipe_is_flagged() -> None:
    small = step(data=256).to_dict()["large_batch"]
    assert small["within_published_range"] and "Goyal" in small["source"]
    big = step("p40_100gbe", batch=64, data=2048).to_dict()["large_batch"]
    assert not big["within_published_range"] and "131,072" in big["warning"]


def test_asynchronous_modes_report_their_simulation() -> None:
    s = step("ethernet_10g", data=16, sync="ssp:2", stragglers="lognormal:0.2", iterations=20)
    assert s.comm == "ps" and s.simulation is not None
    assert s.simulation["workers"] == 16 and s.simulation["max_staleness"] <= 2
    assert sum(s.simulation["staleness_histogram"]) > 0


def test_scaling_curve_runs_in_powers_of_two_to_the_step() -> None:
    s = step(data=24)
    curve = scaling_curve(s, "p100_50gbe", DistributedOptions(data=24))
    assert [p["devices"] for p in curve] == [1, 2, 4, 8, 16, 24]
    assert curve[0]["scaling_efficiency"] == pytest.approx(1.0)
    assert curve[-1]["samples_per_s"] == pytest.approx(s.samples_per_s)


@pytest.mark.parametrize("options, field", [
    ({"sync": "asp", "comm": "ring"}, "sync"),
    ({"sync": "ssp"}, "sync"),
    ({"sync": "eventually"}, "sync"),
    ({"data": 300}, None),
    ({"pipeline": 4, "microbatches": 5}, "microbatches"),
    ({"stragglers": "lognormal:-1", "sync": "asp"}, "stragglers"),
    ({"comm": "gossip"}, "comm"),
])
def test_impossible_options_are_refused_naming_the_option(options: dict, field: str | None) -> None:
    with pytest.raises(SpecError) as info:
        step(**options)
    if field:
        assert info.value.field == field


def test_a_share_that_does_not_fit_the_device_is_refused() -> None:
    with pytest.raises(AccelsimError, match="GiB per device"):
        step(batch=512, data=2)
