"""The ``lowrank`` pass: replace a linear or conv2d layer by a chain of thinner layers whose
product is a truncated decomposition of its weight.

* ``linear`` (weight ``W`` of shape (N, K)): the truncated SVD ``W ~= U_r S_r V_r^T`` gives a
  linear K -> r without bias (weight ``sqrt(S_r) V_r^T``) and a linear r -> N with the
  original bias (weight ``U_r sqrt(S_r)``): ``r (N + K)`` MACs per row instead of ``N K``.
* ``conv2d``, ``method="channel"``: the same SVD of the weight read as a (K, C R S) matrix
  gives a conv C -> r with the original kernel, stride, padding and dilation, then a 1x1
  conv r -> K with the bias.
* ``conv2d``, ``method="tucker2"``: the HOSVD of the output- and input-channel unfoldings
  (Tucker-2) gives a 1x1 conv C -> R1, the original RxS conv R1 -> R2 on the core, then a 1x1
  conv R2 -> K with the bias. A 1x1 conv has no spatial core and takes the channel method.

No nonlinearity sits between the new layers, so the chain computes exactly what the
decomposed weight would, borders included (a 1x1 conv without bias maps zero padding to
zero). The rank comes from ``energy`` (the smallest rank keeping that share of the squared
singular values) or ``speedup`` (the largest rank whose MACs are at most the dense layer's
divided by it). Without weights only ``speedup`` can choose a rank: the structure changes,
so MACs and parameters can be estimated, and the notes say that no fit was made.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..errors import AccelsimError, PassError
from ..ir import OPS, Graph, NodeSpec, TensorType
from ..ir.opdef import normalize_attrs
from ..registry import did_you_mean
from .manager import Pass
from .result import Note, PassResult

__all__ = ["lowrank", "LOWRANK", "METHODS", "DEFAULT_SPEEDUP", "DEFAULT_MIN_SIZE"]

METHODS = ("channel", "tucker2")
# The registered pass (no arguments) asks for half the MACs of each layer it decomposes.
DEFAULT_SPEEDUP = 2.0
# Layers with fewer weights than this gain nothing measurable and only add a layer.
DEFAULT_MIN_SIZE = 1024
# Squared singular values below this share of the total count as zero when an energy is
# met: the rounding of the SVD itself, so energy=1.0 keeps an exactly low-rank weight's rank.
_ENERGY_ROUNDING = 1e-12


@dataclass(frozen=True)
class Fit:
    """The weights of a replacement's nodes (in their order), what the fit records and its
    squared error against the squared norm of the original weight."""

    weights: tuple[Mapping[str, Any], ...]
    info: Mapping[str, Note]
    error: tuple[float, float]


@dataclass(frozen=True)
class Plan:
    """A layer's replacement: the new nodes without weights (the last keeps the layer's
    name), the figures recorded for it, and the fit of their weights where the layer has
    some (run only once the structure is known to save MACs)."""

    specs: tuple[NodeSpec, ...]
    info: Mapping[str, Note]
    fit: Callable[[], Fit] | None = None


@dataclass(frozen=True)
class Skip:
    """Why a layer is left as it is."""

    reason: str


def lowrank(graph: Graph, *, energy: float | None = None, speedup: float | None = None,
            layers: Iterable[str] | None = None, min_size: int = DEFAULT_MIN_SIZE,
            method: str = "channel") -> PassResult:
    """Decompose each selected linear and conv2d layer of a copy of ``graph``.

    ``energy`` (0 < e <= 1) or ``speedup`` (>= 1), exactly one; ``layers``: the names to
    decompose (default: every linear and conv2d); ``min_size``: layers with fewer weights
    are left alone; ``method``: ``channel`` or ``tucker2`` for convolutions.

    Raises:
        PassError: a bad argument, an unknown or unsuited layer name, or ``energy`` on a
            graph without weights (energy needs the singular values).
    """
    if (energy is None) == (speedup is None):
        raise PassError("lowrank: give exactly one of energy (share of the squared singular "
                        "values to keep) and speedup (MAC reduction per layer)")
    if energy is not None and not (_is_number(energy) and 0 < energy <= 1):
        raise PassError(f"lowrank: energy must be in (0, 1], got {energy!r}")
    if speedup is not None and not (_is_number(speedup) and 1 <= speedup < math.inf):
        raise PassError(f"lowrank: speedup must be a finite number >= 1, got {speedup!r}")
    if method not in METHODS:
        raise PassError(f"lowrank: unknown method {method!r}; {did_you_mean(str(method), list(METHODS))}")
    if not isinstance(min_size, int) or min_size < 0:
        raise PassError(f"lowrank: min_size must be a non-negative integer, got {min_size!r}")
    if energy is not None and not graph.has_weights:
        raise PassError("lowrank: energy needs the singular values of the weights and the graph "
                        "has no weights; choose the rank by speedup instead")
    names = select_layers(graph, layers, ("linear", "conv2d"), "lowrank")

    def plan(g: Graph, name: str) -> Plan | Skip:
        return _plan(g, name, energy=energy, speedup=speedup, min_size=min_size, method=method)

    notes: dict[str, Note] = {"method": method}
    notes.update({"energy": float(energy)} if energy is not None else {"speedup": float(speedup)})
    fit = "truncated SVD of the weights" + (" (HOSVD for convolutions)" if method == "tucker2" else "")
    return apply_plans(graph, names, plan, "lowrank", notes, fit=fit)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


# --------------------------------------------------------------------------- shared machinery
# (the factorize pass rewrites layers the same way: select, plan, price, replace, record)


def select_layers(graph: Graph, layers: Iterable[str] | None, ops: Sequence[str], who: str) -> list[str]:
    """The layers a pass works on, in graph order: every layer of ``ops``, or those named.

    Raises:
        PassError: a named layer does not exist or is not one of ``ops``.
    """
    if layers is None:
        return [n.name for n in graph.nodes() if n.op in ops]
    wanted = [layers] if isinstance(layers, str) else list(layers)
    for name in wanted:
        if name not in graph:
            raise PassError(f"{who}: no layer {name!r}; "
                            f"{did_you_mean(str(name), [n.name for n in graph.nodes() if n.op in ops])}")
        if graph.node(name).op not in ops:
            raise PassError(f"{who}: layer {name!r} is a {graph.node(name).op}; {who} works on "
                            + " and ".join(ops))
    chosen = set(wanted)
    return [n.name for n in graph.nodes() if n.name in chosen]


def fresh_name(g: Graph, base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``... where the graph or this rewrite already uses it."""
    name, i = base, 1
    while name in g or name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def chain_cost(x: TensorType, specs: Sequence[NodeSpec]) -> tuple[TensorType, int, int]:
    """Output type, MACs and parameters of ``specs`` applied one after the other to ``x``,
    priced by the op registry as the graph will price them."""
    t, macs, params = x, 0, 0
    for spec in specs:
        op = OPS.get(spec.op)
        attrs = normalize_attrs(op, spec.attrs)
        out = op.infer([t], attrs)
        macs += op.lower([t], out, attrs).macs
        params += sum(math.prod(s) for s in op.weight_shapes([t], attrs).values())
        t = out
    return t, macs, params


def float_dtype(w: np.ndarray) -> np.dtype:
    """The dtype new weights are stored at: the layer's, unless it is not floating point."""
    return w.dtype if np.issubdtype(w.dtype, np.floating) else np.dtype(np.float64)


def blocking_annotations(g: Graph, name: str) -> str | None:
    """Why the layer's annotations stop a rewrite (only ``fused`` moves to the last node)."""
    other = sorted(set(g.node(name).annotations) - {"fused"})
    if other:
        return (f"has {', '.join(other)} annotation(s), which a rewrite would drop; "
                "decompose before annotating")
    return None


def carried_annotations(g: Graph, name: str) -> tuple[Any, ...]:
    """The annotations the last node of a replacement takes over: the fused activation."""
    fused = g.node(name).annotations.get("fused")
    return (fused,) if fused is not None else ()


def apply_plans(graph: Graph, names: Sequence[str], plan: Callable[[Graph, str], Plan | Skip],
                who: str, notes: dict[str, Note], *, fit: str) -> PassResult:
    """Plan each layer of a copy of ``graph``, keep the plans that save MACs, replace the
    layers and record MACs, parameters and fit errors per layer and in all."""
    g = graph.copy()
    macs_before, params_before = g.macs(), g.params()
    # a rewrite keeps every layer's output type, so the other layers' figures stay as they are
    original = {layer.name: layer for layer in g.layers()}
    by_layer: dict[str, dict[str, Note]] = {}
    errors: list[tuple[float, float]] = []
    done = 0
    for name in names:
        layer_macs, layer_params = original[name].macs, original[name].params
        out_type = g.type_of(name)
        try:
            result = plan(g, name)
        except AccelsimError as exc:  # a shape that no split of the layer can take
            result = Skip(exc.message)
        if isinstance(result, Skip):
            by_layer[name] = {"skipped": result.reason}
            continue
        x = g.type_of(g.node(name).inputs[0])
        new_type, new_macs, new_params = chain_cost(x, result.specs)
        if new_type.shape != out_type.shape:
            by_layer[name] = {"skipped": f"the rewrite would give shape {list(new_type.shape)} "
                                         f"instead of {list(out_type.shape)}"}
            continue
        if new_macs >= layer_macs:
            by_layer[name] = {"skipped": f"no MAC saving: {new_macs:,} MACs against the "
                                         f"layer's {layer_macs:,}", **result.info}
            continue
        specs, info = result.specs, dict(result.info)
        if result.fit is not None:
            made = result.fit()
            specs = tuple(_with_weights(s, w) for s, w in zip(specs, made.weights))
            info.update(made.info)
            errors.append(made.error)
        g.replace(name, specs, name)
        if g.type_of(name) != out_type:
            raise PassError(f"{who}: the rewrite of layer {name!r} changed its output from "
                            f"{out_type} to {g.type_of(name)}")
        by_layer[name] = {**info, "macs_before": layer_macs, "macs_after": new_macs,
                          "params_before": layer_params, "params_after": new_params}
        done += 1
    notes = {**notes, "layers_decomposed": done, "macs_before": macs_before, "macs_after": g.macs(),
             "params_before": params_before, "params_after": g.params()}
    if errors:
        per_layer = [math.sqrt(e / t) if t > 0 else 0.0 for e, t in errors]
        total = sum(t for _, t in errors)
        notes.update(fit=fit, fit_error_max=max(per_layer),
                     fit_error_mean=sum(per_layer) / len(per_layer),
                     fit_error=math.sqrt(sum(e for e, _ in errors) / total) if total > 0 else 0.0)
    else:
        notes["fit"] = ("none: no rewritten layer has weights, only the structure changed"
                        if done else "none: no layer was rewritten")
    return PassResult(g, notes=notes, by_layer=by_layer)


def fitted(weights: Sequence[Mapping[str, Any]], w: np.ndarray, approx: np.ndarray,
           info: Mapping[str, Note] | None = None) -> Fit:
    """A ``Fit`` recording the relative Frobenius error ``||W - W_r|| / ||W||``."""
    w = np.asarray(w, dtype=np.float64)
    err, tot = float(np.sum((w - approx) ** 2)), float(np.sum(w ** 2))
    return Fit(tuple(weights), {**(info or {}), "fit_error": math.sqrt(err / tot) if tot > 0 else 0.0},
               (err, tot))


def with_bias(g: Graph, name: str, arrays: dict[str, Any]) -> dict[str, Any]:
    """``arrays`` plus the layer's bias, which the last node of a replacement keeps."""
    bias = g.weights(name).get("bias")
    return arrays if bias is None else {**arrays, "bias": bias}


# --------------------------------------------------------------------------- ranks


def rank_for_energy(s: np.ndarray, energy: float) -> int:
    """The smallest r whose r largest squared singular values hold ``energy`` of their sum."""
    sq = np.asarray(s, dtype=np.float64) ** 2
    total = float(sq.sum())
    if total == 0.0:
        return 1
    kept = np.cumsum(sq)
    need = energy * total * (1 - _ENERGY_ROUNDING)
    return int(min(np.searchsorted(kept, need) + 1, len(sq)))


def rank_for_speedup(macs_at: Callable[[int], int], dense: int, max_rank: int, speedup: float) -> int:
    """The largest r in 1..max_rank with ``dense / macs_at(r) >= speedup`` (MACs grow with r);
    0 where even rank 1 misses the target."""
    lo, hi = 0, max_rank
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if dense >= speedup * macs_at(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


# --------------------------------------------------------------------------- planning


def _plan(g: Graph, name: str, *, energy: float | None, speedup: float | None, min_size: int,
          method: str) -> Plan | Skip:
    node = g.node(name)
    blocked = blocking_annotations(g, name)
    if blocked:
        return Skip(blocked)
    if node.op == "conv2d" and node.attrs["groups"] != 1:
        return Skip(f"grouped convolution (groups={node.attrs['groups']}); decomposition needs groups=1")
    x = g.type_of(node.inputs[0])
    shape = node.opdef.weight_shapes([x], node.attrs)["weight"]
    if math.prod(shape) < min_size:
        return Skip(f"{math.prod(shape):,} weights, fewer than min_size={min_size:,}")
    w = g.weights(name).get("weight")
    if w is None and energy is not None:
        return Skip("no weights: energy needs the singular values")
    if node.op == "conv2d" and method == "tucker2" and tuple(node.attrs["kernel"]) != (1, 1):
        return _plan_tucker2(g, name, w, energy, speedup)
    return _plan_channel(g, name, w, energy, speedup)


def _two_layers(g: Graph, name: str, rank: int) -> tuple[NodeSpec, NodeSpec]:
    """The structure of a rank-``rank`` split of a linear or conv2d (no weights yet)."""
    node = g.node(name)
    first = fresh_name(g, f"{name}_lowrank", set())
    a = dict(node.attrs)
    if node.op == "linear":
        specs = (NodeSpec(first, "linear", node.inputs, {"out_features": rank, "bias": False}),
                 NodeSpec(name, "linear", (first,), {"out_features": a["out_features"], "bias": a["bias"]},
                          annotations=carried_annotations(g, name)))
    else:
        specs = (NodeSpec(first, "conv2d", node.inputs, {**a, "out_channels": rank, "bias": False}),
                 NodeSpec(name, "conv2d", (first,), {"out_channels": a["out_channels"], "kernel": 1,
                                                     "bias": a["bias"]},
                          annotations=carried_annotations(g, name)))
    return specs


def _plan_channel(g: Graph, name: str, w: Any, energy: float | None, speedup: float | None) -> Plan | Skip:
    node = g.node(name)
    x = g.type_of(node.inputs[0])
    shape = node.opdef.weight_shapes([x], node.attrs)["weight"]
    rows, cols = shape[0], math.prod(shape[1:])
    max_rank = min(rows, cols)
    s = u = vt = None
    if w is not None:
        mat = np.asarray(w, dtype=np.float64).reshape(rows, cols)
        u, s, vt = np.linalg.svd(mat, full_matrices=False)
    if energy is not None:
        rank = rank_for_energy(s, energy)
        why = f"energy {energy:g}"
    else:
        dense = chain_cost(x, [NodeSpec(name, node.op, node.inputs, node.attrs)])[1]
        rank = rank_for_speedup(lambda r: chain_cost(x, _two_layers(g, name, r))[1], dense, max_rank, speedup)
        why = f"speedup {speedup:g}"
        if rank == 0:
            return Skip(f"{why} is out of reach: even rank 1 costs more than 1/{speedup:g} of the MACs")
    first, second = _two_layers(g, name, rank)
    info: dict[str, Note] = {"method": "svd" if node.op == "linear" else "channel", "rank": rank,
                             "max_rank": max_rank}
    if rank * (rows + cols) >= rows * cols:
        return Skip(f"rank {rank} ({why}) gives no MAC saving: r*(N+K) = {rank * (rows + cols):,} "
                    f">= N*K = {rows * cols:,}")
    if w is None:
        return Plan((first, second), info)

    def fit() -> Fit:
        dt = float_dtype(np.asarray(w))
        root = np.sqrt(s[:rank])
        left = (u[:, :rank] * root).astype(dt)            # (rows, r): the second layer
        right = (root[:, None] * vt[:rank]).astype(dt)    # (r, cols): the first layer
        return fitted([{"weight": right.reshape((rank,) + tuple(shape[1:]))},
                       with_bias(g, name, {"weight": left.reshape((rows, rank) + (1,) * (len(shape) - 2))})],
                      np.asarray(w).reshape(rows, cols), left.astype(np.float64) @ right.astype(np.float64))

    return Plan((first, second), info, fit)


def _with_weights(spec: NodeSpec, weights: Mapping[str, Any]) -> NodeSpec:
    return NodeSpec(spec.name, spec.op, spec.inputs, spec.attrs, spec.annotations, dict(weights), spec.source)


def _tucker_layers(g: Graph, name: str, r_in: int, r_out: int) -> tuple[NodeSpec, NodeSpec, NodeSpec]:
    node = g.node(name)
    a = dict(node.attrs)
    taken: set[str] = set()
    first, core = fresh_name(g, f"{name}_in", taken), fresh_name(g, f"{name}_core", taken)
    return (NodeSpec(first, "conv2d", node.inputs, {"out_channels": r_in, "kernel": 1, "bias": False}),
            NodeSpec(core, "conv2d", (first,), {**a, "out_channels": r_out, "bias": False}),
            NodeSpec(name, "conv2d", (core,), {"out_channels": a["out_channels"], "kernel": 1,
                                               "bias": a["bias"]},
                     annotations=carried_annotations(g, name)))


def _plan_tucker2(g: Graph, name: str, w: Any, energy: float | None, speedup: float | None) -> Plan | Skip:
    node = g.node(name)
    x = g.type_of(node.inputs[0])
    k, c, kh, kw = node.opdef.weight_shapes([x], node.attrs)["weight"]
    cap_out, cap_in = min(k, c * kh * kw), min(c, k * kh * kw)
    if w is not None:
        w64 = np.asarray(w, dtype=np.float64)
        u0, s0, _ = np.linalg.svd(w64.reshape(k, -1), full_matrices=False)
        u1, s1, _ = np.linalg.svd(w64.transpose(1, 0, 2, 3).reshape(c, -1), full_matrices=False)
    if energy is not None:
        r_in, r_out = rank_for_energy(s1, energy), rank_for_energy(s0, energy)
    else:
        def ranks(r: int) -> tuple[int, int]:
            return min(cap_in, max(1, round(r * c / k))), r

        dense = chain_cost(x, [NodeSpec(name, node.op, node.inputs, node.attrs)])[1]
        r_out = rank_for_speedup(lambda r: chain_cost(x, _tucker_layers(g, name, *ranks(r)))[1],
                                 dense, cap_out, speedup)
        if r_out == 0:
            return Skip(f"speedup {speedup:g} is out of reach: even ranks (1, 1) cost more than 1/{speedup:g} of the MACs")
        r_in, r_out = ranks(r_out)
    specs = _tucker_layers(g, name, r_in, r_out)
    info: dict[str, Note] = {"method": "tucker2", "rank_in": r_in, "rank_out": r_out}
    if w is None:
        return Plan(specs, info)

    def fit() -> Fit:
        dt = float_dtype(np.asarray(w))
        out_basis, in_basis = u0[:, :r_out], u1[:, :r_in]
        core = np.einsum("ka,cb,kcrs->abrs", out_basis, in_basis, w64)
        out_basis, in_basis, core = (t.astype(dt) for t in (out_basis, in_basis, core))
        approx = np.einsum("ka,cb,abrs->kcrs", *(t.astype(np.float64) for t in (out_basis, in_basis, core)))
        return fitted([{"weight": in_basis.T.reshape(r_in, c, 1, 1)}, {"weight": core},
                       with_bias(g, name, {"weight": out_basis.reshape(k, r_out, 1, 1)})], w64, approx)

    return Plan(specs, info, fit)


def _default_lowrank(graph: Graph) -> Graph:
    return lowrank(graph, speedup=DEFAULT_SPEEDUP).graph


LOWRANK = Pass("lowrank", _default_lowrank,
               doc=f"Split each linear and conv2d into two thinner layers by truncated SVD, at "
                   f"{DEFAULT_SPEEDUP:g}x fewer MACs per layer.")
