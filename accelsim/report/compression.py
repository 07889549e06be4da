"""The before/after table of ``accelsim compress``: bytes, MACs, latency, energy, quality."""

from __future__ import annotations

from typing import Any

from ..units import format_si
from .table import render_grid

__all__ = ["render_compressed"]


def _quality(q: Any) -> str:
    if q is None:
        return "-"
    if q.accuracy is not None:
        return f"{q.accuracy:.1%}"
    return f"{q.output_snr_db:.1f} dB" if q.output_snr_db is not None else "-"


def _note(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _ratio(before: float, after: float) -> str:
    return f"{before / after:.2f}x" if after else "-"


def render_compressed(result: Any) -> str:
    """``result`` is an ``accelsim.compression.Compressed`` (or an auto-search result with
    the same fields)."""
    b, a = result.before, result.after
    rows = []
    for label, s in (("before", b), ("after", a)):
        e = s.estimate
        rows.append([label, format_si(s.model_bytes, "B"), format_si(e.totals.macs, ""),
                     format_si(e.latency_s, "s"), format_si(e.totals.energy_j, "J"), _quality(s.quality)])
    rows.append(["ratio", _ratio(b.model_bytes, a.model_bytes),
                 _ratio(b.estimate.totals.macs, a.estimate.totals.macs),
                 _ratio(b.estimate.latency_s, a.estimate.latency_s),
                 _ratio(b.estimate.totals.energy_j, a.estimate.totals.energy_j), ""])
    text = render_grid(["model", "bytes", "MACs", "latency", "energy", "quality"], rows,
                       [False, True, True, True, True, True])
    steps = [[p.spec, format_si(p.model_bytes, "B"), format_si(p.macs, ""), _quality(p.quality),
              ", ".join(f"{k} {_note(v)}" for k, v in p.notes.items())] for p in result.passes]
    if steps:
        text += "\n\n" + render_grid(["pass", "bytes", "MACs", "quality", "notes"], steps,
                                     [False, True, True, True, False])
    text += (f"\n\n{result.model} on {result.hardware}: {_ratio(b.model_bytes, a.model_bytes)} smaller, "
             f"{_ratio(b.estimate.latency_s, a.estimate.latency_s)} faster, "
             f"{_ratio(b.estimate.totals.energy_j, a.estimate.totals.energy_j)} less energy")
    if result.quality_note:
        text += f"\nquality: {result.quality_note}"
    return text + "\n"
