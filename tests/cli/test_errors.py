"""The CLI's error contract: every kind of bad input ends with exit status 2 and ONE line on
stderr, ``accelsim: error: FILE:LINE: FIELD: message``, no traceback and no partial output.

Line numbers below are counted by hand in the YAML texts (the ``# N`` comments say which
line is which); each text starts on line 1.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from accelsim.cli import main
from accelsim.errors import AccelsimError, MappingError, SpecError

ROOT = Path(__file__).resolve().parents[2]

# A valid model; line numbers are on the right.
MODEL = """\
name: tiny
inputs:
  x: {shape: [1, 3, 8, 8], dtype: fp32}
layers:
  - op: conv2d
    out_channels: 4
    kernel: 3
  - op: relu
  - op: flatten
  - op: linear
    out_features: 10
"""
#  1 name / 2 inputs / 3 x / 4 layers / 5 conv2d / 6 out_channels / 7 kernel / 8 relu
#  9 flatten / 10 linear / 11 out_features

# A valid model with a block.
BLOCK_MODEL = """\
name: blocky
inputs:
  x: {shape: [1, 3, 8, 8], dtype: fp32}
blocks:
  cb:
    params: {c: null, k: 3}
    layers:
      - op: conv2d
        out_channels: $c
        kernel: $k
        padding: 1
      - {op: relu}
layers:
  - block: cb
    args: {c: 8}
  - block: cb
    args: {c: 16, k: 1}
  - {op: flatten}
"""
#  1 name / 2 inputs / 3 x / 4 blocks / 5 cb / 6 params / 7 layers / 8 conv2d / 9 out_channels
# 10 kernel / 11 padding / 12 relu / 13 layers / 14 block / 15 args / 16 block / 17 args
# 18 flatten

# A valid hardware spec (edge_npu-like), with line numbers.
HW = """\
kind: roofline
name: test_npu
frequency: 500 MHz
technology: {node: 28 nm}
peak:
  int8: 4 TOPS
memories:
  - name: host
    type: lpddr
    bandwidth: 500 MB/s
  - name: sram
    type: sram
    size: 8 MiB
    bandwidth: 1 TB/s
"""
#  1 kind / 2 name / 3 frequency / 4 technology / 5 peak / 6 int8 / 7 memories / 8 host
#  9 type / 10 bandwidth / 11 sram / 12 type / 13 size / 14 bandwidth


def replace_line(text: str, line: int, new: str) -> str:
    """``text`` with its 1-based ``line`` replaced by ``new`` (several lines allowed)."""
    lines = text.splitlines()
    assert 1 <= line <= len(lines)
    lines[line - 1] = new
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors exit from inside parse_args
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc: int, err: str, *fragments: str) -> str:
    assert rc == 2, err
    assert "Traceback" not in err
    assert err.endswith("\n"), repr(err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("accelsim: error: "), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def assert_located(rc: int, err: str, path: str, line: int, field: str, *fragments: str) -> str:
    """The exact ``FILE:LINE: FIELD: `` prefix of the contract."""
    return assert_one_line_error(rc, err, f"accelsim: error: {path}:{line}: {field}: ", *fragments)


def estimate_model(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                   *extra: str, hw: str = "edge_npu") -> tuple[int, str, str, str]:
    model = write(tmp_path, "model.yaml", text)
    rc, out, err = run(["estimate", model, "--hw", hw, *extra], capsys)
    return rc, out, err, model


def estimate_hw(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                *extra: str) -> tuple[int, str, str, str]:
    hw = write(tmp_path, "hw.yaml", text)
    rc, out, err = run(["estimate", "digits_cnn", "--hw", hw, *extra], capsys)
    return rc, out, err, hw


# ------------------------------------------------------------------------ the fixtures work


def test_base_texts_are_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in (MODEL, BLOCK_MODEL):
        rc, out, err, _ = estimate_model(tmp_path, capsys, text, "--json")
        assert (rc, err) == (0, "")
        json.loads(out)
    rc, out, err, _ = estimate_hw(tmp_path, capsys, HW, "--json")
    assert (rc, err) == (0, "")
    assert json.loads(out)["hardware"] == "test_npu"


# ------------------------------------------------------------------------ model YAML errors


def test_model_yaml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 7, "    kernel: 3: 3")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_one_line_error(rc, err, f"{path}:7: ", "YAML syntax error")


def test_model_unclosed_bracket(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 3, "  x: {shape: [1, 3, 8, 8, dtype: fp32}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_one_line_error(rc, err, f"{path}:3: ", "YAML syntax error")


def test_model_duplicate_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 7, "    kernel: 3\n    kernel: 5")  # the second is line 8
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 8, "layers[0].kernel", "appears twice")


def test_model_unknown_top_level_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 4, "layer:")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 4, "layer", "unknown key", "did you mean 'layers'")


def test_model_unknown_attribute(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 7, "    kernal: 3")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 7, "layers[0].kernal", "did you mean 'kernel'")


def test_model_unknown_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 8, "  - op: relux")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 8, "layers[1].op", "unknown op 'relux'", "did you mean 'relu'")


def test_model_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 7, "    kernel: three")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 7, "layers[0].kernel", "'three'")


def test_model_wrong_type_of_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n".join(MODEL.splitlines()[:3] + ["layers: {op: relu}"]) + "\n"
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 4, "layers", "expected a list of layers")


def test_model_layer_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 8, "  - relu")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 8, "layers[1]", "expected a layer")


def test_model_impossible_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 7, "    kernel: 9")  # a 9x9 kernel on an 8x8 input
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 5, "layers[0]", "conv2d_1", "output would be")


def test_model_negative_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 6, "    out_channels: -4")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 6, "layers[0].out_channels", "at least 1")


def test_model_negative_input_dimension(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 3, "  x: {shape: [1, -3, 8, 8], dtype: fp32}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 3, "inputs.x", "positive")


def test_model_unknown_input_dtype(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 3, "  x: {shape: [1, 3, 8, 8], dtype: fp31}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 3, "inputs.x.dtype", "fp31")


def test_model_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = """\
inputs:
  x: {shape: [1, 4]}
layers:
  - {name: a, op: add, in: [x, b]}
  - {name: b, op: relu, in: a}
  - {name: c, op: relu, in: b}
"""
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    line = assert_one_line_error(rc, err, "has a cycle")
    assert (f"{path}:4: layers[0].in: " in line) or (f"{path}:5: layers[1].in: " in line), line


def test_model_undefined_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 8, "  - {op: relu, in: nothing}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 8, "layers[1].in", "'nothing'", "not defined")


def test_model_unknown_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = MODEL + "outputs: [linear_1, nothing]\n"  # line 12
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 12, "outputs[1]", "'nothing'", "not a layer")
    rc, _, err, path = estimate_model(tmp_path, capsys, MODEL + "outputs: nothing\n")
    assert_located(rc, err, path, 12, "outputs", "'nothing'", "not a layer")


def test_model_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err, path = estimate_model(tmp_path, capsys, "- just\n- a list\n")
    assert_one_line_error(rc, err, f"{path}:1: ", "mapping")


def test_model_empty_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err, path = estimate_model(tmp_path, capsys, "")
    assert_one_line_error(rc, err, path)


def test_model_missing_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err, path = estimate_model(tmp_path, capsys, "\n".join(MODEL.splitlines()[:3]) + "\n")
    assert_located(rc, err, path, 1, "layers", "missing")


def test_model_with_annotations_estimates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 7, "    kernel: 3\n    quant: {weight_bits: 4, act_bits: 8}\n    fused: [relu]")
    rc, _, err, _ = estimate_model(tmp_path, capsys, text)
    assert (rc, err) == (0, "")


@pytest.mark.parametrize("line, new, err_line, field, fragment", [
    (7, "    kernel: 3\n    quant: {weight_bits: 99, act_bits: 8}", 8, "layers[0].quant.weight_bits",
     "must be 1 to 64"),
    (8, "  - {op: relu, sharing: {bits: 4}}", 8, "layers[1].sharing", "needs an op with weights"),
    (11, "    out_features: 10\n    fused: [softmx]", 12, "layers[3].fused[0]", "did you mean 'softmax'"),
])
def test_model_bad_annotation(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: int, new: str,
                              err_line: int, field: str, fragment: str) -> None:
    rc, _, err, path = estimate_model(tmp_path, capsys, replace_line(MODEL, line, new))
    assert_located(rc, err, path, err_line, field, fragment)


def test_model_unmappable_layer_zoo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, rep = tmp_path / "out.json", tmp_path / "rep"
    rc, stdout, err = run(["estimate", "digits_mlp", "--hw", "tpu_v1", "--precision", "fp32",
                           "-o", out, "--report", rep], capsys)
    path = str(ROOT / "models" / "digits_mlp.yaml")
    assert_located(rc, err, path, 14, "layers[1]", "fp32", "tpu_v1", "--precision int8")
    assert stdout == ""
    assert not out.exists()
    assert not rep.exists()
    assert list(tmp_path.iterdir()) == []  # no scratch files left either


def test_model_unmappable_layer_custom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hw = write(tmp_path, "hw.yaml", HW)
    model = write(tmp_path, "model.yaml", MODEL)
    rc, _, err = run(["estimate", model, "--hw", hw, "--precision", "fp16"], capsys)
    assert_located(rc, err, model, 5, "layers[0]", "fp16", "no peak")


# ------------------------------------------------------------------------ blocks


def test_block_missing_required_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 15, "    args: {k: 1}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 15, "layers[0].args.c", "needs parameter 'c'")


def test_block_missing_args_entirely(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 17, "    name: second")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 16, "layers[1].args.c", "needs parameter 'c'")


def test_block_unknown_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 15, "    args: {c: 8, kk: 1}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 15, "layers[0].args.kk", "has no parameter 'kk'", "'k'")


def test_block_unknown_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 16, "  - block: cbb")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 16, "layers[1].block", "unknown block 'cbb'", "did you mean 'cb'")


def test_block_wrong_type_inside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 11, "        padding: [1, 2, 3]")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 11, "blocks.cb.layers[0].padding", "[1, 2, 3]")


def test_block_bad_expression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 9, '        out_channels: "${c +}"')
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 9, "blocks.cb.layers[0].out_channels", "invalid expression")


def test_block_unknown_parameter_in_expression(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 10, "        kernel: $kernel")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 10, "blocks.cb.layers[0].kernel", "unknown parameter 'kernel'")


def test_block_argument_of_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 17, "    args: {c: sixteen, k: 1}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 9, "blocks.cb.layers[0].out_channels", "'sixteen'")


def test_block_calls_itself(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 12, "      - {block: cb, args: {c: $c}}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 12, "blocks.cb.layers[1].block", "nest deeper")


# ------------------------------------------------------------------------ hardware YAML errors


def test_hw_unknown_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 1, "kind: rooflin")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 1, "kind", "unknown hardware kind 'rooflin'", "did you mean 'roofline'")


def test_hw_missing_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 1, "# no kind")  # the mapping now starts on line 2
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 2, "kind", "missing required field 'kind'")


def test_hw_missing_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "\n".join(HW.splitlines()[:6]) + "\n"  # no memories
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 1, "memories", "missing required list 'memories'")
    text = "\n".join(HW.splitlines()[:4] + ["#", "#"] + HW.splitlines()[6:]) + "\n"
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 1, "peak", "missing required section 'peak'")


def test_hw_missing_field_in_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 11, "  - energy_per_byte: 1 pJ")  # memories[1] has no name
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 11, "memories[1].name", "missing required field 'memories[1].name'")


def test_hw_yaml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 9, "    type: lpddr: x")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_one_line_error(rc, err, f"{path}:9: ", "YAML syntax error")


def test_hw_duplicate_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 3, "frequency: 500 MHz\nfrequency: 600 MHz")  # the second is line 4
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 4, "frequency", "appears twice")
    text = replace_line(HW, 12, "    type: sram\n    type: sram")  # the second is line 13
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 13, "memories[1].type", "appears twice")


def test_hw_unknown_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 10, "    bandwith: 500 MB/s")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 10, "memories[0].bandwith", "unknown field", "did you mean 'bandwidth'")


def test_hw_unknown_top_level_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 3, "frequncy: 500 MHz")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    # 'frequency' is now missing: the error points at the likely misspelling
    assert_located(rc, err, path, 3, "frequncy", "missing required field 'frequency'")
    text = replace_line(HW, 3, "clock: 500 MHz")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 1, "frequency", "missing required field 'frequency'")


def test_hw_wrong_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 14, "    bandwidth: [1, 2]")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 14, "memories[1].bandwidth", "expected a quantity")


def test_hw_wrong_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 3, "frequency: 500 MB")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 3, "frequency", "'500 MB'")


def test_hw_negative_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 13, "    size: -8 MiB")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 13, "memories[1].size", "positive")


def test_hw_unknown_memory_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 9, "    type: lpdr")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 9, "memories[0].type", "did you mean 'lpddr'")


def test_hw_unknown_precision_in_peak(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 6, "  int7: 4 TOPS")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 6, "peak.int7", "unknown precision 'int7'")


def test_hw_memory_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = HW.splitlines()
    text = "\n".join(lines[:10] + ["  - sram"]) + "\n"  # line 11
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 11, "memories[1]", "expected a mapping")


def test_hw_technology_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(HW, 4, "technology: {node: 3 nm}")
    rc, _, err, path = estimate_hw(tmp_path, capsys, text)
    assert_located(rc, err, path, 4, "technology.node", "outside")


def test_hw_not_a_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err, path = estimate_hw(tmp_path, capsys, "roofline\n")
    assert_one_line_error(rc, err, f"{path}:1: ", "mapping")


def test_hw_wrong_suffix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "hw.txt", HW)
    rc, _, err = run(["estimate", "digits_cnn", "--hw", path], capsys)
    assert_one_line_error(rc, err, path, ".txt")


# ------------------------------------------------------------------------ regressions
# Inputs that once escaped as OverflowError, TypeError, ValueError or MemoryError, or hung.

HUGE = "9" * 400


@pytest.mark.parametrize("line,new,field", [
    (7, "    kernel: !!float 3x", "layers[0].kernel"),                  # a tag its value cannot take
    (3, "  x: {shape: [1, !!int 3x, 8, 8], dtype: fp32}", "inputs.x.shape[1]"),
    (8, "  - {op: batchnorm, eps: " + HUGE + "}", "layers[1].eps"),  # int too large for a float
    (8, "  - {op: scale, factor: !!float 1e400}", "layers[1].factor"),  # inf
    (8, "  - {op: relu, 3: x}", "layers[1].3"),                       # a non-string key
    (8, "  - {op: relu, repeat: " + HUGE + "}", "layers[1].repeat"),  # used to hang
    (7, "    kernel: '${int(1e400)}'", "layers[0].kernel"),
    (7, "    kernel: '${round(5, -10**18)}'", "layers[0].kernel"),       # used to hang
    (7, "    kernel: '${\"ab\" * 2**60}'", "layers[0].kernel"),        # MemoryError
    (7, "    kernel: '${(9**64)**64}'", "layers[0].kernel"),
    (3, "  x: {shape: [1, 3, " + HUGE + ", 8], dtype: fp32}", "inputs.x"),
])
def test_model_value_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: int,
                                  new: str, field: str) -> None:
    rc, _, err, path = estimate_model(tmp_path, capsys, replace_line(MODEL, line, new))
    assert_located(rc, err, path, line, field)


def test_model_tensor_too_large(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(MODEL, 6, "    out_channels: " + "9" * 30)
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 5, "layers[0]", "2**62 elements")  # a shape error: the layer's line


def test_model_top_level_scalar_with_bad_tag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err, path = estimate_model(tmp_path, capsys, "!!int abc\n")
    assert_one_line_error(rc, err, f"{path}:1: ", "invalid value")


def test_model_many_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 16, "  - block: cb\n    repeat: 60000")  # 2 layers each
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_one_line_error(rc, err, f"{path}:", "more than 100,000 layers")


def test_block_parameter_name_not_a_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = replace_line(BLOCK_MODEL, 6, "    params: {c: null, 0: 3}")
    rc, _, err, path = estimate_model(tmp_path, capsys, text)
    assert_located(rc, err, path, 6, "blocks.cb.params.0", "parameter name")


@pytest.mark.parametrize("line,new,field", [
    (3, "frequency: " + HUGE, "frequency"),                          # int too large for a float
    (6, "  int8: " + HUGE, "peak.int8"),
    (4, "technology: {node: 28 nm, vdd: 1e300 V}", "technology.vdd"),  # energies overflow
])
def test_hw_value_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: int,
                               new: str, field: str) -> None:
    rc, _, err, path = estimate_hw(tmp_path, capsys, replace_line(HW, line, new))
    assert_located(rc, err, path, line, field)


@pytest.mark.parametrize("line,new,field,hint", [
    (3, "frequency: 1", "frequency", "frequency: 1 GHz"),
    (10, "    bandwidth: 500", "memories[0].bandwidth", "bandwidth: 500 GB/s"),
    (13, "    size: '8'", "memories[1].size", "size: 8 KiB"),
])
def test_hw_bare_number_needs_a_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: int,
                                     new: str, field: str, hint: str) -> None:
    rc, _, err, path = estimate_hw(tmp_path, capsys, replace_line(HW, line, new))
    assert_located(rc, err, path, line, field, "has no unit", f"e.g. {hint}")


def test_hw_unit_of_another_kind_reads_as_english(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err, path = estimate_hw(tmp_path, capsys, replace_line(HW, 10, "    bandwidth: 500 MB"))
    assert_located(rc, err, path, 10, "memories[0].bandwidth",
                   "'500 MB' is a size in bytes, but a bandwidth is needed here, like '34 GB/s'")


@pytest.mark.parametrize("line,new,field,shown", [
    (10, "    bandwidth: 1e-320 B/s", "memories[0].bandwidth", "(1 B/s to 1e+18 B/s)"),  # traffic / bandwidth: inf
    (6, "  int8: 1e-320 OPS", "peak.int8", "(1 op/s to 1e+24 op/s)"),                     # macs / peak: inf
    (3, "frequency: 1e300 Hz", "frequency", "(1000 Hz to 1e+12 Hz)"),                    # cycles: inf
    (3, "frequency: 1e-300 Hz", "frequency", "(1000 Hz to 1e+12 Hz)"),
])
def test_hw_values_beyond_their_physical_range(tmp_path: Path, capsys: pytest.CaptureFixture[str], line: int,
                                               new: str, field: str, shown: str) -> None:
    # values whose costs would overflow are refused at the field, before any costing
    rc, _, err, hw = estimate_hw(tmp_path, capsys, replace_line(HW, line, new))
    assert_located(rc, err, hw, line, field, "is outside the range of", shown)


# ------------------------------------------------------------------------ no partial output


def test_failed_run_writes_no_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "out.json"
    text = replace_line(MODEL, 7, "    kernel: three")
    rc, stdout, err, path = estimate_model(tmp_path, capsys, text, "--json", "-o", str(out))
    assert_located(rc, err, path, 7, "layers[0].kernel")
    assert stdout == ""
    assert not out.exists()


def test_failed_run_writes_no_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rep = tmp_path / "rep"
    text = replace_line(HW, 13, "    size: -8 MiB")
    rc, stdout, err, path = estimate_hw(tmp_path, capsys, text, "--report", str(rep))
    assert_located(rc, err, path, 13, "memories[1].size")
    assert stdout == ""
    assert not rep.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hw.yaml"]


def test_failed_inspect_writes_no_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.txt"
    model = write(tmp_path, "model.yaml", replace_line(MODEL, 8, "  - op: relux"))
    rc, stdout, err = run(["inspect", model, "-o", out], capsys)
    assert_located(rc, err, model, 8, "layers[1].op")
    assert stdout == "" and not out.exists()


def test_unwritable_output_leaves_no_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, rep = tmp_path / "a_folder", tmp_path / "rep"
    out.mkdir()  # -o names a folder: the write fails after the estimate succeeded
    rc, stdout, err = run(["estimate", "digits_cnn", "--hw", "edge_npu", "-o", out, "--report", rep], capsys)
    assert_one_line_error(rc, err, f"accelsim: error: {out}: ", "cannot write")
    assert stdout == "" and not rep.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]
    assert list(out.iterdir()) == []


def test_unwritable_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = tmp_path / "out.json"
    rc, _, err = run(["estimate", "digits_cnn", "--hw", "edge_npu", "--report", blocker, "-o", out], capsys)
    assert_one_line_error(rc, err, f"accelsim: error: {blocker}: ", "exists and is not a folder")
    assert not out.exists() and blocker.read_text() == "x"
    inside = blocker / "rep"  # a folder that cannot be made: found when the report is written
    rc, _, err = run(["estimate", "digits_cnn", "--hw", "edge_npu", "--report", inside, "-o", out], capsys)
    assert_one_line_error(rc, err, f"accelsim: error: {inside}: ", "cannot write the report")
    assert not out.exists() and blocker.read_text() == "x"


# ------------------------------------------------------------------------ command line


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    rc, _, err = run(["estimate", missing, "--hw", "edge_npu"], capsys)
    assert_one_line_error(rc, err, f"accelsim: error: {missing}: ", "file not found")


def test_missing_hw_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    rc, _, err = run(["estimate", "digits_cnn", "--hw", missing], capsys)
    assert_one_line_error(rc, err, f"accelsim: error: {missing}: ", "file not found")


def test_unknown_zoo_name(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(["estimate", "resnet5", "--hw", "edge_npu"], capsys)
    assert_one_line_error(rc, err, "resnet5", "did you mean 'resnet50'")


def test_unknown_bundled_hardware(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(["estimate", "digits_cnn", "--hw", "tpu_v2"], capsys)
    assert_one_line_error(rc, err, "tpu_v2", "did you mean 'tpu_v1'")


def test_bad_batch(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("0", "-3", "two"):
        rc, out, err = run(["estimate", "digits_cnn", "--hw", "edge_npu", "--batch", bad], capsys)
        assert_one_line_error(rc, err, "--batch", repr(bad))
        assert out == ""


def test_json_and_csv_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(["estimate", "digits_cnn", "--hw", "edge_npu", "--json", "--csv"], capsys)
    assert_one_line_error(rc, err, "--json and --csv")


def test_missing_required_option(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(["estimate", "digits_cnn"], capsys)
    assert_one_line_error(rc, err, "--hw")


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(["estimat", "digits_cnn"], capsys)
    assert_one_line_error(rc, err, "estimat")


def test_unknown_precision(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["estimate", "digits_cnn", "--hw", "edge_npu"], ["inspect", "digits_cnn"]):
        rc, out, err = run([*command, "--precision", "int7"], capsys)
        assert_one_line_error(rc, err, "precision: ", "'int7'", "did you mean")
        assert out == ""


def test_debug_reraises(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = write(tmp_path, "model.yaml", replace_line(MODEL, 7, "    kernel: three"))
    with pytest.raises(SpecError) as info:
        main(["--debug", "estimate", model, "--hw", "edge_npu"])
    assert (info.value.file, info.value.line, info.value.field) == (model, 7, "layers[0].kernel")
    with pytest.raises(MappingError):
        main(["estimate", "digits_mlp", "--hw", "tpu_v1", "--precision", "fp32", "--debug"])
    with pytest.raises(AccelsimError):
        main(["--debug", "estimate", "resnet5", "--hw", "edge_npu"])


# ------------------------------------------------------------------------ the happy path


def test_estimate_writes_output_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, rep = tmp_path / "out.json", tmp_path / "rep"
    rc, stdout, err = run(["estimate", "digits_cnn", "--hw", "edge_npu", "--json",
                           "-o", out, "--report", rep], capsys)
    assert (rc, stdout, err) == (0, "", "")
    data = json.loads(out.read_text())
    assert data["model"] == "digits_cnn" and data["hardware"] == "edge_npu"
    assert (rep / "index.html").is_file()
    for name in ("latency.png", "energy.png", "roofline.png"):
        png = rep / name
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert name in (rep / "index.html").read_text()
    hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert hidden == []  # no scratch files left behind


def test_estimate_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["estimate", "digits_cnn", "--hw", "edge_npu", "--json"], capsys)
    assert (rc, err) == (0, "")
    data = json.loads(out)
    assert {"model", "hardware", "totals", "layers"} <= set(data)
    totals = data["totals"]
    for key in ("macs", "params", "cycles", "latency_s", "energy_j", "throughput_per_s"):
        assert key in totals, key
    assert totals["macs"] == 23_680 and totals["params"] == 1_898
    assert totals["latency_s"] > 0 and totals["energy_j"] > 0 and totals["throughput_per_s"] > 0
    assert [layer["name"] for layer in data["layers"]][0] == "block1.conv"
    assert sum(layer["macs"] for layer in data["layers"]) == totals["macs"]


def test_estimate_csv(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["estimate", "digits_cnn", "--hw", "edge_npu", "--csv"], capsys)
    assert (rc, err) == (0, "")
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) >= 3
    assert any(row and row[0] == "TOTAL" for row in rows)


def test_estimate_table(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["estimate", "digits_cnn", "--hw", "edge_npu"], capsys)
    assert (rc, err) == (0, "")
    assert "TOTAL" in out and "block1.conv" in out


def test_list_commands(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["models"], capsys)
    assert (rc, err) == (0, "") and "resnet18" in out and "digits_cnn" in out
    rc, out, err = run(["hw"], capsys)
    assert (rc, err) == (0, "") and "edge_npu" in out and "tpu_v1" in out


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["inspect", "resnet18", "--json"], capsys)
    assert (rc, err) == (0, "")
    data = json.loads(out)
    assert data["model"] == "resnet18"
    assert data["inputs"]["image"]["shape"] == [1, 3, 224, 224]
    assert abs(data["totals"]["macs"] - 1_819_066_000) / 1_819_066_000 < 0.01
    assert data["layers"][-1]["name"] == "fc"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(["--version"], capsys)
    assert rc == 0
    assert out.startswith("accelsim ")


def test_json_result_is_strict_with_one_layer_record_per_line(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Layers each on one line (diffable, C-encoded); the whole parses as strict JSON."""
    rc, out, err, _ = estimate_model(tmp_path, capsys, MODEL, "--json")
    assert (rc, err) == (0, "")
    data = json.loads(out, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    lines = out.splitlines()
    for layer in data["layers"]:
        (line,) = [l for l in lines if l.lstrip().startswith('{"name": ' + json.dumps(layer["name"]))]
        assert json.loads(line.rstrip(",")) == layer
