"""Op shape inference and counts, each checked against a count worked out by hand."""

import pytest

from accelsim.errors import GraphError, SpecError, UnsupportedOpError
from accelsim.ir import Graph


def single(op, in_shape, dtype="fp32", **attrs):
    g = Graph()
    g.add("x", "input", (), {"shape": list(in_shape), "dtype": dtype})
    g.add("y", op, ("x",), attrs)
    g.verify()
    return g.layers()[0]


def test_alexnet_conv1_shape_and_macs():
    # Krizhevsky et al. 2012 as in Eyeriss: 227x227x3 input, 96 11x11 filters, stride 4 -> 55x55.
    layer = single("conv2d", (1, 3, 227, 227), out_channels=96, kernel=11, stride=4)
    assert layer.output.shape == (1, 96, 55, 55)
    assert layer.macs == 96 * 3 * 55 * 55 * 11 * 11 == 105_415_200
    assert layer.params == 96 * 3 * 11 * 11 + 96


def test_depthwise_conv():
    # MobileNet 3x3 depthwise on 112x112x32: one filter per channel.
    layer = single("conv2d", (1, 32, 112, 112), out_channels=32, kernel=3, padding=1, groups=32, bias=False)
    assert layer.output.shape == (1, 32, 112, 112)
    assert layer.macs == 32 * 112 * 112 * 9
    assert layer.params == 32 * 9
    assert dict(layer.workload.dims) == {"N": 1, "G": 32, "K": 1, "C": 1, "P": 112, "Q": 112, "R": 3, "S": 3}


def test_grouped_conv_alexnet_conv2_two_towers():
    layer = single("conv2d", (1, 96, 27, 27), out_channels=256, kernel=5, padding=2, groups=2)
    assert layer.output.shape == (1, 256, 27, 27)
    assert layer.macs == 256 * 48 * 27 * 27 * 25


def test_same_padding_stride_2():
    # TF 'same': out = ceil(in / stride) = 112 for 224 and stride 2.
    layer = single("conv2d", (1, 3, 224, 224), out_channels=8, kernel=3, stride=2, padding="same")
    assert layer.output.shape == (1, 8, 112, 112)


def test_dilation():
    # effective kernel 1 + 2*(3-1) = 5 -> 32 - 5 + 1 = 28
    layer = single("conv2d", (1, 4, 32, 32), out_channels=4, kernel=3, dilation=2)
    assert layer.output.shape == (1, 4, 28, 28)


def test_pool_ceil_mode():
    # GoogLeNet-style 3x3/2 pool of 112 with ceil: ceil((112-3)/2)+1 = 56; floor gives 55.
    assert single("maxpool", (1, 8, 112, 112), kernel=3, stride=2, ceil_mode=True).output.shape[2] == 56
    assert single("maxpool", (1, 8, 112, 112), kernel=3, stride=2).output.shape[2] == 55
    assert single("maxpool", (1, 8, 8, 8), kernel=2).output.shape == (1, 8, 4, 4)  # stride = kernel


def test_linear_on_sequence():
    layer = single("linear", (2, 128, 768), out_features=3072)
    assert layer.output.shape == (2, 128, 3072)
    assert layer.macs == 2 * 128 * 768 * 3072
    assert layer.params == 768 * 3072 + 3072


def test_matmul_broadcast_batch():
    g = Graph()
    g.add("a", "input", (), {"shape": [2, 12, 128, 64]})
    g.add("b", "input", (), {"shape": [1, 12, 64, 128]})
    g.add("y", "matmul", ("a", "b"))
    g.verify()
    (layer,) = g.layers()
    assert layer.output.shape == (2, 12, 128, 128)
    assert layer.macs == 2 * 12 * 128 * 128 * 64


def test_binary_broadcasting():
    g = Graph()
    g.add("a", "input", (), {"shape": [1, 16, 8, 8]})
    g.add("b", "input", (), {"shape": [16, 1, 1]})
    g.add("y", "mul", ("a", "b"))
    assert g.type_of("y").shape == (1, 16, 8, 8)


def test_reshape_copy_and_infer():
    layer = single("reshape", (1, 128, 768), shape=[0, 0, 12, -1])
    assert layer.output.shape == (1, 128, 12, 64)
    assert layer.workload.total_bytes == 0  # a view moves nothing


def test_transpose_and_flatten_and_concat():
    assert single("transpose", (1, 128, 12, 64), perm=[0, 2, 1, 3]).output.shape == (1, 12, 128, 64)
    assert single("flatten", (4, 512, 7, 7)).output.shape == (4, 512 * 49)
    g = Graph()
    g.add("a", "input", (), {"shape": [1, 64, 28, 28]})
    g.add("b", "input", (), {"shape": [1, 32, 28, 28]})
    g.add("c", "concat", ("a", "b"), {"axis": 1})
    assert g.type_of("c").shape == (1, 96, 28, 28)


def test_embedding_params_and_output():
    layer = single("embedding", (1, 128), dtype="int64", num_embeddings=30522, dim=768)
    assert layer.output.shape == (1, 128, 768)
    assert layer.params == 30522 * 768
    # a lookup reads 128 rows, not the table
    assert layer.workload.weight_bytes == 128 * 768 * 4


def test_batchnorm_counts_scale_and_shift_only():
    assert single("batchnorm", (1, 64, 56, 56)).params == 128


def test_int4_bytes_are_fractional():
    layer = single("relu", (1, 3), dtype="int4")
    assert layer.output.nbytes == 1.5


@pytest.mark.parametrize("op, shape, attrs, message", [
    ("conv2d", (1, 3, 5, 5), {"out_channels": 8, "kernel": 7}, "output would be"),
    ("conv2d", (1, 3, 8, 8), {"out_channels": 8, "kernel": 3, "groups": 2}, "groups=2"),
    ("conv2d", (1, 3, 8), {"out_channels": 8, "kernel": 3}, "4-D"),
    ("reshape", (1, 10), {"shape": [3, -1]}, "cannot reshape"),
    ("transpose", (1, 2, 3), {"perm": [0, 1]}, "not a permutation"),
    ("softmax", (1, 10), {"axis": 3}, "out of range"),
])
def test_impossible_shapes_raise_graph_error(op, shape, attrs, message):
    with pytest.raises(GraphError, match=message):
        single(op, shape, **attrs)


@pytest.mark.parametrize("attrs, message", [
    ({"out_channels": -8, "kernel": 3}, "at least 1"),
    ({"out_channels": 8}, "kernel: required"),
    ({"out_channels": "8", "kernel": 3}, "expected an integer"),
    ({"out_channels": 8, "kernel": 3, "strid": 2}, "did you mean 'stride'"),
    ({"out_channels": 8, "kernel": 3, "padding": [1, 2, 3]}, "four"),
])
def test_bad_attributes_raise_spec_error(attrs, message):
    with pytest.raises(SpecError, match=message):
        single("conv2d", (1, 3, 8, 8), **attrs)


def test_unknown_op():
    g = Graph()
    with pytest.raises(UnsupportedOpError, match="did you mean 'conv2d'"):
        g.add("y", "conv2", ("x",))
