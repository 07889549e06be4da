"""Writes examples/tiny_cnn.onnx: a small residual CNN in the form torch's exporter gives
(named scopes, Conv + BatchNormalization + Relu, a residual Add, global pooling, Gemm), with
seeded random weights. Run from the repository root: python examples/make_tiny_onnx.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(0)


def weight(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array((RNG.standard_normal(shape) * 0.1).astype(np.float32), name)


def conv_bn_relu(prefix: str, x: str, c_in: int, c_out: int, stride: int, relu: bool = True) -> tuple[list, list, str]:
    nodes = [helper.make_node("Conv", [x, f"{prefix}.w"], [f"{prefix}/conv"], name=f"/{prefix}/conv/Conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride]),
             helper.make_node("BatchNormalization", [f"{prefix}/conv", f"{prefix}.g", f"{prefix}.b",
                                                     f"{prefix}.m", f"{prefix}.v"], [f"{prefix}/bn"],
                              name=f"/{prefix}/bn/BatchNormalization")]
    inits = [weight(f"{prefix}.w", c_out, c_in, 3, 3),
             numpy_helper.from_array(np.ones(c_out, np.float32), f"{prefix}.g"),
             numpy_helper.from_array(np.zeros(c_out, np.float32), f"{prefix}.b"),
             numpy_helper.from_array(np.zeros(c_out, np.float32), f"{prefix}.m"),
             numpy_helper.from_array(np.ones(c_out, np.float32), f"{prefix}.v")]
    out = f"{prefix}/bn"
    if relu:
        nodes.append(helper.make_node("Relu", [out], [f"{prefix}/relu"], name=f"/{prefix}/relu/Relu"))
        out = f"{prefix}/relu"
    return nodes, inits, out


def build() -> onnx.ModelProto:
    nodes, inits, x = conv_bn_relu("stem", "input", 3, 16, 2)
    a_nodes, a_inits, a = conv_bn_relu("block1/conv1", x, 16, 16, 1)
    b_nodes, b_inits, b = conv_bn_relu("block1/conv2", a, 16, 16, 1, relu=False)
    nodes += a_nodes + b_nodes
    inits += a_inits + b_inits
    nodes += [helper.make_node("Add", [b, x], ["block1/add"], name="/block1/Add"),
              helper.make_node("Relu", ["block1/add"], ["block1/out"], name="/block1/relu/Relu"),
              helper.make_node("GlobalAveragePool", ["block1/out"], ["pool"], name="/pool/GlobalAveragePool"),
              helper.make_node("Flatten", ["pool"], ["flat"], name="/Flatten"),
              helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="/fc/Gemm", transB=1)]
    inits += [weight("fc.w", 10, 16), weight("fc.b", 10)]
    graph = helper.make_graph(
        nodes, "tiny_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="accelsim-examples")
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "tiny_cnn.onnx"
    onnx.save(build(), str(out))
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
