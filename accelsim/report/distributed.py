"""The report of a training iteration on a cluster (``accelsim train MODEL --hw CLUSTER``).

A ``DistributedStep`` answers different questions from a one-device Estimate: not which
layer costs most, but where an iteration's time goes once it is spread over devices
(compute, pipeline bubble, communication left exposed, compression, waiting for
stragglers), how many bytes cross each class of link, and how throughput grows with the
number of replicas. So it has its own renderings:

* ``render_distributed``: the terminal text (grids from ``table.render_grid``);
* ``plot_scaling`` and ``plot_timeline``: matplotlib Figures of the scaling curve and of one
  iteration of pipeline stage 0 as a Gantt chart;
* ``write_distributed_report``: a ``--report DIR`` folder with both figures as PNGs, the
  JSON of the step and its curve, and an ``index.html`` in the look of ``html.py``'s page.

As in ``plots``, matplotlib is imported only while a figure is drawn (Agg backend), so
importing this module loads no plotting library; the report folder appears whole or not at
all (``accelsim.fileio.atomic_dir``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..fileio import atomic_dir
from ..units import format_si
from . import plots
from .html import escape as _e
from .html import figures, page
from .table import render_grid

__all__ = ["render_distributed", "render_distributed_page", "plot_scaling", "plot_timeline",
           "write_distributed_report", "breakdown_rows", "format_duration", "REPORT_FIGURES"]

# file name -> caption, in the order the page shows them
REPORT_FIGURES: dict[str, str] = {
    "scaling.png": "Throughput against data-parallel devices, with the ideal linear line, and the scaling "
                   "efficiency",
    "timeline.png": "One iteration of pipeline stage 0: compute and gradient communication",
}

# DistributedStep attribute -> what the breakdown calls it
_PARTS: tuple[tuple[str, str], ...] = (
    ("compute_s", "compute"),
    ("bubble_s", "pipeline bubble"),
    ("exposed_comm_s", "exposed communication"),
    ("codec_s", "compression codec"),
    ("straggler_wait_s", "straggler wait"),
)

_LINKS = {"intra_node": "intra-node", "inter_node": "inter-node", "parameter_server": "parameter server"}

# timeline segment kind -> (legend label, colour); compute keeps the report's red
_SEGMENTS: dict[str, tuple[str, str]] = {
    "forward": ("forward", plots._PALETTE[0]),
    "backward": ("backward", plots._PALETTE[1]),
    "optimizer": ("optimizer", plots._PALETTE[2]),
    "bubble": ("pipeline bubble", "#c7c7c7"),
    "wait": ("waiting for other replicas", plots._PALETTE[5]),
    "gradient_comm": ("gradient bucket", plots._PALETTE[3]),
}
_COMPUTE_ROW = ("forward", "bubble", "backward", "optimizer", "wait")


# ---------------------------------------------------------------- figures shown as text

def format_duration(seconds: float) -> str:
    """A duration for people: SI seconds up to two minutes, then minutes, then hours (with
    days past two of them): ``format_duration(9133.6) == '2.54 h'``."""
    if seconds < 120:
        return format_si(seconds, "s")
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.3g} h"
    return f"{hours:,.0f} h ({hours / 24:.1f} days)"


def _percent(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole > 0 else "-"


def breakdown_rows(step: Any) -> list[tuple[str, float]]:
    """(name, seconds) of each part of an iteration, then ``("TOTAL", time per iteration)``."""
    rows = [(name, float(getattr(step, attr))) for attr, name in _PARTS]
    rows.append(("TOTAL", float(step.time_per_iteration_s)))
    return rows


def _sync(step: Any) -> str:
    return f"ssp:{step.staleness_bound}" if step.sync == "ssp" else step.sync


def _layout(step: Any) -> str:
    p = step.parallel
    return f"{step.device} x {step.devices}, data {p.data} x tensor {p.tensor} x pipeline {p.pipeline}"


def _link(name: str) -> str:
    return _LINKS.get(name, name.replace("_", " "))


def _time_to_train(step: Any) -> str | None:
    t = step.time_to_train_s
    if t is None:
        return None
    return f"{format_duration(t)} ({step.epochs:g} epochs of {step.dataset_size:,} samples)"


def _large_batch_warning(step: Any) -> str | None:
    """The warning line where the global batch is past every published recipe, naming it."""
    recipe: Mapping[str, Any] = step.to_dict()["large_batch"]
    if recipe.get("within_published_range", True):
        return None
    text = str(recipe.get("warning") or f"global batch {step.global_batch:,} is past {recipe['up_to']:,}, the "
                                        f"largest a published recipe held accuracy at")
    source = str(recipe.get("source") or "")
    if source and source not in text:
        text += f" ({source})"
    return "warning: " + text


def _summary_line(step: Any) -> str:
    extras = []
    if step.parallel.pipeline > 1:
        extras.append(f"schedule {step.schedule} with {step.microbatches} micro-batches")
    if step.compress != "none":
        extras.append(f"compress {step.compress}")
    if step.stragglers != "none":
        extras.append(f"stragglers {step.stragglers}")
    head = (f"{step.model} on {step.cluster} ({_layout(step)}), comm {step.comm}, sync {_sync(step)}, "
            + "".join(f"{e}, " for e in extras) + f"global batch {step.global_batch:,}")
    figures = [f"{format_si(step.time_per_iteration_s, 's')} per iteration", f"{step.samples_per_s:,.1f} samples/s",
               f"scaling efficiency {step.scaling_efficiency:.1%}"]
    ttt = _time_to_train(step)
    if ttt:
        figures.append(f"time to train {ttt}")
    return head + ": " + ", ".join(figures)


def _breakdown_grid(step: Any) -> str:
    total = step.time_per_iteration_s
    rows = [[name, format_si(t, "s"), "100%" if name == "TOTAL" else _percent(t, total)]
            for name, t in breakdown_rows(step)]
    return render_grid(["part", "time", "share"], rows, [False, True, True])


def _bytes_grid(step: Any) -> str:
    items = list(step.comm_bytes.items())
    total = sum(v for _, v in items)
    rows = [[_link(k), format_si(v, "B"), _percent(v, total)] for k, v in items]
    rows.append(["TOTAL", format_si(total, "B"), "100%" if total > 0 else "-"])
    return render_grid(["link", "bytes per iteration", "share"], rows, [False, True, True])


def _stage_grid(step: Any) -> str:
    rows = [[i, s["layers"], s["first_layer"], s["last_layer"], format_si(s["forward_s"], "s"),
             format_si(s["backward_s"], "s"), format_si(s["gradient_bytes"], "B")]
            for i, s in enumerate(step.stages)]
    return render_grid(["stage", "layers", "first layer", "last layer", "forward", "backward", "gradients"], rows,
                       [True, True, False, False, True, True, True])


def _simulation_line(sim: Mapping[str, Any]) -> str:
    idle = sim["idle_per_iteration_s"]
    return (f"simulation: {sim['workers']} workers x {sim['iterations']} iterations; idle per iteration "
            f"p50 {format_si(idle['p50'], 's')}, p99 {format_si(idle['p99'], 's')}; staleness mean "
            f"{sim['mean_staleness']:.2f}, max {sim['max_staleness']}")


def render_distributed(step: Any) -> str:
    """The text ``accelsim train MODEL --hw CLUSTER`` prints for a ``DistributedStep``."""
    parts = [_breakdown_grid(step), _bytes_grid(step)]
    if len(step.stages) > 1:
        parts.append(_stage_grid(step))
    if step.simulation:
        parts.append(_simulation_line(step.simulation))
    lines = [_summary_line(step)]
    warning = _large_batch_warning(step)
    if warning:
        lines.append(warning)
    parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- figures

def _log2_devices(ax: Any, devices: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(devices), [str(d) for d in devices])
    ax.minorticks_off()
    if devices:
        ax.set_xlim(min(devices) / 1.4, max(devices) * 1.4)
    ax.set_xlabel("devices", fontsize=11)
    ax.grid(True, alpha=0.3)


def plot_scaling(curve: Sequence[Mapping[str, float]], fig: Any = None, *, title: str | None = None) -> Any:
    """Two panels over devices (log2 axis): samples/s with the ideal linear line from the
    first point (gids ``samples_per_s`` and ``ideal``), and scaling efficiency in percent
    (gid ``efficiency``). ``curve`` is what ``scaling_curve`` returns."""
    plt = plots._pyplot()
    if fig is None:
        fig = plt.figure(figsize=(plots.WIDTH_IN, 5.0), dpi=plots.DPI)
    rate_ax, eff_ax = fig.subplots(1, 2)
    devices = [int(p["devices"]) for p in curve]
    rates = [float(p["samples_per_s"]) for p in curve]
    if curve:
        ideal = [rates[0] * d / devices[0] for d in devices]
        rate_ax.plot(devices, ideal, linestyle="--", color="#7f7f7f", label="ideal (linear from the first point)",
                     gid="ideal")
    rate_ax.plot(devices, rates, marker="o", color=plots._PALETTE[0], label="modelled", gid="samples_per_s")
    _log2_devices(rate_ax, devices)
    if len(devices) > 1:
        rate_ax.set_yscale("log")  # the ideal line is straight on log-log axes
    rate_ax.set_ylabel("samples/s", fontsize=11)
    rate_ax.set_title("Throughput", fontsize=13)
    if curve:
        rate_ax.legend(fontsize=10, loc="upper left")
    efficiency = [100.0 * float(p["scaling_efficiency"]) for p in curve]
    eff_ax.plot(devices, efficiency, marker="o", color=plots._COMPUTE, gid="efficiency")
    eff_ax.axhline(100.0, linestyle="--", color="#7f7f7f", linewidth=1)
    _log2_devices(eff_ax, devices)
    eff_ax.set_ylim(0, max([105.0] + [e * 1.05 for e in efficiency]))
    eff_ax.set_ylabel("scaling efficiency (%)", fontsize=11)
    eff_ax.set_title("Scaling efficiency", fontsize=13)
    if title:
        fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    return fig


def _segments(step: Any, kind: str) -> list[tuple[float, float]]:
    """(start, width) in ms of the timeline's segments of ``kind``."""
    return [(s["start_s"] * 1e3, (s["end_s"] - s["start_s"]) * 1e3) for s in step.timeline if s["kind"] == kind]


def _timeline_note(step: Any) -> str:
    notes = []
    if step.simulation:
        sim = step.simulation
        idle = sim["idle_per_iteration_s"]
        notes.append(f"{step.sync} simulation, {sim['workers']} workers x {sim['iterations']} iterations: idle "
                     f"p50 {format_si(idle['p50'], 's')}, p99 {format_si(idle['p99'], 's')} per iteration; "
                     f"staleness mean {sim['mean_staleness']:.2f}, max {sim['max_staleness']}")
    if not _segments(step, "gradient_comm"):
        notes.append("no gradient communication" + (" (one replica)" if step.parallel.data == 1 else ""))
    return "\n".join(notes)


def plot_timeline(step: Any, fig: Any = None) -> Any:
    """A Gantt chart of one iteration of pipeline stage 0 (x in ms): a compute row (forward,
    bubble, backward, optimizer, waiting; one ``broken_barh`` per kind, its gid the kind)
    and a gradient-communication row (each bucket a bar, gid ``gradient_comm``)."""
    plt = plots._pyplot()
    from matplotlib.patches import Patch

    if fig is None:
        fig = plt.figure(figsize=(plots.WIDTH_IN, 3.6), dpi=plots.DPI)
    ax = fig.add_subplot()
    rows = {"compute": 1.0, "gradient_comm": 0.0}
    handles = []
    for kind in (*_COMPUTE_ROW, "gradient_comm"):
        bars = _segments(step, kind)
        if not bars:
            continue
        label, colour = _SEGMENTS[kind]
        y = rows["gradient_comm" if kind == "gradient_comm" else "compute"]
        ax.broken_barh(bars, (y - 0.35, 0.7), facecolors=colour, edgecolors="white", linewidth=0.8, gid=kind)
        handles.append(Patch(color=colour, label=label))
    end_ms = step.time_per_iteration_s * 1e3
    ax.axvline(end_ms, color="#2c3e50", linestyle="--", linewidth=1)
    ax.set_xlim(0, max([end_ms] + [s["end_s"] * 1e3 for s in step.timeline]) * 1.02 or 1.0)
    ax.set_ylim(-0.7, 1.7)
    ax.set_yticks([1.0, 0.0], ["compute", "gradient comm"], fontsize=10)
    ax.set_xlabel("time in the iteration (ms)", fontsize=11)
    ax.set_title(f"One iteration: {step.model} on {step.cluster}, stage 0 of {step.parallel.pipeline}, "
                 f"{format_si(step.time_per_iteration_s, 's')} (dashed line)", fontsize=13)
    ax.grid(True, axis="x", alpha=0.3)
    if handles:
        ax.legend(handles=handles, fontsize=9, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    note = _timeline_note(step)
    if note:
        ax.text(0.005, 0.03, note, transform=ax.transAxes, va="bottom", ha="left", fontsize=9, color="#444")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- the report folder

def _rows(pairs: Sequence[Sequence[Any]]) -> str:
    return "\n".join("<tr><th>" + _e(first) + "</th>" + "".join(f"<td>{_e(c)}</td>" for c in rest) + "</tr>"
                     for first, *rest in pairs)


def _table(cls: str, header: Sequence[str], pairs: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    return f'<table class="{_e(cls)}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{_rows(pairs)}\n</tbody>\n</table>'


def _summary_pairs(step: Any) -> list[tuple[str, str]]:
    p = step.parallel
    pairs = [
        ("model", step.model), ("cluster", step.cluster), ("device", step.device), ("devices", f"{step.devices:,}"),
        ("parallelism", f"data {p.data} x tensor {p.tensor} x pipeline {p.pipeline}"),
        ("micro-batches", f"{step.microbatches} ({step.schedule})"), ("comm", step.comm), ("sync", _sync(step)),
        ("stragglers", step.stragglers), ("compression", step.compress),
        ("batch per replica", f"{step.batch:,}"), ("global batch", f"{step.global_batch:,}"),
        ("time per iteration", format_si(step.time_per_iteration_s, "s")),
        ("throughput", f"{step.samples_per_s:,.1f} samples/s"),
        ("one device", f"{step.single_device_samples_per_s:,.1f} samples/s"),
        ("scaling efficiency", f"{step.scaling_efficiency:.1%}"),
    ]
    ttt = _time_to_train(step)
    if ttt:
        pairs.append(("time to train", ttt))
    memory = format_si(step.memory_per_device_bytes, "B")
    if step.memory_capacity_bytes:
        memory += f" of {format_si(step.memory_capacity_bytes, 'B')}"
    pairs.append(("memory per device", memory))
    return pairs


def _breakdown_table(step: Any) -> str:
    total = step.time_per_iteration_s
    return _table("breakdown", ["part", "time", "share"],
                  [(name, format_si(t, "s"), "100%" if name == "TOTAL" else _percent(t, total))
                   for name, t in breakdown_rows(step)])


def _bytes_table(step: Any) -> str:
    return _table("comm-bytes", ["link", "bytes per iteration"],
                  [(_link(k), f"{v:,.0f}") for k, v in step.comm_bytes.items()])


def _stage_table(step: Any) -> str:
    return _table("stages", ["stage", "layers", "first layer", "last layer", "forward", "backward", "gradients"],
                  [(i, s["layers"], s["first_layer"], s["last_layer"], format_si(s["forward_s"], "s"),
                    format_si(s["backward_s"], "s"), format_si(s["gradient_bytes"], "B"))
                   for i, s in enumerate(step.stages)])


def render_distributed_page(step: Any) -> str:
    """The ``index.html`` of a distributed report: the headline figures, the breakdown, the
    bytes per link class, the stages (where more than one), both figures, a link to
    ``train.json``. Every text is escaped."""
    warning = _large_batch_warning(step)
    extra = [f'<p class="warning">{_e(warning)}</p>'] if warning else []
    if len(step.stages) > 1:
        extra += ["<h2>Pipeline stages</h2>", _stage_table(step)]
    if step.simulation:
        extra.append(f'<p class="simulation">{_e(_simulation_line(step.simulation))}</p>')
    css = """table.breakdown td, table.comm-bytes td { text-align: right; font-variant-numeric: tabular-nums; }
p.warning { color: #a94400; font-weight: 600; }"""
    body = f"""<table class="summary">
{_rows(_summary_pairs(step))}
</table>
{chr(10).join(extra)}
<h2>Where an iteration's time goes</h2>
{_breakdown_table(step)}
<h2>Bytes per iteration by link class</h2>
{_bytes_table(step)}
<p>Every figure of the step and its scaling curve: <a href="train.json">train.json</a>.</p>
<h2>Plots</h2>
{figures(REPORT_FIGURES.items())}"""
    return page(f"accelsim: {step.model} training on {step.cluster}", body, css)


def write_distributed_report(step: Any, curve: Sequence[Mapping[str, float]], folder: str | Path) -> Path:
    """Write ``scaling.png``, ``timeline.png``, ``train.json`` (``step.to_dict()`` plus
    ``scaling_curve``) and ``index.html`` into ``folder``, all or nothing; return its path.

    Raises:
        ValueError: a figure of the step or curve is not finite (JSON has no NaN).
    """
    folder = Path(folder)
    data = dict(step.to_dict(), scaling_curve=[dict(p) for p in curve])
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    with atomic_dir(folder) as scratch:
        plots.save(plot_scaling(curve, title=f"Scaling: {step.model} on {step.cluster}"), scratch / "scaling.png")
        plots.save(plot_timeline(step), scratch / "timeline.png")
        (scratch / "train.json").write_text(text, encoding="utf-8")
        (scratch / "index.html").write_text(render_distributed_page(step), encoding="utf-8")
    return folder
