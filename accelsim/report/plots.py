"""The ``--report`` charts of an Estimate, as matplotlib Figures.

Every chart shows the layers in the Estimate's order and colours each layer by what bounds
it (``LayerCost.bound``), with the same colour for the same bound in every chart. Each
function returns the Figure it drew (pass ``fig`` to draw into one of yours); ``save``
writes one as PNG and closes it. matplotlib is imported inside these functions only, with
the non-interactive Agg backend, so importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..estimation import Estimate
from ..hw import LayerCost
from ..units import format_si

__all__ = ["MAX_BARS", "bound_colours", "chart_layers", "offchip_bandwidth", "roofline_points",
           "plot_latency", "plot_energy", "plot_energy_components", "plot_roofline", "save"]

MAX_BARS = 60  # beyond this, the bar charts show the layers that cost most
WIDTH_IN, DPI = 14.0, 100  # 1400 px: the width of the report page
# matplotlib's "tab10" minus its red, which is kept for compute so it reads the same everywhere.
_COMPUTE = "#d62728"
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22", "#17becf")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bound_colours(est: Estimate) -> dict[str, str]:
    """A colour for every bound that occurs: compute in red, memory levels in the order the
    machine lists them (outermost first), then any other bound in order of appearance."""
    seen = list(dict.fromkeys(c.bound for c in est.layers))
    levels = [name for c in est.layers for name, _ in c.bytes_by_level]
    order = sorted((b for b in seen if b != "compute"),
                   key=lambda b: (levels.index(b) if b in levels else len(levels), seen.index(b)))
    colours = {"compute": _COMPUTE} if "compute" in seen else {}
    colours.update((b, _PALETTE[i % len(_PALETTE)]) for i, b in enumerate(order))
    return colours


def chart_layers(est: Estimate, limit: int = MAX_BARS) -> list[LayerCost]:
    """The layers the bar charts show, in the Estimate's order: all of them, or, past
    ``limit``, those with the largest share of the total latency or of the total energy."""
    layers = list(est.layers)
    if len(layers) <= limit:
        return layers
    lat = sum(c.latency_s for c in layers) or 1.0
    energy = sum(c.energy_j for c in layers) or 1.0
    share = [max(c.latency_s / lat, c.energy_j / energy) for c in layers]
    keep = set(sorted(range(len(layers)), key=lambda i: (-share[i], i))[:limit])
    return [c for i, c in enumerate(layers) if i in keep]


def _note(est: Estimate, shown: Sequence[LayerCost]) -> str:
    return "" if len(shown) == len(est.layers) else f" ({len(shown)} costliest of {len(est.layers)} layers)"


def _bars_figure(plt: Any, n: int, fig: Any) -> Any:
    if fig is None:
        fig = plt.figure(figsize=(WIDTH_IN, max(3.0, 0.26 * n + 1.6)), dpi=DPI)
    return fig


def _legend(ax: Any, colours: dict[str, str], title: str = "bound by") -> None:
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=col, label=b) for b, col in colours.items()], title=title,
              fontsize=10, title_fontsize=10, loc="lower right")


def _bar_chart(est: Estimate, values: list[float], unit: str, what: str, fig: Any) -> Any:
    """Horizontal bars, one per shown layer, top to bottom in the Estimate's order: layer
    names stay horizontal and legible however many layers there are."""
    plt = _pyplot()
    shown = chart_layers(est)
    fig = _bars_figure(plt, len(shown), fig)
    ax = fig.add_subplot()
    colours = bound_colours(est)
    ys = list(range(len(shown)))
    ax.barh(ys, values, color=[colours[c.bound] for c in shown], gid=what)
    ax.set_yticks(ys, [c.name for c in shown], fontsize=10)
    ax.set_ylim(len(shown) - 0.5, -0.5)  # first layer on top
    ax.set_xlabel(f"{what} ({unit})", fontsize=11)
    ax.set_title(f"Per-layer {what}: {est.model} on {est.hardware}{_note(est, shown)}", fontsize=13)
    ax.grid(True, axis="x", alpha=0.3)
    _legend(ax, {b: colours[b] for b in dict.fromkeys(c.bound for c in shown)})
    fig.tight_layout()
    return fig


def plot_latency(est: Estimate, fig: Any = None) -> Any:
    """Latency per layer (µs), coloured by bound."""
    return _bar_chart(est, [c.latency_s * 1e6 for c in chart_layers(est)], "µs", "latency", fig)


def plot_energy(est: Estimate, fig: Any = None) -> Any:
    """Energy per layer (µJ), the same layers in the same order as ``plot_latency``."""
    return _bar_chart(est, [c.energy_j * 1e6 for c in chart_layers(est)], "µJ", "energy", fig)


def plot_energy_components(est: Estimate, fig: Any = None) -> Any:
    """Energy per layer split by component (stacked), the same layers as ``plot_energy``."""
    plt = _pyplot()
    shown = chart_layers(est)
    components = list(dict.fromkeys(k for c in est.layers for k, _ in c.energy_by_component_j))
    fig = _bars_figure(plt, len(shown), fig)
    ax = fig.add_subplot()
    ys = list(range(len(shown)))
    left = [0.0] * len(shown)
    cmap = plt.get_cmap("tab20")
    for i, comp in enumerate(components):
        vals = [dict(c.energy_by_component_j).get(comp, 0.0) * 1e6 for c in shown]
        ax.barh(ys, vals, left=left, label=comp, color=cmap(i % 20))
        left = [a + v for a, v in zip(left, vals)]
    ax.set_yticks(ys, [c.name for c in shown], fontsize=10)
    ax.set_ylim(len(shown) - 0.5, -0.5)
    ax.set_xlabel("energy (µJ)", fontsize=11)
    ax.set_title(f"Per-layer energy by component: {est.model} on {est.hardware}{_note(est, shown)}",
                 fontsize=13)
    ax.grid(True, axis="x", alpha=0.3)
    if components:
        ax.legend(fontsize=10, loc="lower right")
    fig.tight_layout()
    return fig


def offchip_bandwidth(est: Estimate) -> float | None:
    """The off-chip bandwidth (B/s) of the machine, where its family states one: the sum over
    the levels the layers count as off-chip."""
    offchip = {level for c in est.layers for level in c.offchip}
    found = [bw for level, bw in est.bandwidth_bps if level in offchip and bw]
    return sum(found) if found else None


def roofline_points(est: Estimate) -> tuple[list[LayerCost], list[tuple[float, float]], list[LayerCost]]:
    """Each layer's arithmetic intensity (ops per off-chip byte) and achieved rate (ops/s),
    from the layer's own ops, off-chip bytes and latency. Returns the plotted layers (in the
    Estimate's order), their points, and the layers with arithmetic but no off-chip traffic
    (their intensity is unbounded, so they cannot be placed)."""
    plotted, points, unplaced = [], [], []
    for c in est.layers:
        if not c.flops or c.latency_s <= 0:
            continue
        if c.bytes_dram > 0:
            plotted.append(c)
            points.append((c.flops / c.bytes_dram, c.flops / c.latency_s))
        else:
            unplaced.append(c)
    return plotted, points, unplaced


def plot_roofline(est: Estimate, fig: Any = None) -> Any:
    """Each layer as a point, coloured by bound, its area by MACs, translucent so that
    overlapping layers stay visible. The roof min(peak, intensity x off-chip bandwidth) is
    drawn as far as the machine states it: the flat part where the peak is known, the sloped
    part where the off-chip bandwidth is."""
    plt = _pyplot()
    plotted, points, unplaced = roofline_points(est)
    colours = bound_colours(est)
    if fig is None:
        fig = plt.figure(figsize=(WIDTH_IN * 0.7, 6.5), dpi=DPI)
    ax = fig.add_subplot()
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if points:
        biggest = max(c.macs for c in plotted) or 1
        sizes = [30 + 370 * (c.macs / biggest) ** 0.5 for c in plotted]
        ax.scatter(xs, ys, s=sizes, c=[colours[c.bound] for c in plotted], alpha=0.6,
                   edgecolors="black", linewidths=0.6, zorder=3, gid="layers")
        lo, hi = min(xs) / 4, max(xs) * 4
    else:
        lo, hi = 0.1, 1e3
    peak, bandwidth = est.peak_ops_per_s or None, offchip_bandwidth(est)
    roof_label = []
    if peak and bandwidth:
        ridge = peak / bandwidth
        lo, hi = min(lo, ridge / 10), max(hi, ridge * 10)
    grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
    if peak or bandwidth:
        roof = [min(peak or float("inf"), x * (bandwidth or float("inf"))) for x in grid]
        if peak:
            roof_label.append(f"peak {format_si(peak, 'OP/s')}")
        if bandwidth:
            roof_label.append(f"off-chip {format_si(bandwidth, 'B/s')}")
        ax.plot(grid, roof, color="#2c3e50", linewidth=2, label="roof: " + ", ".join(roof_label), gid="roof")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    if peak:
        ax.set_ylim(top=peak * 3)  # headroom above the flat roof
    ax.set_xlabel("arithmetic intensity (ops per off-chip byte)", fontsize=11)
    ax.set_ylabel("achieved ops/s", fontsize=11)
    ax.set_title(f"Roofline: {est.model} on {est.hardware} ({est.precision})", fontsize=13)
    ax.grid(True, which="both", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", linestyle="", markersize=9, alpha=0.6, markerfacecolor=col,
                      markeredgecolor="black", label=f"bound by {b}")
               for b, col in colours.items() if any(c.bound == b for c in plotted)]
    handles += ax.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles=handles, fontsize=10, loc="lower right")
    notes = []
    if not (peak or bandwidth):
        notes.append("no roof: the machine states neither a peak rate nor an off-chip bandwidth")
    elif not bandwidth:
        notes.append("the off-chip bandwidth is not stated: only the peak is drawn")
    elif not peak:
        notes.append(f"no peak at {est.precision}: only the bandwidth slope is drawn")
    if unplaced:
        notes.append(f"not shown (no off-chip traffic): {len(unplaced)} layer(s)")
    notes.append("point area ~ MACs")
    ax.text(0.01, 0.01, "\n".join(notes), transform=ax.transAxes, va="bottom", ha="left", fontsize=9,
            color="#444")
    fig.tight_layout()
    return fig


def save(fig: Any, path: str | Path) -> None:
    """Write ``fig`` as PNG at the report's resolution, then release it."""
    plt = _pyplot()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
