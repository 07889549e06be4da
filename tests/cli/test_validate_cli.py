"""``accelsim validate``: the summary counts checks and skipped cases, and a skipped case's
reason is printed under the table, not in its status column."""

from __future__ import annotations

import json

import pytest

from accelsim.cli import main
from accelsim.validation import CASES, Check, Skipped, ValidationCase


def _absent() -> list[Check]:
    raise Skipped("reference outputs not found at ref/absent")


def _present() -> list[Check]:
    return [Check("demo.present", "cycles", 10.0, 10.0, 0.0, "hand count"),
            Check("demo.present", "bytes", 11.0, 10.0, 0.05, "hand count")]


@pytest.fixture
def cases():
    with CASES.temporarily("demo.absent", ValidationCase("demo.absent", "data not here", _absent)), \
         CASES.temporarily("demo.present", ValidationCase("demo.present", "two checks", _present)):
        yield


def test_summary_counts_skipped_cases(cases, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "demo.absent", "demo.present"]) == 1  # one check fails
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith("demo.")}
    assert rows["demo.absent"][-1] == "skipped"
    assert "reference outputs" not in " ".join(rows["demo.absent"])
    summary = out[out.index("checks within tolerance") - len("1 of 2 "):]
    assert summary.splitlines() == [
        "1 of 2 checks within tolerance; 1 case skipped:",
        "  demo.absent: reference outputs not found at ref/absent",
    ]


def test_json_counts_skipped_cases(cases, capsys: pytest.CaptureFixture[str]) -> None:
    main(["validate", "demo.absent", "demo.present", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert (data["failed"], data["skipped"]) == (1, 1)
    assert {"case": "demo.absent", "skipped": "reference outputs not found at ref/absent"} in data["checks"]
