"""The report of a training iteration on a cluster (accelsim.report.distributed).

Checked against the step it renders: the text's breakdown rows are the step's parts in
the same order and sum, the scaling figure's lines carry the curve's own points (read back
from the matplotlib artists by gid), the timeline's bars are the step's segments, the page
escapes what it shows, and the folder appears whole or not at all.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from accelsim.distributed import DistributedOptions, scaling_curve, train_distributed
from accelsim.report.distributed import (REPORT_FIGURES, breakdown_rows, format_duration, plot_scaling,
                                         plot_timeline, render_distributed, render_distributed_page,
                                         write_distributed_report)

OPTIONS = DistributedOptions(data=64)


@pytest.fixture(scope="module")
def step():
    return train_distributed("resnet50", "p100_50gbe", batch=32, options=OPTIONS)


@pytest.fixture(scope="module")
def curve(step):
    return scaling_curve(step, "p100_50gbe", OPTIONS)


def _by_gid(fig, gid):
    found = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == gid]
    assert found, f"no artist with gid {gid!r}"
    return found


def test_the_breakdown_is_the_steps_parts_and_sums_to_the_iteration(step) -> None:
    rows = breakdown_rows(step)
    assert [name for name, _ in rows] == ["compute", "pipeline bubble", "exposed communication",
                                          "compression codec", "straggler wait", "TOTAL"]
    assert dict(rows)["compute"] == step.compute_s
    assert dict(rows)["TOTAL"] == step.time_per_iteration_s
    assert sum(v for _, v in rows[:-1]) == pytest.approx(step.time_per_iteration_s, rel=1e-12)


def test_the_text_names_the_run_and_its_figures(step) -> None:
    text = render_distributed(step)
    assert "resnet50" in text and "p100_50gbe" in text
    for label in ("compute", "exposed communication", "inter-node"):
        assert label in text
    assert f"{100 * step.scaling_efficiency:.0f}%" in text or f"{100 * step.scaling_efficiency:.1f}%" in text
    # 64 x 32 = 2,048 is inside the linear-scaling recipe's range: no warning
    assert "warning" not in text.lower()


def test_a_batch_past_the_published_recipes_is_flagged_in_text_and_page(step) -> None:
    big = replace(step, batch=4096)  # 64 replicas x 4,096 = 262,144, past LARS's 64K
    text = render_distributed(big)
    (warning,) = [line for line in text.splitlines() if line.startswith("warning:")]
    assert "262,144" in warning and "65,536" in warning and "Jia et al." in warning
    assert 'class="warning"' in render_distributed_page(big)


@pytest.mark.parametrize("seconds, expected", [(42.0, "42 s"), (3 * 60 + 30, "3.5 min"), (9133.6, "2.54 h"),
                                                 (5 * 86400, "120 h (5.0 days)")])
def test_durations_read_in_the_unit_a_person_would_use(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_the_scaling_figure_plots_the_curves_own_points(curve) -> None:
    fig = plot_scaling(curve)
    (line,) = _by_gid(fig, "samples_per_s")
    xs, ys = line.get_data()
    assert list(xs) == [p["devices"] for p in curve] == [1, 2, 4, 8, 16, 32, 64]
    assert list(ys) == [p["samples_per_s"] for p in curve]
    (ideal,) = _by_gid(fig, "ideal")
    assert ideal.get_data()[1][-1] == pytest.approx(curve[0]["samples_per_s"] * 64)
    (eff,) = _by_gid(fig, "efficiency")
    assert list(eff.get_data()[1]) == pytest.approx([100 * p["scaling_efficiency"] for p in curve])
    assert curve[0]["scaling_efficiency"] == pytest.approx(1.0)


def test_the_timeline_draws_each_segment_of_the_step(step) -> None:
    fig = plot_timeline(step)
    kinds = {s["kind"] for s in step.timeline}
    assert {"forward", "backward", "gradient_comm"} <= kinds
    for kind in kinds:
        (bars,) = _by_gid(fig, kind)
        segments = [s for s in step.timeline if s["kind"] == kind]
        assert len(bars.get_paths()) == len(segments)
        starts = sorted(path.vertices[:, 0].min() for path in bars.get_paths())
        assert starts == pytest.approx(sorted(s["start_s"] * 1e3 for s in segments))
    last = max(s["end_s"] for s in step.timeline)
    assert last <= step.time_per_iteration_s * (1 + 1e-9)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a["src"])
        if tag == "a":
            self.links.append(a["href"])
        self._in_title = tag == "title"

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag):
        self._in_title = False


def test_the_page_escapes_names_and_links_its_files(step) -> None:
    hostile = replace(step, model='<script>alert("x")</script>', cluster="a&b")
    page = render_distributed_page(hostile)
    assert "<script>" not in page
    parsed = _Page()
    parsed.feed(page)
    assert parsed.title == 'accelsim: <script>alert("x")</script> training on a&b'
    assert parsed.images == list(REPORT_FIGURES)
    assert "train.json" in parsed.links


def test_the_folder_holds_every_file_and_the_json_reads_back(step, curve, tmp_path) -> None:
    out = write_distributed_report(step, curve, tmp_path / "rep")
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "scaling.png", "timeline.png", "train.json"]
    for png in REPORT_FIGURES:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "train.json").read_text())
    assert data["scaling_curve"] == curve
    assert data["time_per_iteration_s"] == step.time_per_iteration_s


def test_a_figure_that_is_not_finite_leaves_no_folder(step, curve, tmp_path) -> None:
    bad = [dict(curve[0], samples_per_s=math.nan)]
    with pytest.raises(ValueError):
        write_distributed_report(step, bad, tmp_path / "rep")
    assert not (tmp_path / "rep").exists()
    assert list(tmp_path.iterdir()) == []
