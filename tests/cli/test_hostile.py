"""Hostile input: files built to exhaust time or memory end quickly with exit status 2 and
one line naming the file (and line), as any bad input does. Each case runs as its own
process with a generous timeout: the bound tests "does not hang", it is not a benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from accelsim.errors import MAX_MESSAGE
from accelsim.yamlread import MAX_FILE_BYTES

TIMEOUT = 120


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "import sys; from accelsim.cli import _run; _run()", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("accelsim: error: "), done.stderr
    assert done.stdout == ""
    return lines[0]


def billion_laughs(levels: int = 9) -> str:
    """Each anchor lists the previous one ten times: 10**levels nodes once expanded."""
    text = 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n'
    for i in range(1, levels):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
    return text


def test_a_yaml_bomb_is_refused_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text("name: bomb\n" + billion_laughs() + "inputs: *a8\n")
    line = one_error_line(run("inspect", "bomb.yaml", cwd=tmp_path))
    # a0 expands to 11 nodes, a_i to 10 * a_(i-1) + 1: a6 (11,111,111, line 8) is the first
    # past 2,000,000
    assert line.startswith("accelsim: error: bomb.yaml:8: aliases expand") and "2,000,000" in line


def test_a_yaml_bomb_in_a_hardware_file_too(tmp_path: Path) -> None:
    (tmp_path / "hw.yaml").write_text("kind: roofline\n" + billion_laughs())
    line = one_error_line(run("estimate", "digits_cnn", "--hw", "hw.yaml", cwd=tmp_path))
    assert "hw.yaml:" in line and "aliases expand" in line


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:  # sparse: no need to write the bytes
        f.truncate(MAX_FILE_BYTES + 1)
    line = one_error_line(run("inspect", "big.yaml", cwd=tmp_path))
    assert "big.yaml: file is larger than 32 MiB" in line


def test_an_error_quoting_a_huge_value_stays_one_short_line(tmp_path: Path) -> None:
    name = "x" * 200_000
    (tmp_path / "m.yaml").write_text(f"name: m\ninputs:\n  x: {{shape: [1, 4], dtype: fp32}}\n"
                                     f"layers:\n  - op: {name}\n")
    line = one_error_line(run("inspect", "m.yaml", cwd=tmp_path))
    assert line.startswith("accelsim: error: m.yaml:5:") and "more characters)" in line
    assert len(line) < MAX_MESSAGE + 400


def _strict(text: str) -> object:
    import json

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_is_strict_at_the_edges_of_every_range(tmp_path: Path) -> None:
    # the slowest clock, the thinnest link and the weakest peak accelsim accepts: every figure
    # is still a finite number, and the output parses with a strict JSON parser
    (tmp_path / "edge.yaml").write_text(
        "kind: roofline\nfrequency: 1 kHz\npeak: {fp32: 1 OPS}\n"
        "memories:\n  - {name: dram, type: ddr, bandwidth: 1 B/s}\n  - {name: sram, size: 1 B}\n")
    for hw in ("edge.yaml", "tpu_v1"):
        done = run("estimate", "resnet50", "--hw", hw, "--batch", "64", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        data = _strict(done.stdout)
        assert data["totals"]["latency_s"] > 0


def test_a_non_finite_figure_is_an_error_naming_layer_and_figure() -> None:
    import pytest

    from accelsim.errors import MappingError
    from accelsim.estimation import Estimate, check_finite
    from accelsim.hw import LayerCost

    cost = LayerCost(name="conv1", op="conv2d", macs=1, latency_s=float("inf"))
    est = Estimate(model="m", hardware="h", kind="null", batch=1, precision="int8", frequency_hz=1e9,
                   layers=(cost,), shapes=((1,),))
    with pytest.raises(MappingError, match=r"layer 'conv1': latency_s is inf on h; a value in h.yaml") as info:
        check_finite(est, "h.yaml")
    assert info.value.file == "h.yaml"


MODEL_HEAD = "name: m\ninputs:\n  x: {shape: [1, 4], dtype: fp32}\nlayers:\n"


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_bytes(MODEL_HEAD.encode() + b'  - {op: relu, name: "\xff"}\n')
    assert one_error_line(run("inspect", "m.yaml", cwd=tmp_path)) == \
        "accelsim: error: m.yaml:5: byte 0xff is not UTF-8 text (save the file as UTF-8)"


def test_a_nul_byte_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_bytes(MODEL_HEAD.encode() + b'  - {op: relu, name: "a\x00b"}\n')
    assert one_error_line(run("inspect", "m.yaml", cwd=tmp_path)) == \
        "accelsim: error: m.yaml:5: control character U+0000 is not allowed in YAML"


def test_nesting_too_deep_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("name: m\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    line = one_error_line(run("inspect", "m.yaml", cwd=tmp_path))
    assert line.startswith("accelsim: error: m.yaml:2: ") and "nesting" in line


def test_a_key_may_override_what_a_merge_brought_in(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MODEL_HEAD + "  - &r {op: relu, name: r1}\n  - {<<: *r, name: r2}\n")
    done = run("inspect", "m.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "r1" in done.stdout and "r2" in done.stdout
    (tmp_path / "d.yaml").write_text(MODEL_HEAD + "  - {op: relu, name: r1, name: r2}\n")
    assert "key 'name' appears twice" in one_error_line(run("inspect", "d.yaml", cwd=tmp_path))


def test_an_unmappable_layer_names_model_line_and_hardware_file(tmp_path: Path) -> None:
    line = one_error_line(run("estimate", "digits_cnn", "--hw", "tpu_v1", "--precision", "fp16", cwd=tmp_path))
    assert "digits_cnn.yaml:19: blocks.conv_pool.layers[0]: layer 'block1.conv'" in line
    assert line.endswith("tpu_v1.yaml)") and "(hardware: " in line


def test_name_and_description_must_be_text(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("name: [x]\n" + MODEL_HEAD.split("\n", 1)[1] + "  - {op: relu}\n")
    assert one_error_line(run("inspect", "m.yaml", cwd=tmp_path)) == \
        "accelsim: error: m.yaml:1: name: expected a string, got ['x']"
    (tmp_path / "h.yaml").write_text("kind: roofline\ndescription: {a: 1}\nfrequency: 1 GHz\npeak: {int8: 1 TOPS}\n"
                                     "memories:\n  - {name: dram, bandwidth: 1 GB/s}\n")
    line = one_error_line(run("estimate", "digits_cnn", "--hw", "h.yaml", cwd=tmp_path))
    assert line.startswith("accelsim: error: h.yaml:2: description: expected a string")


def test_counts_beyond_their_range_name_the_field(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    base = (root / "hw_configs" / "eyeriss.yaml").read_text()
    cases = [("words: 12,", "words: 100000000000000000000,", "words: must be at most 1,125,899,906,842,624"),
             ("    block: 4\n", "    block: 4\n    word_bits: 100000\n", "word_bits: must be at most 4,096")]
    for old, new, message in cases:
        assert old in base
        (tmp_path / "e.yaml").write_text(base.replace(old, new, 1))
        line = one_error_line(run("estimate", "digits_cnn", "--hw", "e.yaml", cwd=tmp_path))
        assert line.startswith("accelsim: error: e.yaml:") and message in line


def test_a_huge_batch_is_a_clean_error_or_a_quick_answer(tmp_path: Path) -> None:
    line = one_error_line(run("estimate", "resnet50", "--hw", "tpu_v1", "--batch", str(10**15), cwd=tmp_path))
    assert "has more than 2**62 elements" in line
    done = run("estimate", "digits_cnn", "--hw", "edge_npu", "--batch", str(10**12), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _strict(done.stdout)["batch"] == 10**12


def test_a_tiny_onnx_file_cannot_fold_gigabytes(tmp_path: Path) -> None:
    import numpy as np
    import pytest

    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    shape = numpy_helper.from_array(np.array([100_000, 100_000], np.int64), "shape")  # 10**10 zeros
    graph = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["big"], name="fill"),
         helper.make_node("Add", ["x", "big"], ["y"], name="add")],
        "bomb", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [100_000, 100_000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=[shape])
    path = tmp_path / "bomb.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert path.stat().st_size < 300
    line = one_error_line(run("inspect", "bomb.onnx", cwd=tmp_path))
    assert line.startswith("accelsim: error: bomb.onnx: ") and "fill" in line
    assert "would make a constant of 10,000,000,000 elements" in line


LIMIT_MODEL = MODEL_HEAD + "  - {op: relu, repeat: %d}\n"


def test_the_layer_limit_is_checked_before_building(tmp_path: Path) -> None:
    # one past the limit, and a block repeated so that it expands 101 x 1,000 layers: both
    # refused from the file's text, before any layer is built
    (tmp_path / "one.yaml").write_text(LIMIT_MODEL % 60_000 + "  - {op: relu, repeat: 40001}\n")
    (tmp_path / "nested.yaml").write_text(MODEL_HEAD.replace("layers:\n", "blocks:\n  b:\n    layers:\n"
                                                             "      - {op: relu, repeat: 1000}\nlayers:\n")
                                          + "  - {block: b, repeat: 101}\n")
    for name, line, field in (("one.yaml", 6, "layers[1]"), ("nested.yaml", 9, "layers[0]")):
        assert one_error_line(run("inspect", name, cwd=tmp_path)) == (
            f"accelsim: error: {name}:{line}: {field}: the model expands to more than 100,000 layers "
            "(check 'repeat')")


@pytest.mark.slow
def test_a_model_at_the_layer_limit_is_accepted(tmp_path: Path) -> None:
    # exactly the limit: 100,000 layers (graph inputs do not count)
    (tmp_path / "at.yaml").write_text(LIMIT_MODEL % 100_000)
    done = run("inspect", "at.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "relu_100000" in done.stdout


def test_a_weight_of_the_wrong_shape_names_its_field(tmp_path: Path) -> None:
    import numpy as np

    np.savez(tmp_path / "w.npz", **{"fc/weight": np.zeros((3, 4), np.float32)})
    (tmp_path / "m.yaml").write_text(MODEL_HEAD + "  - {name: fc, op: linear, out_features: 5}\nweights: w.npz\n")
    assert one_error_line(run("inspect", "m.yaml", cwd=tmp_path)) == (
        "accelsim: error: m.yaml:5: layers[0].weights.weight: weight 'weight' of layer 'fc' has shape [3, 4], "
        "expected [5, 4]")


def test_a_recursive_alias_is_refused_not_expanded(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(MODEL_HEAD + "  - &r {op: relu, extra: *r}\n")
    assert one_error_line(run("inspect", "m.yaml", cwd=tmp_path)) == \
        "accelsim: error: m.yaml:5: an alias refers to a node that contains it (a recursive structure)"
