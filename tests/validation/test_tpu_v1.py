"""TPU v1 as a roofline against the measured figures of Jouppi et al., ISCA 2017.

Source: N. P. Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing
Unit", ISCA 2017, Table 1 (layers, weights, ops per weight byte, batch) and Table 3
(measured TeraOps/s per die); transcribed in ../shared/reference/published.md, section 2c.

Each production app is reduced, as the paper's own roofline (Fig. 5) does, to its weight
volume and its reuse: fully connected layers at the deployed batch for the MLPs and LSTMs
(ops per weight byte = batch), and 3x3 convolutions whose output plane gives the published
ops per weight byte for the CNNs. The roofline must bound every measurement from above and,
for the apps the paper shows near the roof, land within 20% of it. LSTM1 and CNN1 run far
below their roofs in the paper (weight stalls and shallow feature depths, Section 4), so
only the bound is checked for them.
"""

import math

import pytest

from accelsim import estimate
from accelsim.ir import Graph


def mlp(layers: int, weights: int, batch: int) -> Graph:
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
    c = round(math.sqrt(weights / layers / 9))
    g = Graph("cnn")
    g.add("x", "input", (), {"shape": [batch, c, *plane], "dtype": "int8"})
    prev = "x"
    for i in range(layers):
        g.add(f"conv{i}", "conv2d", (prev,), {"out_channels": c, "kernel": 3, "padding": 1, "bias": False})
        g.add(f"act{i}", "relu", (f"conv{i}",))
        prev = f"act{i}"
    return g


# name: (graph, measured TOPS, near the roof in the paper)
APPS = {
    "MLP0": (lambda: mlp(5, 20_000_000, 200), 12.3, True),
    "MLP1": (lambda: mlp(4, 5_000_000, 168), 9.7, True),
    "LSTM0": (lambda: mlp(58, 52_000_000, 64), 3.7, True),
    "LSTM1": (lambda: mlp(56, 34_000_000, 96), 2.8, False),
    # 2888 ops per weight byte at batch 8: 361 = 19 x 19 outputs per weight per image
    "CNN0": (lambda: cnn(16, 8_000_000, 8, (19, 19)), 86.0, True),
    # 1750 at batch 32: about 55 = 5 x 11 outputs per weight per image
    "CNN1": (lambda: cnn(89, 100_000_000, 32, (5, 11)), 14.1, False),
}


@pytest.mark.parametrize("app", list(APPS))
def test_roofline_bounds_measured_tops(app):
    build, measured, near_roof = APPS[app]
    est = estimate(build(), "tpu_v1_roofline")
    t = est.totals
    predicted_tops = 2 * t.macs / t.latency_s / 1e12
    assert predicted_tops >= measured, f"{app}: roofline {predicted_tops:.1f} below measured {measured}"
    if near_roof:
        assert predicted_tops == pytest.approx(measured, rel=0.20)


def test_ridge_point_matches_the_paper():
    # Paper: the ridge point is at 1350 MAC ops per weight byte (Fig. 5); 92 TOPS / 2 / 34 GB/s.
    from accelsim.hw import load_hardware

    spec = load_hardware("tpu_v1_roofline")
    ridge = spec.peak("int8") / 2 / spec.memories[0].bandwidth_bps
    assert ridge == pytest.approx(1350, rel=0.01)
