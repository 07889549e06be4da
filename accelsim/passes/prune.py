"""The prune pass: magnitude pruning (per layer or global), N:M, and channel (filter) pruning.

On a graph with weights the pass zeroes real weights and annotates each pruned layer with the
``sparsity`` it measured; on a zoo graph without weights it annotates the target density, so
storage and cost can still be estimated. Channel pruning is structural: it removes whole
filters (by L1 norm, Li et al., "Pruning Filters for Efficient ConvNets", ICLR 2017) and the
matching input channels of the layers that read them, so the network is smaller on any
machine, dense or not. A layer whose output reaches an ``add``, ``concat`` or a graph output
keeps its filters: the channels there must match another branch's.

Which patterns a machine turns into speed is the cost model's business (``hw.compression``):
unstructured zeros need a zero-skipping datapath, 2:4 a GPU's sparse tensor cores.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import PassError
from ..ir import Graph, Sparsity
from ..kernels.sparse import magnitude_mask
from .result import PassResult

__all__ = ["prune", "PRUNABLE", "CHANNEL_WISE", "nm_keep", "kept_filters", "channel_readers",
           "channel_batchnorms", "rebuild"]

PRUNABLE = ("conv2d", "linear")
# Ops that act on each channel on its own: pruned channels pass through them untouched.
CHANNEL_WISE = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish",
                "hardsigmoid", "batchnorm", "maxpool", "avgpool", "dropout", "identity")


def _weighted(graph: Graph, layers: Sequence[str] | None) -> list[str]:
    names = [n.name for n in graph.nodes() if n.op in PRUNABLE]
    if layers is None:
        return names
    unknown = [name for name in layers if name not in names]
    if unknown:
        raise PassError(f"prune: {unknown[0]!r} is not a conv2d or linear layer of {graph.name!r}")
    return list(layers)


def nm_keep(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """Mask keeping the ``n`` largest magnitudes in every ``m`` consecutive weights along the
    reduction, in the weight's own order (``(K, C*R*S)`` for a conv: the layout
    ``kernels.sparse`` and the storage accounting read)."""
    from ..kernels.sparse import nm_mask
    a = np.asarray(w)
    return nm_mask(a.reshape(a.shape[0], -1), n, m).reshape(a.shape)


def _reduction(graph: Graph, name: str) -> int:
    ins = graph.type_of(graph.node(name).inputs[0]).shape
    node = graph.node(name)
    if node.op == "linear":
        return ins[-1]
    r, k = node.attrs["kernel"]
    return ins[1] // node.attrs["groups"] * r * k


def prune(graph: Graph, sparsity: float | None = None, *, structure: str = "unstructured",
          n: int | None = None, m: int | None = None, scope: str = "layer",
          layers: Sequence[str] | None = None, densities: Mapping[str, float] | None = None) -> PassResult:
    """Prune ``graph``'s conv2d and linear layers.

    ``structure``: ``unstructured`` (``sparsity`` = the fraction of weights zeroed, per layer
    or, with ``scope="global"``, one magnitude threshold over all of them), ``n:m`` (``n``
    kept in every ``m``), ``channel`` (``sparsity`` = the fraction of filters removed).
    ``densities``: per-layer kept fractions instead of one ``sparsity`` (unstructured only).

    Raises:
        PassError: a bad sparsity, structure, n:m or layer name.
    """
    if structure == "n:m":
        if n is None or m is None or not 0 < n < m:
            raise PassError(f"prune: n:m needs 0 < n < m, got {n}:{m}")
    elif densities is None and (sparsity is None or not 0 <= sparsity < 1):
        raise PassError(f"prune: sparsity must be in [0, 1), got {sparsity!r}")
    if scope not in ("layer", "global"):
        raise PassError(f"prune: scope must be 'layer' or 'global', got {scope!r}")
    names = _weighted(graph, layers if densities is None else list(densities))
    if structure == "channel":
        assert sparsity is not None
        return _prune_channels(graph, names, sparsity)
    if structure == "n:m":
        assert n is not None and m is not None
        return _prune_nm(graph, names, n, m)
    if structure != "unstructured":
        raise PassError(f"prune: unknown structure {structure!r}; expected unstructured, n:m or channel")
    wanted = dict(densities) if densities is not None else {name: 1.0 - sparsity for name in names}  # type: ignore[operator]
    g = graph.copy()
    by_layer: dict[str, dict[str, Any]] = {}
    threshold = _global_threshold(g, names, 1.0 - sparsity) if scope == "global" and densities is None else None  # type: ignore[operator]
    for name in names:
        arrays = dict(g.weights(name))
        if "weight" in arrays:
            w = np.asarray(arrays["weight"])
            mask = (np.abs(w) >= threshold) if threshold is not None else magnitude_mask(w, wanted[name])
            arrays["weight"] = np.where(mask, w, 0).astype(w.dtype)
            g.set_weights(name, arrays)
            density = float(np.count_nonzero(arrays["weight"])) / w.size
        else:
            if threshold is not None:
                raise PassError("prune: global magnitude pruning needs the model's weights")
            density = wanted[name]
        density = max(density, 1.0 / max(1, _size(g, name)))  # an annotation keeps one weight at least
        _annotate(g, name, Sparsity(weight_density=min(1.0, density),
                                    act_density=_act_density(g, name)))
        by_layer[name] = {"density": round(density, 6)}
    return PassResult(g, notes={"structure": "unstructured", "scope": scope, "layers": len(names)},
                      by_layer=by_layer)


def _size(g: Graph, name: str) -> int:
    node = g.node(name)
    shapes = node.opdef.weight_shapes([g.type_of(i) for i in node.inputs], node.attrs)
    return math.prod(shapes["weight"])


def _act_density(g: Graph, name: str) -> float:
    before = g.node(name).annotations.get("sparsity")
    return before.act_density if isinstance(before, Sparsity) else 1.0


def _annotate(g: Graph, name: str, ann: Sparsity) -> None:
    if ann.weight_density >= 1.0 and ann.act_density >= 1.0:
        return
    g.annotate(name, ann)


def _global_threshold(g: Graph, names: list[str], density: float) -> float:
    """The magnitude below which weights go, so that ``density`` of all of them stay."""
    arrays = [np.abs(np.asarray(g.weights(name)["weight"], dtype=np.float64)).ravel()
              for name in names if "weight" in g.weights(name)]
    if len(arrays) != len(names):
        raise PassError("prune: global magnitude pruning needs the weights of every layer")
    everything = np.sort(np.concatenate(arrays))[::-1]
    keep = int(round(density * everything.size))
    return float(everything[keep - 1]) if keep else float("inf")


def _prune_nm(graph: Graph, names: list[str], n: int, m: int) -> PassResult:
    g = graph.copy()
    by_layer: dict[str, dict[str, Any]] = {}
    for name in names:
        if _reduction(g, name) % m:
            by_layer[name] = {"skipped": f"reduction {_reduction(g, name)} is not a multiple of {m}"}
            continue
        arrays = dict(g.weights(name))
        if "weight" in arrays:
            w = np.asarray(arrays["weight"])
            arrays["weight"] = np.where(nm_keep(w, n, m), w, 0).astype(w.dtype)
            g.set_weights(name, arrays)
        g.annotate(name, Sparsity(weight_density=n / m, act_density=_act_density(g, name),
                                  structure="n:m", n=n, m=m))
        by_layer[name] = {"density": n / m}
    return PassResult(g, notes={"structure": f"{n}:{m}", "layers": sum("density" in v for v in by_layer.values())},
                      by_layer=by_layer)


# --------------------------------------------------------------------------- channels


def channel_readers(g: Graph, name: str) -> list[tuple[str, str]] | None:
    """The weighted layers that read ``name``'s channels, with how (``conv``, ``linear`` or
    ``flatten`` for a linear after a flatten), through channel-wise ops only; None when the
    channels reach anything else (add, concat, a graph output, a grouped conv)."""
    found: list[tuple[str, str]] = []
    frontier = [name]
    while frontier:
        current = frontier.pop()
        if current in g.outputs:
            return None
        for reader in g.consumers(current):
            node = g.node(reader)
            if node.op in CHANNEL_WISE:
                frontier.append(reader)
            elif node.op == "conv2d" and node.attrs["groups"] == 1:
                found.append((reader, "conv"))
            elif node.op == "linear" and g.type_of(current).rank == 2:
                found.append((reader, "linear"))
            elif node.op == "flatten" and g.consumers(reader) and all(
                    g.node(r).op == "linear" for r in g.consumers(reader)) and reader not in g.outputs:
                found += [(r, "flatten") for r in g.consumers(reader)]
            else:
                return None
    return found


def _filters_kept(channels: int, sparsity: float) -> int:
    return max(1, channels - int(round(sparsity * channels)))


def kept_filters(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Indices, ascending, of the filters (first axis) that channel pruning at ``sparsity``
    keeps: those with the largest L1 norms (Li et al. 2017), ties to the lower index."""
    a = np.abs(np.asarray(w, dtype=np.float64))
    norms = a.reshape(a.shape[0], -1).sum(axis=1)
    return np.sort(np.argsort(-norms, kind="stable")[:_filters_kept(a.shape[0], sparsity)])


def channel_batchnorms(g: Graph, name: str) -> list[str]:
    out, frontier = [], [name]
    while frontier:
        for reader in g.consumers(frontier.pop()):
            if g.node(reader).op in CHANNEL_WISE:
                frontier.append(reader)
                if g.node(reader).op == "batchnorm":
                    out.append(reader)
    return out


def _prune_channels(graph: Graph, names: list[str], sparsity: float) -> PassResult:
    attrs: dict[str, dict[str, Any]] = {}
    weights: dict[str, dict[str, np.ndarray]] = {}
    by_layer: dict[str, dict[str, Any]] = {}
    kept_in: dict[str, list[tuple[np.ndarray, str, int]]] = {}
    for name in names:
        readers = channel_readers(graph, name)
        node = graph.node(name)
        if node.op == "conv2d" and node.attrs["groups"] != 1:
            by_layer[name] = {"skipped": "grouped convolution"}
            continue
        if not readers:
            by_layer[name] = {"skipped": "its channels reach an add, a concat or an output"}
            continue
        channels = graph.type_of(name).shape[1]
        keep_n = _filters_kept(channels, sparsity)
        if keep_n == channels:
            continue
        w = graph.weights(name).get("weight")
        keep = kept_filters(w, sparsity) if w is not None else np.arange(keep_n)
        key = "out_channels" if node.op == "conv2d" else "out_features"
        attrs.setdefault(name, {})[key] = keep_n
        if w is not None:
            arrays = {k: np.asarray(v)[keep] for k, v in graph.weights(name).items()}
            weights[name] = {**weights.get(name, {}), **arrays}
            for bn in channel_batchnorms(graph, name):
                weights[bn] = {k: np.asarray(v)[keep] for k, v in graph.weights(bn).items()}
        for reader, how in readers:
            spatial = 1
            if how == "flatten":
                flat_in = graph.type_of(graph.node(reader).inputs[0])
                spatial = flat_in.shape[-1] // channels
            kept_in.setdefault(reader, []).append((keep, how, spatial))
        by_layer[name] = {"filters": channels, "kept": keep_n}
    for reader, cuts in kept_in.items():
        arrays = dict(weights.get(reader, graph.weights(reader)))
        if "weight" in arrays:
            w = np.asarray(arrays["weight"])
            for keep, how, spatial in cuts:
                if how == "flatten":  # channel-major flatten: channel c owns columns c*spatial ...
                    cols = (keep[:, None] * spatial + np.arange(spatial)[None, :]).ravel()
                    w = w[:, cols]
                else:
                    w = w[:, keep]
            arrays["weight"] = w
            weights[reader] = arrays
    g = rebuild(graph, attrs, weights)
    removed = graph.params() - g.params()
    return PassResult(g, notes={"structure": "channel", "params_removed": removed}, by_layer=by_layer)


def rebuild(graph: Graph, attrs: Mapping[str, Mapping[str, Any]],
            weights: Mapping[str, Mapping[str, Any]]) -> Graph:
    """A copy of ``graph`` with some layers' attributes and weights changed at once (a
    structural change touches producer and readers together, so it cannot go node by node).

    Raises:
        GraphError: the changed graph does not verify.
    """
    g = Graph(graph.name)
    for node in graph.nodes():
        g.add(node.name, node.op, node.inputs, {**node.attrs, **attrs.get(node.name, {})}, source=node.source,
              annotations=tuple(node.annotations.values()))
    g.set_outputs(list(graph.outputs))
    for node in graph.nodes():
        arrays = weights.get(node.name, graph.weights(node.name))
        if arrays:
            g.set_weights(node.name, arrays)
    g.verify()
    return g
