"""Automatic compression with the cost model in the loop: per-layer pruning ratio, pruning
structure and bit width chosen for what they save *on the target machine*.

The search is greedy, in the manner of AMC and HAQ's hardware-in-the-loop policies (He et
al., ECCV 2018; Wang et al., CVPR 2019) but with the analytical cost model as the oracle:

1. Every option (a structure at a ratio, a width) is applied to all layers at once and the
   graph is costed on the machine: one estimate per option gives each layer's latency and
   energy under it. Channel pruning also narrows the next layer's input, which this sees.
2. Each (layer, option) move is scored by what it saves in the target metric over the damage
   it does: the relative squared error it leaves in the layer's weights (seeded weights where
   the model has none), a proxy measured on the real tensors.
3. Moves are taken best first, one per layer (a better option may replace a layer's earlier
   one), until the model's estimated metric reaches the target.
4. The policy is applied with the real passes and measured on the integer and sparse kernels;
   while it falls below ``min_accuracy`` (or ``min_snr_db``), the last move is undone.

On a dense array only channel pruning and widths the datapath packs save time, so those are
what it picks; on a machine that skips zeros, unstructured sparsity saves time at a fraction
of the damage of removing filters, so it picks that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..errors import SpecError
from ..estimation import estimate
from ..hw import HardwareSpec, load_hardware
from ..ir import Graph
from ..passes.prune import PRUNABLE, prune
from ..passes.quantize import quantize
from .quality import Judge, Quality
from .run import Compressed, PassStep, Snapshot, model_bytes, prepare

__all__ = ["Option", "Target", "parse_target", "auto_compress", "OPTIONS", "apply_policy"]


@dataclass(frozen=True)
class Option:
    """One per-layer choice: a pruning ``structure`` (``dense``, ``unstructured``, ``n:m``,
    ``channel``) at ``sparsity`` (the fraction removed) and a weight width."""

    structure: str
    sparsity: float = 0.0
    bits: int = 8

    @property
    def label(self) -> str:
        prune_part = {"dense": "dense", "n:m": "2:4"}.get(self.structure, f"{self.structure} {self.sparsity:g}")
        return f"{prune_part} int{self.bits}"


OPTIONS: tuple[Option, ...] = (
    *(Option("unstructured", s) for s in (0.5, 0.75, 0.9)),
    Option("n:m", 0.5),
    *(Option("channel", s) for s in (0.25, 0.5, 0.75)),
    Option("dense", 0.0, 4),
)
BASE = Option("dense", 0.0, 8)
ROUNDS = 4  # times the greedy policy is costed as a whole and continued from what it gives


@dataclass(frozen=True)
class Target:
    """``metric`` (``latency`` or ``energy``) at ``ratio`` of the uncompressed model's."""

    metric: str
    ratio: float


def parse_target(text: str) -> Target:
    """``latency=0.5x`` -> Target("latency", 0.5).

    Raises:
        SpecError: not METRIC=RATIOx with a metric of latency or energy and 0 < ratio < 1.
    """
    metric, _, value = text.partition("=")
    value = value.strip().removesuffix("x")
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if metric.strip() not in ("latency", "energy") or not 0 < ratio < 1:
        raise SpecError(f"--target reads like latency=0.5x or energy=0.3x (a ratio below 1), got {text!r}",
                        field="target")
    return Target(metric.strip(), ratio)


def _layers(graph: Graph) -> list[str]:
    return [n.name for n in graph.nodes() if n.op in PRUNABLE]


def apply_policy(graph: Graph, policy: Mapping[str, Option]) -> Graph:
    """``graph`` with each layer's option applied by the real passes: channel pruning first
    (it changes shapes), then unstructured and 2:4 pruning, then per-layer widths."""
    g = graph
    for s in sorted({o.sparsity for o in policy.values() if o.structure == "channel"}):
        names = [n for n, o in policy.items() if o.structure == "channel" and o.sparsity == s]
        g = prune(g, s, structure="channel", layers=names).graph
    densities = {n: 1 - o.sparsity for n, o in policy.items() if o.structure == "unstructured"}
    if densities:
        g = prune(g, densities=densities).graph
    nm = [n for n, o in policy.items() if o.structure == "n:m"]
    if nm:
        g = prune(g, structure="n:m", n=2, m=4, layers=nm).graph
    bits = {n: o.bits for n, o in policy.items()}
    return quantize(g, bits, act_bits=8).graph


def _damage(graph: Graph, name: str, option: Option) -> float:
    """Relative squared error the option leaves in the layer's weights."""
    from ..kernels.quant import choose_params, dequantize
    from ..kernels.quant import quantize as to_grid
    from ..kernels.sparse import magnitude_mask
    from ..passes.prune import kept_filters, nm_keep

    w = np.asarray(graph.weights(name)["weight"], dtype=np.float64)
    total = float(np.sum(w * w)) or 1.0
    if option.structure == "unstructured":
        kept = np.where(magnitude_mask(w, 1 - option.sparsity), w, 0.0)
    elif option.structure == "n:m":
        kept = np.where(nm_keep(w, 2, 4), w, 0.0) if w.reshape(w.shape[0], -1).shape[1] % 4 == 0 else w
    elif option.structure == "channel":
        kept = np.zeros_like(w)
        keep = kept_filters(w, option.sparsity)
        kept[keep] = w[keep]
    else:
        kept = w
    params = choose_params(kept, option.bits)
    approx = dequantize(to_grid(kept, params), params)
    return float(np.sum((w - approx) ** 2)) / total


def _metric(est: Any, metric: str) -> float:
    return est.latency_s if metric == "latency" else est.totals.energy_j


def _per_layer(est: Any, metric: str) -> dict[str, float]:
    return {c.name: (c.latency_s if metric == "latency" else c.energy_j) for c in est.layers}


@dataclass
class _Search:
    graph: Graph
    spec: HardwareSpec
    target: Target
    kw: dict[str, Any]
    layers: list[str] = field(default_factory=list)

    def cost(self, g: Graph) -> Any:
        return estimate(g, self.spec, **self.kw)

    def savings(self, progress: Callable[[int, int], None] | None) -> tuple[dict[str, float], list[tuple[str, Option, float]]]:
        """The int8 dense model's per-layer metric, and what each (layer, option) saves.

        Most options are applied to every layer at once. Channel pruning also narrows the
        layers that read a pruned layer, so it is applied to every other layer in two passes
        and a layer is credited with its own saving plus its readers'.
        """
        from ..passes.prune import channel_readers

        base = _per_layer(self.cost(apply_policy(self.graph, {})), self.target.metric)
        found: list[tuple[str, Option, float]] = []
        for i, option in enumerate(OPTIONS):
            if progress:
                progress(i + 1, len(OPTIONS) + 2)
            if option.structure != "channel":
                per = _per_layer(self.cost(apply_policy(self.graph, {n: option for n in self.layers})),
                                 self.target.metric)
                found += [(n, option, base[n] - per[n]) for n in self.layers if n in per]
                continue
            readers = {n: channel_readers(self.graph, n) for n in self.layers}
            prunable = [n for n in self.layers if readers[n]]
            for half in (prunable[0::2], prunable[1::2]):
                if not half:
                    continue
                per = _per_layer(self.cost(apply_policy(self.graph, {n: option for n in half})), self.target.metric)
                for n in half:
                    touched = [n] + [r for r, _ in readers[n] or ()]
                    found.append((n, option, sum(base[t] - per.get(t, base[t]) for t in touched)))
        return base, found


def auto_compress(model: Graph | str | Path, hw: HardwareSpec | str | Path, *, target: Target,
                  min_accuracy: float | None = None, min_snr_db: float | None = None,
                  batch: int | None = None, precision: str | None = None, options: Any = None,
                  seed: int = 0, measure: str = "auto",
                  progress: Callable[[int, int], None] | None = None) -> Compressed:
    """Search a per-layer compression policy that brings ``target.metric`` to ``target.ratio``
    of the uncompressed model's on ``hw`` (see the module docstring).

    Raises:
        SpecError, GraphError, MappingError: as for ``estimate``.
    """
    spec = hw if isinstance(hw, HardwareSpec) else load_hardware(hw)
    graph, judge = prepare(model, measure=measure, seed=seed)
    weighted = graph if graph.has_weights else _seeded(graph, seed)
    kw = dict(batch=batch, precision=precision, options=options, seed=seed)
    search = _Search(weighted, spec, target, kw, _layers(weighted))
    base_est = search.cost(graph)
    goal = _metric(base_est, target.metric) * target.ratio
    base, savings = search.savings(progress)
    moves = sorted(((saved / (_damage(weighted, name, option) + 1e-6), name, option, saved)
                    for name, option, saved in savings if saved > 0),
                   key=lambda m: (-m[0], m[1], m[2].label))
    policy: dict[str, Option] = {}
    taken: dict[str, float] = {}
    history: list[dict[str, Option]] = []
    estimated = sum(base.values())  # the int8 dense model, layer by layer
    queue = list(moves)
    for _ in range(ROUNDS):
        while queue and estimated > goal:
            _, name, option, saved = queue.pop(0)
            gain = saved - taken.get(name, 0.0)
            if gain <= 0:
                continue
            policy[name] = option
            taken[name] = saved
            estimated -= gain
            history.append(dict(policy))
        if not queue or not history:
            break
        # Savings measured one option at a time do not add up exactly: cost the policy as it
        # is and go on from the model it really gives.
        actual = _metric(search.cost(apply_policy(weighted, policy)), target.metric)
        if actual <= goal:
            break
        estimated = actual
    threshold = min_accuracy if min_accuracy is not None else min_snr_db
    chosen, quality, tried = _within_quality(weighted, history, judge, threshold)
    compressed = apply_policy(graph if graph.has_weights else weighted, chosen)
    final = search.cost(compressed)
    before = Snapshot(base_est, model_bytes(graph), judge(graph) if judge is not None else None)
    after = Snapshot(final, model_bytes(compressed), quality)
    if progress:
        progress(len(OPTIONS) + 3, len(OPTIONS) + 3)
    reached = _metric(final, target.metric) / _metric(base_est, target.metric)
    policy_out = {n: o.label for n, o in chosen.items()}
    step = PassStep(f"auto:{target.metric}={target.ratio:g}x", {"layers_compressed": len(chosen),
                                                              "reached": round(reached, 4)},
                    {n: {"option": o} for n, o in policy_out.items()}, after.model_bytes, compressed.macs(),
                    compressed.params(), quality)
    extra = {"policy": policy_out,
             "target": {"metric": target.metric, "ratio": target.ratio, "reached": reached,
                        "met": reached <= target.ratio + 1e-9},
             "quality_checks": tried}
    note = quality.note if quality is not None else "quality not measured"
    return Compressed(graph.name, spec.name, before, after, (step,), compressed, note, extra)


def _seeded(graph: Graph, seed: int) -> Graph:
    from .quality import seeded_weights
    return seeded_weights(graph, seed)


def _within_quality(graph: Graph, history: list[dict[str, Option]], judge: Judge | None,
                    threshold: float | None) -> tuple[dict[str, Option], Quality | None, int]:
    """The longest prefix of the greedy moves whose measured quality meets ``threshold``
    (accuracy or SNR, whichever the judge measures), found by bisection; with no threshold
    or no judge, all of them."""
    if not history:
        return {}, judge(apply_policy(graph, {})) if judge is not None else None, 0

    def quality_of(i: int) -> Quality | None:
        return judge(apply_policy(graph, history[i])) if judge is not None else None

    def ok(q: Quality | None) -> bool:
        if threshold is None or q is None:
            return True
        value = q.accuracy if q.accuracy is not None else q.output_snr_db
        return value is not None and value >= threshold

    last = len(history) - 1
    q = quality_of(last)
    tried = 1
    if ok(q):
        return history[last], q, tried
    lo, hi, best = -1, last, (None, None)  # history[lo] passes (-1: nothing), history[hi] fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        qm = quality_of(mid)
        tried += 1
        if ok(qm):
            lo, best = mid, (history[mid], qm)
        else:
            hi = mid
    if lo < 0:
        return {}, judge(apply_policy(graph, {})) if judge is not None else None, tried + 1
    return best[0], best[1], tried  # type: ignore[return-value]
