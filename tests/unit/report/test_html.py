"""index.html of a report, parsed back: the per-layer table carries each layer's figures."""

from html.parser import HTMLParser

import pytest

from accelsim import estimate
from accelsim.estimation import Estimate
from accelsim.hw import LayerCost
from accelsim.report.html import PLOTS, render_page, write_report


class Tables(HTMLParser):
    """Rows of the table with class ``layers``: each cell as (text, data-sort or None)."""

    def __init__(self):
        super().__init__()
        self.header, self.rows, self.images = [], [], []
        self._in, self._cell, self._section = False, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "layers":
            self._in = True
        elif tag == "img":
            self.images.append(attrs["src"])
        elif self._in and tag in ("thead", "tbody"):
            self._section = tag
        elif self._in and tag == "tr" and self._section == "tbody":
            self.rows.append([])
        elif self._in and tag in ("td", "th"):
            self._cell = ["", attrs.get("data-sort")]

    def handle_endtag(self, tag):
        if tag == "table":
            self._in = False
        elif self._in and tag in ("td", "th") and self._cell is not None:
            (self.header if self._section == "thead" else self.rows[-1]).append(tuple(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data


def parse(page):
    p = Tables()
    p.feed(page)
    return p


def test_table_has_one_row_per_layer_with_its_figures():
    est = estimate("digits_cnn", "eyeriss")
    page = parse(render_page(est))
    header = [text for text, _ in page.header]
    assert header[:3] == ["layer", "op", "output"] and "bound" in header
    assert len(page.rows) == len(est.layers)
    col = {name: i for i, name in enumerate(header)}
    for cost, shape, row in zip(est.layers, est.shapes, page.rows):
        assert row[col["layer"]][0] == cost.name
        assert row[col["op"]][0] == cost.op
        assert row[col["output"]][0] == "x".join(map(str, shape))
        assert row[col["bound"]][0] == cost.bound
        assert int(row[col["MACs"]][0].replace(",", "")) == cost.macs
        assert float(row[col["MACs"]][1]) == cost.macs
        assert float(row[col["cycles"]][1]) == cost.cycles
        assert float(row[col["latency"]][1]) == cost.latency_s
        assert float(row[col["energy"]][1]) == cost.energy_j
        assert float(row[col["off-chip B"]][1]) == cost.bytes_dram
        assert float(row[col["on-chip B"]][1]) == cost.bytes_onchip
    assert sum(float(r[col["latency"]][1]) for r in page.rows) == pytest.approx(est.latency_s)


def test_names_are_escaped():
    odd = '<b>x</b> & "y"'
    cost = LayerCost(name=odd, op="relu", ops=1, latency_s=1e-9, bound="<script>")
    est = Estimate(model="m<1>", hardware="h&w", kind="null", batch=1, precision="int8",
                   frequency_hz=1e9, layers=(cost,), shapes=((1, 2),))
    text = render_page(est)
    assert "<b>x</b>" not in text
    assert text.count("<script>") == 1  # the page's own sorting script only
    page = parse(text)
    assert page.rows[0][0][0] == odd
    assert page.rows[0][-1][0] == "<script>"


def test_report_folder_shows_every_plot(tmp_path):
    est = estimate("digits_cnn", "tpu_v1")
    folder = write_report(est, tmp_path / "rep")
    page = parse((folder / "index.html").read_text(encoding="utf-8"))
    assert page.images == list(PLOTS)
    for name in PLOTS:
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(page.rows) == len(est.layers)
