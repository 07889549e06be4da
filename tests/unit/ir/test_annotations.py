"""Node annotations: their own checks, their fit to a node, and the workloads they give.

Byte counts below are derived by hand: a linear layer 16 -> 8 with bias has 16*8 + 8 = 136
parameters, reads 16 input and writes 8 output elements.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from accelsim.errors import GraphError, SpecError
from accelsim.ir import ANNOTATIONS, Fused, Graph, Quant, Sharing, Sparsity, Workload, dtype


def fc_graph() -> Graph:
    g = Graph("fc")
    g.add("x", "input", (), {"shape": [1, 16]})
    g.add("fc", "linear", ("x",), {"out_features": 8})
    g.add("act", "relu", ("fc",))
    return g


def workload(g: Graph, name: str) -> Workload:
    return next(layer.workload for layer in g.layers() if layer.name == name)


# --------------------------------------------------------------------------- own values


@pytest.mark.parametrize("make, field", [
    (lambda: Quant(0, 8), "weight_bits"),
    (lambda: Quant(8, 65), "act_bits"),
    (lambda: Quant(True, 8), "weight_bits"),
    (lambda: Quant(8, 8, scheme="affine"), "scheme"),
    (lambda: Quant(8, 8, per_channel=1), "per_channel"),
    (lambda: Sparsity(weight_density=0.0), "weight_density"),
    (lambda: Sparsity(act_density=1.5), "act_density"),
    (lambda: Sparsity(weight_density=float("nan")), "weight_density"),
    (lambda: Sparsity(structure="diagonal"), "structure"),
    (lambda: Sparsity(0.5, structure="n:m", n=2), "m"),
    (lambda: Sparsity(1.0, structure="n:m", n=4, m=4), "n"),
    (lambda: Sparsity(0.25, structure="n:m", n=2, m=4), "weight_density"),
    (lambda: Sparsity(0.5, n=2, m=4), "n"),
    (lambda: Sharing(0), "bits"),
    (lambda: Sharing(4, codebook=17), "codebook"),
    (lambda: Fused(()), "ops"),
    (lambda: Fused(("relu", "rleu")), "ops[1]"),
    (lambda: Fused(("add",)), "ops[0]"),     # two inputs
    (lambda: Fused(("scale",)), "ops[0]"),   # a required attribute
])
def test_bad_values_name_their_field(make, field):
    with pytest.raises(SpecError) as err:
        make()
    assert err.value.field == field


def test_good_values_and_defaults():
    assert Sparsity(0.5, structure="n:m", n=2, m=4).weight_density == 0.5
    assert Sparsity(weight_density=1).weight_density == 1.0 and isinstance(Sparsity(1).weight_density, float)
    assert Sharing(4).entries == 16 and Sharing(4, codebook=10).entries == 10
    assert Fused(["relu", "sigmoid"]).ops == ("relu", "sigmoid")
    assert Quant(8, 8) == Quant(8, 8, "symmetric", False)
    assert set(ANNOTATIONS.names()) >= {"quant", "sparsity", "sharing", "fused"}


# --------------------------------------------------------------------------- fit to the node


@pytest.mark.parametrize("name, ann, field", [
    ("act", Sparsity(), "sparsity.act_density"),                 # says nothing on a weightless op
    ("act", Sparsity(weight_density=0.5), "sparsity.weight_density"),
    ("act", Sharing(4), "sharing"),
    ("fc", Fused(("global_avgpool",)), "fused.ops[0]"),          # needs a 4-D input
])
def test_verify_rejects_annotations_that_do_not_fit(name, ann, field):
    g = fc_graph()
    g.annotate(name, ann)
    with pytest.raises(GraphError) as err:
        g.verify()
    assert err.value.field == field
    assert f"layer {name!r}" in str(err.value)


def test_activation_sparsity_on_a_weightless_op_is_fine():
    g = fc_graph()
    g.annotate("act", Sparsity(act_density=0.4))
    g.verify()
    assert workload(g, "act").act_density == 0.4


def test_annotate_replaces_the_node_and_one_kind_at_a_time():
    g = fc_graph()
    before = g.node("fc")
    new = g.annotate("fc", Quant(8, 8))
    assert g.node("fc") is new and new != before and before.annotations == {}
    g.annotate("fc", Quant(4, 4))
    assert dict(g.node("fc").annotations) == {"quant": Quant(4, 4)}
    with pytest.raises(GraphError, match="no layer 'fcc'"):
        g.annotate("fcc", Quant(8, 8))


def test_add_takes_annotations_once_per_kind():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 4]})
    node = g.add("fc", "linear", ("x",), {"out_features": 2}, annotations=[Quant(8, 8), Sparsity(0.5)])
    assert set(node.annotations) == {"quant", "sparsity"}
    with pytest.raises(GraphError, match="two 'quant'"):
        g.add("fc2", "linear", ("fc",), {"out_features": 2}, annotations=[Quant(8, 8), Quant(4, 4)])


def test_with_batch_and_cast_keep_annotations():
    g = fc_graph()
    g.annotate("fc", Sparsity(0.5))
    g.annotate("act", Sparsity(act_density=0.5))
    for h in (g.with_batch(4), g.cast(dtype("fp16"))):
        assert h.node("fc").annotations == g.node("fc").annotations
        assert h.node("act").annotations == g.node("act").annotations
    assert workload(g.with_batch(4), "fc").weight_density == 0.5


# --------------------------------------------------------------------------- workloads


def test_without_annotations_widths_are_the_dtypes():
    w = workload(fc_graph(), "fc")
    assert (w.input_bytes, w.weight_bytes, w.output_bytes) == (16 * 4, 136 * 4, 8 * 4)
    assert (w.act_bits, w.weight_bits, w.out_bits, w.bits) == (32, 32, 32, 32)
    assert (w.weight_density, w.act_density, w.sparsity_structure) == (1.0, 1.0, "dense")


def test_quant_sets_each_operand_width():
    g = fc_graph()
    g.annotate("fc", Quant(weight_bits=4, act_bits=8))
    w = workload(g, "fc")
    assert w.input_bytes == 16 * 8 / 8
    assert w.weight_bytes == 136 * 4 / 8
    assert w.output_bytes == 8 * 8 / 8
    assert (w.act_bits, w.weight_bits, w.out_bits, w.bits) == (8, 4, 8, 8)
    assert w.macs == 16 * 8
    # the graph's tensor types are not changed by the annotation
    assert g.type_of("fc").dtype.name == "fp32"


def test_quant_of_odd_widths_and_of_a_lookup_table():
    g = fc_graph()
    g.annotate("fc", Quant(weight_bits=3, act_bits=5))
    w = workload(g, "fc")
    assert w.weight_bytes == pytest.approx(136 * 3 / 8) and w.input_bytes == pytest.approx(16 * 5 / 8)
    e = Graph()
    e.add("ids", "input", (), {"shape": [1, 10], "dtype": "int64"})
    e.add("emb", "embedding", ("ids",), {"num_embeddings": 1000, "dim": 64})
    e.annotate("emb", Quant(weight_bits=4, act_bits=8))
    w = workload(e, "emb")
    assert w.weight_bytes == 10 * 64 * 4 / 8      # one row per id, at 4 bits
    assert w.input_bytes == 10 * 8                # the int64 ids are not quantised
    assert w.output_bytes == 10 * 64 * 8 / 8


def test_sparsity_goes_to_the_workload_and_bytes_stay_dense():
    g = fc_graph()
    dense = workload(g, "fc")
    g.annotate("fc", Sparsity(0.5, 0.25, structure="n:m", n=2, m=4))
    w = workload(g, "fc")
    assert (w.weight_density, w.act_density, w.sparsity_structure) == (0.5, 0.25, "n:m")
    assert w == replace(dense, weight_density=0.5, act_density=0.25, sparsity_structure="n:m", nm=(2, 4))


def test_fused_activation_keeps_its_arithmetic_in_the_producer():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 3, 8, 8]})
    g.add("conv", "conv2d", ("x",), {"out_channels": 4, "kernel": 3, "padding": 1},
          annotations=[Fused(("relu", "sigmoid"))])
    w = workload(g, "conv")
    # 4*8*8 outputs: one op each for the bias, one for relu, four for sigmoid
    assert w.ops == 256 * (1 + 1 + 4)
    assert w.macs == 256 * 3 * 3 * 3


def test_workload_checks_its_widths_and_densities():
    base = dict(kind="elementwise", dims=(("size", 1),), macs=0, ops=0, input_bytes=0.0,
                weight_bytes=0.0, output_bytes=0.0)
    assert Workload(**base).bits == 32
    with pytest.raises(ValueError, match="weight_density"):
        Workload(**base, weight_density=0.0)
    with pytest.raises(ValueError, match="out_bits"):
        Workload(**base, out_bits=0)


def test_fused_op_must_keep_the_shape():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 3, 8, 8]})
    g.add("conv", "conv2d", ("x",), {"out_channels": 4, "kernel": 3}, annotations=[Fused(("flatten",))])
    with pytest.raises(GraphError, match=r"flatten would change the output from fp32\[1,4,6,6\] to fp32\[1,144\]"):
        g.verify()
