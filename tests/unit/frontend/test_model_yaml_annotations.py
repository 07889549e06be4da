"""Annotations in model YAML: reading, errors with file/line/field, and the export round trip.

Line numbers are counted by hand in the texts below (the ``# N`` comments).
"""

from __future__ import annotations

import pytest

from accelsim.errors import GraphError, SpecError
from accelsim.frontend import bundled, load_model
from accelsim.frontend.model_yaml import load_model_yaml
from accelsim.frontend.yaml_export import render_model_yaml
from accelsim.ir import Fused, Graph, Quant, Sharing, Sparsity

MODEL = """\
name: annotated
inputs:
  x: {shape: [1, 3, 8, 8], dtype: fp32}
blocks:
  cb:
    params: {bits: 8}
    layers:
      - {op: conv2d, out_channels: 4, kernel: 3, quant: {weight_bits: $bits, act_bits: 8}}
layers:
  - op: conv2d
    out_channels: 8
    kernel: 3
    quant: {weight_bits: 4, act_bits: 8, scheme: asymmetric, per_channel: true}
    sparsity: {structure: "n:m", n: 2, m: 4}
    fused: [relu]
  - {block: cb, args: {bits: 2}}
  - {op: flatten}
  - op: linear
    out_features: 10
    sharing: {bits: 4}
    sparsity:
      weight_density: 0.1
      act_density: 0.5
"""
# 1 name / 2 inputs / 3 x / 4 blocks / 5 cb / 6 params / 7 layers / 8 conv / 9 layers
# 10 op / 11 out_channels / 12 kernel / 13 quant / 14 sparsity / 15 fused / 16 block
# 17 flatten / 18 op / 19 out_features / 20 sharing / 21 sparsity / 22 weight_density
# 23 act_density


def test_layer_keys_become_annotations():
    g = load_model_yaml("m.yaml", MODEL)
    conv = g.node("conv2d_1")
    assert dict(conv.annotations) == {
        "quant": Quant(4, 8, scheme="asymmetric", per_channel=True),
        "sparsity": Sparsity(0.5, structure="n:m", n=2, m=4),  # weight_density filled in: 2/4
        "fused": Fused(("relu",)),
    }
    assert "quant" not in conv.attrs
    assert g.node("cb_1.conv2d_1").annotations["quant"] == Quant(2, 8)  # block parameter
    fc = g.node("linear_1")
    assert fc.annotations["sharing"] == Sharing(4)
    assert fc.annotations["sparsity"] == Sparsity(0.1, 0.5)


def replace_line(text: str, line: int, new: str) -> str:
    lines = text.splitlines()
    lines[line - 1] = new
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("line, new, err_line, field, fragment", [
    (13, "    quant: {weight_bits: 0, act_bits: 8}", 13, "layers[0].quant.weight_bits", "must be 1 to 64"),
    (13, "    quant: {wieght_bits: 8, act_bits: 8}", 13, "layers[0].quant.wieght_bits", "did you mean 'weight_bits'"),
    (13, "    quant: {act_bits: 8}", 13, "layers[0].quant.weight_bits", "weight_bits is required"),
    (13, "    quant: 8", 13, "layers[0].quant", "expected a mapping"),
    (15, "    fused: [relu, rleu]", 15, "layers[0].fused[1]", "did you mean 'relu'"),
    (14, "    sparsity: {structure: 'n:m', n: 4, m: 2}", 14, "layers[0].sparsity.n", "n < m"),
    (22, "      weight_density: 0", 22, "layers[3].sparsity.weight_density", "(0, 1]"),
    (23, "      act_density: lots", 23, "layers[3].sparsity.act_density", "expected a number"),
    (8, "      - {op: conv2d, out_channels: 4, kernel: 3, quant: {weight_bits: $nope, act_bits: 8}}",
     8, "blocks.cb.layers[0].quant.weight_bits", "nope"),
])
def test_bad_values_name_file_line_and_field(line, new, err_line, field, fragment):
    with pytest.raises(SpecError) as err:
        load_model_yaml("m.yaml", replace_line(MODEL, line, new))
    assert str(err.value).startswith(f"m.yaml:{err_line}: {field}: "), str(err.value)
    assert fragment in str(err.value)


def test_annotation_that_does_not_fit_its_op_names_the_layer():
    text = replace_line(MODEL, 17, "  - {op: flatten, sharing: {bits: 2}}")
    with pytest.raises(GraphError) as err:
        load_model_yaml("m.yaml", text)
    assert str(err.value).startswith("m.yaml:17: layers[2].sharing: layer 'flatten_1' (flatten): ")


def annotate_some(g: Graph) -> Graph:
    """One annotation of each kind on the first layers where it fits."""
    weighted = [layer.name for layer in g.layers() if layer.params and layer.op != "constant"]
    others = [layer.name for layer in g.layers() if not layer.params]
    g.annotate(weighted[0], Quant(8, 4, per_channel=True))
    g.annotate(weighted[-1], Sparsity(0.25, 0.5, structure="block"))
    g.annotate(weighted[len(weighted) // 2], Sharing(5, codebook=30))
    g.annotate(weighted[len(weighted) // 2], Sparsity(0.75, structure="n:m", n=3, m=4))
    g.annotate(others[-1], Sparsity(act_density=0.3))
    g.annotate(weighted[1], Fused(("gelu", "identity")))
    g.verify()
    return g


@pytest.mark.parametrize("name", sorted(bundled("models")))
def test_zoo_round_trip_keeps_annotations(name):
    g = annotate_some(load_model(name))
    back = load_model_yaml(f"{name}.yaml", render_model_yaml(g))
    assert list(back.nodes()) == list(g.nodes())
    assert [layer.workload for layer in back.layers()] == [layer.workload for layer in g.layers()]
