"""``add_up`` (the one-pass model total) must equal adding layers pairwise with ``+``."""

from __future__ import annotations

import random
from functools import reduce

from accelsim.hw.cost import LayerCost, Serial, add_up

LEVELS = ("DRAM", "GLB", "RF", "PE")


def _random_layer(rng: random.Random, i: int) -> LayerCost:
    def keyed(keys: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
        chosen = rng.sample(keys, rng.randint(0, len(keys)))
        return tuple((k, rng.uniform(0.0, 1e-3)) for k in chosen)

    return LayerCost(
        name=f"l{i}", op="conv2d", macs=rng.randint(0, 10**9), ops=rng.randint(0, 10**6),
        params=rng.randint(0, 10**6), cycles=rng.randint(0, 10**7),
        latency_s=rng.uniform(0, 1e-2), ideal_s=rng.uniform(0, 1e-3),
        energy_by_component_j=keyed(("mac", "sram", "dram", "leak")),
        bytes_by_level=keyed(LEVELS), offchip=tuple(rng.sample(("DRAM", "HBM"), rng.randint(0, 2))),
        footprint_by_level=keyed(LEVELS), counts=keyed(("spikes", "kernel_launches")),
        time_by_bound_s=keyed(("compute", "DRAM", "GLB")),
    )


def test_add_up_equals_pairwise_addition_field_for_field():
    rng = random.Random(7)
    for trial in range(50):
        layers = [_random_layer(rng, i) for i in range(rng.randint(0, 30))]
        pairwise = reduce(LayerCost.__add__, layers, LayerCost(name="total", op=""))
        assert add_up(layers) == pairwise, trial


def test_totals_hand_checked_on_two_layers():
    a = LayerCost(name="a", op="fc", macs=10, cycles=5, latency_s=2.0, bytes_by_level=(("DRAM", 4.0),),
                  footprint_by_level=(("GLB", 8.0),), offchip=("DRAM",), time_by_bound_s=(("DRAM", 2.0),))
    b = LayerCost(name="b", op="fc", macs=3, cycles=7, latency_s=1.0, bytes_by_level=(("DRAM", 1.0), ("GLB", 2.0)),
                  footprint_by_level=(("GLB", 6.0),), time_by_bound_s=(("compute", 3.0),))
    total = Serial().combine([a, b])
    assert (total.macs, total.cycles, total.latency_s) == (13, 12, 3.0)
    assert total.bytes_by_level == (("DRAM", 5.0), ("GLB", 2.0))
    assert total.footprint_by_level == (("GLB", 8.0),)  # peak, not sum
    assert total.bound == "compute"  # 3 s of compute-bound time against 2 s DRAM-bound
