"""The command line run in process, as the CLI tests drive it."""

from __future__ import annotations

from typing import Callable, Sequence

import pytest

from accelsim.cli import main

RunCli = Callable[[Sequence[object]], tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``cli(argv)`` runs ``accelsim argv`` and returns (exit status, stdout, stderr); an
    argparse usage error, which exits from inside ``parse_args``, gives its status too."""

    def run(argv: Sequence[object]) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:
            rc = exc.code
        out, err = capsys.readouterr()
        return rc, out, err

    return run
