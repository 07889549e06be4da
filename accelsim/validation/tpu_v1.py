"""TPU v1 against Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing
Unit", ISCA 2017: Table 1 (layers, weights, ops per weight byte, batch) and Table 3 (measured
TeraOps/s per die).

Each production app is reduced, as the paper's own roofline (Fig. 5) does, to its weight
volume and reuse: fully connected layers at the deployed batch for the MLPs and LSTMs (ops per
weight byte = batch) and 3x3 convolutions whose output plane gives the published ops per
weight byte for the CNNs. The roofline must bound every measurement from above and land within
20% for the apps the paper shows near the roof; LSTM1 and CNN1 run far below their roofs in
the paper (weight stalls, shallow feature depths; Section 4), so only the bound is checked.
"""

from __future__ import annotations

import math
from typing import Callable

from ..estimation import estimate
from ..hw import load_hardware
from ..ir import Graph
from .case import CASES, Check, ValidationCase

__all__ = ["APPS", "mlp", "cnn"]

SOURCE = "Jouppi et al., ISCA 2017, Tables 1 and 3"
HARDWARE = "tpu_v1_roofline"


def mlp(layers: int, weights: int, batch: int) -> Graph:
    """``layers`` square fully connected int8 layers holding ``weights`` in all."""
    n = round(math.sqrt(weights / layers))
    g = Graph("mlp")
    g.add("x", "input", (), {"shape": [batch, n], "dtype": "int8"})
    prev = "x"
    for i in range(layers):
        g.add(f"fc{i}", "linear", (prev,), {"out_features": n, "bias": False})
        g.add(f"act{i}", "relu", (f"fc{i}",))
        prev = f"act{i}"
    return g


def cnn(layers: int, weights: int, batch: int, plane: tuple[int, int]) -> Graph:
    """``layers`` 3x3 int8 convolutions over a ``plane`` output, ``weights`` in all."""
    c = round(math.sqrt(weights / layers / 9))
    g = Graph("cnn")
    g.add("x", "input", (), {"shape": [batch, c, *plane], "dtype": "int8"})
    prev = "x"
    for i in range(layers):
        g.add(f"conv{i}", "conv2d", (prev,), {"out_channels": c, "kernel": 3, "padding": 1, "bias": False})
        g.add(f"act{i}", "relu", (f"conv{i}",))
        prev = f"act{i}"
    return g


# name: (model builder, measured TOPS, near the roof in the paper)
APPS: dict[str, tuple[Callable[[], Graph], float, bool]] = {
    "MLP0": (lambda: mlp(5, 20_000_000, 200), 12.3, True),
    "MLP1": (lambda: mlp(4, 5_000_000, 168), 9.7, True),
    "LSTM0": (lambda: mlp(58, 52_000_000, 64), 3.7, True),
    "LSTM1": (lambda: mlp(56, 34_000_000, 96), 2.8, False),
    # 2888 ops per weight byte at batch 8: 361 = 19 x 19 outputs per weight per image
    "CNN0": (lambda: cnn(16, 8_000_000, 8, (19, 19)), 86.0, True),
    # 1750 at batch 32: about 55 = 5 x 11 outputs per weight per image
    "CNN1": (lambda: cnn(89, 100_000_000, 32, (5, 11)), 14.1, False),
}


def _apps() -> list[Check]:
    spec = load_hardware(HARDWARE)
    checks = []
    for app, (build, measured, near_roof) in APPS.items():
        t = estimate(build(), spec).totals
        tops = 2 * t.macs / t.latency_s / 1e12
        checks.append(Check(f"tpu_v1.{app}", "TOPS (roofline >= measured)", tops, measured, 0.0,
                            SOURCE, kind="upper_bound"))
        if near_roof:
            checks.append(Check(f"tpu_v1.{app}", "TOPS", tops, measured, 0.20, SOURCE))
    # The ridge point: 1350 MAC ops per weight byte (Fig. 5) = peak / 2 / DRAM bandwidth.
    ridge = spec.peak("int8") / 2 / spec.memories[0].bandwidth_bps
    checks.append(Check("tpu_v1.ridge", "MACs per weight byte at the ridge", ridge, 1350, 0.01,
                        "Jouppi et al., ISCA 2017, Fig. 5"))
    return checks


CASES.add("tpu_v1", ValidationCase("tpu_v1", "TPU v1 roofline vs six measured production apps", _apps))
