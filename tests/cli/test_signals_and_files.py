"""Signals, full disks and the user's own files: SIGTERM ends a run like Ctrl-C, temporaries
are recognisable and a later run removes those a killed run left, a full disk or a closed
pipe is one error line, and no run overwrites its own inputs or writes a report into a file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accelsim import fileio
from accelsim.cli import Terminated

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from accelsim.cli import _run; _run()"]


def run(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300, **kw)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("accelsim: error: "), done.stderr
    return lines[0]


def test_sigterm_ends_a_run_like_ctrl_c(tmp_path: Path) -> None:
    # a cold mapping search of a whole network, one layer after another: seconds at least
    proc = subprocess.Popen([*CLI, "estimate", "resnet50", "--hw", "eyeriss", "--no-cache", "--jobs", "1",
                             "--report", "rep", "-o", "out.json", "--json"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, ACCELSIM_CACHE_DIR=str(tmp_path / "cache")))
    time.sleep(1.5)  # let it get going (not a timing assertion)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "accelsim: terminated" and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == []


def test_an_interrupted_write_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def stopped(*args: object) -> None:
        raise Terminated()
    monkeypatch.setattr(fileio.os, "replace", stopped)
    with pytest.raises(Terminated):
        fileio.write_atomic(tmp_path / "out.json", "{}")
    with pytest.raises(Terminated):
        with fileio.atomic_dir(tmp_path / "rep") as scratch:
            (scratch / "index.html").write_text("x")
    assert list(tmp_path.iterdir()) == []


def test_a_later_run_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    # temporaries carry their process id; one whose process is gone is stale
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale_file = tmp_path / f".out.json.accelsim-{dead}-x1"
    stale_dir = tmp_path / f".rep.accelsim-{dead}-x2"
    live = tmp_path / f".out.json.accelsim-{os.getpid()}-x3"  # this test's process is alive
    stale_file.write_text("partial")
    stale_dir.mkdir()
    live.write_text("in use")
    done = run("estimate", "digits_cnn", "--hw", "tpu_v1", "--json", "-o", "out.json", "--report", "rep",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "out.json", "rep"])


def test_a_full_disk_on_stdout_is_one_error_line(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        done = subprocess.run([*CLI, "estimate", "digits_cnn", "--hw", "tpu_v1", "--json"], cwd=tmp_path,
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip() == "accelsim: error: cannot write the results to standard output: " \
                                  "No space left on device"


def test_a_closed_pipe_is_one_error_line(tmp_path: Path) -> None:
    proc = subprocess.Popen([*CLI, "inspect", "gpt2_small", "--json"], cwd=tmp_path,  # about 90 KB
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout.read(100)  # at most 100 bytes: the rest cannot fit the pipe
    proc.stdout.close()  # like `| head -c 100`
    err = proc.stderr.read().decode()
    if proc.wait(timeout=300) == 0 and not err:
        pytest.skip("this system's pipes accepted writes after the reader closed (no EPIPE)")
    assert proc.returncode == 2
    assert err.strip() == "accelsim: error: cannot write the results to standard output: Broken pipe"


def test_a_write_error_on_stdout_is_one_error_line_in_process(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from accelsim.cli import main

    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            pass

        def fileno(self) -> int:
            raise ValueError("no descriptor")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["estimate", "digits_cnn", "--hw", "tpu_v1", "--json"]) == 2
    assert capsys.readouterr().err == "accelsim: error: cannot write the results to standard output: Broken pipe\n"


@pytest.mark.parametrize("command", [
    ["estimate", "m.yaml", "--hw", "tpu_v1", "--precision", "int8", "-o", "m.yaml"],
    ["estimate", "digits_cnn", "--hw", "h.yaml", "-o", "./h.yaml"],
    ["inspect", "m.yaml", "-o", "m.yaml"],
])
def test_output_onto_an_input_is_refused_before_writing(tmp_path: Path, command: list[str]) -> None:
    model = (ROOT / "examples" / "tiny_segnet.yaml").read_text()
    hw = (ROOT / "examples" / "hw" / "roofline.yaml").read_text()
    (tmp_path / "m.yaml").write_text(model)
    (tmp_path / "h.yaml").write_text(hw)
    line = one_error_line(run(*command, cwd=tmp_path))
    assert "would overwrite one of this run's input files" in line
    assert (tmp_path / "m.yaml").read_text() == model and (tmp_path / "h.yaml").read_text() == hw


def test_a_report_onto_a_file_is_refused_before_plotting(tmp_path: Path) -> None:
    (tmp_path / "rep").write_text("mine")
    line = one_error_line(run("estimate", "digits_cnn", "--hw", "tpu_v1", "--report", "rep", cwd=tmp_path))
    assert line == "accelsim: error: rep: exists and is not a folder; a report is written into a folder"
    assert (tmp_path / "rep").read_text() == "mine"


def test_a_successful_report_run_prints_no_warnings(tmp_path: Path) -> None:
    done = run("estimate", "mobilenet_v2", "--hw", "edge_npu", "--report", "rep", "--json", cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert (tmp_path / "rep" / "index.html").is_file()
