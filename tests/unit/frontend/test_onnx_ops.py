"""ONNX ops lowered onto existing IR ops, each on a tiny model built with onnx.helper.

Output shapes are checked against ONNX's own shape inference (an independent implementation),
and MACs / elementwise ops against counts derived by hand in each test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper, shape_inference  # noqa: E402

from accelsim.errors import UnsupportedOpError  # noqa: E402
from accelsim.frontend.onnx import load_onnx  # noqa: E402
from accelsim.ir import Graph  # noqa: E402

RNG = np.random.default_rng(1)
n = helper.make_node


def _w(name: str, *shape: int) -> TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def _c(name: str, value: object, dtype: type = np.float32) -> TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def _load(tmp_path: Path, nodes: list, x_shape: list[int], inits: list, opset: int = 17,
          outputs: tuple[str, ...] = ("y",), out_types: tuple[int, ...] = ()) -> tuple[Graph, list[tuple[int, ...]]]:
    """Import the model; also return the output shapes ONNX's shape inference gives."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)
    types = out_types or (TensorProto.FLOAT,) * len(outputs)
    outs = [helper.make_tensor_value_info(o, t, None) for o, t in zip(outputs, types)]
    graph = helper.make_graph(nodes, "m", [x], outs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    shapes = [tuple(d.dim_value for d in o.type.tensor_type.shape.dim) for o in inferred.graph.output]
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return load_onnx(path), shapes


def _out_shapes(g: Graph) -> list[tuple[int, ...]]:
    return [g.type_of(o).shape for o in g.outputs]


def _ops(g: Graph) -> int:
    return sum(layer.workload.ops for layer in g.layers())


def test_conv1d(tmp_path: Path) -> None:
    # (1, 4, 20) -> Conv1d(4 -> 6, k=3, stride 2, pads 1/1, bias): L_out = (20 + 2 - 3) // 2 + 1 = 10
    g, want = _load(tmp_path, [n("Conv", ["x", "w", "b"], ["y"], name="/enc/conv/Conv", strides=[2],
                                 pads=[1, 1])], [1, 4, 20], [_w("w", 6, 4, 3), _w("b", 6)])
    assert _out_shapes(g) == want == [(1, 6, 10)]
    assert g.node("enc.conv").op == "conv2d" and g.node("enc.conv").attrs["kernel"] == (1, 3)
    assert g.macs() == 6 * 4 * 10 * 3 == 720
    assert g.params() == 6 * 4 * 3 + 6
    assert g.weights("enc.conv")["weight"].shape == (6, 4, 1, 3)
    assert g.with_batch(3).macs() == 3 * 720


def test_conv1d_same_upper_dilated(tmp_path: Path) -> None:
    # k=3, dilation 2, SAME_UPPER, stride 1: L_out = L = 16; total pad 4 -> (2, 2)
    g, want = _load(tmp_path, [n("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", dilations=[2])],
                    [1, 2, 16], [_w("w", 3, 2, 3)])
    assert _out_shapes(g) == want == [(1, 3, 16)]
    assert g.macs() == 3 * 2 * 16 * 3


def test_pad_feeding_conv_becomes_its_padding(tmp_path: Path) -> None:
    # Pad (top 1, left 2, bottom 0, right 1) then a 3x3 conv with its own pads 1: H 8+1+2-3+1 = 9
    nodes = [n("Pad", ["x", "pads"], ["p"], name="pad"),
             n("Conv", ["p", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])]
    inits = [_c("pads", [0, 0, 1, 2, 0, 0, 0, 1], np.int64), _w("w", 5, 3, 3, 3)]
    g, want = _load(tmp_path, nodes, [1, 3, 8, 8], inits)
    assert _out_shapes(g) == want == [(1, 5, 9, 11)]
    assert g.node("conv").attrs["padding"] == (2, 3, 1, 2)
    assert [layer.op for layer in g.layers()] == ["conv2d"]
    assert g.macs() == 5 * 3 * 9 * 11 * 9


def test_standalone_pad_is_a_copy(tmp_path: Path) -> None:
    # reflect-pad H and W by 1 on each side: (1, 3, 4, 4) -> (1, 3, 6, 6), no arithmetic
    g, want = _load(tmp_path, [n("Pad", ["x", "pads"], ["y"], name="pad", mode="reflect")], [1, 3, 4, 4],
                    [_c("pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)])
    assert _out_shapes(g) == want == [(1, 3, 6, 6)]
    (layer,) = g.layers()
    assert layer.op == "pad" and layer.workload.ops == 0
    assert layer.workload.output_bytes == 3 * 36 * 4


def test_split_into_slices(tmp_path: Path) -> None:
    # (1, 8, 12) split on the last axis into 4 + 8, each then doubled
    nodes = [n("Split", ["x", "sizes"], ["a", "b"], name="/qkv/Split", axis=-1),
             n("Relu", ["a"], ["y"]), n("Relu", ["b"], ["z"])]
    g, want = _load(tmp_path, nodes, [1, 8, 12], [_c("sizes", [4, 8], np.int64)], outputs=("y", "z"))
    assert _out_shapes(g) == want == [(1, 8, 4), (1, 8, 8)]
    assert [g.node(f"qkv_{k}").attrs["start"] for k in (0, 1)] == [0, 4]


def test_split_equal_parts_old_opset(tmp_path: Path) -> None:
    nodes = [n("Split", ["x"], ["a", "b", "c"], axis=1), n("Add", ["a", "c"], ["y"])]
    g, want = _load(tmp_path, nodes, [2, 6, 3], [], opset=11)
    assert _out_shapes(g) == want == [(2, 2, 3)]


@pytest.mark.parametrize("op, pool", [("ReduceMean", "global_avgpool"), ("ReduceMax", "global_maxpool")])
def test_reduce_spatial_is_a_global_pool(tmp_path: Path, op: str, pool: str) -> None:
    g, want = _load(tmp_path, [n(op, ["x"], ["y"], name="r", axes=[2, 3], keepdims=0)], [1, 4, 5, 6], [],
                    opset=13)
    assert _out_shapes(g) == want == [(1, 4)]
    assert g.node("r_pool").op == pool
    assert _ops(g) == 4 * 5 * 6  # one op per input element


def test_reduce_last_axis(tmp_path: Path) -> None:
    g, want = _load(tmp_path, [n("ReduceMean", ["x", "axes"], ["y"], name="m")], [2, 3, 8],
                    [_c("axes", [-1], np.int64)], opset=18)
    assert _out_shapes(g) == want == [(2, 3, 1)]
    assert _ops(g) == 2 * 3 * 8
    assert g.with_batch(4).type_of(g.outputs[0]).shape == (4, 3, 1)


def test_reduce_sum_over_everything(tmp_path: Path) -> None:
    g, want = _load(tmp_path, [n("ReduceSum", ["x"], ["y"], keepdims=0)], [1, 3, 8], [], opset=13)
    assert _out_shapes(g) == want == [()]


def test_pow_sqrt_sub_div(tmp_path: Path) -> None:
    nodes = [n("Pow", ["x", "two"], ["sq"], name="sq"), n("Sub", ["sq", "x"], ["d"], name="sub"),
             n("Pow", ["sq", "half"], ["r"], name="root"), n("Div", ["d", "r"], ["q"], name="div"),
             n("Sqrt", ["q"], ["y"], name="sqrt")]
    g, want = _load(tmp_path, nodes, [1, 10], [_c("two", 2.0), _c("half", 0.5)])
    assert _out_shapes(g) == want == [(1, 10)]
    assert [g.node(k).op for k in ("sq", "sub", "root", "div", "sqrt")] == \
           ["mul", "sub", "sqrt", "div", "sqrt"]
    assert g.node("sq").inputs == ("x", "x")
    assert _ops(g) == 5 * 10 and g.macs() == 0


def test_torch_layernorm_pattern_is_one_layernorm(tmp_path: Path) -> None:
    d = 16
    nodes = [n("ReduceMean", ["x"], ["mu"], name="/ln/ReduceMean", axes=[-1]),
             n("Sub", ["x", "mu"], ["xc"], name="/ln/Sub"),
             n("Pow", ["xc", "two"], ["sq"], name="/ln/Pow"),
             n("ReduceMean", ["sq"], ["var"], name="/ln/ReduceMean_1", axes=[-1]),
             n("Add", ["var", "eps"], ["ve"], name="/ln/Add"),
             n("Sqrt", ["ve"], ["sd"], name="/ln/Sqrt"),
             n("Div", ["xc", "sd"], ["nx"], name="/ln/Div"),
             n("Mul", ["nx", "gamma"], ["sc"], name="/ln/Mul"),
             n("Add", ["sc", "beta"], ["y"], name="/ln/Add_1")]
    inits = [_c("two", 2.0), _c("eps", 1e-6), _w("gamma", d), _w("beta", d)]
    g, want = _load(tmp_path, nodes, [1, 4, d], inits, opset=13)
    assert _out_shapes(g) == want == [(1, 4, d)]
    assert [layer.op for layer in g.layers()] == ["layernorm"]
    ln = g.node("ln")
    assert ln.attrs["eps"] == pytest.approx(1e-6)
    np.testing.assert_array_equal(g.weights("ln")["scale"], numpy_helper.to_array(inits[2]))
    assert g.params() == 2 * d
    assert _ops(g) == 5 * 4 * d  # layernorm's 5 ops per element


def test_layernorm_pattern_without_affine(tmp_path: Path) -> None:
    nodes = [n("ReduceMean", ["x"], ["mu"], axes=[2]), n("Sub", ["x", "mu"], ["xc"]),
             n("Pow", ["xc", "two"], ["sq"]), n("ReduceMean", ["sq"], ["var"], axes=[2]),
             n("Add", ["var", "eps"], ["ve"]), n("Sqrt", ["ve"], ["sd"]), n("Div", ["xc", "sd"], ["y"])]
    g, want = _load(tmp_path, nodes, [1, 3, 8], [_c("two", 2.0), _c("eps", 1e-5)], opset=13)
    assert _out_shapes(g) == want == [(1, 3, 8)]
    assert [layer.op for layer in g.layers()] == ["layernorm"]
    np.testing.assert_array_equal(g.weights(g.outputs[0])["scale"], np.ones(8, np.float32))


def test_cast_to_same_type_is_a_no_op(tmp_path: Path) -> None:
    g, want = _load(tmp_path, [n("Relu", ["x"], ["r"]), n("Cast", ["r"], ["y"], to=TensorProto.FLOAT)],
                    [1, 4], [])
    assert _out_shapes(g) == want == [(1, 4)]
    assert [layer.op for layer in g.layers()] == ["relu"]


def test_resize_nearest_by_scales(tmp_path: Path) -> None:
    from onnx.reference import ReferenceEvaluator

    from accelsim.passes.reference import run_reference

    nodes = [n("Resize", ["x", "", "scales"], ["y"], name="/up/Resize", mode="nearest")]
    g, want = _load(tmp_path, nodes, [1, 2, 3, 4], [_c("scales", [1.0, 1.0, 2.0, 3.0])])
    assert _out_shapes(g) == want == [(1, 2, 6, 12)]
    assert g.macs() == 0
    assert g.with_batch(2).type_of(g.outputs[0]).shape == (2, 2, 6, 12)
    x = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
    (ref,) = ReferenceEvaluator(str(tmp_path / "m.onnx")).run(None, {"x": x})
    np.testing.assert_array_equal(run_reference(g, {"x": x})[g.outputs[0]], ref)


def test_resize_by_sizes_and_upsample(tmp_path: Path) -> None:
    nodes = [n("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest")]
    g, want = _load(tmp_path, nodes, [1, 2, 3, 4], [_c("sizes", [1, 2, 6, 8], np.int64)])
    assert _out_shapes(g) == want == [(1, 2, 6, 8)]
    g, want = _load(tmp_path, [n("Upsample", ["x", "scales"], ["y"])], [1, 1, 2, 2],
                    [_c("scales", [1.0, 1.0, 2.0, 2.0])], opset=9)
    assert _out_shapes(g) == want == [(1, 1, 4, 4)]


def _agrees_with_onnx_reference(g: Graph, path: Path, x_shape: tuple[int, ...]) -> None:
    from onnx.reference import ReferenceEvaluator

    from accelsim.passes.reference import run_reference

    x = RNG.standard_normal(x_shape).astype(np.float32)
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})
    got = run_reference(g, {"x": x})
    for name, ref in zip(g.outputs, want):
        np.testing.assert_allclose(got[name].reshape(ref.shape), ref, rtol=1e-4, atol=1e-5)


def test_lowerings_compute_what_onnx_computes(tmp_path: Path) -> None:
    """The lowered graphs are exact, not only equal in cost: run both on the same input."""
    cases = [
        ([n("Conv", ["x", "w", "b"], ["y"], strides=[2], pads=[1, 2])], (1, 4, 11),
         [_w("w", 3, 4, 3), _w("b", 3)], 17),
        ([n("Pad", ["x", "pads"], ["p"]), n("Conv", ["p", "w"], ["y"])], (1, 2, 5, 5),
         [_c("pads", [0, 0, 1, 0, 0, 0, 2, 1], np.int64), _w("w", 2, 2, 3, 3)], 17),
        ([n("ReduceMean", ["x"], ["y"], axes=[-1], keepdims=0)], (2, 3, 4), [], 13),
        ([n("ReduceMax", ["x"], ["y"], axes=[2, 3])], (1, 3, 4, 5), [], 13),
        ([n("ReduceMean", ["x"], ["mu"], axes=[-1]), n("Sub", ["x", "mu"], ["xc"]),
          n("Pow", ["xc", "two"], ["sq"]), n("ReduceMean", ["sq"], ["var"], axes=[-1]),
          n("Add", ["var", "eps"], ["ve"]), n("Sqrt", ["ve"], ["sd"]), n("Div", ["xc", "sd"], ["nx"]),
          n("Mul", ["nx", "g"], ["s"]), n("Add", ["s", "b"], ["y"])], (2, 3, 8),
         [_c("two", 2.0), _c("eps", 1e-5), _w("g", 8), _w("b", 8)], 13),
    ]
    for k, (nodes, shape, inits, opset) in enumerate(cases):
        case = tmp_path / str(k)
        case.mkdir()
        g, _ = _load(case, nodes, list(shape), inits, opset=opset)
        _agrees_with_onnx_reference(g, case / "m.onnx", shape)


def test_tile_and_expand(tmp_path: Path) -> None:
    # Tile (1, 2, 3) by [2, 1, 3] -> (2, 2, 9): concat of 2 copies on axis 0, then 3 on axis 2
    g, want = _load(tmp_path, [n("Tile", ["x", "r"], ["y"], name="tile")], [1, 2, 3],
                    [_c("r", [2, 1, 3], np.int64)])
    assert _out_shapes(g) == want == [(2, 2, 9)]
    assert [layer.op for layer in g.layers()] == ["concat", "concat"] and g.macs() == 0
    _agrees_with_onnx_reference(g, tmp_path / "m.onnx", (1, 2, 3))
    # Expand (3, 1) to (2, 3, 4): a new leading axis, then broadcast of both size-1 axes
    g, want = _load(tmp_path, [n("Expand", ["x", "s"], ["y"])], [3, 1], [_c("s", [2, 1, 4], np.int64)])
    assert _out_shapes(g) == want == [(2, 3, 4)]
    _agrees_with_onnx_reference(g, tmp_path / "m.onnx", (3, 1))


def test_expand_of_a_constant_is_folded(tmp_path: Path) -> None:
    nodes = [n("Expand", ["bias", "s"], ["b"]), n("Add", ["x", "b"], ["y"], name="add")]
    g, want = _load(tmp_path, nodes, [2, 4], [_w("bias", 1, 4), _c("s", [2, 4], np.int64)])
    assert _out_shapes(g) == want == [(2, 4)]
    assert g.type_of(g.node("add").inputs[1]).shape == (2, 4)


@pytest.mark.parametrize("eq, b_shape, macs", [
    ("bhid,bhjd->bhij", (2, 3, 5, 4), 2 * 3 * 6 * 5 * 4),   # attention scores: B*M*N*K
    ("bhij,bhjd->bhid", (2, 3, 6, 7), 2 * 3 * 5 * 7 * 6),
    ("bhid,hjd->bhji", (3, 5, 4), 2 * 3 * 6 * 5 * 4),        # broadcast-free: b is a free index
])
def test_einsum_as_matmul(tmp_path: Path, eq: str, b_shape: tuple[int, ...], macs: int) -> None:
    x_shape = (2, 3, 6, 4) if eq.startswith("bhid") else (2, 3, 5, 6)
    g, want = _load(tmp_path, [n("Einsum", ["x", "w"], ["y"], name="/attn/Einsum", equation=eq)],
                    list(x_shape), [_w("w", *b_shape)], opset=12)
    assert _out_shapes(g) == want
    assert g.macs() == macs
    _agrees_with_onnx_reference(g, tmp_path / "m.onnx", x_shape)


# --------------------------------------------------------------------------- ops with their own IR op

@pytest.mark.parametrize("attrs, shape", [
    ({"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]}, (1, 4, 10, 10)),
    ({"strides": [2, 2]}, (1, 4, 11, 11)),
    ({"strides": [2, 2], "auto_pad": "SAME_UPPER"}, (1, 4, 10, 10)),
    ({"strides": [2, 2], "output_shape": [9, 9]}, (1, 4, 9, 9)),
])
def test_conv_transpose(tmp_path: Path, attrs: dict, shape: tuple) -> None:
    # (1, 6, 5, 5) through a 3x3 ConvTranspose to 4 channels: every input pixel meets the
    # 6 x (4 * 3 * 3) weight matrix, 25 x 6 x 36 = 5,400 MACs whatever the padding
    g, want = _load(tmp_path, [n("ConvTranspose", ["x", "w", "b"], ["y"], name="up", **attrs)], [1, 6, 5, 5],
                    [_w("w", 6, 4, 3, 3), _w("b", 4)])
    assert _out_shapes(g) == want == [shape]
    assert g.macs() == 25 * 6 * 36 == 5400
    assert g.params() == 6 * 4 * 9 + 4
    # col2im: 25 x 36 = 900 products land on the output, the excess over one per output
    # element are adds, plus the bias
    out = shape[1] * shape[2] * shape[3]
    assert _ops(g) == max(0, 900 - out) + out


def test_grouped_conv_transpose(tmp_path: Path) -> None:
    g, want = _load(tmp_path, [n("ConvTranspose", ["x", "w"], ["y"], group=2, strides=[2, 2])], [1, 4, 3, 3],
                    [_w("w", 4, 3, 2, 2)])
    assert _out_shapes(g) == want == [(1, 6, 6, 6)]
    assert g.macs() == 9 * 4 * (3 * 2 * 2)  # per group 9 pixels x 2 channels x 12 outputs, 2 groups


@pytest.mark.parametrize("mode, scales, shape, per_element", [
    ("linear", [1, 1, 2, 2], (1, 3, 8, 8), 8), ("cubic", [1, 1, 2, 2], (1, 3, 8, 8), 36),
    ("nearest", [1, 1, 1.5, 1.5], (1, 3, 6, 6), 0),
])
def test_resize_interpolating_or_fractional(tmp_path: Path, mode: str, scales: list, shape: tuple,
                                            per_element: int) -> None:
    nodes = [n("Resize", ["x", "", "scales"], ["y"], name="up", mode=mode)]
    g, want = _load(tmp_path, nodes, [1, 3, 4, 4], [_c("scales", scales)], opset=13)
    assert _out_shapes(g) == want == [shape]
    assert [layer.op for layer in g.layers()] == ["resize"]
    assert _ops(g) == per_element * shape[1] * shape[2] * shape[3]


def test_resize_to_sizes_bilinear(tmp_path: Path) -> None:
    nodes = [n("Resize", ["x", "", "", "sizes"], ["y"], mode="linear")]
    g, want = _load(tmp_path, nodes, [1, 2, 5, 7], [_c("sizes", [1, 2, 9, 3], np.int64)], opset=13)
    assert _out_shapes(g) == want == [(1, 2, 9, 3)]


def _layer(g: Graph, name: str):
    return next(layer for layer in g.layers() if layer.name == name)


@pytest.mark.parametrize("op, kind, per_element", [
    ("Abs", "abs", 1), ("Reciprocal", "reciprocal", 1), ("Erf", "erf", 8), ("Elu", "elu", 4),
    ("Softplus", "softplus", 3), ("Mish", "mish", 8),
])
def test_unary_ops(tmp_path: Path, op: str, kind: str, per_element: int) -> None:
    g, want = _load(tmp_path, [n(op, ["x"], ["y"], name="u")], [2, 5], [], opset=18)
    assert _out_shapes(g) == want == [(2, 5)]
    assert g.node("u").op == kind and _ops(g) == per_element * 10


def test_prelu_per_channel(tmp_path: Path) -> None:
    g, want = _load(tmp_path, [n("PRelu", ["x", "slope"], ["y"], name="act")], [1, 8, 4, 4],
                    [_w("slope", 8, 1, 1)])
    assert _out_shapes(g) == want == [(1, 8, 4, 4)]
    assert g.params() == 8 and _ops(g) == 2 * 128


def test_where_with_comparisons(tmp_path: Path) -> None:
    # mask = x > 0 (1-bit), y = where(mask, x, x * 0.1): the attention-mask idiom
    nodes = [n("Greater", ["x", "zero"], ["m"], name="gt"), n("Mul", ["x", "tenth"], ["s"], name="s"),
             n("Where", ["m", "x", "s"], ["y"], name="sel")]
    g, want = _load(tmp_path, nodes, [2, 16], [_c("zero", 0.0), _c("tenth", 0.1)])
    assert _out_shapes(g) == want == [(2, 16)]
    assert g.type_of("gt").dtype.name == "binary" and g.type_of("sel").dtype.name == "fp32"
    assert _layer(g, "gt").workload.output_bytes == 32 / 8
    assert _ops(g) == 3 * 32


@pytest.mark.parametrize("op, attrs, groups", [("InstanceNormalization", {}, 6),
                                               ("GroupNormalization", {"num_groups": 3}, 3)])
def test_instance_and_group_norm(tmp_path: Path, op: str, attrs: dict, groups: int) -> None:
    size = 6 if op == "InstanceNormalization" else 3  # opset 18: GroupNormalization's per-group affine
    g, want = _load(tmp_path, [n(op, ["x", "s", "b"], ["y"], name="norm", **attrs)], [1, 6, 4, 4],
                    [_w("s", size), _w("b", size)], opset=18)
    assert _out_shapes(g) == [(1, 6, 4, 4)]
    assert want in ([(1, 6, 4, 4)], [()])  # onnx infers no shape through GroupNormalization's function body
    node = g.node("norm")
    assert node.op == "groupnorm" and node.attrs["groups"] == groups
    assert g.params() == 12 and g.weights("norm")["scale"].shape == (6,)


def test_log_softmax_argmax_topk(tmp_path: Path) -> None:
    nodes = [n("LogSoftmax", ["x"], ["l"], name="lsm", axis=-1), n("ArgMax", ["l"], ["a"], name="am", axis=1,
                                                                   keepdims=0),
             n("TopK", ["l", "k"], ["v", "i"], name="top", axis=-1)]
    g, want = _load(tmp_path, nodes, [2, 10], [_c("k", [4], np.int64)], outputs=("a", "v"),
                    out_types=(TensorProto.INT64, TensorProto.FLOAT))
    assert _out_shapes(g) == want == [(2,), (2, 4)]
    assert g.type_of("am").dtype.name == "int64"
    # log-softmax 6 ops per element; argmax a compare per element; top-4 heap: log2(4) + 1 per element
    assert [_layer(g, k).workload.ops for k in ("lsm", "am", "top")] == [120, 20, 60]


def test_gather_on_run_time_indices(tmp_path: Path) -> None:
    # indices computed by ArgMax pick rows of the activation itself (detection heads)
    nodes = [n("ArgMax", ["x"], ["i"], axis=1, keepdims=0), n("Gather", ["x", "i"], ["y"], name="pick", axis=0)]
    g, want = _load(tmp_path, nodes, [5, 3], [])
    assert _out_shapes(g) == want == [(5, 3)]
    layer = _layer(g, "pick")
    assert layer.op == "gather" and layer.workload.input_bytes == 5 * 3 * 4 + 5 * 8


def test_cast_of_a_run_time_tensor(tmp_path: Path) -> None:
    g, want = _load(tmp_path, [n("Cast", ["x"], ["y"], name="c", to=TensorProto.FLOAT16)], [3, 4], [],
                    out_types=(TensorProto.FLOAT16,))
    assert _out_shapes(g) == want == [(3, 4)]
    assert g.type_of("c").dtype.name == "fp16" and _ops(g) == 12
