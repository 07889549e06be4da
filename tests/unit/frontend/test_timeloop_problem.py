"""Timeloop problem YAML -> a one-convolution Graph whose loop bounds are the file's."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.errors import SpecError
from accelsim.frontend import load_model

CONV1D = """\
problem:
  version: 0.4
  shape:
    name: Conv1D
    dimensions: [ R, P ]
    data_spaces:
    - name: Weights
      projection:
      - [ [R] ]
    - name: Inputs
      projection:
      - [ [R], [P] ]
    - name: Outputs
      projection:
      - [ [P] ]
      read_write: True
  instance:
    R: 3
    P: 16
"""

# Timeloop's CNN layer as the tutorials write it (M for output channels, Q before P).
CNN = """\
problem:
  version: 0.4
  shape:
    name: CNN_Layer
    dimensions: [C, M, R, S, N, P, Q]
    coefficients:
    - {name: Wstride, default: 1}
    - {name: Hstride, default: 1}
    - {name: Wdilation, default: 1}
    - {name: Hdilation, default: 1}
    data_spaces:
    - name: Weights
      projection: [[[C]], [[M]], [[R]], [[S]]]
    - name: Inputs
      projection: [[[N]], [[C]], [[R, Wdilation], [P, Wstride]], [[S, Hdilation], [Q, Hstride]]]
    - name: Outputs
      projection: [[[N]], [[M]], [[Q]], [[P]]]
      read_write: true
  instance: {C: 3, M: 32, R: 3, S: 3, N: 1, P: 112, Q: 56, Wstride: 2, Hstride: 1, Hdilation: 2, H: 224}
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "prob.yaml"
    path.write_text(text, encoding="utf-8")
    return path, load_model(path)


def test_conv1d_becomes_a_conv2d_with_the_same_loop_bounds(tmp_path: Path) -> None:
    _, graph = load(tmp_path, CONV1D)
    (layer,) = graph.layers()
    assert (layer.name, layer.op) == ("Conv1D", "conv2d")
    assert dict(layer.workload.dims) == {"N": 1, "G": 1, "K": 1, "C": 1, "P": 16, "Q": 1, "R": 3, "S": 1}
    assert layer.macs == 48 and graph.type_of("inputs").shape == (1, 1, 18, 1)


def test_cnn_layer_with_strides_dilation_and_m(tmp_path: Path) -> None:
    _, graph = load(tmp_path, CNN)
    (layer,) = graph.layers()
    w = layer.workload
    assert dict(w.dims) == {"N": 1, "G": 1, "K": 32, "C": 3, "P": 112, "Q": 56, "R": 3, "S": 3}
    assert (w.strides, w.dilation) == ((2, 1), (1, 2))
    # rows (P, R): (112 - 1) * 2 + 3; columns (Q, S): (56 - 1) * 1 + (3 - 1) * 2 + 1
    assert graph.type_of("inputs").shape == (1, 3, 225, 60)


@pytest.mark.parametrize("old, new, line, field, message", [
    ("dimensions: [ R, P ]", "dimensions: [ R, X ]", 5, "problem.shape.dimensions[1]", "'X' is not one of"),
    ("    P: 16\n", "    P: 0\n", 19, "problem.instance.P", "positive integer"),
    ("    P: 16\n", "    Pp: 16\n", 19, "problem.instance.Pp", "unknown dimension or coefficient"),
    ("    - name: Inputs\n", "    - name: Ifmap\n", 10, "problem.shape.data_spaces[1].name",
     "the convolution's Inputs; accelsim names it 'Inputs', rename 'Ifmap'"),
    ("      - [ [R], [P] ]\n", "      - [ [R] ]\n      - [ [P] ]\n", 6, "problem.shape.data_spaces",
     "no data space is a convolution's Inputs"),
    ("    P: 16\n", "", 17, "problem.instance.P", "missing the size of dimension 'P'"),
])
def test_errors(tmp_path: Path, old: str, new: str, line: int, field: str, message: str) -> None:
    assert old in CONV1D
    with pytest.raises(SpecError) as exc:
        load(tmp_path, CONV1D.replace(old, new))
    assert (exc.value.field, message in exc.value.message) == (field, True), exc.value.message
    assert exc.value.line == line
