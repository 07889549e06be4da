"""The factorize pass: MAC ratios counted by hand (Szegedy et al., CVPR 2016, §3.1-3.2: with
C = K a 5x5 as two 3x3 costs 18/25, a 7x7 as three 3x3 27/49, a 3x3 as 3x1 + 1x3 6/9),
shapes kept, planted separable and planted two-factor kernels recovered, and the numpy
reference interpreter as the yardstick of what the stack computes."""

from __future__ import annotations

import importlib
from fractions import Fraction

import numpy as np
import pytest

from accelsim.errors import PassError
from accelsim.frontend import load_model
from accelsim.ir import Fused, Graph
from accelsim.passes.factorize import compose_kernels, factorize
from accelsim.passes.reference import run_reference


def conv_net(weight: np.ndarray | None, *, c: int, k: int, kernel, stride=1, padding=0, dilation=1,
             groups: int = 1, hw=(9, 9), bias: bool = True, batch: int = 1) -> Graph:
    g = Graph("conv")
    g.add("x", "input", (), {"shape": [batch, c, *hw]})
    g.add("conv", "conv2d", ("x",), {"out_channels": k, "kernel": kernel, "stride": stride,
                                     "padding": padding, "dilation": dilation, "groups": groups,
                                     "bias": bias})
    if weight is not None:
        arrays = {"weight": weight}
        if bias:
            arrays["bias"] = np.random.default_rng(99).standard_normal(k)
        g.set_weights("conv", arrays)
    g.verify()
    return g


def run(g: Graph, x: np.ndarray) -> np.ndarray:
    return run_reference(g, {"x": x})[g.outputs[0]]


def ratio(info) -> Fraction:
    return Fraction(info["macs_after"], info["macs_before"])


@pytest.mark.parametrize("kernel, mode, convs, taps, expected", [
    (5, "auto", 2, 9, Fraction(18, 25)), (7, "auto", 3, 9, Fraction(27, 49)),
    (3, "auto", 2, 3, Fraction(6, 9)), (5, "asymmetric", 2, 5, Fraction(10, 25)),
])
def test_mac_ratio_by_hand_with_c_equal_k(kernel, mode, convs, taps, expected):
    c = k = 16
    g = conv_net(None, c=c, k=k, kernel=kernel, padding=kernel // 2, hw=(14, 14), batch=2)
    res = factorize(g, mode=mode)
    info = res.by_layer["conv"]
    # by hand: 2 x 14 x 14 outputs; the original has K C k^2 MACs at each, the stack (with
    # M = K = C) convs x K C x taps, 9 for a 3x3, k for a kx1 or 1xk
    pq = 2 * 14 * 14
    assert info["convs"] == convs
    assert info["macs_before"] == pq * k * c * kernel ** 2
    assert info["macs_after"] == pq * convs * k * c * taps
    assert ratio(info) == expected
    assert res.graph.type_of("conv") == g.type_of("conv")
    assert not g.has_weights and res.notes["fit"].startswith("none")


def test_inception_v3_5x5_layers_by_hand():
    g = load_model("inception_v3")
    res = factorize(g, mode="3x3")
    res.graph.verify()
    assert res.graph.type_of(res.graph.outputs[0]) == g.type_of(g.outputs[0])
    five = [n.name for n in g.nodes() if n.op == "conv2d" and n.attrs["kernel"] == (5, 5)]
    assert len(five) == 3 and res.notes["layers_decomposed"] == 3
    for name in five:
        n, k, p, q = g.type_of(name).shape
        c = g.type_of(g.node(name).inputs[0]).shape[1]
        info = res.by_layer[name]
        assert info["macs_before"] == n * p * q * k * c * 25
        assert info["macs_after"] == n * p * q * (k * c * 9 + k * k * 9)  # C -> M = K, M -> K
        assert res.graph.type_of(name) == g.type_of(name)
    assert res.notes["macs_before"] - res.notes["macs_after"] == sum(
        res.by_layer[m]["macs_before"] - res.by_layer[m]["macs_after"] for m in five)


def test_compose_kernels_is_what_two_convolutions_compute():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal((5, 4, 2, 3))
    g = Graph("two")
    g.add("x", "input", (), {"shape": [1, 3, 8, 7]})
    g.add("a", "conv2d", ("x",), {"out_channels": 4, "kernel": (3, 2), "bias": False})
    g.add("b", "conv2d", ("a",), {"out_channels": 5, "kernel": (2, 3), "bias": False})
    g.set_weights("a", {"weight": a})
    g.set_weights("b", {"weight": b})
    one = conv_net(compose_kernels(b, a), c=3, k=5, kernel=(4, 4), hw=(8, 7), bias=False)
    x = rng.standard_normal((1, 3, 8, 7))
    np.testing.assert_allclose(run(one, x), run(g, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride, padding, dilation", [
    (1, 1, 1), ((2, 1), (1, 0, 2, 1), 1), (1, "same", (2, 1)),
])
def test_planted_separable_kernel_is_exact_everywhere(stride, padding, dilation):
    rng = np.random.default_rng(1)
    c, k = 8, 4  # M = K = 4: sum over 4 products of a vertical and a horizontal profile
    vertical, horizontal = rng.standard_normal((k, c, 3)), rng.standard_normal((k, k, 3))
    w = np.einsum("mci,kmj->kcij", vertical, horizontal)
    g = conv_net(w, c=c, k=k, kernel=3, stride=stride, padding=padding, dilation=dilation, hw=(11, 10))
    res = factorize(g)
    info = res.by_layer["conv"]
    assert info["kind"] == "3x1 + 1x3" and info["fit_error"] < 1e-10
    assert res.graph.type_of("conv") == g.type_of("conv")
    x = rng.standard_normal((1, c, 11, 10))
    np.testing.assert_allclose(run(res.graph, x), run(g, x), rtol=1e-10, atol=1e-10)
    first = res.graph.node("conv_f1")
    assert first.attrs["kernel"] == (3, 1) and first.attrs["bias"] is False
    assert res.graph.node("conv").attrs["kernel"] == (1, 3) and res.graph.node("conv").attrs["bias"]


def test_single_channel_outer_product_is_exact():
    rng = np.random.default_rng(2)
    u, v = rng.standard_normal(5), rng.standard_normal(5)
    g = conv_net(np.outer(u, v)[None, None], c=1, k=1, kernel=5, padding=2)
    res = factorize(g, mode="asymmetric")
    assert res.by_layer["conv"]["fit_error"] < 1e-10
    x = rng.standard_normal((1, 1, 9, 9))
    np.testing.assert_allclose(run(res.graph, x), run(g, x), rtol=1e-10, atol=1e-10)


def test_planted_two_3x3_kernel_is_recovered():
    rng = np.random.default_rng(3)
    c = k = 6
    w = compose_kernels(rng.standard_normal((k, k, 3, 3)), rng.standard_normal((k, c, 3, 3)))
    # unpadded, the first 3x3 covers a wider field than the 5x5's output: 18x18 against 16x16
    unpadded = conv_net(w, c=c, k=k, kernel=5, hw=(20, 20))
    errors = [factorize(unpadded, iterations=n).by_layer["conv"]["fit_error"] for n in (0, 5, 20, 100)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-4
    res = factorize(unpadded, iterations=100)
    assert ratio(res.by_layer["conv"]) == Fraction(18 * 18 * 9 + 16 * 16 * 9, 16 * 16 * 25)
    x = rng.standard_normal((1, c, 20, 20))
    y = run(unpadded, x)
    # no padding to split: the stack is the 5x5 conv up to the kernel fit
    assert np.linalg.norm(run(res.graph, x) - y) / np.linalg.norm(y) < 1e-4

    padded = conv_net(w, c=c, k=k, kernel=5, padding=2, hw=(9, 9))
    x = rng.standard_normal((1, c, 9, 9))
    res = factorize(padded, iterations=100)
    assert [res.graph.node(n).attrs["padding"] for n in ("conv_f1", "conv")] == [(1, 1, 1, 1)] * 2
    y, z = run(padded, x), run(res.graph, x)
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    assert np.linalg.norm(z[inner] - y[inner]) / np.linalg.norm(y[inner]) < 1e-4
    # the outer ring sees the intermediate's zero padding where the 5x5 saw input
    assert np.linalg.norm(z - y) / np.linalg.norm(y) > 1e-2


def test_7x7_fit_never_grows_and_splits_the_padding():
    rng = np.random.default_rng(4)
    c = k = 3
    g = conv_net(rng.standard_normal((k, c, 7, 7)), c=c, k=k, kernel=7, padding=(3, 2, 3, 4), hw=(12, 12))
    errors = [factorize(g, iterations=n).by_layer["conv"]["fit_error"] for n in (0, 3, 10)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1
    res = factorize(g, iterations=3)
    pads = [res.graph.node(n).attrs["padding"] for n in ("conv_f1", "conv_f2", "conv")]
    assert [sum(p[i] for p in pads) for i in range(4)] == [3, 2, 3, 4]
    assert res.graph.type_of("conv") == g.type_of("conv")
    assert res.notes["fit_error"] == res.notes["fit_error_max"] == pytest.approx(errors[1])


def test_conjugate_gradient_steps_agree_with_direct_solves(monkeypatch):
    rng = np.random.default_rng(6)
    g = conv_net(rng.standard_normal((2, 2, 7, 7)), c=2, k=2, kernel=7, padding=3, hw=(12, 12))
    direct = factorize(g, iterations=4)
    module = importlib.import_module("accelsim.passes.factorize")
    calls = []
    cgls = module._cgls
    monkeypatch.setattr(module, "_DIRECT_MAX", 0)
    monkeypatch.setattr(module, "_cgls", lambda *args: calls.append(1) or cgls(*args))
    iterative = factorize(g, iterations=4)
    assert len(calls) == 4 * 3
    # 36 unknowns in each factor: conjugate gradients reach the least-squares solution
    assert iterative.by_layer["conv"]["fit_error"] == pytest.approx(direct.by_layer["conv"]["fit_error"], rel=1e-6)
    for name in ("conv_f1", "conv_f2", "conv"):
        np.testing.assert_allclose(iterative.graph.weights(name)["weight"], direct.graph.weights(name)["weight"],
                                   rtol=1e-5, atol=1e-7)


def test_bias_and_fused_activation_go_on_the_last_conv():
    rng = np.random.default_rng(5)
    g = conv_net(rng.standard_normal((4, 4, 5, 5)), c=4, k=4, kernel=5, padding=2)
    g.annotate("conv", Fused(("relu",)))
    res = factorize(g, iterations=2)
    last, first = res.graph.node("conv"), res.graph.node("conv_f1")
    assert last.annotations["fused"] == Fused(("relu",)) and not first.annotations
    np.testing.assert_array_equal(res.graph.weights("conv")["bias"], g.weights("conv")["bias"])
    assert "bias" not in res.graph.weights("conv_f1")


def test_skips_are_recorded():
    strided = conv_net(None, c=8, k=8, kernel=5, stride=2, padding=2, hw=(16, 16))
    info = factorize(strided).by_layer["conv"]
    assert "no MAC saving" in info["skipped"] and "stride on the last" in info["kind"]
    grouped = conv_net(None, c=8, k=8, kernel=3, groups=2)
    assert "groups=2" in factorize(grouped).by_layer["conv"]["skipped"]
    pointwise = conv_net(None, c=8, k=8, kernel=1)
    assert "1x1" in factorize(pointwise).by_layer["conv"]["skipped"]
    three = conv_net(None, c=8, k=8, kernel=3)
    assert "odd kernel of 5" in factorize(three, mode="3x3").by_layer["conv"]["skipped"]
    # few input channels: 3x1 (C -> K) + 1x3 (K -> K) costs more than the 3x3
    stem = conv_net(None, c=3, k=16, kernel=3)
    res = factorize(stem)
    assert "no MAC saving" in res.by_layer["conv"]["skipped"] and res.notes["layers_decomposed"] == 0


def test_bad_arguments():
    g = conv_net(None, c=4, k=4, kernel=5)
    with pytest.raises(PassError, match="unknown mode"):
        factorize(g, mode="5x5")
    with pytest.raises(PassError, match="iterations"):
        factorize(g, iterations=-1)
    with pytest.raises(PassError, match="no layer"):
        factorize(g, layers=["conv9"])
    with pytest.raises(PassError, match="is a input"):
        factorize(g, layers=["x"])
