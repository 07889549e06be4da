"""What a machine exploits of a compressed layer, and the dense work it is left with.

A spec may declare, in a ``compression:`` section shared by the families, the narrow
precisions its MAC units pack and the sparsity it exploits::

    compression:
      precisions: {int8: 1, int4: 2, int2: 4}   # MACs per MAC unit per cycle at each width
      sparsity:
        mode: skip            # skip: zeros cost neither time nor energy; gate: energy only
        structures: [unstructured, "n:m", channel]
        nm: ["2:4"]           # the n:m patterns the datapath knows (with "n:m")
        operands: [weights]   # weights, activations
        format: bitmask       # metadata the weights carry: bitmask | csr | nm | none

A machine without the section computes every layer densely at its own width: a pruned
layer costs what the dense one does (its zeros are multiplied), a narrower one runs at the
machine's width. Channel pruning needs no support: the pass removes the channels, so the
layer is smaller to begin with.

``plan`` turns a layer's workload and the machine's support into a ``Plan``: how much of the
reduction the datapath still walks (``time_fraction``, with the load imbalance of skipping
unstructured zeros), what fraction of MACs still spend energy, the weight bytes it streams
(values at their width plus the format's metadata) and how many values a MAC unit packs.
``shrink`` gives the dense workload a family's dense model then costs: the reduction
dimension (conv ``C``, GEMM ``K``) shortened by the time fraction and the packing. Modelling
a compacted reduction as a shorter one is the usual first-order view of zero-skipping
datapaths (SCNN, Sparse Tensor Cores compress along the reduction); it also shortens the
activation reads, an optimistic bound where activations are not compressed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..ir import DTYPES
from ..ir.workload import DENSE, Workload
from .spec import SpecReader
from .support import DENSE_SUPPORT, SPARSE_MODES, CompressionSupport, SparseSupport

__all__ = ["CompressionSupport", "SparseSupport", "Plan", "read_support", "plan", "shrink",
           "skip_imbalance", "SPARSE_MODES", "FORMATS", "DENSE_SUPPORT"]

FORMATS = ("bitmask", "csr", "nm", "none")
STRUCTURES = ("unstructured", "n:m", "block", "channel")
OPERANDS = ("weights", "activations")
# Seed of the random pattern that stands for a layer's zeros where the model has no weights.
PATTERN_SEED = 0


def _bits_of(name: str) -> int:
    if name not in DTYPES or DTYPES[name].is_float or DTYPES[name].is_index:
        raise ValueError(f"{name!r} is not an integer precision; expected one of "
                         + ", ".join(d for d, t in DTYPES.items() if not t.is_float and not t.is_index))
    return DTYPES[name].bits


def _nm(text: object) -> tuple[int, int]:
    parts = str(text).split(":")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"expected an n:m pattern such as '2:4', got {text!r}")
    n, m = int(parts[0]), int(parts[1])
    if not 0 < n < m:
        raise ValueError(f"an n:m pattern needs 0 < n < m, got {text!r}")
    return n, m


def _names(value: object, choices: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of {', '.join(choices)}, got {value!r}")
    for v in value:
        if v not in choices:
            raise ValueError(f"{v!r} is not one of {', '.join(choices)}")
    return tuple(value)


def read_support(r: SpecReader) -> CompressionSupport:
    """The ``compression`` section of a spec (absent: dense support).

    Raises:
        SpecError: an unknown key or precision, a bad mode, structure or pattern.
    """
    if not r.has("compression"):
        r.used.add("compression")
        return DENSE_SUPPORT
    c = r.child("compression")
    precisions: list[tuple[int, int]] = []
    if c.has("precisions"):
        p = c.child("precisions")
        for key in list(p.mapping):
            bits = p.get(key, lambda _v, k=key: _bits_of(str(k)))
            precisions.append((bits, p.integer(key, maximum=64)))
        p.finish()
    else:
        c.used.add("precisions")
    sparse = SparseSupport()
    if c.has("sparsity"):
        s = c.child("sparsity")
        mode = s.string("mode", "skip", SPARSE_MODES)
        structures = s.get("structures", lambda v: _names(v, STRUCTURES), ("unstructured",))
        nm = s.get("nm", lambda v: tuple(_nm(x) for x in (v if isinstance(v, list) else [v])), ())
        if "n:m" in structures and not nm:
            raise s.error("structures", "structure 'n:m' needs the patterns it supports, e.g. nm: ['2:4']")
        sparse = SparseSupport(mode=mode, structures=structures, nm=nm,
                               operands=s.get("operands", lambda v: _names(v, OPERANDS), ("weights",)),
                               format=s.string("format", "bitmask", FORMATS))
        s.finish()
    else:
        c.used.add("sparsity")
    c.finish()
    return CompressionSupport(tuple(sorted(precisions)), sparse)


@dataclass(frozen=True)
class Plan:
    """What a machine does with one layer (see ``plan``)."""

    time_fraction: float = 1.0
    mac_fraction: float = 1.0
    weight_bytes: float = 0.0
    metadata_bytes: float = 0.0
    pack: int = 1
    run_bits: int = 32
    imbalance: float = 1.0
    exploited: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        return self.time_fraction != 1.0 or self.pack != 1


def skip_imbalance(row_nonzeros: Sequence[int] | np.ndarray, lanes: int) -> float:
    """How much longer zero-skipping takes than perfect balance: rows (filters) run in
    groups of ``lanes`` side by side and each group waits for its densest row.

    ``sum over groups of max(nonzeros)`` over ``sum of nonzeros / lanes``; 1 when every row
    has as many non-zeros. The output-stationary kernel ``kernels.sparse`` counts the same
    cycles element by element (tests/unit/hw/test_compression.py).
    """
    counts = np.asarray(row_nonzeros, dtype=np.int64)
    total = counts.sum()
    if total == 0 or lanes <= 1:
        return 1.0
    pad = (-len(counts)) % lanes
    groups = np.concatenate([counts, np.zeros(pad, np.int64)]).reshape(-1, lanes)
    return float(groups.max(axis=1).sum() * lanes / total)


def _row_nonzeros(workload: Workload, weight: np.ndarray | None) -> np.ndarray:
    """Non-zeros per output row (filter) of the layer's weights: counted where the model has
    them, otherwise drawn from a seeded binomial at the layer's density."""
    if weight is not None:
        w = np.asarray(weight)
        return np.count_nonzero(w.reshape(w.shape[0], -1), axis=1)
    rows, reduction = _rows_and_reduction(workload)
    rng = np.random.default_rng(PATTERN_SEED)
    return rng.binomial(reduction, workload.weight_density, size=min(rows, 1 << 16))


def _rows_and_reduction(w: Workload) -> tuple[int, int]:
    if w.kind == "conv":
        return w.dim("K"), w.dim("C") * w.dim("R") * w.dim("S")
    return w.dim("N"), w.dim("K")


def _metadata_bits(fmt: str, weights: int, kept: float, reduction: int, n: int | None, m: int | None) -> float:
    """Bits of the weight format's metadata: a bit per weight (bitmask), a column index per
    non-zero (csr), ``log2 m`` bits per kept value (nm)."""
    if fmt == "bitmask":
        return float(weights)
    if fmt == "csr":
        return kept * max(1, math.ceil(math.log2(max(reduction, 2))))
    if fmt == "nm" and m is not None:
        return kept * max(1, math.ceil(math.log2(m)))
    return 0.0


def plan(workload: Workload, support: CompressionSupport, *, lanes: int = 1,
         weight: np.ndarray | None = None) -> Plan:
    """How ``support`` runs the compressed ``workload`` (see the module docstring).

    ``lanes``: rows (filters) processed side by side, for the imbalance of skipping
    unstructured zeros; ``weight``: the layer's weight array where the model has one.
    """
    w = workload
    bits = max(w.act_bits, w.weight_bits)
    run_bits, pack = support.pack(bits)
    exploited: list[str] = [f"int{bits} packed {pack} per unit"] if pack > 1 else []
    ignored: list[str] = []
    density, structure = w.weight_density, w.sparsity_structure
    dense_weight_bytes = w.weight_bytes
    time_fraction = mac_fraction = 1.0
    imbalance = 1.0
    weight_bytes = dense_weight_bytes
    metadata_bytes = 0.0
    sparse = support.sparse
    n, m = w.nm if w.nm is not None else (None, None)
    if structure != DENSE and density < 1 and w.kind in ("conv", "gemm"):
        label = f"{structure} {density:.0%} dense" if structure != "n:m" else f"{n}:{m}"
        if structure == "channel":
            pass  # the pass removed the channels: nothing left to exploit
        elif "weights" in sparse.operands and sparse.exploits(structure, n, m):
            elements = w.weight_bytes * 8 / w.weight_bits
            kept = elements * density
            rows, reduction = _rows_and_reduction(w)
            metadata_bytes = _metadata_bits(sparse.format, int(elements), kept, reduction, n, m) / 8
            weight_bytes = kept * w.weight_bits / 8 + metadata_bytes
            mac_fraction = density
            if sparse.mode == "skip":
                if structure == "unstructured":
                    imbalance = skip_imbalance(_row_nonzeros(w, weight), lanes)
                time_fraction = min(1.0, density * imbalance)
            exploited.append(f"{label} weights ({sparse.mode})")
        else:
            ignored.append(f"{label} weights (runs dense)")
    if w.act_density < 1 and w.kind in ("conv", "gemm"):
        if "activations" in sparse.operands and sparse.mode != "none":
            mac_fraction *= w.act_density
            if sparse.mode == "skip":
                time_fraction *= w.act_density
            exploited.append(f"activations {w.act_density:.0%} dense ({sparse.mode})")
        else:
            ignored.append(f"activations {w.act_density:.0%} dense")
    return Plan(time_fraction=time_fraction, mac_fraction=mac_fraction, weight_bytes=weight_bytes,
                metadata_bytes=metadata_bytes, pack=pack,
                run_bits=run_bits, imbalance=imbalance, exploited=tuple(exploited), ignored=tuple(ignored))


def shrink(workload: Workload, p: Plan) -> Workload:
    """The dense workload that costs what the compressed one does on the machine: the
    reduction shortened by ``time_fraction / pack``, MACs and bytes to match."""
    if not p.changes or workload.kind not in ("conv", "gemm"):
        return replace(workload, weight_bytes=p.weight_bytes) if p.weight_bytes else workload
    dims = dict(workload.dims)
    key = "C" if workload.kind == "conv" else "K"
    before = dims[key]
    after = max(1, math.ceil(before * p.time_fraction / p.pack))
    dims[key] = after
    ratio = after / before
    return replace(workload, dims=tuple(dims.items()), macs=max(1, round(workload.macs * ratio)),
                   input_bytes=workload.input_bytes * ratio, weight_bytes=p.weight_bytes)
