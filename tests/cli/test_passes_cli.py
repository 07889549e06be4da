"""``--passes`` on the command line: graph passes run before costing, converting or inspecting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accelsim.cli import main


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_fuse_before_estimating(capsys: pytest.CaptureFixture[str]) -> None:
    plain = _json(["estimate", "resnet18", "--hw", "tpu_v1"], capsys)
    fused = _json(["estimate", "resnet18", "--hw", "tpu_v1", "--passes", "fuse"], capsys)
    ops = [layer["op"] for layer in plain["layers"]]
    # ResNet-18: 20 convolutions, each followed by a batchnorm; 17 ReLUs (after the stem, after
    # the first convolution of each of the 8 blocks, and after each block's add).
    assert (ops.count("conv2d"), ops.count("batchnorm"), ops.count("relu")) == (20, 20, 17)
    assert len(fused["layers"]) == len(plain["layers"]) - 20 - 17
    assert {layer["op"] for layer in fused["layers"]}.isdisjoint({"batchnorm", "relu"})
    assert fused["totals"]["macs"] == plain["totals"]["macs"]
    assert fused["totals"]["latency_s"] < plain["totals"]["latency_s"]


def test_fuse_before_converting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "fused.yaml"
    assert main(["convert", "resnet18", "--passes", "fuse", "-o", str(out)]) == 0
    capsys.readouterr()
    again = _json(["inspect", str(out)], capsys)
    fused = _json(["inspect", "resnet18", "--passes", "fuse"], capsys)
    assert again == {**fused, "model": again["model"]}


@pytest.mark.parametrize("value, fragment", [("fuze", "unknown pass 'fuze'; did you mean 'fuse'?"),
                                             ("fuse,", "expected names separated by commas")])
def test_a_bad_pass_list_is_one_line(capsys: pytest.CaptureFixture[str], value: str, fragment: str) -> None:
    try:
        status = main(["estimate", "resnet18", "--hw", "tpu_v1", "--passes", value])
    except SystemExit as exc:  # argparse's own check of the flag's value
        status = exc.code
    assert status == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and fragment in err, err
