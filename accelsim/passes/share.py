"""The ``share`` pass: weight sharing by k-means, layer by layer, as in Deep Compression
(Han, Mao & Dally, ICLR 2016, section 3).

Each layer's non-zero weights are clustered into ``2**bits`` centroids; every weight is then
its centroid, stored as a ``bits``-bit index into the layer's codebook. Zeros left by pruning
stay zero and are not indices (the sparse format stores only the non-zeros). Centroids start
spread linearly over [min, max] of the weights, the initialisation Deep Compression found
best (section 3.2: it keeps the few large weights, which matter most, represented), and
Lloyd iterations run until no centroid moves. In one dimension the nearest centroid is found
by bisection between sorted centroids, so a layer costs O(n log k) per iteration and no
n-by-k table. With ``huffman`` the indices' mean Huffman code length is recorded too
(section 4): it is what the index stream costs once entropy-coded.

A graph without weights (a zoo structure) is annotated only: the ``sharing`` annotation says
how the weights would be stored, and no clustering is done.
"""

from __future__ import annotations

import heapq
import math
from typing import Any, Sequence

import numpy as np

from ..errors import PassError
from ..ir import Graph, Sharing
from .result import PassResult
from .storage import model_storage

__all__ = ["share", "huffman_lengths", "kmeans_1d", "MAX_SHARE_BITS"]

MAX_SHARE_BITS = 16  # a codebook of 2**16 fp32 centroids already outweighs most layers' savings
DEFAULT_ITERATIONS = 100


def huffman_lengths(frequencies: Any) -> np.ndarray:
    """The code length of each symbol in a Huffman code for ``frequencies`` (0 for a symbol
    that never occurs; 1 for the only one that does, as a code needs a bit per symbol).

    Ties merge the lighter node created first (symbols in index order, then merged nodes in
    creation order), so the code is the same on every run.
    """
    freqs = np.asarray(frequencies).ravel()
    if freqs.size and (not np.all(np.isfinite(freqs)) or freqs.min() < 0):
        raise ValueError("frequencies must be finite and non-negative")
    lengths = np.zeros(freqs.size, dtype=np.int64)
    symbols = np.flatnonzero(freqs > 0)
    k = symbols.size
    if k == 1:
        lengths[symbols[0]] = 1
    if k <= 1:
        return lengths
    heap = [(f, i) for i, f in enumerate(freqs[symbols].tolist())]  # (weight, node id)
    heapq.heapify(heap)
    parent = np.zeros(2 * k - 1, dtype=np.int64)
    node = k
    while len(heap) > 1:
        (wa, a), (wb, b) = heapq.heappop(heap), heapq.heappop(heap)
        parent[a] = parent[b] = node
        heapq.heappush(heap, (wa + wb, node))
        node += 1
    depth = np.zeros(2 * k - 1, dtype=np.int64)
    for i in range(2 * k - 3, -1, -1):  # a parent's id is above its children's
        depth[i] = depth[parent[i]] + 1
    lengths[symbols] = depth[:k]
    return lengths


def _assign(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest of the (sorted) centroids; a tie goes to the lower one."""
    return np.searchsorted((centroids[1:] + centroids[:-1]) / 2, x, side="left")


def kmeans_1d(values: Any, k: int, *, iterations: int = DEFAULT_ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means of 1-D ``values`` from ``k`` centroids spread linearly over their
    range: the sorted centroids (float64) and each value's centroid index. An empty cluster
    keeps its centroid; the iteration stops early once no centroid moves."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    c = np.linspace(x.min(), x.max(), k)
    for _ in range(iterations):
        labels = _assign(x, c)
        counts = np.bincount(labels, minlength=k)
        sums = np.bincount(labels, weights=x, minlength=k)
        new = np.sort(np.where(counts > 0, sums / np.maximum(counts, 1), c))
        if np.array_equal(new, c):
            break
        c = new
    return c, _assign(x, c)


def _weighted(graph: Graph) -> list[str]:
    return [layer.name for layer in graph.layers()
            if "weight" in layer.node.opdef.weight_shapes(list(layer.inputs), layer.node.attrs)]


def _selected(graph: Graph, layers: Sequence[str] | None) -> list[str]:
    weighted = _weighted(graph)
    if layers is None:
        return weighted
    if isinstance(layers, str):
        raise PassError("share: layers must be a list of layer names, not one string", field="layers")
    for name in layers:
        if name not in graph:
            from ..registry import did_you_mean
            raise PassError(f"share: no layer {name!r}; {did_you_mean(str(name), weighted)}", field="layers")
        if name not in weighted:
            raise PassError(f"share: layer {name!r} ({graph.node(name).op}) has no weight array to share",
                            field="layers")
    return [name for name in weighted if name in set(layers)]


def _check(bits: Any, iterations: Any) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_SHARE_BITS:
        raise PassError(f"share: bits must be an integer from 1 to {MAX_SHARE_BITS}, got {bits!r}", field="bits")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise PassError(f"share: iterations must be a positive integer, got {iterations!r}", field="iterations")


def _cluster(w: np.ndarray, bits: int, huffman: bool, iterations: int) -> tuple[np.ndarray, Sharing, dict]:
    """The shared copy of ``w``, its annotation and its figures."""
    x = np.asarray(w)
    nz = x != 0
    centroids, labels = kmeans_1d(x[nz], 2**bits, iterations=iterations)
    shared = np.zeros(x.shape, dtype=np.float64)
    shared[nz] = centroids[labels]
    shared = shared.astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)
    counts = np.bincount(labels, minlength=2**bits)
    used = max(int(np.count_nonzero(counts)), 1)  # a layer pruned to nothing keeps one entry
    coded = None
    if huffman and labels.size:
        coded = int((huffman_lengths(counts) * counts).sum()) / int(labels.size)
    ref = np.asarray(x, dtype=np.float64)
    norm = float(np.linalg.norm(ref))
    error = float(np.linalg.norm(shared.astype(np.float64) - ref)) / norm if norm else 0.0
    figures: dict[str, Any] = {"clustered": 1, "centroids": used,
                               "distinct_values": int(np.unique(shared[nz]).size),
                               "relative_error": error}
    if coded is not None:
        figures["coded_bits"] = coded
    return shared, Sharing(bits, codebook=used, coded_bits=coded), figures


def share(graph: Graph, bits: int, *, huffman: bool = False, layers: Sequence[str] | None = None,
          seed: int = 0, iterations: int = DEFAULT_ITERATIONS) -> PassResult:
    """Share the weights of each layer with a ``weight`` array (or of ``layers``) among
    ``2**bits`` k-means centroids; ``graph`` itself is not changed.

    ``huffman``: also record the mean Huffman code length of each layer's indices.
    ``seed`` is accepted for the pass interface; the linear initialisation draws nothing, so
    the result does not depend on it. Layers without weights get ``Sharing(bits)`` alone.
    Notes: ``bytes_before``/``bytes_after``/``ratio`` (``model_storage``), the layers
    clustered; per layer the centroids used, distinct values, relative error
    ``||W_shared - W|| / ||W||`` and coded bits.

    Raises:
        PassError: ``bits`` outside 1..16, a bad ``iterations``, an unknown layer or one
            without a weight array in ``layers``.
    """
    _check(bits, iterations)
    names = _selected(graph, layers)
    g = graph.copy()
    by_layer: dict[str, dict[str, Any]] = {}
    for name in names:
        arrays = g.weights(name)
        if "weight" not in arrays:
            g.annotate(name, Sharing(bits))
            by_layer[name] = {"clustered": 0}
            continue
        shared, ann, figures = _cluster(arrays["weight"], bits, huffman, iterations)
        g.set_weights(name, {**arrays, "weight": shared})
        g.annotate(name, ann)
        by_layer[name] = figures
    before, after = model_storage(graph).total_bytes, model_storage(g).total_bytes
    clustered = sum(f["clustered"] for f in by_layer.values())
    notes: dict[str, Any] = {"bits": bits, "layers": len(names), "layers_clustered": clustered,
                             "bytes_before": before, "bytes_after": after,
                             "ratio": before / after if after else math.inf}
    if not clustered:
        notes["clustering"] = "none: the layers have no weights, so they are only annotated"
    return PassResult(g, notes, by_layer)
