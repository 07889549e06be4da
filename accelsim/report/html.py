"""``--report DIR``: PNG plots of an Estimate and an ``index.html`` that shows them with the
per-layer table.

The plots come from ``plots`` (matplotlib, imported only while a report is written). The
folder appears whole or not at all (see ``atomic_dir``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable, Iterable

from ..estimation import Estimate
from ..fileio import atomic_dir
from ..units import format_si

__all__ = ["write_report", "render_page", "page", "figures", "escape", "PLOTS"]

# file name -> (plotting function in ``plots``, caption)
PLOTS: dict[str, tuple[str, str]] = {
    "latency.png": ("plot_latency", "Latency per layer, coloured by what bounds it"),
    "energy.png": ("plot_energy", "Energy per layer (same layers and colours)"),
    "energy_components.png": ("plot_energy_components", "Energy per layer by component"),
    "roofline.png": ("plot_roofline", "Roofline: each point a layer"),
}

# The per-layer table: header, how to show a cell, the number it sorts by (None: by text).
_Column = tuple[str, Callable[[Any, tuple[int, ...]], str], Callable[[Any], float] | None]


def _count(n: float) -> str:
    return f"{n:,.0f}"


_COLUMNS: tuple[_Column, ...] = (
    ("layer", lambda c, s: c.name, None),
    ("op", lambda c, s: c.op, None),
    ("output", lambda c, s: "x".join(str(d) for d in s), None),
    ("MACs", lambda c, s: _count(c.macs), lambda c: c.macs),
    ("cycles", lambda c, s: _count(c.cycles), lambda c: c.cycles),
    ("latency", lambda c, s: format_si(c.latency_s, "s"), lambda c: c.latency_s),
    ("energy", lambda c, s: format_si(c.energy_j, "J"), lambda c: c.energy_j),
    ("off-chip B", lambda c, s: _count(c.bytes_dram), lambda c: c.bytes_dram),
    ("on-chip B", lambda c, s: _count(c.bytes_onchip), lambda c: c.bytes_onchip),
    ("util", lambda c, s: f"{c.utilization:.1%}" if c.macs else "-", lambda c: c.utilization),
    ("bound", lambda c, s: c.bound, None),
)

_SORT_JS = """
document.querySelectorAll("table.layers th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], rows = Array.from(body.rows);
    var up = th.dataset.order !== "asc";
    th.dataset.order = up ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[col], y = b.cells[col];
      var d = ("sort" in x.dataset) ? x.dataset.sort - y.dataset.sort
                                    : x.textContent.localeCompare(y.textContent);
      return up ? d : -d;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def escape(value: Any) -> str:
    """``value`` as text that is safe inside an element or a quoted attribute."""
    return html.escape(str(value), quote=True)


_e = escape


def _summary(est: Estimate) -> str:
    t = est.to_dict()["totals"]
    rows = [
        ("model", est.model), ("hardware", f"{est.hardware} ({est.kind})"), ("batch", est.batch),
        ("precision", est.precision), ("latency", format_si(t["latency_s"], "s")),
        ("throughput", f"{t['throughput_per_s']:,.2f} samples/s"),
        ("energy", format_si(t["energy_j"], "J")), ("average power", format_si(t["power_w"], "W")),
        ("MACs", f"{t['macs']:,}"), ("parameters", f"{t['params']:,}"), ("cycles", f"{t['cycles']:,}"),
        ("utilisation", f"{t['utilization']:.1%}"), ("mostly bound by", t["bound"]),
        ("bytes moved off-chip", f"{t['bytes_dram']:,.0f}"), ("bytes moved on-chip", f"{t['bytes_onchip']:,.0f}"),
    ]
    rows += [(f"bytes moved: {k}", f"{v:,.0f}") for k, v in t["bytes_by_level"].items()]
    rows += [(f"energy: {k}", format_si(v, "J")) for k, v in t["energy_by_component_j"].items()]
    return "\n".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)


def _layer_table(est: Estimate) -> str:
    head = "".join(f'<th title="click to sort">{_e(name)}</th>' for name, _, _ in _COLUMNS)
    body = []
    for cost, shape in zip(est.layers, est.shapes):
        cells = []
        for _, show, key in _COLUMNS:
            sort = f' data-sort="{key(cost)!r}"' if key else ""
            cells.append(f"<td{sort}>{_e(show(cost, shape))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="layers">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(body) + "\n</tbody>\n</table>")


# The look every report page shares; a page adds its own rules through ``page``'s ``css``.
_BASE_CSS = """body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }
th { background: #f3f3f3; font-weight: 600; }
img { max-width: 100%; border: 1px solid #ddd; }
figure { margin: 0 0 2em 0; }"""


def figures(captions: Iterable[tuple[str, str]]) -> str:
    """One ``<figure>`` per (file name, caption), both escaped."""
    return "\n".join(f'<figure><img src="{_e(name)}" alt="{_e(caption)}"><figcaption>{_e(caption)}</figcaption>'
                     f'</figure>' for name, caption in captions)


def page(title: str, body: str, css: str = "") -> str:
    """A whole report page: ``title`` (escaped here) as the title and heading, then ``body``
    (HTML, escaped by its maker)."""
    title = _e(title)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
{_BASE_CSS}
{css}
</style></head>
<body>
<h1>{title}</h1>
{body}
</body></html>
"""


def render_page(est: Estimate) -> str:
    """The ``index.html`` of a report: totals, the plots, the sortable per-layer table."""
    css = """table.layers th { cursor: pointer; }
table.layers td[data-sort] { text-align: right; font-variant-numeric: tabular-nums; }"""
    body = f"""<table class="summary">
{_summary(est)}
</table>
<h2>Layers</h2>
{_layer_table(est)}
<p>Every figure of every layer: <a href="estimate.json">estimate.json</a>.</p>
<h2>Plots</h2>
{figures((name, caption) for name, (_, caption) in PLOTS.items())}
<script>{_SORT_JS}</script>"""
    return page(f"accelsim: {est.model} on {est.hardware}", body, css)


def write_report(est: Estimate, folder: str | Path) -> Path:
    """Write the plots, ``estimate.json`` and ``index.html`` into ``folder``; return its path."""
    import json

    from . import plots

    folder = Path(folder)
    with atomic_dir(folder) as scratch:
        for name, (function, _) in PLOTS.items():
            plots.save(getattr(plots, function)(est), scratch / name)
        (scratch / "estimate.json").write_text(json.dumps(est.to_dict(), indent=1, allow_nan=False) + "\n")
        (scratch / "index.html").write_text(render_page(est), encoding="utf-8")
    return folder
