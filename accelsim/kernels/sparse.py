"""Sparse weights and activations over real tensors: storage formats, sparse GEMM values, and
a data-level cycle model of an output-stationary PE array that skips (or gates) zeros.

Three uses share one module because they share one view of the data: a weight matrix
``W[M, K]`` (output rows x reduction; a convolution's ``(K, C, R, S)`` is read as
``(K, C*R*S)``) and an operand ``X[K, N]``.

* Formats (:func:`encode`, :func:`decode`) say how many bytes a pruned layer occupies,
  values and metadata apart, exactly as the layouts below count them.
* :func:`spmm_csr` computes a sparse layer's values, to run pruned networks.
* :func:`sparse_gemm_cycles` and :func:`sparse_conv_cycles` distribute the real non-zeros
  of a layer over an ``R x C`` array and count cycles with the load imbalance the data
  causes, which an analytical model that knows only a density cannot see.

The pattern makers (:func:`nm_mask`, :func:`magnitude_mask`, :func:`block_mask`,
:func:`channel_mask`) choose what a pruning pass keeps; they are deterministic, ties going
to the lower index.

Bit accounting. ``ceil(log2(x))`` bits name one of ``x`` things (0 bits when ``x == 1``);
every array is rounded up to whole bytes on its own; ``value_bits`` is the width of one
stored value. For ``W[M, K]`` with ``nnz`` non-zeros:

=========  ===========================================  ==============================================
format     values                                       metadata
=========  ===========================================  ==============================================
dense      ``M*K`` values                               none
bitmask    the ``nnz`` non-zeros, row-major             mask: 1 bit per element, ``M*K`` bits
csr        the ``nnz`` non-zeros, row-major             column index: ``nnz * ceil(log2(K))`` bits;
                                                        row pointers: ``(M+1) * ceil(log2(nnz+1))``
csc        the ``nnz`` non-zeros, column-major          row index: ``nnz * ceil(log2(M))`` bits;
                                                        column pointers: ``(K+1) * ceil(log2(nnz+1))``
nm         ``n`` slots per group of ``m`` along K,      index: ``ceil(log2(m))`` bits per slot
           ``M * ceil(K/m) * n`` (zeros pad a group
           with fewer non-zeros)
block      every non-zero ``(bh, bw)`` block in full,   block mask: 1 bit per block,
           ``bh*bw`` values each (an edge block is      ``ceil(M/bh) * ceil(K/bw)`` bits
           padded to the full block)
channel    the kept (not all-zero) rows in full,        row index: ``ceil(log2(M))`` bits per kept row
           ``rows * K`` values
=========  ===========================================  ==============================================

The cycle model needs each output's count of effectual pairs (the busiest PE sets a tile's
time); two kernels compute it, and the one with fewer inner steps runs: walking W's rows
(``nnz(W) * N`` adds, for very sparse W) or AND and popcount over bit-packed masks
(``M * N * ceil(K/64)`` words). Totals that need no per-output count (gate and dense modes,
the structured datapath) are closed forms, ``sum_k nnz(W[:, k]) * nnz(X[k, :])``.

Kernels are numba ``@njit(cache=True)`` functions when numba is installed and plain Python
otherwise (:mod:`accelsim.kernels.jit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .jit import njit

__all__ = [
    "FORMATS",
    "MODES",
    "STRUCTURES",
    "Encoded",
    "SparseCycles",
    "encode",
    "decode",
    "nm_mask",
    "magnitude_mask",
    "block_mask",
    "channel_mask",
    "density",
    "spmm_csr",
    "im2col",
    "sparse_gemm_cycles",
    "sparse_conv_cycles",
]

FORMATS = ("dense", "bitmask", "csr", "csc", "nm", "block", "channel")
MODES = ("skip", "gate", "dense")
STRUCTURES = ("unstructured", "nm")


# --------------------------------------------------------------------------------------------
# bit accounting


def _index_bits(count: int) -> int:
    """``ceil(log2(count))``: the bits that name one of ``count`` things (0 for one thing)."""
    return (int(count) - 1).bit_length() if count > 1 else 0


def _bytes(bits: int) -> int:
    return -(-int(bits) // 8)


# --------------------------------------------------------------------------------------------
# formats


@dataclass(frozen=True, eq=False)
class Encoded:
    """A weight tensor in one storage format, with its byte count.

    ``shape`` and ``dtype`` are the original tensor's (``decode`` restores them); the format
    works on its ``(shape[0], prod(shape[1:]))`` matrix. ``nnz`` is the number of non-zero
    weights; ``stored_values`` the value slots the format keeps (padding and whole rows or
    blocks included). ``metadata`` gives the bytes of each metadata array by name.
    """

    fmt: str
    shape: tuple[int, ...]
    dtype: np.dtype
    value_bits: int
    nnz: int
    stored_values: int
    value_bytes: int
    metadata: Mapping[str, int]
    arrays: Mapping[str, np.ndarray] = field(repr=False)
    n: int | None = None
    m: int | None = None
    block: tuple[int, int] | None = None

    @property
    def metadata_bytes(self) -> int:
        return sum(self.metadata.values())

    @property
    def total_bytes(self) -> int:
        return self.value_bytes + self.metadata_bytes

    @property
    def matrix_shape(self) -> tuple[int, int]:
        rows = self.shape[0]
        return rows, int(np.prod(self.shape[1:], dtype=np.int64))


def _matrix(w: np.ndarray, what: str = "w") -> np.ndarray:
    """``w`` as its (rows, rest) matrix; a real or integer array of at least two axes."""
    w = np.asarray(w)
    if w.ndim < 2:
        raise ValueError(f"{what} must have at least 2 axes (rows x reduction), got shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"{what} must not be empty, got shape {w.shape}")
    if not (w.dtype == np.bool_ or np.issubdtype(w.dtype, np.integer) or np.issubdtype(w.dtype, np.floating)):
        raise ValueError(f"{what} must be boolean, integer or real, got dtype {w.dtype}")
    return w.reshape(w.shape[0], -1)


def _positive(name: str, value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _nm(n: object, m: object) -> tuple[int, int]:
    if n is None or m is None:
        raise ValueError("n:m sparsity needs both n and m")
    n, m = _positive("n", n), _positive("m", m)
    if n > m:
        raise ValueError(f"n:m sparsity needs n <= m, got {n}:{m}")
    return n, m


def _block(block: object) -> tuple[int, int]:
    if block is None:
        raise ValueError("the block format needs block=(bh, bw)")
    try:
        bh, bw = block  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"block must be a pair (bh, bw), got {block!r}") from None
    return _positive("block height", bh), _positive("block width", bw)


def _grouped(w2: np.ndarray, m: int) -> np.ndarray:
    """``w2[M, K]`` as ``(M, ceil(K/m), m)`` groups along K, the last padded with zeros."""
    M, K = w2.shape
    groups = -(-K // m)
    padded = np.zeros((M, groups * m), w2.dtype)
    padded[:, :K] = w2
    return padded.reshape(M, groups, m)


def _blocked(w2: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """``w2[M, K]`` as ``(ceil(M/bh), ceil(K/bw), bh, bw)`` blocks, edges padded with zeros."""
    M, K = w2.shape
    mb, kb = -(-M // bh), -(-K // bw)
    padded = np.zeros((mb * bh, kb * bw), w2.dtype)
    padded[:M, :K] = w2
    return padded.reshape(mb, bh, kb, bw).transpose(0, 2, 1, 3)


def encode(w: np.ndarray, fmt: str, *, value_bits: int, n: int | None = None, m: int | None = None,
           block: tuple[int, int] | None = None) -> Encoded:
    """``w`` in storage format ``fmt`` (one of :data:`FORMATS`), with its bytes counted as in
    the module's table.

    ``n`` and ``m`` go with ``"nm"``, ``block=(bh, bw)`` with ``"block"``. Raises ValueError
    for an unknown format, a missing parameter, or (``"nm"``) a ``w`` with more than ``n``
    non-zeros in some group of ``m``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown sparse format {fmt!r}; expected one of " + ", ".join(FORMATS))
    value_bits = _positive("value_bits", value_bits)
    w = np.asarray(w)
    w2 = _matrix(w)
    M, K = w2.shape
    nz = w2 != 0
    nnz = int(np.count_nonzero(nz))
    base = {"fmt": fmt, "shape": tuple(int(d) for d in w.shape), "dtype": w.dtype, "value_bits": value_bits,
            "nnz": nnz}

    def done(values: np.ndarray, metadata: dict[str, int], arrays: dict[str, np.ndarray], **extra: object
             ) -> Encoded:
        stored = int(values.size)
        return Encoded(**base, stored_values=stored, value_bytes=_bytes(stored * value_bits),
                       metadata=metadata, arrays={"values": values, **arrays}, **extra)

    if fmt == "dense":
        return done(w2.copy(), {}, {})
    if fmt == "bitmask":
        return done(w2[nz], {"mask": _bytes(M * K)}, {"mask": np.packbits(nz.ravel())})
    if fmt in ("csr", "csc"):
        major = w2 if fmt == "csr" else w2.T
        rows_i, cols_i = np.nonzero(major)
        indptr = np.zeros(major.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(rows_i, minlength=major.shape[0]), out=indptr[1:])
        pointer = _bytes((major.shape[0] + 1) * _index_bits(nnz + 1))
        index = _bytes(nnz * _index_bits(major.shape[1]))
        names = ("col_index", "row_pointers") if fmt == "csr" else ("row_index", "col_pointers")
        return done(major[rows_i, cols_i], {names[0]: index, names[1]: pointer},
                    {"indices": cols_i.astype(np.int64), "indptr": indptr})
    if fmt == "nm":
        n, m = _nm(n, m)
        groups = _grouped(w2, m)
        counts = np.count_nonzero(groups, axis=-1)
        if (counts > n).any():
            row, group = np.argwhere(counts > n)[0]
            raise ValueError(f"w violates {n}:{m} sparsity: row {row}, group {group} (columns {group * m}.."
                             f"{min(K, group * m + m) - 1}) holds {counts[row, group]} non-zeros")
        # The non-zeros of each group in index order, then its lowest zero positions as padding.
        order = np.argsort(groups == 0, axis=-1, kind="stable")[..., :n].astype(np.int64)
        values = np.take_along_axis(groups, order, axis=-1)
        return done(values, {"index": _bytes(values.size * _index_bits(m))}, {"indices": order}, n=n, m=m)
    if fmt == "block":
        bh, bw = _block(block)
        blocks = _blocked(w2, bh, bw)
        kept = blocks.any(axis=(2, 3))
        return done(blocks[kept], {"block_mask": _bytes(kept.size)}, {"mask": np.packbits(kept.ravel())},
                    block=(bh, bw))
    # channel
    rows = np.flatnonzero(nz.any(axis=1)).astype(np.int64)
    return done(w2[rows], {"row_index": _bytes(rows.size * _index_bits(M))}, {"rows": rows})


def decode(encoded: Encoded) -> np.ndarray:
    """The dense tensor an :class:`Encoded` holds, in its original shape and dtype."""
    M, K = encoded.matrix_shape
    a = encoded.arrays
    values = a["values"]
    out = np.zeros((M, K), encoded.dtype)
    fmt = encoded.fmt
    if fmt == "dense":
        out[:] = values
    elif fmt == "bitmask":
        mask = np.unpackbits(a["mask"], count=M * K).astype(bool).reshape(M, K)
        out[mask] = values
    elif fmt in ("csr", "csc"):
        major = np.repeat(np.arange(len(a["indptr"]) - 1), np.diff(a["indptr"]))
        if fmt == "csr":
            out[major, a["indices"]] = values
        else:
            out[a["indices"], major] = values
    elif fmt == "nm":
        m = int(encoded.m)  # type: ignore[arg-type]
        groups = np.zeros((M, -(-K // m), m), encoded.dtype)
        np.put_along_axis(groups, a["indices"], values, axis=-1)
        out[:] = groups.reshape(M, -1)[:, :K]
    elif fmt == "block":
        bh, bw = encoded.block  # type: ignore[misc]
        blocks = np.zeros((-(-M // bh), -(-K // bw), bh, bw), encoded.dtype)
        kept = np.unpackbits(a["mask"], count=blocks.shape[0] * blocks.shape[1]).astype(bool)
        blocks[kept.reshape(blocks.shape[:2])] = values
        out[:] = blocks.transpose(0, 2, 1, 3).reshape(blocks.shape[0] * bh, -1)[:M, :K]
    elif fmt == "channel":
        out[a["rows"]] = values
    else:
        raise ValueError(f"unknown sparse format {fmt!r}; expected one of " + ", ".join(FORMATS))
    return out.reshape(encoded.shape)


# --------------------------------------------------------------------------------------------
# pattern makers


def _density_fraction(value: object) -> float:
    d = float(value)  # type: ignore[arg-type]
    if not 0.0 <= d <= 1.0:
        raise ValueError(f"density must lie in [0, 1], got {value!r}")
    return d


def _kept(d: float, count: int) -> int:
    """Fewest whole items that keep at least ``d`` of ``count`` (float noise forgiven)."""
    return min(count, int(np.ceil(d * count - 1e-9)))


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the ``k`` largest of a flat array, ties to the lower index."""
    keep = np.zeros(scores.size, bool)
    keep[np.argsort(-scores, kind="stable")[:k]] = True
    return keep


def _magnitudes(w: np.ndarray) -> np.ndarray:
    a = np.abs(np.asarray(w, dtype=np.float64))
    if np.isnan(a).any():
        raise ValueError("w holds NaN: no magnitude order")
    return a


def nm_mask(w: np.ndarray, n: int, m: int) -> np.ndarray:
    """Keep the ``n`` largest ``|w|`` in every group of ``m`` consecutive weights along the last
    axis (ties to the lower index); a short last group keeps ``min(n, its width)``."""
    n, m = _nm(n, m)
    w = np.asarray(w)
    if w.ndim < 1 or w.size == 0:
        raise ValueError(f"w must be a non-empty array, got shape {w.shape}")
    a = _magnitudes(w).reshape(-1, w.shape[-1])
    K = a.shape[1]
    groups = np.full((a.shape[0], -(-K // m) * m), -1.0)  # padding sorts after every real weight
    groups[:, :K] = a
    groups = groups.reshape(a.shape[0], -1, m)
    order = np.argsort(-groups, axis=-1, kind="stable")[..., :n]
    keep = np.zeros(groups.shape, bool)
    np.put_along_axis(keep, order, True, axis=-1)
    return keep.reshape(a.shape[0], -1)[:, :K].reshape(w.shape)


def magnitude_mask(w: np.ndarray, density: float) -> np.ndarray:
    """Keep the ``ceil(density * w.size)`` largest ``|w|`` (ties to the lower row-major index)."""
    d = _density_fraction(density)
    a = _magnitudes(w)
    return _top(a.ravel(), _kept(d, a.size)).reshape(a.shape)


def block_mask(w: np.ndarray, density: float, block: tuple[int, int]) -> np.ndarray:
    """Keep the ``ceil(density * blocks)`` ``(bh, bw)`` blocks of the ``(rows, rest)`` matrix with
    the largest L2 norm (ties to the lower row-major block index); edge blocks count what they
    hold."""
    d = _density_fraction(density)
    bh, bw = _block(block)
    w = np.asarray(w)
    a = _magnitudes(_matrix(w))
    scores = (_blocked(a, bh, bw) ** 2).sum(axis=(2, 3))
    keep = _top(scores.ravel(), _kept(d, scores.size)).reshape(scores.shape)
    full = np.repeat(np.repeat(keep, bh, axis=0), bw, axis=1)[:a.shape[0], :a.shape[1]]
    return full.reshape(w.shape)


def channel_mask(w: np.ndarray, density: float) -> np.ndarray:
    """Keep the ``ceil(density * rows)`` rows (output channels, the first axis) with the largest
    L2 norm over the other axes (ties to the lower row)."""
    d = _density_fraction(density)
    w = np.asarray(w)
    a = _magnitudes(_matrix(w))
    keep = _top((a ** 2).sum(axis=1), _kept(d, a.shape[0]))
    return np.broadcast_to(keep[:, None], a.shape).reshape(w.shape).copy()


def density(x: np.ndarray) -> float:
    """The fraction of ``x``'s elements that are non-zero."""
    x = np.asarray(x)
    if x.size == 0:
        raise ValueError("density of an empty array")
    return np.count_nonzero(x) / x.size


# --------------------------------------------------------------------------------------------
# sparse GEMM values


@njit(cache=True)
def _spmm_csr(indptr, indices, values, x, out):
    """``out[M, N] += W @ x`` with W in CSR: each row's non-zeros scale rows of ``x``."""
    N = x.shape[1]
    for i in range(indptr.shape[0] - 1):
        for p in range(indptr[i], indptr[i + 1]):
            k = indices[p]
            v = values[p]
            for j in range(N):
                out[i, j] += v * x[k, j]


def _accumulator(dtype: np.dtype) -> type:
    if dtype == np.bool_ or np.issubdtype(dtype, np.integer):
        return np.int64
    if np.issubdtype(dtype, np.floating):
        return np.float64
    raise ValueError(f"expected integer or real values, got dtype {dtype}")


def spmm_csr(encoded: Encoded, x: np.ndarray) -> np.ndarray:
    """``W @ x`` for a CSR-encoded ``W[M, K]`` and ``x[K, N]``; int64 when both are integer,
    float64 otherwise. Work is ``nnz(W) * N`` multiply-adds."""
    if encoded.fmt != "csr":
        raise ValueError(f"spmm_csr needs a csr encoding, got {encoded.fmt!r}")
    M, K = encoded.matrix_shape
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] != K:
        raise ValueError(f"x must be a matrix of {K} rows to multiply W{list((M, K))}, got shape {x.shape}")
    acc = np.result_type(_accumulator(encoded.dtype), _accumulator(x.dtype))
    out = np.zeros((M, x.shape[1]), acc)
    a = encoded.arrays
    _spmm_csr(a["indptr"], a["indices"], np.ascontiguousarray(a["values"], dtype=acc),
              np.ascontiguousarray(x, dtype=acc), out)
    return out


def _pair(name: str, value: object) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value), int(value)
    try:
        a, b = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}") from None
    for v in (a, b):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}")
    return int(a), int(b)


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0) -> np.ndarray:
    """The receptive fields of ``x[N, C, H, W]`` as columns: ``(C*R*S, N*P*Q)``, rows in
    ``(c, r, s)`` order (a ``(K, C, R, S)`` weight reshaped to ``(K, C*R*S)`` multiplies it),
    columns in ``(n, p, q)`` order; padded positions are zeros."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    R, S = _pair("kernel", kernel)
    sh, sw = _pair("stride", stride)
    ph, pw = _pair("padding", padding)
    if min(R, S, sh, sw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"kernel and stride must be >= 1 and padding >= 0, got kernel {(R, S)}, "
                         f"stride {(sh, sw)}, padding {(ph, pw)}")
    N, C, H, W = x.shape
    P, Q = (H + 2 * ph - R) // sh + 1, (W + 2 * pw - S) // sw + 1
    if P < 1 or Q < 1:
        raise ValueError(f"a {R}x{S} kernel does not fit a {H}x{W} input padded by {(ph, pw)}")
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), x.dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    cols = np.empty((C, R, S, N, P, Q), x.dtype)
    for r in range(R):
        for s in range(S):
            window = xp[:, :, r:r + sh * (P - 1) + 1:sh, s:s + sw * (Q - 1) + 1:sw]
            cols[:, r, s] = window.transpose(1, 0, 2, 3)
    return cols.reshape(C * R * S, N * P * Q)


# --------------------------------------------------------------------------------------------
# cycle model


@dataclass(frozen=True)
class SparseCycles:
    """Cycles and work of one sparse GEMM on an output-stationary ``rows x cols`` array.

    ``ideal_cycles`` spreads each tile's work perfectly over the PEs that own its outputs;
    ``imbalance = cycles / ideal_cycles`` (1 when every PE of a tile has the same work, or
    when there is no work). ``utilization = effective_macs / pe_cycles_available`` (0 when
    no cycle is spent) counts everything that idles a PE: skipped-over imbalance, gated or
    dense zero work, edge tiles, fill.
    """

    cycles: int
    ideal_cycles: int
    tiles: int
    effective_macs: int
    dense_macs: int
    gated_macs: int
    pe_cycles_available: int
    utilization: float
    imbalance: float


@njit(cache=True)
def _counts_rows(w, x, out):
    """``out[m, n] = #{k : W[m, k] and x[k, n]}`` by walking each W row: every non-zero
    ``W[m, k]`` adds the 0/1 row ``x[k, :]``, ``M*K`` tests and ``nnz(W) * N`` adds."""
    K = w.shape[1]
    N = x.shape[1]
    for i in range(w.shape[0]):
        for k in range(K):
            if w[i, k]:
                for j in range(N):
                    out[i, j] += x[k, j]


@njit(cache=True)
def _popcount(v):
    """Set bits of a uint64 (SWAR; LLVM turns it into one popcount instruction)."""
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((v * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True)
def _counts_packed(w_bits, x_bits, out):
    """The same counts from bit-packed masks: W's rows and x's columns as uint64 words along
    K, one AND and popcount per word, ``M * N * ceil(K/64)`` of them."""
    words = w_bits.shape[1]
    for i in range(w_bits.shape[0]):
        for j in range(x_bits.shape[0]):
            total = 0
            for q in range(words):
                total += _popcount(w_bits[i, q] & x_bits[j, q])
            out[i, j] = total


def _packed(mask: np.ndarray) -> np.ndarray:
    """Rows of a boolean matrix as uint64 words (zero-padded to whole words)."""
    rows, length = mask.shape
    words = -(-length // 64)
    buf = np.zeros((rows, words * 8), np.uint8)
    buf[:, :-(-length // 8)] = np.packbits(mask, axis=1)
    return buf.view(np.uint64)


def _effectual_counts(w: np.ndarray, x: np.ndarray, method: str | None = None) -> np.ndarray:
    """Per-output effectual pairs of boolean ``w[M, K]`` and ``x[K, N]``, with the kernel whose
    inner loop runs fewer times: ``nnz(W) * N`` adds (``"rows"``) or ``M * N * ceil(K/64)``
    word popcounts (``"packed"``)."""
    M, K = w.shape
    N = x.shape[1]
    if method is None:
        method = "rows" if np.count_nonzero(w) < M * -(-K // 64) else "packed"
    out = np.zeros((M, N), np.int64)
    if method == "rows":
        _counts_rows(w.view(np.uint8), np.ascontiguousarray(x).view(np.uint8), out)
    else:
        with np.errstate(over="ignore"):  # the popcount's multiply wraps by design (plain Python warns)
            _counts_packed(_packed(w), _packed(x.T), out)
    return out


def _mask(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"{what} must be a non-empty matrix, got shape {a.shape}")
    return a != 0


def _tile_reduce(counts: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per tile: the busiest PE's count, the sum of counts, and the PEs owning outputs."""
    M, N = counts.shape
    tm, tn = -(-M // rows), -(-N // cols)
    padded = np.zeros((tm * rows, tn * cols), np.int64)
    padded[:M, :N] = counts
    tiles = padded.reshape(tm, rows, tn, cols)
    r = np.minimum(rows, M - rows * np.arange(tm))
    c = np.minimum(cols, N - cols * np.arange(tn))
    return tiles.max(axis=(1, 3)), tiles.sum(axis=(1, 3)), np.outer(r, c)


def sparse_gemm_cycles(w_mask: np.ndarray, x_mask: np.ndarray, rows: int, cols: int, *, mode: str = "skip",
                       structure: str = "unstructured", n: int | None = None, m: int | None = None,
                       fill_cycles: int = 0) -> SparseCycles:
    """Cycles of ``Y = W @ X`` on an output-stationary ``rows x cols`` PE array, from the real
    non-zero patterns ``w_mask[M, K]`` and ``x_mask[K, N]``.

    PE ``(i, j)`` of a tile owns output ``(m, n)`` for ``rows`` consecutive rows of M and
    ``cols`` columns of N; tiles run one after another and an edge tile (M or N not a
    multiple) costs as much as its busiest PE, idle PEs included. A tile lasts as long as
    its busiest PE, plus ``fill_cycles``: the skew that fills and drains the array, e.g.
    ``rows + cols - 2`` for a systolic one where operands move one PE per cycle (default 0:
    operands broadcast).

    Modes: ``"skip"`` spends one cycle per effectual pair (``k`` with ``W[m,k]`` and
    ``X[k,n]`` both non-zero); ``"gate"`` spends ``K`` cycles per output but saves the
    energy of every ineffectual MAC; ``"dense"`` spends ``K`` and saves nothing.

    ``structure="nm"`` (needs ``n``, ``m``; ``w_mask`` must hold at most ``n`` non-zeros in
    every group of ``m`` along K) models a datapath built for the pattern: with ``"skip"``
    every PE steps through the ``n`` stored slots of each of the ``ceil(K/m)`` groups
    whatever the values, so the work is balanced by construction. Such a datapath does not
    skip zero activations: they cost their step, and are counted as gated (energy saved),
    not as effective. With ``"gate"`` or ``"dense"`` the structure changes nothing.

    ``gated_macs`` is ``dense_macs - effective_macs`` under skip and gate, 0 under dense.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of " + ", ".join(MODES))
    if structure not in STRUCTURES:
        raise ValueError(f"unknown structure {structure!r}; expected one of " + ", ".join(STRUCTURES))
    rows, cols = _positive("rows", rows), _positive("cols", cols)
    if isinstance(fill_cycles, (bool, np.bool_)) or not isinstance(fill_cycles, (int, np.integer)) \
            or fill_cycles < 0:
        raise ValueError(f"fill_cycles must be a non-negative integer, got {fill_cycles!r}")
    w = _mask(w_mask, "w_mask")
    x = _mask(x_mask, "x_mask")
    M, K = w.shape
    if x.shape[0] != K:
        raise ValueError(f"x_mask must have {K} rows to match w_mask{list(w.shape)}, got shape {x.shape}")
    N = x.shape[1]
    if structure == "nm":
        n, m = _nm(n, m)
        worst = np.count_nonzero(_grouped(w, m), axis=-1).max()
        if worst > n:
            raise ValueError(f"w_mask violates {n}:{m} sparsity: a group of {m} holds {worst} non-zeros")
    tm, tn = -(-M // rows), -(-N // cols)
    tiles = tm * tn
    fill = int(fill_cycles)
    if mode == "skip" and structure == "unstructured":
        busiest, work, pes = _tile_reduce(_effectual_counts(w, x), rows, cols)
        effective = int(work.sum())
        cycles = int(busiest.sum()) + tiles * fill
        ideal = int((-(-work // pes)).sum()) + tiles * fill
    else:
        # Total effectual pairs without per-output counts: sum_k |W[:, k]| * |X[k, :]|.
        effective = int(np.dot(np.count_nonzero(w, axis=0).astype(np.int64),
                               np.count_nonzero(x, axis=1).astype(np.int64)))
        steps = n * -(-K // m) if (mode == "skip" and structure == "nm") else K  # type: ignore[operator]
        cycles = ideal = tiles * (steps + fill)
    dense = M * N * K
    available = cycles * rows * cols
    return SparseCycles(
        cycles=cycles, ideal_cycles=ideal, tiles=tiles, effective_macs=effective, dense_macs=dense,
        gated_macs=0 if mode == "dense" else dense - effective, pe_cycles_available=available,
        utilization=effective / available if available else 0.0,
        imbalance=cycles / ideal if ideal else 1.0)


def sparse_conv_cycles(w_mask: np.ndarray, x_mask: np.ndarray, stride: int | tuple[int, int],
                       padding: int | tuple[int, int], rows: int, cols: int, mode: str = "skip", *,
                       structure: str = "unstructured", n: int | None = None, m: int | None = None,
                       fill_cycles: int = 0) -> SparseCycles:
    """:func:`sparse_gemm_cycles` of a convolution, ``w_mask[K, C, R, S]`` over
    ``x_mask[N, C, H, W]``, lowered to the GEMM: ``M = K`` filters, ``N*P*Q`` output pixels,
    reduction ``C*R*S`` (:func:`im2col` of the activation mask; padding is zeros)."""
    w = np.asarray(w_mask)
    x = np.asarray(x_mask)
    if w.ndim != 4 or x.ndim != 4:
        raise ValueError(f"expected w_mask (K, C, R, S) and x_mask (N, C, H, W), got shapes {w.shape} and {x.shape}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w_mask has {w.shape[1]} input channels, x_mask {x.shape[1]}")
    cols_mask = im2col(x != 0, w.shape[2:], stride, padding)
    return sparse_gemm_cycles(w.reshape(w.shape[0], -1) != 0, cols_mask, rows, cols, mode=mode,
                              structure=structure, n=n, m=m, fill_cycles=fill_cycles)
