"""Fuzzing the CLI with mutated model and hardware YAML: every failure must be a classified
error (exit status 2 and one ``accelsim: error:`` line on stderr), never an uncaught exception.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
# The structure only: the weights file it names lives beside the bundled copy, not the fuzzed one.
DIGITS_CNN = re.sub(r"^weights:.*\n", "", (ROOT / "models" / "digits_cnn.yaml").read_text(encoding="utf-8"),
                    flags=re.M)
EDGE_NPU = (ROOT / "hw_configs" / "edge_npu.yaml").read_text(encoding="utf-8")

# A small model with a parameterised block, expressions, `if`, `in` wiring and outputs.
BLOCK_MODEL = """\
name: fuzz_blocks
inputs:
  x: {shape: [1, 3, 16, 16], dtype: fp32}
blocks:
  unit:
    params: {c: null, s: 1, act: true}
    layers:
      - name: conv
        op: conv2d
        out_channels: $c
        kernel: 3
        stride: $s
        padding: 1
      - {name: bn, op: batchnorm}
      - {name: relu, op: relu, if: $act}
layers:
  - {block: unit, name: b1, args: {c: 8}, repeat: 2}
  - {block: unit, name: b2, args: {c: "${8 * 2}", s: 2, act: false}}
  - {name: skip, op: conv2d, in: b1, out_channels: 16, kernel: 1, stride: 2}
  - {name: sum, op: add, in: [b2, skip]}
  - {op: global_avgpool}
  - {op: flatten}
  - {name: fc, op: linear, out_features: 10}
outputs: [fc]
"""

# (which file is mutated, its text)
SEEDS = [("model", DIGITS_CNN), ("model", BLOCK_MODEL), ("hw", EDGE_NPU)]

# Replacement values of other types for `key: value` and for numbers.
OTHER_VALUES = [
    "foo", "''", "-3", "-1.5", "0", "[1, 2]", "[]", "{}", "{a: 1}", "null", "~", "true",
    "1e400", ".nan", "-.inf", "99999999999", "'$c'", "'${c / 0}'", "'${nope}'", "$", "[[1]]",
    "'-8 MiB'", "'500 MHz'", "fp7", "!!binary aGVsbG8=", "&a [1]", "*a", "2020-01-01",
    # values that once escaped as OverflowError / MemoryError
    "1e-320", "'1e-320 B/s'", "1" + "0" * 400, "!!float 1e400", "'${int(1e400)}'",
    "'${\"ab\" * 2**40}'", "'${round(5, -10**18)}'", "'${(9**64)**64}'", "{3: x}",
    # aliases and merge keys
    "&m {op: relu}", "{<<: *m}", "{<<: {op: relu}, op: tanh}", "{<<: [*a, *m]}", "[*a, *a, *a]", "*m",
    "{<<: 3}", "&a [*a]",
    # huge integers and extreme floats, bare and with units
    "9" * 30, "-" + "9" * 30, "1.7976931348623157e308", "5e-324", "-0.0", "2**62",
    "'1e308 GHz'", "'5e-324 pJ'", "'1e30 GB/s'", "'4611686018427387905 B'", "'1e-30 W'",
]
CHARS = list(":{}[],-#&*!|>'\"$ \t\n") + list("0a1-9xZ.")

VALUE = re.compile(r"(?<=: )[^,{}\[\]\n#]+")
NUMBER = re.compile(r"-?\b\d+(?:\.\d+)?\b")


def _mutate_once(data: st.DataObject, text: str) -> str:
    kind = data.draw(st.sampled_from(
        ["delete", "insert", "replace", "value", "number", "del_line", "dup_line", "indent"]))
    if not text:
        return data.draw(st.sampled_from(CHARS))
    lines = text.split("\n")
    if kind in ("delete", "insert", "replace"):
        pos = data.draw(st.integers(0, len(text) - 1))
        if kind == "delete":
            return text[:pos] + text[pos + 1:]
        char = data.draw(st.sampled_from(CHARS))
        return text[:pos] + char + text[pos + (kind == "replace"):]
    if kind in ("value", "number"):
        spans = [m.span() for m in (VALUE if kind == "value" else NUMBER).finditer(text)]
        if not spans:
            return text
        start, end = data.draw(st.sampled_from(spans))
        return text[:start] + data.draw(st.sampled_from(OTHER_VALUES)) + text[end:]
    index = data.draw(st.integers(0, len(lines) - 1))
    if kind == "del_line":
        del lines[index]
    elif kind == "dup_line":
        lines.insert(index, lines[index])
    else:
        change = data.draw(st.sampled_from([-4, -2, -1, 1, 2, 4]))
        line = lines[index]
        lines[index] = " " * change + line if change > 0 else line[min(-change, len(line) - len(line.lstrip(" "))):]
    return "\n".join(lines)


def _check(model: str, hw: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    try:
        rc = main(["estimate", model, "--hw", hw, "--json"])
    except SystemExit as exc:  # pragma: no cover - would be a bug as well
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc in (0, 2), (rc, err)
    if rc == 0:
        assert {"model", "hardware", "totals", "layers"} <= set(json.loads(out))
    else:
        assert "Traceback" not in err
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("accelsim: error:"), err
        assert out == ""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_mutated_yaml_fails_cleanly(seed: tuple[str, str], data: st.DataObject,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    which, text = seed
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        text = _mutate_once(data, text)
    with tempfile.TemporaryDirectory() as tmp:
        mutant = Path(tmp) / ("model.yaml" if which == "model" else "hw.yaml")
        mutant.write_text(text, encoding="utf-8")
        if which == "model":
            _check(str(mutant), "edge_npu", capsys)
        else:
            _check("digits_cnn", str(mutant), capsys)


@pytest.mark.parametrize("which,text", SEEDS)
def test_seeds_are_valid(which: str, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.yaml"
        path.write_text(text, encoding="utf-8")
        model, hw = (str(path), "edge_npu") if which == "model" else ("digits_cnn", str(path))
        assert main(["estimate", model, "--hw", hw, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["totals"]["macs"] > 0
