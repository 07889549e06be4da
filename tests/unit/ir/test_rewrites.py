"""Graph rewrites: replace, remove, insert_after. MAC counts are derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import GraphError
from accelsim.ir import Graph, NodeSpec, Quant


def mlp() -> Graph:
    """x[1,64] -> fc (64->32) -> act -> head (32->10)."""
    g = Graph("mlp")
    g.add("x", "input", (), {"shape": [1, 64]})
    g.add("fc", "linear", ("x",), {"out_features": 32})
    g.add("act", "relu", ("fc",))
    g.add("head", "linear", ("act",), {"out_features": 10})
    g.verify()
    return g


def snapshot(g: Graph) -> tuple:
    return ([(n, g.consumers(n.name)) for n in g.nodes()], g.outputs,
            {n.name: sorted(g.weights(n.name)) for n in g.nodes()})


def test_low_rank_split_of_a_linear_layer():
    g = mlp()
    assert g.macs() == 64 * 32 + 32 * 10
    r = 4
    u, v = np.ones((r, 64)), np.ones((32, r))
    g.set_weights("fc", {"weight": v @ u, "bias": np.zeros(32)})
    added = g.replace("fc", [NodeSpec("fc.u", "linear", ("x",), {"out_features": r, "bias": False},
                                      weights={"weight": u}),
                             NodeSpec("fc.v", "linear", ("fc.u",), {"out_features": 32},
                                      weights={"weight": v, "bias": np.zeros(32)})], output="fc.v")
    assert [n.name for n in added] == ["fc.u", "fc.v"]
    # x(64) -> 4 -> 32 costs 64*4 + 4*32 MACs instead of 64*32
    assert g.macs() == 64 * r + r * 32 + 32 * 10
    assert g.params() == (64 * r) + (r * 32 + 32) + (32 * 10 + 10)
    assert [n.name for n in g.nodes()] == ["x", "fc.u", "fc.v", "act", "head"]
    assert g.node("act").inputs == ("fc.v",)
    assert "fc" not in g and not g.weights("fc")
    assert g.weights("fc.u")["weight"] is u


def test_replace_may_reuse_the_name_and_keeps_outputs():
    g = mlp()
    g.set_outputs(["head"])
    g.replace("head", [NodeSpec("head", "linear", ("act",), {"out_features": 5})], "head")
    assert g.outputs == ["head"] and g.type_of("head").shape == (1, 5)
    g.replace("head", [NodeSpec("head.a", "linear", ("act",), {"out_features": 7})], "head.a")
    assert g.outputs == ["head.a"]


def test_remove_an_identity_like_op():
    g = mlp()
    g.insert_after("act", "drop", "dropout")
    assert [n.name for n in g.nodes()] == ["x", "fc", "act", "drop", "head"]
    macs = g.macs()
    g.remove("drop")
    assert [n.name for n in g.nodes()] == ["x", "fc", "act", "head"]
    assert g.node("head").inputs == ("act",) and g.consumers("act") == ["head"]
    assert g.macs() == macs


def test_remove_an_output_points_the_output_at_its_input():
    g = mlp()
    g.insert_after("head", "out", "identity")
    g.set_outputs(["out"])
    g.remove("out")
    assert g.outputs == ["head"]


def test_remove_a_bias_add_drops_its_constant():
    g = mlp()
    g.add("b", "constant", (), {"shape": [32]})
    g.set_weights("b", {"value": np.ones(32)})
    g.replace("act", [NodeSpec("bias", "add", ("fc", "b")), NodeSpec("act", "relu", ("bias",))], "act")
    assert g.node("bias").inputs == ("fc", "b")
    g.remove("bias")
    assert "b" not in g and not g.weights("b")
    assert g.node("act").inputs == ("fc",)


def test_remove_needs_one_data_input():
    g = mlp()
    g.add("skip", "linear", ("x",), {"out_features": 32})
    g.add("sum", "add", ("fc", "skip"))
    with pytest.raises(GraphError, match="'sum' \\(add\\) has 2 data inputs"):
        g.remove("sum")
    with pytest.raises(GraphError, match="'x' \\(input\\) has 0 data inputs"):
        g.remove("x")
    with pytest.raises(GraphError, match="no layer 'nope'"):
        g.remove("nope")


def test_insert_after_rewires_readers_and_outputs():
    g = mlp()
    new = g.insert_after("fc", "q", "identity", annotations=[Quant(8, 8)])
    assert new.inputs == ("fc",) and new.annotations["quant"] == Quant(8, 8)
    assert g.consumers("fc") == ["q"] and g.node("act").inputs == ("q",)
    g.set_outputs(["head"])
    g.insert_after("head", "probs", "softmax")
    assert g.outputs == ["probs"]
    # a layer read twice by one reader is rewired in both places
    h = mlp()
    h.add("sq", "mul", ("act", "act"))
    h.insert_after("act", "act2", "relu")
    assert h.node("sq").inputs == ("act2", "act2") and h.node("head").inputs == ("act2",)


def test_name_clash_is_an_error_and_leaves_the_graph_unchanged():
    g = mlp()
    before = snapshot(g)
    with pytest.raises(GraphError, match="'act' is used twice"):
        g.insert_after("fc", "act", "relu")
    with pytest.raises(GraphError, match="'head' is used twice"):
        g.replace("fc", [NodeSpec("head", "linear", ("x",), {"out_features": 32})], "head")
    with pytest.raises(GraphError, match="names output 'fc.z', which is not a layer"):
        g.replace("fc", [NodeSpec("fc.a", "linear", ("x",), {"out_features": 32})], "fc.z")
    assert snapshot(g) == before


def test_shape_mismatch_names_the_layer_and_leaves_the_graph_unchanged():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 64]})
    g.add("fc", "linear", ("x",), {"out_features": 32})
    g.add("skip", "linear", ("x",), {"out_features": 32})
    g.add("sum", "add", ("fc", "skip"))
    before = snapshot(g)
    with pytest.raises(GraphError, match=r"layer 'sum' \(add\): shapes \[1, 16\] and \[1, 32\] do not broadcast"):
        g.replace("fc", [NodeSpec("fc", "linear", ("x",), {"out_features": 16})], "fc")
    with pytest.raises(GraphError, match="layer 'sum'"):
        g.insert_after("fc", "down", "linear", {"out_features": 16})
    assert snapshot(g) == before
    assert g.type_of("fc").shape == (1, 32)


def test_new_weights_are_checked():
    g = mlp()
    with pytest.raises(GraphError, match="weight 'weight' of layer 'fc' has shape"):
        g.replace("fc", [NodeSpec("fc", "linear", ("x",), {"out_features": 32},
                                  weights={"weight": np.zeros((32, 63))})], "fc")
    assert not g.weights("fc")
