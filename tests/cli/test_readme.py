"""The README's commands and Python snippet run as written: every `accelsim` line of the
"Using it" block from the repository root (a copy of ``examples/`` in a scratch folder, so
their outputs land there), and the snippet from a folder that is not the checkout."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from accelsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# a cold mapping search of a whole network: minutes on the plain-Python kernels
SLOW_WITHOUT_NUMBA = ("--hw eyeriss", "my_npu.yaml", "accelsim validate")


def _block(after: str) -> str:
    start = README.index(after)
    fence = README.index("```", start)
    return README[fence + 3:README.index("```", fence + 3)]


def _commands() -> list[str]:
    lines = [line.split("  #")[0].strip() for line in _block("## Using it").splitlines()]
    return [line for line in lines if line.startswith("accelsim ")]


def test_the_block_is_found() -> None:
    assert len(_commands()) >= 10


@pytest.mark.parametrize("command", [
    pytest.param(c, marks=pytest.mark.numba) if any(s in c for s in SLOW_WITHOUT_NUMBA) else c
    for c in _commands()])
def test_readme_command_runs_as_written(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(command)[1:]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    for path in re.findall(r"(?:-o|--report|--scalesim-report) (\S+)", command):
        assert (tmp_path / path).exists(), path
    if "--json" in command:
        import json
        assert json.loads(out)["layers"]


def test_python_snippet_runs_from_another_folder(tmp_path: Path) -> None:
    code = _block("From Python:").removeprefix("python\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    estimate, step, run = (line.split() for line in done.stdout.splitlines())
    latency, throughput, energy = (float(v) for v in estimate)
    assert latency > 0 and throughput > 0 and energy > 0
    iteration, samples, memory = (float(v) for v in step)
    assert samples == 64 / iteration and memory > 0
    iteration, efficiency, time_to_train = (float(v) for v in run)
    assert 0 < efficiency <= 1
    # 90 epochs of ImageNet-1k at a global batch of 256 x 32 = 8,192: 157 iterations each
    assert time_to_train == pytest.approx(90 * 157 * iteration, rel=1e-6)
