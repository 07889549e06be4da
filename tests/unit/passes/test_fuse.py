"""The fuse pass: the network computes the same (numpy reference, before and after), node
and parameter counts by hand, and ResNet-50 from the zoo loses every batchnorm and no MAC."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.frontend import load_model
from accelsim.ir import Fused, Graph
from accelsim.passes import run_passes
from accelsim.passes.fuse import fuse
from accelsim.passes.reference import run_reference


def bn_weights(rng: np.random.Generator, c: int, eps: float = 1e-5) -> dict[str, np.ndarray]:
    """Random BN statistics folded into scale and shift, as the ONNX importer does."""
    gamma, beta = rng.uniform(0.5, 2.0, c), rng.standard_normal(c)
    mean, var = rng.standard_normal(c), rng.uniform(0.1, 3.0, c)
    scale = gamma / np.sqrt(var + eps)
    return {"scale": scale, "bias": beta - mean * scale}


def net(with_weights: bool, seed: int = 0) -> Graph:
    """x[2,3,8,8] -> conv1 (4, 3x3, pad 1, no bias) -> bn1 -> relu -> conv2 (6, 3x3, stride 2)
    -> bn2 -> flatten -> linear (5)."""
    g = Graph("small")
    g.add("x", "input", (), {"shape": [2, 3, 8, 8]})
    g.add("conv1", "conv2d", ("x",), {"out_channels": 4, "kernel": 3, "padding": 1, "bias": False})
    g.add("bn1", "batchnorm", ("conv1",))
    g.add("relu", "relu", ("bn1",))
    g.add("conv2", "conv2d", ("relu",), {"out_channels": 6, "kernel": 3, "stride": 2})
    g.add("bn2", "batchnorm", ("conv2",))
    g.add("flat", "flatten", ("bn2",))
    g.add("fc", "linear", ("flat",), {"out_features": 5})
    if with_weights:
        rng = np.random.default_rng(seed)
        g.set_weights("conv1", {"weight": rng.standard_normal((4, 3, 3, 3))})
        g.set_weights("bn1", bn_weights(rng, 4))
        g.set_weights("conv2", {"weight": rng.standard_normal((6, 4, 3, 3)), "bias": rng.standard_normal(6)})
        g.set_weights("bn2", bn_weights(rng, 6))
        g.set_weights("fc", {"weight": rng.standard_normal((5, 6 * 3 * 3)), "bias": rng.standard_normal(5)})
    g.verify()
    return g


def test_folded_network_computes_the_same():
    g = net(with_weights=True)
    x = np.random.default_rng(42).standard_normal((2, 3, 8, 8))
    before = run_reference(g, {"x": x})["fc"]
    nodes = list(g.nodes())
    f = fuse(g)
    assert list(g.nodes()) == nodes and "bn1" in g  # the input graph is untouched
    after = run_reference(f, {"x": x})["fc"]
    np.testing.assert_allclose(after, before, rtol=1e-5)
    assert not np.allclose(before, 0)


def test_folded_network_by_hand():
    g = net(with_weights=True)
    f = fuse(g)
    # 8 nodes: the two batchnorms and the relu go, 5 stay
    assert len(g) == 8 and [n.name for n in f.nodes()] == ["x", "conv1", "conv2", "flat", "fc"]
    assert f.node("conv1").annotations["fused"] == Fused(("relu",))
    assert f.node("conv1").attrs["bias"] is True and f.weights("conv1")["bias"].shape == (4,)
    # parameters: conv1 gains a bias (4), the batchnorms' scale+shift (2*4 + 2*6) go
    assert f.params() == g.params() + 4 - (2 * 4 + 2 * 6)
    assert f.macs() == g.macs() == 2 * (4 * 3 * 9 * 64 + 6 * 4 * 9 * 9 + 5 * 54)


def test_without_weights_the_structure_is_the_same():
    g = net(with_weights=False)
    f, w = fuse(g), fuse(net(with_weights=True))
    assert [(n.name, n.op, dict(n.attrs), n.annotations) for n in f.nodes()] == \
           [(n.name, n.op, dict(n.attrs), n.annotations) for n in w.nodes()]
    assert not f.has_weights
    assert [layer.workload for layer in f.layers()] == [layer.workload for layer in w.layers()]


def test_linear_batchnorm_and_add_relu_fold():
    rng = np.random.default_rng(3)
    g = Graph()
    g.add("x", "input", (), {"shape": [3, 8]})
    g.add("fc", "linear", ("x",), {"out_features": 8, "bias": False})
    g.add("bn", "batchnorm", ("fc",))
    g.add("sum", "add", ("bn", "x"))
    g.add("act", "relu", ("sum",))
    g.set_weights("fc", {"weight": rng.standard_normal((8, 8))})
    g.set_weights("bn", bn_weights(rng, 8))
    x = rng.standard_normal((3, 8))
    f = run_passes(g, ["fuse"])
    assert [n.name for n in f.nodes()] == ["x", "fc", "sum"]
    assert f.outputs == ["sum"] and f.node("sum").annotations["fused"].ops == ("relu",)
    np.testing.assert_allclose(run_reference(f, {"x": x})["sum"], run_reference(g, {"x": x})["act"], rtol=1e-5)


def test_what_does_not_fold():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 3, 8, 8]})
    g.add("conv", "conv2d", ("x",), {"out_channels": 4, "kernel": 1})
    g.add("bn", "batchnorm", ("conv",))       # conv has another reader: stays
    g.add("other", "relu", ("conv",))         # conv has two readers: stays
    g.add("pool", "maxpool", ("bn",), {"kernel": 2})
    g.add("act", "relu", ("pool",))           # after a pool: stays
    g.add("seq", "flatten", ("x",))
    g.add("fc", "linear", ("seq",), {"out_features": 4})
    g.add("seq_bn", "batchnorm", ("fc",))
    g.add("fc3", "linear", ("x",), {"out_features": 4})   # rank 4: batchnorm's axis 1 is not its features
    g.add("bn3", "batchnorm", ("fc3",))
    f = fuse(g)
    assert {n.name for n in g.nodes()} - {n.name for n in f.nodes()} == {"seq_bn"}
    assert set(f.node("fc").annotations) == set()


def test_resnet50_loses_every_batchnorm_and_no_mac():
    g = load_model("resnet50")
    f = run_passes(g, ["fuse"])
    ops = [n.op for n in f.nodes()]
    assert "batchnorm" not in ops and "relu" not in ops
    assert f.macs() == g.macs()
    bn_elements = sum(layer.output.numel for layer in g.layers() if layer.op == "batchnorm")
    # each batchnorm (2 ops an element) becomes a conv bias (1 op an element); relu ops move
    # into the convs and adds that now carry them
    assert sum(l.workload.ops for l in f.layers()) == sum(l.workload.ops for l in g.layers()) - bn_elements
    assert len(f) == len(g) - sum(n.op in ("batchnorm", "relu") for n in g.nodes())
    assert sum(n.op in ("conv2d", "add") and "fused" in n.annotations for n in f.nodes()) == \
           sum(n.op == "relu" for n in g.nodes())


def test_onnx_import_fused_agrees_with_onnx_own_reference(tmp_path):
    """ONNX's own evaluator is the independent yardstick: conv -> BN -> relu -> conv -> BN ->
    add -> relu -> GAP -> flatten -> Gemm, imported, fused and run by our interpreter."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    from accelsim.frontend.onnx import load_onnx

    rng = np.random.default_rng(7)

    def init(name, *shape, low=None):
        a = rng.uniform(low, 2.0, shape) if low is not None else rng.standard_normal(shape)
        return numpy_helper.from_array(a.astype(np.float32), name)

    def bn(p, x, y):
        return helper.make_node("BatchNormalization", [x, f"{p}.g", f"{p}.b", f"{p}.m", f"{p}.v"], [y], name=p)

    n = helper.make_node
    nodes = [n("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]), bn("bn1", "c1", "b1"),
             n("Relu", ["b1"], ["r1"], name="relu1"),
             n("Conv", ["r1", "w2", "cb2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]), bn("bn2", "c2", "b2"),
             n("Add", ["b2", "r1"], ["s"], name="skip"), n("Relu", ["s"], ["r2"], name="relu2"),
             n("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
             n("Flatten", ["gap"], ["flat"], name="flatten"),
             n("Gemm", ["flat", "fw", "fb"], ["y"], name="fc", transB=1)]
    inits = [init("w1", 8, 3, 3, 3), init("w2", 8, 8, 3, 3), init("cb2", 8), init("fw", 4, 8), init("fb", 4)]
    for p in ("bn1", "bn2"):
        inits += [init(f"{p}.g", 8), init(f"{p}.b", 8), init(f"{p}.m", 8), init(f"{p}.v", 8, low=0.2)]
    graph = helper.make_graph(nodes, "m", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))

    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    g = load_onnx(path)
    f = run_passes(g, ["fuse"])
    assert sum(node.op == "batchnorm" for node in g.nodes()) == 2
    assert [node.op for node in f.nodes()] == ["input", "conv2d", "conv2d", "add", "global_avgpool",
                                               "flatten", "linear"]
    (name,) = f.outputs
    # float32 weights: agreement to float32 rounding
    np.testing.assert_allclose(run_reference(f, {"x": x})[name], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(run_reference(g, {"x": x})[name], expected, rtol=1e-4, atol=1e-5)
