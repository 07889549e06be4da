"""ONNX import and conversion to model YAML, on small models built with onnx.helper.

The expected MACs and parameter counts are derived by hand in each test, so a regression
in the importer (a dropped layer, a transposed weight, a wrong pad) shows up as a number.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from accelsim.errors import AccelsimError, SpecError, UnsupportedOpError  # noqa: E402
from accelsim.frontend import load_model  # noqa: E402
from accelsim.frontend.onnx import load_onnx  # noqa: E402
from accelsim.frontend.yaml_export import write_model_yaml  # noqa: E402

RNG = np.random.default_rng(0)


def _init(name: str, *shape: int, dtype: type = np.float32) -> TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(dtype), name)


def _ints(name: str, values: list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _scalar(name: str, value: float) -> TensorProto:
    return numpy_helper.from_array(np.array(value, dtype=np.float32), name)


def _save(tmp_path: Path, nodes: list, inputs: list, outputs: list, inits: list,
          opset: int = 17, name: str = "model") -> Path:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _initializers(path: Path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


def _bn(prefix: str, c: int) -> list[TensorProto]:
    var = numpy_helper.from_array(RNG.uniform(0.5, 2.0, c).astype(np.float32), f"{prefix}.var")
    return [_init(f"{prefix}.gamma", c), _init(f"{prefix}.beta", c), _init(f"{prefix}.mean", c), var]


def _bn_node(prefix: str, x: str, y: str) -> object:
    return helper.make_node("BatchNormalization", [x, f"{prefix}.gamma", f"{prefix}.beta",
                                                   f"{prefix}.mean", f"{prefix}.var"], [y], name=prefix)


@pytest.fixture
def resnet_block(tmp_path: Path) -> Path:
    """stem conv (bias, asymmetric pads) -> [conv-bn-relu-conv-bn + skip] -> relu -> GAP -> FC."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "stem.w", "stem.b"], ["s0"], name="stem", kernel_shape=[3, 3],
          strides=[2, 2], pads=[0, 1, 1, 0]),
        n("Relu", ["s0"], ["s"], name="stem_relu"),
        n("Conv", ["s", "conv1.w"], ["c1"], name="/block/conv1/Conv", pads=[1, 1, 1, 1]),
        _bn_node("bn1", "c1", "b1"),
        n("Relu", ["b1"], ["r1"], name=""),  # unnamed: takes its output's name
        n("Conv", ["r1", "conv2.w"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        _bn_node("bn2", "c2", "b2"),
        n("Add", ["b2", "s"], ["sum"], name="skip"),
        n("Relu", ["sum"], ["r2"], name="relu2"),
        n("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        n("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        n("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
    ]
    inits = [_init("stem.w", 16, 3, 3, 3), _init("stem.b", 16), _init("conv1.w", 16, 16, 3, 3),
             _init("conv2.w", 16, 16, 3, 3), *_bn("bn1", 16), *_bn("bn2", 16),
             _init("fc.w", 10, 16), _init("fc.b", 10)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])  # symbolic batch
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])
    return _save(tmp_path, nodes, [x], [y], inits, name="resnet_block")


@pytest.fixture
def transformer_block(tmp_path: Path) -> Path:
    """One post-norm encoder layer as PyTorch exports it: biased MatMuls, Erf GELU."""
    s, d, h = 8, 32, 4
    dh, f = d // h, 2 * d
    n = helper.make_node
    nodes = []
    for p, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        nodes += [
            n("MatMul", ["x", f"W{p}"], [f"{p}_mm"], name=f"/attn/{p}/MatMul"),
            n("Add", [f"b{p}", f"{p}_mm"], [f"{p}_lin"], name=f"/attn/{p}/Add"),  # bias first, as torch does
            n("Reshape", [f"{p}_lin", "heads_shape"], [f"{p}_4d"], name=f"/attn/{p}/Reshape"),
            n("Transpose", [f"{p}_4d"], [f"{p}_t"], name=f"/attn/{p}/Transpose", perm=perm),
        ]
    nodes += [
        n("MatMul", ["q_t", "k_t"], ["scores"], name="/attn/scores"),
        n("Div", ["scores", "sqrt_dh"], ["scaled"], name="/attn/scale"),
        n("Softmax", ["scaled"], ["probs"], name="/attn/softmax", axis=-1),
        n("MatMul", ["probs", "v_t"], ["ctx"], name="/attn/context"),
        n("Transpose", ["ctx"], ["ctx_t"], name="/attn/merge/Transpose", perm=[0, 2, 1, 3]),
        n("Reshape", ["ctx_t", "model_shape"], ["ctx_2d"], name="/attn/merge/Reshape"),
        n("MatMul", ["ctx_2d", "Wo"], ["o_mm"], name="/attn/out/MatMul"),
        n("Add", ["o_mm", "bo"], ["o"], name="/attn/out/Add"),
        n("Add", ["o", "x"], ["res1"], name="/res1"),
        n("LayerNormalization", ["res1", "ln1.g", "ln1.b"], ["ln1"], name="/ln1", axis=-1, epsilon=1e-5),
        n("MatMul", ["ln1", "W1"], ["f1_mm"], name="/ffn/fc1/MatMul"),
        n("Add", ["f1_mm", "b1"], ["f1"], name="/ffn/fc1/Add"),
        # GELU the way torch.onnx writes it: x * 0.5 * (1 + erf(x / sqrt(2))).
        n("Div", ["f1", "sqrt2"], ["g_div"], name="/ffn/act/Div"),
        n("Erf", ["g_div"], ["g_erf"], name="/ffn/act/Erf"),
        n("Add", ["g_erf", "one"], ["g_add"], name="/ffn/act/Add"),
        n("Mul", ["f1", "g_add"], ["g_mul"], name="/ffn/act/Mul"),
        n("Mul", ["g_mul", "half"], ["gelu"], name="/ffn/act/Mul_1"),
        n("MatMul", ["gelu", "W2"], ["f2_mm"], name="/ffn/fc2/MatMul"),
        n("Add", ["f2_mm", "b2"], ["f2"], name="/ffn/fc2/Add"),
        n("Add", ["ln1", "f2"], ["res2"], name="/res2"),
        n("LayerNormalization", ["res2", "ln2.g", "ln2.b"], ["out"], name="/ln2", axis=-1),
    ]
    inits = [_ints("heads_shape", [1, s, h, dh]), _ints("model_shape", [1, s, d]),
             _scalar("sqrt_dh", math.sqrt(dh)), _scalar("sqrt2", math.sqrt(2)), _scalar("one", 1.0),
             _scalar("half", 0.5), _init("Wo", d, d), _init("bo", d), _init("ln1.g", d), _init("ln1.b", d),
             _init("W1", d, f), _init("b1", f), _init("W2", f, d), _init("b2", d),
             _init("ln2.g", d), _init("ln2.b", d)]
    for p in "qkv":
        inits += [_init(f"W{p}", d, d), _init(f"b{p}", d)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, s, d])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, s, d])
    return _save(tmp_path, nodes, [x], [y], inits, name="transformer_block")


# --------------------------------------------------------------------------- import


def test_conv_net_shapes_macs_params(resnet_block: Path) -> None:
    g = load_onnx(resnet_block)
    assert g.type_of("x").shape == (1, 3, 32, 32)  # symbolic batch -> 1
    assert [g.type_of(o).shape for o in g.outputs] == [(1, 10)]
    assert g.type_of("stem").shape == (1, 16, 16, 16)
    # conv MACs = N*K*C*P*Q*R*S; FC MACs = N*out*in.
    stem = 1 * 16 * 3 * 16 * 16 * 3 * 3
    conv = 1 * 16 * 16 * 16 * 16 * 3 * 3
    fc = 1 * 10 * 16
    assert g.macs() == stem + 2 * conv + fc == 1_290_400
    # stem weight + bias, two bias-free convs, two BNs (scale + shift), FC weight + bias.
    params = (16 * 3 * 9 + 16) + 2 * (16 * 16 * 9) + 2 * (2 * 16) + (10 * 16 + 10)
    assert g.params() == params == 5290
    # ONNX pads [x1_begin, x2_begin, x1_end, x2_end] are (top, left, bottom, right).
    assert g.node("stem").attrs["padding"] == (0, 1, 1, 0)
    assert g.node("stem").attrs["stride"] == (2, 2)
    assert g.node("block.conv1").attrs["bias"] is False  # the trailing op type is dropped
    assert g.node("r1").op == "relu"
    assert g.node("skip").inputs == ("bn2", "stem_relu")
    assert g.node("flatten").op == "flatten"
    assert g.node("fc").op == "linear"
    # Gemm with transB=1 already holds linear's (out, in) weight.
    np.testing.assert_array_equal(g.weights("fc")["weight"], _initializers(resnet_block)["fc.w"])


def test_batchnorm_statistics_fold_into_scale_and_shift(resnet_block: Path) -> None:
    g = load_onnx(resnet_block)
    inits = _initializers(resnet_block)
    scale = inits["bn1.gamma"] / np.sqrt(inits["bn1.var"] + 1e-5)
    np.testing.assert_allclose(g.weights("bn1")["scale"], scale, rtol=1e-6)
    np.testing.assert_allclose(g.weights("bn1")["bias"], inits["bn1.beta"] - inits["bn1.mean"] * scale,
                               rtol=1e-5, atol=1e-6)


def test_transformer_block_shapes_macs_params(transformer_block: Path) -> None:
    g = load_onnx(transformer_block)
    s, d, h, dh, f = 8, 32, 4, 8, 64
    assert [g.type_of(o).shape for o in g.outputs] == [(1, s, d)]
    ops = [layer.op for layer in g.layers()]
    # MatMul + bias Add fuse into linear; the Erf pattern becomes gelu; Div by sqrt(dh) is a scale.
    assert ops.count("linear") == 6 and ops.count("matmul") == 2
    assert ops.count("gelu") == 1 and "erf" not in ops and ops.count("scale") == 1
    assert g.node("attn.scale").attrs["factor"] == pytest.approx(1 / math.sqrt(dh))
    assert g.type_of("attn.scores").shape == (1, h, s, s)
    assert g.type_of("attn.k.Transpose").shape == (1, h, dh, s)
    macs = (3 * s * d * d          # q, k, v projections
            + h * s * s * dh       # q @ k^T
            + h * s * s * dh       # softmax(..) @ v
            + s * d * d            # output projection
            + s * d * f + s * f * d)  # FFN
    assert g.macs() == macs == 69_632
    params = 4 * (d * d + d) + 2 * (2 * d) + (d * f + f) + (f * d + d)
    assert g.params() == params == 8544
    # MatMul's (in, out) initializer is transposed into linear's (out, in).
    w1 = _initializers(transformer_block)["W1"]
    np.testing.assert_array_equal(g.weights("ffn.fc1")["weight"], w1.T)
    assert g.weights("ffn.fc1")["bias"].shape == (f,)


def test_reshape_follows_the_batch(transformer_block: Path) -> None:
    g = load_onnx(transformer_block).with_batch(4)
    assert g.type_of(g.outputs[0]).shape == (4, 8, 32)
    assert g.macs() == 4 * (69_632 - 2 * 4 * 8 * 8 * 8) + 4 * 2 * 4 * 8 * 8 * 8


def test_misc_ops(tmp_path: Path) -> None:
    """Embedding lookup, Clip(0, 6), constant folding of a shape computed by Shape/Gather/Concat."""
    n = helper.make_node
    nodes = [
        n("Gather", ["table", "ids"], ["emb"], name="embed"),
        n("Clip", ["emb", "zero", "six"], ["clip"], name="relu6"),
        n("Shape", ["clip"], ["shp"], name="shape"),
        n("Gather", ["shp", "idx0"], ["batch"], name="take_batch", axis=0),
        n("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsq"),
        n("Concat", ["batch1", "minus1"], ["target"], name="cat", axis=0),
        n("Reshape", ["clip", "target"], ["flat"], name="reshape"),
        n("Constant", [], ["w"], name="const_w", value=numpy_helper.from_array(
            RNG.standard_normal((48, 5)).astype(np.float32))),
        n("MatMul", ["flat", "w"], ["y"], name="head"),
    ]
    inits = [_init("table", 100, 16), _scalar("zero", 0.0), _scalar("six", 6.0),
             numpy_helper.from_array(np.array(0, np.int64), "idx0"), _ints("axes0", [0]),
             _ints("minus1", [-1])]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])
    g = load_onnx(_save(tmp_path, nodes, [ids], [y], inits, name="misc"))
    assert g.node("embed").op == "embedding" and g.type_of("embed").shape == (1, 3, 16)
    assert g.node("relu6").op == "relu6"
    assert g.node("reshape").attrs["shape"] == (0, -1)
    assert g.node("head").op == "linear" and g.type_of("head").shape == (1, 5)
    assert g.macs() == 48 * 5
    assert g.params() == 100 * 16 + 48 * 5


def test_slice_and_gather_of_activations(tmp_path: Path) -> None:
    """Slice (clamped INT64_MAX end, two axes) and a scalar Gather (the CLS token) of activations."""
    from onnx.reference import ReferenceEvaluator

    n = helper.make_node
    nodes = [
        n("Slice", ["x", "starts", "ends", "axes", "steps"], ["s"], name="crop"),
        n("Gather", ["s", "cls"], ["y"], name="cls_token", axis=1),
    ]
    inits = [_ints("starts", [1, 0]), _ints("ends", [2**63 - 1, 16]), _ints("axes", [1, -1]),
             _ints("steps", [1, 2]), numpy_helper.from_array(np.array(0, np.int64), "cls")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 9, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])
    path = _save(tmp_path, nodes, [x], [y], inits, name="slices")
    g = load_onnx(path)
    (want,) = ReferenceEvaluator(str(path)).run(None, {"x": np.zeros((2, 9, 32), np.float32)})
    assert g.type_of(g.outputs[0]).shape == want.shape == (2, 8)
    assert g.node("crop_0").attrs["end"] == 9 and g.node("crop").attrs["step"] == 2
    assert [g.node(name).op for name in ("crop_0", "crop", "cls_token_slice", "cls_token")] == \
           ["slice", "slice", "slice", "reshape"]


# --------------------------------------------------------------------------- convert


@pytest.mark.parametrize("fixture", ["resnet_block", "transformer_block"])
def test_convert_round_trip(fixture: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    g = load_onnx(request.getfixturevalue(fixture))
    out = tmp_path / "out" / "model.yaml"
    out.parent.mkdir()
    written = write_model_yaml(g, out)
    assert written == [out, out.with_suffix(".npz")]
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.npz", "model.yaml"]  # no temp files
    back = load_model(out)
    assert {n.name: (n.op, n.inputs, dict(n.attrs)) for n in back.nodes()} == \
           {n.name: (n.op, n.inputs, dict(n.attrs)) for n in g.nodes()}
    assert back.types() == g.types()
    assert back.outputs == g.outputs
    assert back.macs() == g.macs() and back.params() == g.params()
    for node in g.nodes():
        mine, theirs = g.weights(node.name), back.weights(node.name)
        assert mine.keys() == theirs.keys()
        for key in mine:
            np.testing.assert_array_equal(theirs[key], mine[key])


def test_convert_writes_compact_yaml(resnet_block: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.yaml"
    write_model_yaml(load_onnx(resnet_block), out)
    text = out.read_text()
    assert "weights: m.npz" in text
    assert "- {name: stem, op: conv2d, out_channels: 16, kernel: [3, 3], stride: [2, 2], " \
           "padding: [0, 1, 1, 0]}" in text
    # A chain needs no wiring; the skip connection does.
    assert "- {name: stem_relu, op: relu}" in text
    assert "- {name: skip, op: add, in: [bn2, stem_relu]}" in text


def test_convert_without_weights_writes_only_yaml(tmp_path: Path) -> None:
    from accelsim.ir import Graph

    g = Graph("tiny")
    g.add("x", "input", attrs={"shape": [1, 4]})
    g.add("r", "relu", ["x"])
    assert write_model_yaml(g, tmp_path / "t.yaml") == [tmp_path / "t.yaml"]
    assert "weights" not in (tmp_path / "t.yaml").read_text()
    assert load_model(tmp_path / "t.yaml").outputs == ["r"]


def test_convert_failure_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         resnet_block: Path) -> None:
    g = load_onnx(resnet_block)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SpecError, match="disk full"):
        write_model_yaml(g, out / "m.yaml")
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- errors


def test_unsupported_op_names_the_node(tmp_path: Path) -> None:
    boxes = helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 10, 4])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 10])
    keep = helper.make_tensor_value_info("keep", TensorProto.INT64, [None, 3])
    nodes = [helper.make_node("Relu", ["boxes"], ["b"], name="pre"),
             helper.make_node("NonMaxSuppression", ["b", "scores"], ["keep"], name="nms")]
    path = _save(tmp_path, nodes, [boxes, scores], [keep], [], name="nms")
    with pytest.raises(UnsupportedOpError) as info:
        load_onnx(path)
    err = info.value
    assert err.field == "graph.node[1] (nms)"
    assert err.file == str(path)
    assert "unsupported ONNX ops: NonMaxSuppression (1);" in str(err) and "Conv" in str(err)
    assert "\n" not in str(err)


@pytest.mark.parametrize("content", [b"this is not a protobuf \xff\xfe\x00\x01", b"", b"\x08\x07"])
def test_garbage_file_is_a_spec_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(content)
    with pytest.raises(SpecError) as info:
        load_model(path)
    assert info.value.file == str(path)


def test_computed_conv_weight_is_unsupported(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 3, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])
    path = _save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], name="c")], [x, w], [y], [],
                 name="dyn")
    with pytest.raises(UnsupportedOpError, match="computed weight") as info:
        load_onnx(path)
    assert info.value.field == "graph.node[0] (c)"


def test_symbolic_non_batch_dimension_is_reported(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "seq", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "seq", 8])
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [x], [y], [], name="sym")
    with pytest.raises(SpecError, match="symbolic dimension 'seq' at axis 1") as info:
        load_onnx(path)
    assert isinstance(info.value, AccelsimError) and info.value.field == "graph.input[0] (x)"


def test_onnx_bundled_resnet50_matches_published_counts() -> None:
    """The ResNet-50 that ships with onnx's backend tests: 25,557,032 params (as torchvision)."""
    path = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    if not path.is_file():
        pytest.skip("this onnx build does not ship its backend test models")
    g = load_onnx(path)
    assert [g.type_of(o).shape for o in g.outputs] == [(1, 1000)]
    assert g.params() == 25_557_032
    assert g.macs() == 4_089_184_256  # the usual "4.09 GMACs"
    assert g.with_batch(2).macs() == 2 * g.macs()


# --------------------------------------------------------------------------- shapes-only models


def _conv_fc(tmp_path: Path, name: str) -> onnx.ModelProto:
    """conv 3->8 3x3 (bias) -> relu -> GAP -> flatten -> Gemm 8->4 on a 1x3x10x10 input."""
    n = helper.make_node
    nodes = [n("Conv", ["x", "c.w", "c.b"], ["c"], name="/conv/Conv"),
             n("Relu", ["c"], ["r"], name="/relu/Relu"),
             n("GlobalAveragePool", ["r"], ["gap"], name="/gap/GlobalAveragePool"),
             n("Flatten", ["gap"], ["flat"], name="/flatten/Flatten"),
             n("Gemm", ["flat", "fc.w", "fc.b"], ["y"], name="/fc/Gemm", transB=1)]
    inits = [_init("c.w", 8, 3, 3, 3), _init("c.b", 8), _init("fc.w", 4, 8), _init("fc.b", 4)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph(nodes, name, [x], [y], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


_CONV_FC_MACS = 8 * 3 * 8 * 8 * 3 * 3 + 4 * 8   # conv K*C*P*Q*R*S, FC out*in
_CONV_FC_PARAMS = 8 * 27 + 8 + 4 * 8 + 4


def test_missing_external_data_file_imports_shapes_with_one_warning(tmp_path: Path) -> None:
    model = _conv_fc(tmp_path, "ext")
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.onnx.data", size_threshold=0)
    (tmp_path / "ext.onnx.data").unlink()
    with pytest.warns(UserWarning) as record:
        g = load_onnx(path)
    assert len(record) == 1  # one note per model, not one per tensor
    msg = str(record[0].message)
    assert "4 of 4 weight tensors have no data" in msg and "'ext.onnx.data'" in msg
    assert "\n" not in msg
    assert g.type_of(g.outputs[0]).shape == (1, 4) and g.type_of("conv").shape == (1, 8, 8, 8)
    assert g.macs() == _CONV_FC_MACS == 13_856
    assert g.params() == _CONV_FC_PARAMS  # counted from shapes
    assert not g.has_weights


def test_external_data_present_loads_weights(tmp_path: Path) -> None:
    model = _conv_fc(tmp_path, "ext_ok")
    want = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    path = tmp_path / "ext_ok.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="w.data", size_threshold=0)
    import warnings as _w

    with _w.catch_warnings():
        _w.simplefilter("error")
        g = load_onnx(path)
    np.testing.assert_array_equal(g.weights("conv")["weight"], want["c.w"])
    np.testing.assert_array_equal(g.weights("fc")["weight"], want["fc.w"])


def test_initializers_without_data_import_shapes_only(tmp_path: Path) -> None:
    model = _conv_fc(tmp_path, "bare")
    for t in model.graph.initializer:  # a shapes-only export: dims and type, no values
        t.ClearField("raw_data")
        t.ClearField("float_data")
    path = tmp_path / "bare.onnx"
    onnx.save(model, str(path))
    with pytest.warns(UserWarning, match="4 of 4 weight tensors have no data .no data in the file"):
        g = load_onnx(path)
    assert g.macs() == _CONV_FC_MACS and g.params() == _CONV_FC_PARAMS and not g.has_weights


def test_cli_shows_missing_weights_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from accelsim.cli import main

    model = _conv_fc(tmp_path, "cli")
    path = tmp_path / "cli.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="cli.data", size_threshold=0)
    (tmp_path / "cli.data").unlink()
    out = tmp_path / "cli.yaml"
    assert main(["convert", str(path), "-o", str(out)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(err) == 1 and err[0].startswith("accelsim: warning: ") and "no data" in err[0]
    assert load_model(out).macs() == _CONV_FC_MACS


# --------------------------------------------------------------------------- errors and names


def test_unsupported_ops_are_all_named_with_counts(tmp_path: Path) -> None:
    n = helper.make_node
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    nodes = [n("Relu", ["x"], ["a"], name="ok"), n("Celu", ["a"], ["b"], name="first_bad"),
             n("Shrink", ["b"], ["c"]), n("Celu", ["c"], ["y"])]
    path = _save(tmp_path, nodes, [x], [y], [], name="bad")
    with pytest.raises(UnsupportedOpError) as info:
        load_onnx(path)
    assert "unsupported ONNX ops: Celu (2), Shrink (1);" in str(info.value)
    assert info.value.field == "graph.node[1] (first_bad)"
    assert "\n" not in str(info.value)


def test_torch_scope_names_do_not_repeat_prefixes(tmp_path: Path) -> None:
    n = helper.make_node
    nodes = [n("Conv", ["x", "w1"], ["c1"], name="/layer1/layer1.0/conv1/Conv"),
             n("Relu", ["c1"], ["r1"], name="/layer1/layer1.0/relu/Relu"),
             n("Conv", ["r1", "w2"], ["c2"], name="/layer1/layer1.0/conv2/Conv"),
             n("Add", ["c2", "x"], ["s"], name="/layer1/layer1.0/Add"),
             n("Relu", ["s"], ["r2"], name="/layer1/layer1.0/relu/Relu_1"),   # relu module reused
             n("Relu", ["r2"], ["y"], name="/layer1/layer1.0/relu/Relu_2")]
    inits = [_init("w1", 4, 4, 1, 1), _init("w2", 4, 4, 1, 1)]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 2, 2])
    g = load_onnx(_save(tmp_path, nodes, [x], [y], inits, name="scopes"))
    names = [layer.name for layer in g.layers()]
    assert names == ["layer1.0.conv1", "layer1.0.relu", "layer1.0.conv2", "layer1.0",  # block's Add
                     "layer1.0.relu.Relu_1", "layer1.0.relu.Relu_2"]
    assert len(set(names)) == len(names)
