"""The numpy reference interpreter against values computed another way: explicit loops and
small inputs worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import GraphError, UnsupportedOpError
from accelsim.ir import Fused, Graph
from accelsim.passes.reference import run_reference


def conv_by_loops(x, w, b, stride, pad, dilation, groups):
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    p = (h + 2 * pad - dilation * (r - 1) - 1) // stride + 1
    q = (wd + 2 * pad - dilation * (s - 1) - 1) // stride + 1
    y = np.zeros((n, k, p, q))
    kg = k // groups
    for ni in range(n):
        for ki in range(k):
            g = ki // kg
            for pi in range(p):
                for qi in range(q):
                    acc = b[ki]
                    for ci in range(cg):
                        for ri in range(r):
                            for si in range(s):
                                acc += (w[ki, ci, ri, si]
                                        * xp[ni, g * cg + ci, pi * stride + ri * dilation, qi * stride + si * dilation])
                    y[ni, ki, pi, qi] = acc
    return y


def test_conv2d_matches_explicit_loops():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 9, 9))
    w = rng.standard_normal((6, 2, 3, 3))
    b = rng.standard_normal(6)
    g = Graph()
    g.add("x", "input", (), {"shape": [2, 4, 9, 9]})
    g.add("conv", "conv2d", ("x",), {"out_channels": 6, "kernel": 3, "stride": 2, "padding": 2,
                                     "dilation": 2, "groups": 2})
    g.set_weights("conv", {"weight": w, "bias": b})
    got = run_reference(g, {"x": x})["conv"]
    np.testing.assert_allclose(got, conv_by_loops(x, w, b, 2, 2, 2, 2), rtol=1e-12)


def pool_graph(op: str, **attrs) -> Graph:
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 1, 5, 5]})
    g.add("pool", op, ("x",), attrs)
    return g


def test_pooling_by_hand():
    x = np.arange(25, dtype=float).reshape(1, 1, 5, 5)
    # ceil_mode: a 3x3 output whose last row/column windows hang over the edge
    got = run_reference(pool_graph("maxpool", kernel=2, stride=2, ceil_mode=True), {"x": x})["pool"]
    np.testing.assert_array_equal(got[0, 0], [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    got = run_reference(pool_graph("avgpool", kernel=2, stride=2, ceil_mode=True), {"x": x})["pool"]
    np.testing.assert_array_equal(got[0, 0, 2], [(20 + 21) / 2, (22 + 23) / 2, 24])
    # explicit padding counts in the average: the corner window holds three padding zeros and x[0,0]
    got = run_reference(pool_graph("avgpool", kernel=2, stride=2, padding=1), {"x": x})["pool"]
    assert got[0, 0, 0, 0] == 0 / 4 and got[0, 0, 0, 1] == (1 + 2) / 4 and got[0, 0, 1, 1] == (6 + 7 + 11 + 12) / 4


def test_linear_batchnorm_and_fused_ops():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 2]})
    g.add("fc", "linear", ("x",), {"out_features": 2}, annotations=[Fused(("relu", "neg"))])
    g.add("bn", "batchnorm", ("fc",))
    g.set_weights("fc", {"weight": np.array([[1.0, 2.0], [-3.0, 1.0]]), "bias": np.array([0.5, 0.0])})
    g.set_weights("bn", {"scale": np.array([2.0, 3.0]), "bias": np.array([1.0, -1.0])})
    # fc: [1*1 + 2*1 + 0.5, -3 + 1] = [3.5, -2]; relu: [3.5, 0]; neg: [-3.5, 0]; bn: [-6, -1]
    got = run_reference(g, {"x": np.array([[1.0, 1.0]])})["bn"]
    np.testing.assert_array_equal(got, [[-6.0, -1.0]])


def test_missing_weights_input_and_op_are_errors():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 3, 4, 4]})
    g.add("conv", "conv2d", ("x",), {"out_channels": 2, "kernel": 1})
    with pytest.raises(GraphError, match="layer 'conv' \\(conv2d\\) has no weight 'weight'"):
        run_reference(g, {"x": np.zeros((1, 3, 4, 4))})
    with pytest.raises(GraphError, match="no array for input 'x'"):
        run_reference(g, {})
    with pytest.raises(GraphError, match="has shape \\[1, 3, 4\\]"):
        run_reference(g, {"x": np.zeros((1, 3, 4))})
    h = Graph()
    h.add("x", "input", (), {"shape": [1, 3, 4, 4]})
    h.add("n", "lrn", ("x",))
    with pytest.raises(UnsupportedOpError, match="no 'lrn'"):
        run_reference(h, {"x": np.zeros((1, 3, 4, 4))})
