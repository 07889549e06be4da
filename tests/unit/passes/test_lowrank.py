"""The lowrank pass: planted low-rank weights are recovered exactly at their rank, the fit
error is the Eckart-Young tail of the singular values, MAC counts by hand, the speedup
target is met with the largest rank that meets it, and zoo models without weights change
only in structure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.errors import PassError
from accelsim.frontend import load_model
from accelsim.ir import Fused, Graph, Quant
from accelsim.passes.lowrank import lowrank
from accelsim.passes.reference import run_reference


def linear_net(weight: np.ndarray, bias: np.ndarray | None, rows: int = 3) -> Graph:
    n, k = weight.shape
    g = Graph("fc")
    g.add("x", "input", (), {"shape": [rows, k]})
    g.add("fc", "linear", ("x",), {"out_features": n, "bias": bias is not None})
    g.add("out", "relu", ("fc",))
    g.set_weights("fc", {"weight": weight, **({"bias": bias} if bias is not None else {})})
    g.verify()
    return g


def conv_net(weight: np.ndarray | None, *, c: int, k: int, kernel: int = 3, stride: int = 2,
             padding=1, hw: int = 9, groups: int = 1) -> Graph:
    g = Graph("conv")
    g.add("x", "input", (), {"shape": [2, c, hw, hw]})
    g.add("conv", "conv2d", ("x",), {"out_channels": k, "kernel": kernel, "stride": stride,
                                     "padding": padding, "groups": groups})
    if weight is not None:
        g.set_weights("conv", {"weight": weight, "bias": np.random.default_rng(9).standard_normal(k)})
    g.verify()
    return g


def planted(rng: np.random.Generator, n: int, k: int, r: int) -> np.ndarray:
    return rng.standard_normal((n, r)) @ rng.standard_normal((r, k))


def outputs(g: Graph, x: np.ndarray) -> np.ndarray:
    return run_reference(g, {"x": x})[g.outputs[0]]


def test_planted_rank_is_found_and_the_output_kept_exactly():
    rng = np.random.default_rng(0)
    g = linear_net(planted(rng, 30, 40, 5), rng.standard_normal(30))
    nodes = [(n.name, n.op) for n in g.nodes()]
    x = rng.standard_normal((3, 40))
    for energy in (1.0, 0.999999):
        res = lowrank(g, energy=energy)
        assert res.by_layer["fc"]["rank"] == 5
        assert res.by_layer["fc"]["fit_error"] < 1e-12
        np.testing.assert_allclose(outputs(res.graph, x), outputs(g, x), rtol=1e-9, atol=1e-9)
    assert [(n.name, n.op) for n in g.nodes()] == nodes  # the input graph is untouched
    # by hand: 3 rows x 5 x (30 + 40) MACs, 5 x 70 weights + 30 biases
    assert res.by_layer["fc"]["macs_before"] == 3 * 30 * 40
    assert res.by_layer["fc"]["macs_after"] == 3 * 5 * 70
    assert res.by_layer["fc"]["params_after"] == 5 * 70 + 30
    assert [n.op for n in res.graph.nodes()] == ["input", "linear", "linear", "relu"]
    assert res.graph.node("fc_lowrank").attrs["bias"] is False


def test_energy_one_on_a_full_rank_weight_keeps_everything():
    rng = np.random.default_rng(1)
    g = linear_net(rng.standard_normal((40, 30)), None)
    res = lowrank(g, energy=1.0)
    assert res.notes["layers_decomposed"] == 0
    assert "no MAC saving" in res.by_layer["fc"]["skipped"]
    assert res.notes["macs_after"] == res.notes["macs_before"] == 3 * 40 * 30
    x = rng.standard_normal((3, 30))
    np.testing.assert_array_equal(outputs(res.graph, x), outputs(g, x))


def test_fit_error_is_the_singular_value_tail_and_shrinks_with_rank():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((48, 64))
    s = np.linalg.svd(w, compute_uv=False)
    g = linear_net(w, rng.standard_normal(48))
    errors = []
    for speedup in (4.0, 3.0, 2.0, 1.5):
        res = lowrank(g, speedup=speedup)
        info = res.by_layer["fc"]
        r = info["rank"]
        # the largest rank meeting the target: r (N + K) <= N K / speedup < (r + 1) (N + K)
        assert r == math.floor(48 * 64 / (speedup * (48 + 64)))
        assert info["macs_before"] / info["macs_after"] >= speedup
        tail = math.sqrt(np.sum(s[r:] ** 2) / np.sum(s ** 2))  # Eckart-Young
        assert info["fit_error"] == pytest.approx(tail, rel=1e-9)
        errors.append(info["fit_error"])
    assert errors == sorted(errors, reverse=True) and errors[-1] < errors[0]
    assert res.notes["fit_error_max"] == res.notes["fit_error_mean"] == pytest.approx(errors[-1])


def test_planted_low_rank_conv_is_exact_with_the_channel_method():
    rng = np.random.default_rng(3)
    c, k, r = 6, 16, 3
    w = planted(rng, k, c * 9, r).reshape(k, c, 3, 3)
    g = conv_net(w, c=c, k=k)
    res = lowrank(g, energy=0.999999, min_size=0)
    info = res.by_layer["conv"]
    assert info["rank"] == r and info["fit_error"] < 1e-12
    first = res.graph.node("conv_lowrank")
    assert (first.attrs["kernel"], first.attrs["stride"], first.attrs["padding"]) == ((3, 3), (2, 2), (1, 1, 1, 1))
    assert res.graph.node("conv").attrs["kernel"] == (1, 1)
    x = rng.standard_normal((2, c, 9, 9))
    np.testing.assert_allclose(outputs(res.graph, x), outputs(g, x), rtol=1e-9, atol=1e-9)
    # by hand: output 5x5, batch 2; r filters of C R S, then K filters of r
    pq = 2 * 5 * 5
    assert info["macs_before"] == pq * k * c * 9
    assert info["macs_after"] == pq * (r * c * 9 + k * r)


def test_planted_tucker2_conv_is_exact():
    rng = np.random.default_rng(4)
    c, k, r_in, r_out = 8, 12, 3, 4
    core = rng.standard_normal((r_out, r_in, 3, 3))
    u_out, u_in = rng.standard_normal((k, r_out)), rng.standard_normal((c, r_in))
    w = np.einsum("ka,cb,abrs->kcrs", u_out, u_in, core)
    g = conv_net(w, c=c, k=k, stride=1)
    res = lowrank(g, energy=0.999999, method="tucker2", min_size=0)
    info = res.by_layer["conv"]
    assert (info["rank_in"], info["rank_out"]) == (r_in, r_out) and info["fit_error"] < 1e-12
    assert [n.op for n in res.graph.nodes()] == ["input", "conv2d", "conv2d", "conv2d"]
    x = rng.standard_normal((2, c, 9, 9))
    np.testing.assert_allclose(outputs(res.graph, x), outputs(g, x), rtol=1e-9, atol=1e-9)
    # by hand, 9x9 output, batch 2: 1x1 C->R1, 3x3 R1->R2, 1x1 R2->K
    pq = 2 * 81
    assert info["macs_after"] == pq * (c * r_in + r_in * r_out * 9 + r_out * k)


def test_tucker2_speedup_target_is_met():
    rng = np.random.default_rng(5)
    g = conv_net(rng.standard_normal((32, 16, 3, 3)), c=16, k=32, stride=1)
    for speedup in (2.0, 4.0):
        info = lowrank(g, speedup=speedup, method="tucker2").by_layer["conv"]
        assert info["macs_before"] / info["macs_after"] >= speedup


def test_without_weights_only_the_structure_changes():
    g = load_model("alexnet")
    assert not g.has_weights
    res = lowrank(g, speedup=2.0)
    res.graph.verify()
    assert res.graph.type_of(res.graph.outputs[0]) == g.type_of(g.outputs[0])
    assert res.notes["fit"].startswith("none") and "fit_error" not in res.notes
    decomposed = [name for name, info in res.by_layer.items() if "rank" in info and "skipped" not in info]
    assert len(decomposed) == res.notes["layers_decomposed"] > 0
    for name in decomposed:
        info = res.by_layer[name]
        assert info["macs_before"] / info["macs_after"] >= 2.0
    # fc6 of AlexNet: 9216 -> 4096, rank by hand floor(N K / (2 (N + K)))
    assert res.by_layer["fc6.fc"]["rank"] == 4096 * 9216 // (2 * (4096 + 9216))
    assert res.notes["macs_before"] / res.notes["macs_after"] >= 2.0
    with pytest.raises(PassError, match="energy needs the singular values"):
        lowrank(g, energy=0.9)


def test_fused_activation_moves_to_the_last_node_and_other_annotations_block():
    rng = np.random.default_rng(6)
    g = linear_net(planted(rng, 30, 40, 4), rng.standard_normal(30))
    g.annotate("fc", Fused(("relu",)))
    g.remove("out")
    res = lowrank(g, energy=0.999999)
    assert res.graph.node("fc").annotations["fused"] == Fused(("relu",))
    assert not res.graph.node("fc_lowrank").annotations
    x = rng.standard_normal((3, 40))
    np.testing.assert_allclose(outputs(res.graph, x), outputs(g, x), rtol=1e-9, atol=1e-9)
    g.annotate("fc", Quant(weight_bits=8, act_bits=8))
    assert "quant" in lowrank(g, energy=0.999999).by_layer["fc"]["skipped"]


def test_skips_are_recorded():
    rng = np.random.default_rng(7)
    grouped = conv_net(None, c=8, k=16, groups=2)
    assert "groups=2" in lowrank(grouped, speedup=2.0, min_size=0).by_layer["conv"]["skipped"]
    small = conv_net(rng.standard_normal((4, 2, 3, 3)), c=2, k=4)
    assert "min_size" in lowrank(small, speedup=1.5).by_layer["conv"]["skipped"]
    # even rank 1 costs 1/2 of the dense MACs of a 2 x 2 weight: a speedup of 3 is out of reach
    tiny = linear_net(rng.standard_normal((2, 2)), None)
    assert "out of reach" in lowrank(tiny, speedup=3.0, min_size=0).by_layer["fc"]["skipped"]


def test_bad_arguments():
    g = linear_net(np.eye(4), None)
    for kwargs in ({}, {"energy": 0.9, "speedup": 2.0}, {"energy": 0.0}, {"energy": 1.5},
                   {"speedup": 0.5}, {"speedup": 2.0, "method": "cp"}, {"speedup": 2.0, "min_size": -1}):
        with pytest.raises(PassError):
            lowrank(g, **kwargs)
    with pytest.raises(PassError, match="no layer 'fcc'"):
        lowrank(g, speedup=2.0, layers=["fcc"])
    with pytest.raises(PassError, match="is a relu"):
        lowrank(g, speedup=2.0, layers=["out"])
