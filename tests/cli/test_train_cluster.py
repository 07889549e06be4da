"""``accelsim train MODEL --hw CLUSTER``: the text, the JSON contract, the report folder and
the errors of the cluster flags (docs/distributed.md, docs/json-format.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest



def strict_json(text: str) -> dict:
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))


def test_json_holds_the_contract(cli) -> None:
    rc, out, err = cli(["train", "resnet50", "--hw", "p100_50gbe", "--batch", "32", "--data", "256", "--json"])
    assert rc == 0, err
    d = strict_json(out)
    assert d["devices"] == 256 and d["global_batch"] == 8192 and d["parallelism"]["data"] == 256
    for key in ("time_per_iteration_s", "samples_per_s", "scaling_efficiency", "time_to_train_s", "compute_s",
                "exposed_comm_s", "bubble_s", "straggler_wait_s"):
        assert isinstance(d[key], float) and d[key] >= 0, key
    assert set(d["comm_bytes"]) == {"intra_node", "inter_node"}
    assert d["large_batch"]["within_published_range"] is True


def test_text_shows_the_breakdown_and_the_summary(cli) -> None:
    rc, out, _ = cli(["train", "resnet50", "--hw", "p40_100gbe", "--batch", "128", "--pipeline", "2",
                      "--microbatches", "4"])
    assert rc == 0
    for text in ("exposed communication", "pipeline bubble", "TOTAL", "inter-node", "first layer",
                 "scaling efficiency", "time to train", "warning: global batch 131,072"):
        assert text in out, text


@pytest.mark.parametrize("argv, fragment", [
    (["--hw", "v100", "--data", "4"], "--data needs a cluster"),
    (["--hw", "v100", "--sync", "asp", "--comm", "ps"], "--comm, --sync need a cluster"),
    (["--hw", "ethernet_10g", "--sync", "asp", "--comm", "ring"], "needs a parameter server"),
    (["--hw", "dgx_a100_ib", "--data", "512"], "devices"),
    (["--hw", "dgx_a100_ib", "--stragglers", "slow:2x4"], "stragglers"),
    (["--hw", "dgx_a100_ib", "--data", "0"], "positive"),
])
def test_bad_cluster_flags_are_one_line_and_status_2(argv: list[str], fragment: str,
                                                     cli) -> None:
    rc, out, err = cli(["train", "resnet50", *argv])
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and fragment in err and "Traceback" not in err


def test_report_folder_has_the_scaling_curve_and_the_timeline(tmp_path: Path,
                                                              cli) -> None:
    folder = tmp_path / "rep"
    rc, _, err = cli(["train", "resnet50", "--hw", "p100_50gbe", "--batch", "32", "--data", "16",
                      "--report", folder])
    assert rc == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "scaling.png", "timeline.png", "train.json"]
    data = strict_json((folder / "train.json").read_text())
    assert [p["devices"] for p in data["scaling_curve"]] == [1, 2, 4, 8, 16]
    assert (folder / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
