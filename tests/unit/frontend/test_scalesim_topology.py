"""SCALE-Sim topology CSVs as graphs: forms, SCALE-Sim's output sizes, the DP quirk, errors."""

from __future__ import annotations

import pytest

from accelsim.errors import SpecError
from accelsim.frontend import load_model
from accelsim.hw.systolic.lowering import gemm_job

CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def write(tmp_path, text, name="topo.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_conv_rows_are_independent_layers(tmp_path):
    g = load_model(write(tmp_path, CONV_HEADER + "Conv1, 224, 224, 7, 7, 3, 64, 2,\nFC, 1, 1, 1, 1, 512, 1000, 1,\n"))
    assert g.inputs == ["Conv1.ifmap", "FC.ifmap"]
    conv, fc = g.layers()
    assert conv.name == "Conv1" and conv.output.dtype.name == "int8"
    # SCALE-Sim's output size: ceil((224 - 7 + 2) / 2) = 110 (floor((224 - 7) / 2) + 1 = 109)
    assert conv.output.shape == (1, 64, 110, 110)
    job = gemm_job(conv)
    assert (job.M, job.N, job.K) == (110 * 110, 64, 7 * 7 * 3)
    assert (job.conv.pad_top, job.conv.pad_left) == (0, 0)  # the overhang is at the bottom/right
    assert (gemm_job(fc).M, gemm_job(fc).N, gemm_job(fc).K) == (1, 1000, 512)
    assert conv.params == 7 * 7 * 3 * 64  # no bias


def test_gemm_form_is_detected_by_its_header(tmp_path):
    g = load_model(write(tmp_path, "Layer, M, N, K,\nvit_s_L0, 196, 192, 384,\n"))
    (layer,) = g.layers()
    job = gemm_job(layer)
    assert (layer.op, job.M, job.N, job.K, job.repeats, job.conv) == ("linear", 196, 192, 384, 1, None)


def test_dp_layers_split_into_one_channel_layers(tmp_path):
    g = load_model(write(tmp_path, CONV_HEADER + "Conv2DP, 8, 8, 3, 3, 4, 2, 1,\n"))
    names = [layer.name for layer in g.layers()]
    assert names == [f"Conv2DPChannel_{i}" for i in range(4)]
    assert all(gemm_job(layer).K == 9 and gemm_job(layer).N == 2 for layer in g.layers())


def test_duplicate_names_and_sparsity_1_1(tmp_path):
    g = load_model(write(tmp_path, CONV_HEADER + "C, 8, 8, 3, 3, 4, 2, 1, 1:1,\nC, 8, 8, 3, 3, 4, 2, 1,\n"))
    assert [layer.name for layer in g.layers()] == ["C", "C#2"]


@pytest.mark.parametrize("body,line,field,fragment", [
    ("Conv1, 224, 224, 7, 7, 3, 64, 2\n", 2, None, "end with a comma"),
    ("Conv1, 224, 224, 7, 7, three, 64, 2,\n", 2, "Channels", "positive integer"),
    ("Conv1, 224, 224, 7, 7, 3, 0, 2,\n", 2, "Num Filter", "at least 1"),
    ("Conv1, 5, 224, 7, 7, 3, 64, 2,\n", 2, "Filter Height", "exceeds the ifmap height"),
    ("Conv1, 224, 224, 7,\n", 2, "Filter Width", "expected 8 fields"),
    ("Conv1, 224, 224, 7, 7, 3, 64, 2, 2:4,\n", 2, "sparsity", "not supported"),
    ("", None, None, "no layers"),
])
def test_bad_rows_are_located(tmp_path, body, line, field, fragment):
    path = write(tmp_path, CONV_HEADER + body)
    with pytest.raises(SpecError) as info:
        load_model(path)
    assert (info.value.file, info.value.line, info.value.field) == (str(path), line, field)
    assert fragment in str(info.value)


def test_header_is_required(tmp_path):
    with pytest.raises(SpecError, match="looks like a layer"):
        load_model(write(tmp_path, "Conv1, 224, 224, 7, 7, 3, 64, 2,\n"))
    with pytest.raises(SpecError, match="header"):
        load_model(write(tmp_path, ""))
