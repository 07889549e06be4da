"""The progress bar: drawn on a terminal only, after its delay, never into ``--json`` output."""

from __future__ import annotations

import io
import json

import pytest

from accelsim.cli import main
from accelsim.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_counts_layers_and_erases_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ProgressBar, "HEARTBEAT", 3600.0)  # only the updates draw here
    stream = Terminal()
    with ProgressBar(stream=stream, delay=0.0, width=10) as bar:
        bar.update(1, 4)
        assert stream.getvalue() == "\r[##--------] 1/4 layers"
        bar.update(4, 4)
        assert stream.getvalue().endswith("\r[##########] 4/4 layers")
    assert stream.getvalue().endswith("\r")
    assert stream.getvalue().rsplit("\r", 2)[-2].strip() == ""  # the line is blanked


def test_no_bar_on_a_pipe_or_before_the_delay() -> None:
    pipe = io.StringIO()
    with ProgressBar(stream=pipe, delay=0.0) as bar:
        bar.update(1, 2)
    assert pipe.getvalue() == ""
    terminal = Terminal()
    with ProgressBar(stream=terminal, delay=3600.0) as bar:
        bar.update(1, 2)
    assert terminal.getvalue() == ""


@pytest.mark.parametrize("flags, drawn", [((), True), (("--json",), False), (("--quiet",), False)])
def test_estimate_draws_on_a_terminal_unless_json_or_quiet(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str], flags: tuple,
                                                           drawn: bool) -> None:
    monkeypatch.setattr(ProgressBar, "DELAY", 0.0)
    with capsys.disabled():
        err = Terminal()
        monkeypatch.setattr("sys.stderr", err)
        out = io.StringIO()
        monkeypatch.setattr("sys.stdout", out)
        assert main(["estimate", "digits_cnn", "--hw", "tpu_v1", *flags]) == 0
    assert ("layers" in err.getvalue()) == drawn, err.getvalue()
    if "--json" in flags:
        json.loads(out.getvalue())  # the whole of stdout is the JSON object


def test_the_heartbeat_shows_a_run_before_its_first_layer_is_done() -> None:
    # a first run can spend seconds inside one layer (kernels compiling): the heartbeat
    # draws the bar with the time spent before any update, and the update overwrites it
    stream = Terminal()
    bar = ProgressBar(stream=stream, delay=0.0, width=4)
    bar.heartbeat()
    assert stream.getvalue().startswith("\r[----] 0/? layers (")
    assert stream.getvalue().endswith(" s)")
    bar.update(1, 2)
    line = stream.getvalue().rsplit("\r", 1)[-1]
    assert line.rstrip() == "[##--] 1/2 layers" and len(line) >= len("[----] 0/? layers (0 s)")
