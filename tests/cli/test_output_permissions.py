"""Files the CLI writes (``-o``, ``convert``, ``--report``) get the permissions any new file
gets under the user's umask (0644 under 022), not the owner-only mode of a temporary file."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest

from accelsim.cli import main


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_outputs_are_0644_under_umask_022(tmp_path: Path, umask_022: None,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "est.json", tmp_path / "report"
    assert main(["estimate", "digits_mlp", "--hw", "edge_npu", "--json", "-o", str(out),
                 "--report", str(report)]) == 0
    converted = tmp_path / "model.yaml"
    assert main(["convert", "digits_mlp", "-o", str(converted)]) == 0
    written = [out, converted, *(p for p in report.iterdir() if p.is_file())]
    assert len(written) > 2
    assert {p.name: mode(p) for p in written} == {p.name: 0o644 for p in written}
    # a file created with open() under the same umask, for comparison
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert mode(out) == mode(plain)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_umask_is_honoured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = os.umask(0o077)
    try:
        out = tmp_path / "est.json"
        assert main(["estimate", "digits_mlp", "--hw", "edge_npu", "--json", "-o", str(out)]) == 0
    finally:
        os.umask(old)
    assert mode(out) == 0o600
