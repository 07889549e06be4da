"""``--report DIR``: PNG plots of an Estimate and an ``index.html`` that shows them.

matplotlib is imported here only, with the non-interactive Agg backend, so the CLI's common
path never pays for it. The folder appears whole or not at all (see ``atomic_dir``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..estimation import Estimate
from ..fileio import atomic_dir
from ..units import format_si

__all__ = ["write_report", "PLOTS"]

PLOTS = ("latency.png", "energy.png", "roofline.png")
_MAX_BARS = 60  # beyond this, show the layers that cost most


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _top(values: list[float], names: list[str]) -> tuple[list[float], list[str], str]:
    if len(values) <= _MAX_BARS:
        return values, names, ""
    keep = sorted(sorted(range(len(values)), key=lambda i: -values[i])[:_MAX_BARS])
    return [values[i] for i in keep], [names[i] for i in keep], f" (the {_MAX_BARS} largest of {len(values)})"


def _bar_width(n: int) -> float:
    return max(6.0, min(24.0, 0.28 * n + 2))


def plot_latency(est: Estimate, path: Path) -> None:
    plt = _pyplot()
    values, names, note = _top([c.latency_s * 1e6 for c in est.layers], [c.name for c in est.layers])
    fig, ax = plt.subplots(figsize=(_bar_width(len(values)), 4.5))
    ax.bar(range(len(values)), values, color="#3b6ea5")
    ax.set_xticks(range(len(values)), names, rotation=90, fontsize=7)
    ax.set_ylabel("latency (µs)")
    ax.set_title(f"Per-layer latency: {est.model} on {est.hardware}{note}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_energy(est: Estimate, path: Path) -> None:
    plt = _pyplot()
    components: list[str] = []
    for c in est.layers:
        components.extend(k for k, _ in c.energy_by_component_j if k not in components)
    totals = [c.energy_j for c in est.layers]
    _, names, note = _top(totals, [c.name for c in est.layers])
    chosen = [c for c in est.layers if c.name in set(names)]
    fig, ax = plt.subplots(figsize=(_bar_width(len(chosen)), 4.5))
    bottom = [0.0] * len(chosen)
    for comp in components:
        vals = [dict(c.energy_by_component_j).get(comp, 0.0) * 1e6 for c in chosen]
        ax.bar(range(len(chosen)), vals, bottom=bottom, label=comp)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(len(chosen)), [c.name for c in chosen], rotation=90, fontsize=7)
    ax.set_ylabel("energy (µJ)")
    ax.set_title(f"Per-layer energy by component{note}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_roofline(est: Estimate, path: Path, peak_ops: float | None, bandwidth: float | None,
                  level: str) -> None:
    """Each layer as a point: arithmetic intensity (ops per byte of the outermost memory)
    against the arithmetic rate it achieves; the roof is min(peak, intensity x bandwidth)."""
    plt = _pyplot()
    xs, ys, labels = [], [], []
    for c in est.layers:
        moved = dict(c.bytes_by_level).get(level, 0.0)
        if c.flops and c.latency_s > 0 and moved > 0:
            xs.append(c.flops / moved)
            ys.append(c.flops / c.latency_s)
            labels.append(c.name)
    fig, ax = plt.subplots(figsize=(7, 5))
    if xs:
        ax.scatter(xs, ys, s=14, color="#c0392b", zorder=3, label="layers")
        lo, hi = min(xs) / 4, max(xs) * 4
    else:
        lo, hi = 0.1, 1e4
    if peak_ops and bandwidth:
        ridge = peak_ops / bandwidth
        lo, hi = min(lo, ridge / 10), max(hi, ridge * 10)
        grid = [lo * (hi / lo) ** (i / 200) for i in range(201)]
        ax.plot(grid, [min(peak_ops, x * bandwidth) for x in grid], color="#2c3e50",
                label=f"roof: {format_si(peak_ops, 'OP/s')}, {format_si(bandwidth, 'B/s')} ({level})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"arithmetic intensity (ops per {level} byte)")
    ax.set_ylabel("achieved ops/s")
    ax.set_title(f"Roofline: {est.model} on {est.hardware} ({est.precision})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _roof(est: Estimate) -> tuple[float | None, float | None, str]:
    """Peak rate and the outermost memory's bandwidth, where the machine's family has them."""
    if not est.bandwidth_bps:
        return est.peak_ops_per_s, None, ""
    level, bandwidth = est.bandwidth_bps[0]
    return est.peak_ops_per_s, bandwidth, level


def _page(est: Estimate) -> str:
    t = est.to_dict()["totals"]
    rows = [
        ("model", est.model), ("hardware", f"{est.hardware} ({est.kind})"), ("batch", est.batch),
        ("precision", est.precision), ("latency", format_si(t["latency_s"], "s")),
        ("throughput", f"{t['throughput_per_s']:,.2f} samples/s"),
        ("energy", format_si(t["energy_j"], "J")), ("average power", format_si(t["power_w"], "W")),
        ("MACs", f"{t['macs']:,}"), ("parameters", f"{t['params']:,}"), ("cycles", f"{t['cycles']:,}"),
        ("utilisation", f"{t['utilization']:.1%}"), ("mostly bound by", t["bound"]),
    ]
    rows += [("bytes moved off-chip", f"{t['bytes_dram']:,.0f}"), ("bytes moved on-chip", f"{t['bytes_onchip']:,.0f}")]
    rows += [(f"bytes moved: {k}", f"{v:,.0f}") for k, v in t["bytes_by_level"].items()]
    rows += [(f"energy: {k}", format_si(v, "J")) for k, v in t["energy_by_component_j"].items()]
    table = "\n".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                      for k, v in rows)
    images = "\n".join(f'<figure><img src="{p}" alt="{p[:-4]}"><figcaption>{p[:-4]}</figcaption></figure>'
                       for p in PLOTS)
    title = html.escape(f"accelsim: {est.model} on {est.hardware}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }}
th {{ background: #f3f3f3; font-weight: 600; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}
figure {{ margin: 0 0 2em 0; }}
</style></head>
<body>
<h1>{title}</h1>
<table>
{table}
</table>
{images}
<p>Per-layer figures: <a href="estimate.json">estimate.json</a>.</p>
</body></html>
"""


def write_report(est: Estimate, folder: str | Path) -> Path:
    """Write the plots, ``estimate.json`` and ``index.html`` into ``folder``; return its path."""
    import json

    folder = Path(folder)
    peak, bandwidth, level = _roof(est)
    with atomic_dir(folder) as scratch:
        plot_latency(est, scratch / "latency.png")
        plot_energy(est, scratch / "energy.png")
        plot_roofline(est, scratch / "roofline.png", peak, bandwidth, level)
        (scratch / "estimate.json").write_text(json.dumps(est.to_dict(), indent=1) + "\n")
        (scratch / "index.html").write_text(_page(est), encoding="utf-8")
    return folder
