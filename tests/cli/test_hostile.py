"""Hostile input: files built to exhaust time or memory end quickly with exit status 2 and
one line naming the file (and line), as any bad input does. Each case runs as its own
process with a generous timeout: the bound tests "does not hang", it is not a benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
