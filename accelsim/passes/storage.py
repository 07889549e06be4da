"""Storage accounting: the bytes a (compressed) model takes to store, layer by layer.

The one place that turns a layer's weight count, density, sparsity structure, value width,
weight sharing and index format into bytes. Bytes are bits / 8 as real numbers (no padding to
whole bytes), so Huffman-coded averages and expected counts add up exactly.

Formats of a layer's ``weight`` array:

* ``dense``: every weight at ``value_bits``.
* ``csr``, unstructured sparsity, as Deep Compression's relative-index CSR (Han, Mao & Dally,
  ICLR 2016, section 2 and Fig. 2): each non-zero stores its value and its gap to the previous
  non-zero in ``index_bits`` bits. An index of ``b`` bits spans gaps 1 .. 2**b (stored as
  gap - 1; the first gap counts from a virtual position -1, and zeros after the last non-zero
  cost nothing, the decoder knows the length). A longer gap ``g`` is bridged by filler zeros,
  entries with a value and an index of their own: ``ceil(g / 2**b) - 1`` of them.

  Expected fillers when the non-zeros are placed uniformly at random at density ``d``: the
  gap is geometric, ``P(g > k) = (1 - d)**k`` for k >= 0, and ``ceil(g / S) - 1 =
  sum_{j>=1} [g > j S]`` with ``S = 2**b``, so

      E[fillers per non-zero] = sum_{j>=1} P(g > j S) = sum_{j>=1} q**j = q / (1 - q),
      q = (1 - d)**S,

  and the stored entries are ``nonzeros / (1 - q)``. With weights present the count is exact
  (:func:`relative_index_entries`). Without a given ``index_bits`` the width in 1..16 that
  stores the layer in the fewest bytes is chosen. ``index_coded_bits`` (the Huffman-coded
  mean bits per index) replaces ``index_bits`` in the byte count only: the fillers depend on
  the span of the uncoded index, and a filler is a symbol of the coded stream like any entry.
* ``n:m``, ``n`` values kept in every group of ``m`` consecutive weights: ``n`` values per
  group plus the group's pattern as one of ``C(m, n)`` codes, ``ceil(log2 C(m, n))`` bits.
  This is never more than naming each kept value's position (``n * ceil(log2 m)`` bits; for
  2:4, 3 bits per group against the 4 of NVIDIA's 2-bit metadata), so it is the one counted.
* ``block``: one presence bit per block of ``block_size`` consecutive weights (row-major
  order) plus the kept blocks dense.
* ``channel``: pruned channels are simply gone, the layer's shape shrinks, so no index: the
  kept values dense (``density * n`` without weights; the slab of the kept output and input
  channels of a real mask).

Weight sharing stores each value as a ``bits``-bit codebook index (``coded_bits`` on average
where the indices are Huffman-coded) plus, per layer, a codebook of its entries at 32 bits
(fp32 centroids). Arrays other than ``weight`` (biases, normalisation scales, constants) are
kept dense at 32 bits: Deep Compression leaves biases uncompressed and does not count them
separately (its stored models hold them as floats), and they are under 0.1% of its networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from ..errors import SpecError
from ..ir import Graph, Layer

__all__ = ["LayerStorage", "ModelStorage", "FORMATS", "MAX_INDEX_BITS", "layer_storage",
           "model_storage", "nonzero_params", "expected_fillers_per_nonzero",
           "relative_index_entries", "nm_index_bits"]

FORMATS = ("dense", "csr", "n:m", "block", "channel")
STRUCTURES = ("unstructured", "n:m", "block", "channel")
MAX_INDEX_BITS = 16  # the widest relative index the automatic choice considers
DEFAULT_BLOCK = 16  # weights per block of block sparsity (the annotation gives no size)
OTHER_BITS = 32  # biases and other arrays, kept dense in fp32


@dataclass(frozen=True)
class LayerStorage:
    """The stored bytes of one layer. ``stored_entries``: the values stored (non-zeros and
    fillers in ``csr``; every kept slot in the structured formats); ``nonzeros``: the
    non-zero weights (expected counts where there are no weights, hence floats);
    ``index_bits``: the relative index width of ``csr``; ``other_bytes``: the arrays other
    than ``weight`` (biases), dense."""

    format: str
    values_bytes: float
    index_bytes: float
    codebook_bytes: float
    stored_entries: float
    nonzeros: float
    index_bits: int | None = None
    other_bytes: float = 0.0

    @property
    def total_bytes(self) -> float:
        return self.values_bytes + self.index_bytes + self.codebook_bytes + self.other_bytes


@dataclass(frozen=True)
class ModelStorage:
    """The stored bytes of a model, by layer, against its parameters held dense in fp32."""

    by_layer: Mapping[str, LayerStorage]
    dense_fp32_bytes: float

    @property
    def total_bytes(self) -> float:
        return sum(s.total_bytes for s in self.by_layer.values())

    @property
    def ratio(self) -> float:
        """The compression ratio: dense fp32 bytes over stored bytes."""
        total = self.total_bytes
        return self.dense_fp32_bytes / total if total else math.inf


# --------------------------------------------------------------------------- relative index


def expected_fillers_per_nonzero(density: float, index_bits: int) -> float:
    """``q / (1 - q)`` with ``q = (1 - density)**(2**index_bits)``: the mean filler zeros per
    non-zero when non-zeros fall independently at ``density`` (derivation in the module
    docstring)."""
    _check_density(density)
    _check_index_bits(index_bits)
    if density == 1:
        return 0.0
    log_q = 2**index_bits * math.log1p(-density)
    return math.exp(log_q) / -math.expm1(log_q)


def _gaps(mask_flat: np.ndarray) -> np.ndarray:
    """Distances from each non-zero to the one before (the first from position -1)."""
    pos = np.flatnonzero(mask_flat)
    return np.diff(pos, prepend=-1)


def _fillers(gaps: np.ndarray, index_bits: int) -> int:
    # ceil(g / S) - 1 == (g - 1) // S for g >= 1
    return int(((gaps - 1) >> index_bits).sum())


def relative_index_entries(mask_flat: Any, index_bits: int) -> int:
    """The entries the relative-index CSR of ``mask_flat`` (non-zero = kept) stores with
    ``index_bits``-bit gaps: its non-zeros plus the filler zeros that bridge longer gaps."""
    _check_index_bits(index_bits)
    gaps = _gaps(np.asarray(mask_flat).ravel() != 0)
    return int(gaps.size) + _fillers(gaps, index_bits)


def nm_index_bits(n: int, m: int) -> int:
    """Bits naming which ``n`` of a group of ``m`` weights are kept: ``ceil(log2 C(m, n))``."""
    return (math.comb(m, n) - 1).bit_length()


# --------------------------------------------------------------------------- one layer


def _check_density(density: Any) -> None:
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0 < density <= 1:
        raise SpecError(f"density must be in (0, 1], got {density!r}", field="density")


def _check_index_bits(bits: Any) -> None:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 62:
        raise SpecError(f"index_bits must be an integer from 1 to 62, got {bits!r}", field="index_bits")


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise SpecError(f"{name} must be a positive number, got {value!r}", field=name)
    return float(value)


def _count(name: str, value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise SpecError(f"{name} must be an integer of at least {low}, got {value!r}", field=name)
    return int(value)


def layer_storage(n_weights: int, *, density: float = 1.0, value_bits: float = 32.0,
                  structure: str = "unstructured", n: int | None = None, m: int | None = None,
                  index_bits: int | None = None, index_coded_bits: float | None = None,
                  codebook_entries: int = 0, codebook_bits: int = 32, mask: Any = None,
                  block_size: int = DEFAULT_BLOCK) -> LayerStorage:
    """The bytes of one weight array of ``n_weights`` values in the format its ``structure``
    gives (see the module docstring). ``mask`` (any array of ``n_weights`` elements,
    non-zero = kept), where given, replaces ``density`` by the real pattern; unstructured
    weights that are all kept are stored ``dense``. ``index_bits`` and ``index_coded_bits``
    apply to unstructured sparsity only.

    Raises:
        SpecError: a count, density, width or structure out of range; ``index_coded_bits``
            without ``index_bits``; a mask of the wrong size or one that breaks ``n:m``.
    """
    count = _count("n_weights", n_weights)
    _check_density(density)
    vbits = _positive("value_bits", value_bits)
    if structure not in STRUCTURES:
        raise SpecError(f"structure {structure!r} is not one of {', '.join(STRUCTURES)}", field="structure")
    if structure != "unstructured" and (index_bits is not None or index_coded_bits is not None):
        raise SpecError(f"index_bits and index_coded_bits apply to unstructured sparsity, not {structure!r}",
                        field="index_bits")
    if index_bits is not None:
        _check_index_bits(index_bits)
    if index_coded_bits is not None:
        _positive("index_coded_bits", index_coded_bits)
        if index_bits is None:
            raise SpecError("index_coded_bits needs the index_bits it was coded from", field="index_coded_bits")
    codebook = _count("codebook_entries", codebook_entries) * _positive("codebook_bits", codebook_bits) / 8
    kept = None
    if mask is not None:
        kept = np.asarray(mask) != 0
        if kept.size != count:
            raise SpecError(f"mask has {kept.size} elements, the layer {count}", field="mask")

    if structure == "n:m":
        return _nm(count, vbits, n, m, kept, codebook)
    if structure == "block":
        return _block(count, density, vbits, _count("block_size", block_size, 1), kept, codebook)
    if structure == "channel":
        return _channel(count, density, vbits, kept, codebook)
    nonzeros = float(count * density) if kept is None else float(np.count_nonzero(kept))
    if (kept is None and density == 1) or (kept is not None and nonzeros == count) or count == 0:
        return LayerStorage("dense", count * vbits / 8, 0.0, codebook, float(count), nonzeros)
    return _csr(count, density, vbits, index_bits, index_coded_bits, kept, codebook)


def _csr(count: int, density: float, vbits: float, index_bits: int | None, coded: float | None,
         kept: np.ndarray | None, codebook: float) -> LayerStorage:
    candidates = [index_bits] if index_bits is not None else list(range(1, MAX_INDEX_BITS + 1))
    if kept is not None:
        gaps = _gaps(kept.ravel())
        nonzeros = float(gaps.size)
        entries = [nonzeros + _fillers(gaps, b) for b in candidates]
    else:
        nonzeros = count * density
        entries = [nonzeros * (1 + expected_fillers_per_nonzero(density, b)) for b in candidates]
    widths = [coded if coded is not None else b for b in candidates]
    totals = [e * (vbits + w) for e, w in zip(entries, widths)]
    best = int(np.argmin(totals))  # the narrowest of equals
    e = entries[best]
    return LayerStorage("csr", e * vbits / 8, e * widths[best] / 8, codebook, e, nonzeros,
                        index_bits=candidates[best])


def _nm(count: int, vbits: float, n: int | None, m: int | None, kept: np.ndarray | None,
        codebook: float) -> LayerStorage:
    if n is None or m is None:
        raise SpecError("structure 'n:m' needs n and m", field="n" if n is None else "m")
    n, m = _count("n", n, 1), _count("m", m, 2)
    if n >= m:
        raise SpecError(f"n:m needs n < m, got {n}:{m}", field="n")
    groups = -(-count // m)
    if kept is not None:
        flat = np.zeros(groups * m, dtype=bool)
        flat[:count] = kept.ravel()
        worst = int(flat.reshape(groups, m).sum(axis=1).max(initial=0))
        if worst > n:
            raise SpecError(f"mask is not {n}:{m} sparse: a group of {m} keeps {worst}", field="mask")
        nonzeros = float(np.count_nonzero(flat))
    else:
        nonzeros = count * n / m
    entries = float(groups * n)  # a group with fewer non-zeros stores explicit zeros
    return LayerStorage("n:m", entries * vbits / 8, groups * nm_index_bits(n, m) / 8, codebook,
                        entries, nonzeros)


def _block(count: int, density: float, vbits: float, size: int, kept: np.ndarray | None,
           codebook: float) -> LayerStorage:
    blocks = -(-count // size)
    if kept is not None:
        flat = np.zeros(blocks * size, dtype=bool)
        flat[:count] = kept.ravel()
        present = flat.reshape(blocks, size).any(axis=1)
        lengths = np.full(blocks, size)
        if blocks:
            lengths[-1] = count - (blocks - 1) * size
        entries = float(lengths[present].sum())
        nonzeros = float(np.count_nonzero(flat))
    else:
        entries = nonzeros = count * density
    return LayerStorage("block", entries * vbits / 8, blocks / 8, codebook, entries, nonzeros)


def _channel(count: int, density: float, vbits: float, kept: np.ndarray | None,
             codebook: float) -> LayerStorage:
    if kept is None:
        entries = nonzeros = count * density
    else:
        nonzeros = float(np.count_nonzero(kept))
        if kept.ndim >= 2:  # the slab of output channels (axis 0) and inputs (axis 1) still used
            rows = np.count_nonzero(kept.any(axis=tuple(range(1, kept.ndim))))
            cols = np.count_nonzero(kept.any(axis=tuple(i for i in range(kept.ndim) if i != 1)))
            entries = float(rows * cols * math.prod(kept.shape[2:]))
        else:
            entries = nonzeros
    return LayerStorage("channel", entries * vbits / 8, 0.0, codebook, entries, nonzeros)


# --------------------------------------------------------------------------- a model


def _weight_count(layer: Layer) -> int:
    shapes = layer.node.opdef.weight_shapes(list(layer.inputs), layer.node.attrs)
    return math.prod(shapes["weight"]) if "weight" in shapes else 0


def _layer(graph: Graph, layer: Layer, index_bits: int | None, block_size: int) -> LayerStorage:
    node = layer.node
    n = _weight_count(layer)
    other = (layer.params - n) * OTHER_BITS / 8
    if "weight" not in node.opdef.weight_shapes(list(layer.inputs), node.attrs):
        return LayerStorage("dense", 0.0, 0.0, 0.0, 0.0, 0.0, other_bytes=other)
    sparsity = node.annotations.get("sparsity")
    sharing = node.annotations.get("sharing")
    bits: float = layer.workload.weight_bits
    entries = 0
    if sharing is not None:
        bits = sharing.coded_bits if sharing.coded_bits is not None else sharing.bits
        entries = sharing.entries
    w = graph.weights(node.name).get("weight")
    kwargs: dict[str, Any] = {}
    if sparsity is not None and sparsity.weight_density < 1:
        kwargs = dict(density=sparsity.weight_density, structure=sparsity.structure, n=sparsity.n,
                      m=sparsity.m, mask=None if w is None else np.asarray(w) != 0)
        if sparsity.structure == "unstructured":
            kwargs["index_bits"] = index_bits
        elif sparsity.structure == "block":
            kwargs["block_size"] = block_size
    try:
        s = layer_storage(n, value_bits=bits, codebook_entries=entries, **kwargs)
    except SpecError as exc:
        raise SpecError(f"layer {node.name!r}: {exc.message}", field=exc.field,
                        file=node.source.file, line=node.source.line) from None
    return LayerStorage(s.format, s.values_bytes, s.index_bytes, s.codebook_bytes, s.stored_entries,
                        s.nonzeros, s.index_bits, other)


def model_storage(graph: Graph, *, index_bits: int | None = None,
                  block_size: int = DEFAULT_BLOCK) -> ModelStorage:
    """The stored bytes of every layer with parameters (constants included), read from its
    annotations: values at the ``sharing`` width (its coded mean where Huffman-coded) with
    the codebook, else at the layer's weight width (``quant``'s, else the dtype's); the
    ``sparsity`` format, refined by the real non-zeros of the ``weight`` array where the
    graph has it; weights without a ``sparsity`` annotation are stored dense.
    ``index_bits``: the relative index width of every ``csr`` layer (None: each layer's best).

    Raises:
        SpecError: an annotation the format cannot store (a mask that breaks its ``n:m``).
    """
    by_layer: dict[str, LayerStorage] = {}
    params = 0
    for layer in graph.layers(include_sources=True):
        if layer.params:
            by_layer[layer.name] = _layer(graph, layer, index_bits, block_size)
            params += layer.params
    return ModelStorage(MappingProxyType(by_layer), params * 4.0)


def nonzero_params(graph: Graph) -> int:
    """The parameters a pruned model keeps: the non-zeros of each ``weight`` array (its real
    count where the graph has weights, else ``weight_density`` of it, rounded per layer)
    and every other parameter (biases are not pruned)."""
    total = 0
    for layer in graph.layers(include_sources=True):
        n = _weight_count(layer)
        w = graph.weights(layer.name).get("weight")
        sparsity = layer.node.annotations.get("sparsity")
        if w is not None:
            kept = int(np.count_nonzero(w))
        else:
            kept = round(n * sparsity.weight_density) if sparsity is not None else n
        total += layer.params - n + kept
    return total
