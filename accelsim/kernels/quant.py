"""Quantized arithmetic: float <-> integer quantisation, integer GEMM and convolution with
accumulator overflow detection, binary (XNOR-popcount) GEMM, requantisation and error
figures against the float reference.

These are the data-level twins of what an integer accelerator computes: a compressed network
run through them gives the accuracy the hardware would give, including what a too-narrow
accumulator does to it.

Conventions.

* Symmetric quantisation is signed with the *restricted* range ``[-(2^(b-1)-1), 2^(b-1)-1]``
  and zero point 0, so ``-q`` is always representable (negating a value cannot overflow,
  and the range is the same for sign-magnitude hardware). Asymmetric quantisation is unsigned, ``[0, 2^b-1]``, with a zero
  point that puts float 0 exactly on an integer. Binary (``bits=1``) is sign quantisation:
  ``q`` is -1 or +1 (0 maps to +1) and the value is ``q * scale``.
* Rounding is half to even (``np.rint``) everywhere, then saturation.
* An ``acc_bits`` accumulator is two's complement: ``acc`` holds the value it ends with,
  wrapped on overflow, and ``overflow`` flags every output where a partial sum, adding the
  products in ascending ``k`` order, left ``[-2^(acc_bits-1), 2^(acc_bits-1)-1]``. Wrapping
  changes nothing before the first overflow, so the flag is the same whether the partial
  sums are taken exactly or wrapped.

Speed. :func:`qgemm` multiplies in an i-k-j loop over row-major operands (one output row of
accumulators stays in cache, ``B`` streams by rows), in int32 when no output can exceed int32
and in int64 otherwise, without a range check per step. Overflow is then found exactly by
bounding: ``|partial sum| <= sum_k |a_ik| |b_kj|``, so an output whose bound fits the range
cannot overflow; only rows holding an output that fails the (cheap, per row and column) bound
are replayed step by step with wrapping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .jit import njit

__all__ = [
    "SUPPORTED_BITS",
    "METHODS",
    "QuantParams",
    "choose_params",
    "quantize",
    "dequantize",
    "QGemmResult",
    "qgemm",
    "binary_gemm",
    "requantize",
    "quantize_bias",
    "qconv2d",
    "QuantError",
    "quant_error",
]

SUPPORTED_BITS = (1, 2, 4, 8, 16)
METHODS = ("minmax", "percentile", "mse")
MSE_GRID = 100  # clip ratios 1/100, 2/100, ..., 1 of the min-max range
MAX_ACC_BITS = 62  # the replay keeps |acc| + |product| inside int64


def _range(bits: int, signed: bool) -> tuple[int, int]:
    if bits == 1:
        return -1, 1
    if signed:
        return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    return 0, 2 ** bits - 1


def _container(qmin: int, qmax: int) -> np.dtype:
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= qmin and qmax <= info.max:
            return np.dtype(dt)
    return np.dtype(np.int64)


def _check_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or int(bits) not in SUPPORTED_BITS:
        raise ValueError(f"bits must be one of {SUPPORTED_BITS}, got {bits!r}")


@dataclass(frozen=True, eq=False)
class QuantParams:
    """How a tensor maps to integers: ``x ~ (q - zero_point) * scale``, per tensor
    (``axis`` None, arrays of shape (1,)) or per channel along ``axis`` (shape (C,))."""

    bits: int
    signed: bool
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    def __post_init__(self) -> None:
        _check_bits(self.bits)
        scale = np.array(self.scale, dtype=np.float64).reshape(-1)
        zero = np.array(self.zero_point, dtype=np.int64).reshape(-1)
        if scale.size == 0 or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(f"scale must be finite and positive, got {scale.tolist()[:8]}")
        if zero.shape != scale.shape:
            raise ValueError(f"zero_point shape {zero.shape} differs from scale shape {scale.shape}")
        if self.axis is None and scale.shape != (1,):
            raise ValueError(f"per-tensor parameters hold one scale, got {scale.size} (give axis for per-channel)")
        if self.axis is not None and (not isinstance(self.axis, (int, np.integer)) or self.axis < 0):
            raise ValueError(f"axis must be a non-negative int or None, got {self.axis!r}")
        if self.bits == 1 and (not self.signed or np.any(zero != 0)):
            raise ValueError("binary (bits=1) quantisation is signed with zero point 0")
        lo, hi = _range(self.bits, self.signed)
        if np.any(zero < lo) or np.any(zero > hi):
            raise ValueError(f"zero_point must lie in [{lo}, {hi}], got {zero.tolist()[:8]}")
        scale.setflags(write=False)
        zero.setflags(write=False)
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "zero_point", zero)
        object.__setattr__(self, "bits", int(self.bits))
        object.__setattr__(self, "signed", bool(self.signed))

    @property
    def qmin(self) -> int:
        return _range(self.bits, self.signed)[0]

    @property
    def qmax(self) -> int:
        return _range(self.bits, self.signed)[1]

    @property
    def dtype(self) -> np.dtype:
        """The smallest signed integer dtype holding [qmin, qmax] (int8, int16 or int32)."""
        return _container(self.qmin, self.qmax)

    def _shaped(self, ndim: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """scale and zero point broadcastable against an array of ``shape``."""
        if self.axis is None:
            return self.scale.reshape(()), self.zero_point.reshape(())
        if self.axis >= ndim or shape[self.axis] != self.scale.size:
            raise ValueError(f"per-channel parameters for {self.scale.size} channels on axis {self.axis} "
                             f"do not fit an array of shape {shape}")
        view = [1] * ndim
        view[self.axis] = self.scale.size
        return self.scale.reshape(view), self.zero_point.reshape(view)


def _rows(x: np.ndarray, axis: int | None) -> np.ndarray:
    """``x`` as (channels, values): one row per tensor or per channel."""
    if axis is None:
        return x.reshape(1, -1)
    return np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)


def _fake_quant(rows: np.ndarray, scale: np.ndarray, zero: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Quantise and dequantise each row with its own (scale, zero point) (column vectors)."""
    q = np.clip(np.rint(rows / scale) + zero, lo, hi)
    return (q - zero) * scale


def _params_from_range(lo_c: np.ndarray, hi_c: np.ndarray, bits: int, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """(scale, zero point) per channel for the clip range [lo_c, hi_c] (hi_c = max |x| if symmetric)."""
    qlo, qhi = _range(bits, symmetric)
    if symmetric:
        scale = hi_c / qhi
        zero = np.zeros(hi_c.shape, np.int64)
    else:
        scale = (hi_c - lo_c) / (qhi - qlo)
        zero = np.zeros(hi_c.shape, np.int64)
    empty = ~(scale > 0) | ~np.isfinite(scale)
    scale = np.where(empty, 1.0, scale)  # an all-zero channel: any scale is exact, 1 is harmless
    if not symmetric:
        zero = np.clip(np.rint(-lo_c / scale), qlo, qhi).astype(np.int64)
        zero[empty] = 0
    return scale, zero


def choose_params(
    x: np.ndarray,
    bits: int,
    *,
    symmetric: bool = True,
    axis: int | None = None,
    method: str = "minmax",
    percentile: float = 99.99,
) -> QuantParams:
    """Quantisation parameters for ``x``, per tensor or per channel along ``axis``.

    ``minmax`` covers the whole range; ``percentile`` clips at the given percentile of |x|
    (symmetric) or at the (100-p, p) percentiles (asymmetric), trading a few clipped outliers
    for finer steps; ``mse`` tries the clip ratios 1/100 .. 1 of the min-max range and keeps,
    per channel, the first one with the lowest reconstruction error (ratio 1 is min-max, so
    it is never worse). Asymmetric ranges always include 0. For ``bits=1`` the scale is
    mean |x| whatever the method: the L2-optimal scale for sign(x) (Rastegari et al.,
    XNOR-Net, ECCV 2016).
    """
    _check_bits(bits)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must lie in (0, 100], got {percentile!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "biuf" or x.size == 0:
        raise ValueError(f"x must be a non-empty real array, got dtype {x.dtype} and size {x.size}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError("x holds non-finite values")
    if axis is not None:
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(f"axis {axis} out of range for an array of {x.ndim} dimensions")
        axis = axis % x.ndim
    rows = _rows(x, axis)
    if bits == 1:
        if not symmetric:
            raise ValueError("binary (bits=1) quantisation is symmetric")
        scale = np.abs(rows).mean(axis=1)
        scale = np.where(scale > 0, scale, 1.0)
        return QuantParams(1, True, scale, np.zeros(scale.shape, np.int64), axis)

    if symmetric:
        mag = np.abs(rows)
        lo_c = np.zeros(rows.shape[0])
        hi_c = np.percentile(mag, percentile, axis=1) if method == "percentile" else mag.max(axis=1)
    elif method == "percentile":
        lo_c = np.minimum(np.percentile(rows, 100 - percentile, axis=1), 0.0)
        hi_c = np.maximum(np.percentile(rows, percentile, axis=1), 0.0)
    else:
        lo_c = np.minimum(rows.min(axis=1), 0.0)
        hi_c = np.maximum(rows.max(axis=1), 0.0)

    if method == "mse":
        qlo, qhi = _range(bits, symmetric)
        best_err = np.full(rows.shape[0], np.inf)
        best_lo, best_hi = lo_c.copy(), hi_c.copy()
        for step in range(1, MSE_GRID + 1):
            ratio = step / MSE_GRID
            s, z = _params_from_range(lo_c * ratio, hi_c * ratio, bits, symmetric)
            err = ((_fake_quant(rows, s[:, None], z[:, None], qlo, qhi) - rows) ** 2).mean(axis=1)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            best_lo = np.where(better, lo_c * ratio, best_lo)
            best_hi = np.where(better, hi_c * ratio, best_hi)
        lo_c, hi_c = best_lo, best_hi
    scale, zero = _params_from_range(lo_c, hi_c, bits, symmetric)
    return QuantParams(bits, symmetric, scale, zero, axis)


def quantize(x: np.ndarray, params: QuantParams) -> np.ndarray:
    """``clip(rint(x / scale) + zero_point)`` in ``params.dtype``; sign(x) (0 -> +1) for binary."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"x must be a real array, got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    if np.any(np.isnan(x)):
        raise ValueError("x holds NaN values")
    scale, zero = params._shaped(x.ndim, x.shape)
    if params.bits == 1:
        return np.where(x >= 0, 1, -1).astype(params.dtype)
    q = np.clip(np.rint(x / scale) + zero, params.qmin, params.qmax)
    return q.astype(params.dtype)


def dequantize(q: np.ndarray, params: QuantParams) -> np.ndarray:
    """``(q - zero_point) * scale`` as float64."""
    q = _int_array(q, "q")
    scale, zero = params._shaped(q.ndim, q.shape)
    return (q.astype(np.int64) - zero) * scale


# --------------------------------------------------------------------------- integer GEMM


@dataclass(frozen=True, eq=False)
class QGemmResult:
    """An integer GEMM's outputs as an ``acc_bits`` accumulator leaves them (wrapped), and
    where the accumulator overflowed on the way."""

    acc: np.ndarray
    overflow: np.ndarray
    acc_bits: int

    @property
    def overflows(self) -> int:
        """How many outputs overflowed at least once."""
        return int(np.count_nonzero(self.overflow))


def _int_array(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array, got dtype {x.dtype}")
    return x


def _zero_vector(zero: int | np.ndarray, length: int, name: str, what: str) -> np.ndarray:
    """A zero point as an int64 vector of ``length`` (a scalar is broadcast)."""
    z = np.asarray(zero)
    if z.dtype.kind not in "iub" and not (z.dtype.kind == "f" and np.all(z == np.rint(z))):
        raise ValueError(f"{name} must be an integer or integer array, got {zero!r}")
    if z.ndim == 0:
        return np.full(length, int(z), np.int64)
    if z.shape != (length,):
        raise ValueError(f"{name} must be a scalar or one value per {what} ({length}), got shape {z.shape}")
    return z.astype(np.int64)


@njit(cache=True)
def _gemm_ikj(a, b, out):
    """out += a @ b, i-k-j: a row of accumulators stays in cache while B streams by rows."""
    M, K = a.shape
    N = b.shape[1]
    for i in range(M):
        for k in range(K):
            aik = a[i, k]
            if aik == 0:
                continue
            for j in range(N):
                out[i, j] += aik * b[k, j]


@njit(cache=True)
def _gemm_rows_checked(a, b, rows, lo, hi, small, acc, flag):
    """Rows ``rows`` of a @ b accumulated in k order, i-k-j like :func:`_gemm_ikj`, with
    every partial sum checked against [lo, hi] and wrapped back into it. ``small``: no single
    product spans the range, so one correction of +-span wraps (and the loop vectorises)."""
    K = a.shape[1]
    N = b.shape[1]
    span = hi - lo + 1
    s = np.zeros(N, np.int64)
    over = np.zeros(N, np.bool_)
    for t in range(rows.shape[0]):
        i = rows[t]
        s[:] = 0
        over[:] = False
        for k in range(K):
            aik = a[i, k]
            if aik == 0:
                continue
            if small:
                for j in range(N):
                    v = s[j] + aik * b[k, j]
                    up = v > hi
                    down = v < lo
                    s[j] = v - span * up + span * down
                    over[j] = over[j] | up | down
            else:
                for j in range(N):
                    v = s[j] + aik * b[k, j]
                    if v > hi or v < lo:
                        over[j] = True
                        v = (v - lo) % span + lo
                    s[j] = v
        for j in range(N):
            acc[i, j] = s[j]
            flag[i, j] = over[j]


def qgemm(
    a_q: np.ndarray,
    b_q: np.ndarray,
    a_zero: int | np.ndarray = 0,
    b_zero: int | np.ndarray = 0,
    *,
    acc_bits: int = 32,
) -> QGemmResult:
    """``(A - a_zero) @ (B - b_zero)`` in an ``acc_bits`` accumulator, A (M, K), B (K, N).

    ``a_zero`` is a scalar or one value per row of A, ``b_zero`` a scalar or one value per
    column of B (per-output-channel weights)."""
    a_q = _int_array(a_q, "a_q")
    b_q = _int_array(b_q, "b_q")
    if a_q.ndim != 2 or b_q.ndim != 2 or a_q.shape[1] != b_q.shape[0]:
        raise ValueError(f"qgemm needs A (M, K) and B (K, N), got shapes {a_q.shape} and {b_q.shape}")
    if isinstance(acc_bits, bool) or not isinstance(acc_bits, (int, np.integer)) or not 2 <= acc_bits <= MAX_ACC_BITS:
        raise ValueError(f"acc_bits must be an int in [2, {MAX_ACC_BITS}], got {acc_bits!r}")
    M, K = a_q.shape
    N = b_q.shape[1]
    a = a_q.astype(np.int64) - _zero_vector(a_zero, M, "a_zero", "row of A")[:, None]
    b = b_q.astype(np.int64) - _zero_vector(b_zero, N, "b_zero", "column of B")[None, :]
    lo, hi = -(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1
    if a.size == 0 or b.size == 0:
        return QGemmResult(np.zeros((M, N), np.int64), np.zeros((M, N), bool), int(acc_bits))

    abs_a, abs_b = np.abs(a), np.abs(b)
    a_max, b_max = abs_a.max(axis=1), abs_b.max(axis=0)
    top_a, top_b = int(a_max.max()), int(b_max.max())
    if top_a * top_b > 2 ** MAX_ACC_BITS:
        raise ValueError(f"operand magnitudes {top_a} x {top_b} exceed what int64 accumulation can replay")
    worst = K * top_a * top_b  # no |partial sum| can exceed this
    kind = np.int32 if worst <= np.iinfo(np.int32).max else np.int64
    out = np.zeros((M, N), kind)
    _gemm_ikj(np.ascontiguousarray(a, kind), np.ascontiguousarray(b, kind), out)
    acc = out.astype(np.int64)
    overflow = np.zeros((M, N), bool)
    if worst > hi:
        # The tighter of two per-output bounds on sum_k |a_ik||b_kj|, in float64 with a
        # margin for rounding so that no output that could overflow passes.
        bound = np.minimum(abs_a.sum(axis=1, dtype=np.float64)[:, None] * b_max[None, :],
                           a_max[:, None].astype(np.float64) * abs_b.sum(axis=0, dtype=np.float64)[None, :])
        rows = np.flatnonzero((bound >= hi * (1.0 - 1e-9)).any(axis=1))
        if rows.size:
            _gemm_rows_checked(a, b, rows.astype(np.int64), lo, hi, top_a * top_b < hi - lo + 1, acc, overflow)
    return QGemmResult(acc, overflow, int(acc_bits))


# --------------------------------------------------------------------------- binary GEMM

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_S1, _S2, _S4, _S56 = np.uint64(1), np.uint64(2), np.uint64(4), np.uint64(56)


@njit(cache=True)
def _popcount64(x):
    """Set bits of a uint64 (SWAR; the final multiply wraps by design)."""
    x = x - ((x >> _S1) & _M1)
    x = (x & _M2) + ((x >> _S2) & _M2)
    x = (x + (x >> _S4)) & _M4
    return np.int64((x * _H01) >> _S56)


@njit(cache=True)
def _xnor_gemm(ap, bp, k, out):
    """out[i, j] = k - 2 popcount(ap[i] xor bp[j]): agreements minus disagreements."""
    M, W = ap.shape
    N = bp.shape[0]
    for i in range(M):
        for j in range(N):
            c = 0
            for w in range(W):
                c += _popcount64(ap[i, w] ^ bp[j, w])
            out[i, j] = k - 2 * c


def _pack_signs(negative: np.ndarray) -> np.ndarray:
    """(R, K) booleans -> (R, ceil(K/64)) uint64 words; padding bits are 0 in both operands,
    so they never disagree and only the true K enters the count."""
    R, K = negative.shape
    words = max(1, -(-K // 64))
    padded = np.zeros((R, words * 64), bool)
    padded[:, :K] = negative
    return np.ascontiguousarray(np.packbits(padded, axis=1, bitorder="little")).view(np.uint64)


def binary_gemm(a_sign: np.ndarray, b_sign: np.ndarray) -> np.ndarray:
    """A (M, K) @ B (K, N) for +-1 matrices by XNOR-popcount on 64-bit words, as int64."""
    a_sign = _int_array(a_sign, "a_sign")
    b_sign = _int_array(b_sign, "b_sign")
    if a_sign.ndim != 2 or b_sign.ndim != 2 or a_sign.shape[1] != b_sign.shape[0]:
        raise ValueError(f"binary_gemm needs A (M, K) and B (K, N), got shapes {a_sign.shape} and {b_sign.shape}")
    for name, m in (("a_sign", a_sign), ("b_sign", b_sign)):
        if m.size and not np.all((m == 1) | (m == -1)):
            raise ValueError(f"{name} must hold only -1 and +1")
    M, K = a_sign.shape
    N = b_sign.shape[1]
    out = np.zeros((M, N), np.int64)
    if M and N and K:
        with np.errstate(over="ignore"):  # plain-Python fallback: the popcount multiply wraps
            _xnor_gemm(_pack_signs(a_sign < 0), _pack_signs(b_sign.T < 0), K, out)
    return out


# --------------------------------------------------------------------------- requantisation


def _per_axis(v: np.ndarray, ndim: int, shape: tuple[int, ...], axis: int, name: str) -> np.ndarray:
    """A scalar or a vector along ``axis`` of an array of ``shape``, broadcastable against it."""
    v = np.asarray(v)
    if v.ndim == 0:
        return v
    if ndim == 0 or v.ndim != 1 or v.size != shape[axis]:
        raise ValueError(f"{name} must be a scalar or one value per index of axis {axis} "
                         f"({shape[axis] if ndim else 0}), got shape {v.shape}")
    view = [1] * ndim
    view[axis] = v.size
    return v.reshape(view)


def requantize(
    acc: np.ndarray,
    multiplier: float | np.ndarray,
    out_zero: int | np.ndarray = 0,
    bits: int = 8,
    signed: bool = True,
    *,
    bias_q: int | np.ndarray | None = None,
    axis: int = -1,
) -> np.ndarray:
    """Accumulators to ``bits``-bit outputs: ``clip(rint((acc + bias_q) * multiplier) + out_zero)``.

    ``multiplier`` is ``in_scale * w_scale / out_scale``; it, ``out_zero`` and ``bias_q`` are
    scalars or vectors along ``axis`` (the output channels: -1 for a GEMM, 1 for a conv).
    The range is :class:`QuantParams`'s for (bits, signed); ``bits=1`` gives sign (0 -> +1).
    """
    _check_bits(bits)
    acc = _int_array(acc, "acc").astype(np.int64)
    if acc.ndim and not -acc.ndim <= axis < acc.ndim:
        raise ValueError(f"axis {axis} out of range for an array of {acc.ndim} dimensions")
    axis = axis % acc.ndim if acc.ndim else 0
    m = np.asarray(multiplier, dtype=np.float64)
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"multiplier must be finite and positive, got {multiplier!r}")
    m = _per_axis(m, acc.ndim, acc.shape, axis, "multiplier")
    if bias_q is not None:
        acc = acc + _per_axis(_int_array(bias_q, "bias_q").astype(np.int64), acc.ndim, acc.shape, axis, "bias_q")
    lo, hi = _range(bits, signed)
    dtype = _container(lo, hi)
    if bits == 1:
        if np.any(np.asarray(out_zero) != 0) or not signed:
            raise ValueError("binary (bits=1) outputs are signed with zero point 0")
        return np.where(acc >= 0, 1, -1).astype(dtype)
    zero = _per_axis(_int_array(out_zero, "out_zero").astype(np.int64), acc.ndim, acc.shape, axis, "out_zero")
    return np.clip(np.rint(acc * m) + zero, lo, hi).astype(dtype)


def quantize_bias(bias: np.ndarray, in_scale: float | np.ndarray, w_scale: float | np.ndarray) -> np.ndarray:
    """A float bias on the accumulator's grid: ``rint(bias / (in_scale * w_scale))`` as int32
    (``w_scale`` a scalar or one value per output channel)."""
    bias = np.asarray(bias, dtype=np.float64)
    if np.size(in_scale) != 1:
        raise ValueError(f"in_scale must be one value, got {np.size(in_scale)}")
    w = np.asarray(w_scale, dtype=np.float64)
    step = float(np.asarray(in_scale, dtype=np.float64).reshape(())) * (w.reshape(-1) if w.ndim else w)
    if not np.all(np.isfinite(step)) or np.any(step <= 0):
        raise ValueError("in_scale and w_scale must be finite and positive")
    if step.ndim and bias.shape != step.shape:
        raise ValueError(f"bias shape {bias.shape} does not match {step.size} per-channel weight scales")
    q = np.rint(bias / step)
    info = np.iinfo(np.int32)
    if not np.all(np.isfinite(q)) or np.any(q < info.min) or np.any(q > info.max):
        raise ValueError("quantized bias does not fit int32")
    return q.astype(np.int32)


# --------------------------------------------------------------------------- convolution


def _pair(v: int | tuple[int, ...], name: str, n: int, least: int) -> tuple[int, ...]:
    t = (v,) * n if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != n or not all(isinstance(e, (int, np.integer)) and e >= least for e in t):
        raise ValueError(f"{name} must be {n} ints >= {least}, got {v!r}")
    return tuple(int(e) for e in t)


def qconv2d(
    x_q: np.ndarray,
    w_q: np.ndarray,
    x_zero: int = 0,
    w_zero: int | np.ndarray = 0,
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int, int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
    acc_bits: int = 32,
) -> QGemmResult:
    """Integer convolution: x (N, C, H, W), w (K, C/groups, R, S) -> acc (N, K, P, Q).

    Padding is (top, left, bottom, right) and holds ``x_zero``, so it adds nothing after the
    zero point is subtracted. Each group is an im2col GEMM whose reduction runs over
    (c, r, s) in ascending order, which is the order overflow is judged in."""
    x_q = _int_array(x_q, "x_q")
    w_q = _int_array(w_q, "w_q")
    if x_q.ndim != 4 or w_q.ndim != 4:
        raise ValueError(f"qconv2d needs x (N, C, H, W) and w (K, C/groups, R, S), got {x_q.shape} and {w_q.shape}")
    sh, sw = _pair(stride, "stride", 2, 1)
    dh, dw = _pair(dilation, "dilation", 2, 1)
    pt, pl, pb, pr = _pair(padding, "padding", 4, 0)
    n, c, h, w = x_q.shape
    k, cg, r, s = w_q.shape
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1 \
            or c % groups or k % groups or cg != c // groups:
        raise ValueError(f"groups={groups!r} does not fit {c} input channels, {k} filters of {cg} channels")
    if np.ndim(x_zero) != 0:
        raise ValueError(f"x_zero must be a scalar, got shape {np.shape(x_zero)}")
    wz = _zero_vector(w_zero, k, "w_zero", "filter")
    p = (h + pt + pb - dh * (r - 1) - 1) // sh + 1
    q = (w + pl + pr - dw * (s - 1) - 1) // sw + 1
    if p < 1 or q < 1:
        raise ValueError(f"a {r}x{s} filter (dilation {dh}x{dw}) does not fit the padded {h}x{w} input")
    xp = np.full((n, c, h + pt + pb, w + pl + pr), int(x_zero), np.int64)
    xp[:, :, pt:pt + h, pl:pl + w] = x_q
    kg = k // groups
    acc = np.empty((n, k, p, q), np.int64)
    overflow = np.empty((n, k, p, q), bool)
    for g in range(groups):
        patches = np.empty((n, p, q, cg, r, s), np.int64)
        chans = xp[:, g * cg:(g + 1) * cg]
        for i in range(r):
            for j in range(s):
                window = chans[:, :, i * dh:i * dh + sh * (p - 1) + 1:sh, j * dw:j * dw + sw * (q - 1) + 1:sw]
                patches[:, :, :, :, i, j] = window.transpose(0, 2, 3, 1)
        filt = w_q[g * kg:(g + 1) * kg].reshape(kg, cg * r * s).T
        res = qgemm(patches.reshape(n * p * q, cg * r * s), filt, int(x_zero), wz[g * kg:(g + 1) * kg],
                    acc_bits=acc_bits)
        acc[:, g * kg:(g + 1) * kg] = res.acc.reshape(n, p, q, kg).transpose(0, 3, 1, 2)
        overflow[:, g * kg:(g + 1) * kg] = res.overflow.reshape(n, p, q, kg).transpose(0, 3, 1, 2)
    return QGemmResult(acc, overflow, int(acc_bits))


# --------------------------------------------------------------------------- error figures


@dataclass(frozen=True)
class QuantError:
    """How far a dequantized result is from the float reference."""

    max_abs: float
    rms: float
    snr_db: float  # 10 log10(signal power / error power); inf when the error is zero

    def __iter__(self) -> Iterator[float]:
        return iter((self.max_abs, self.rms, self.snr_db))


def quant_error(reference: np.ndarray, dequantized: np.ndarray) -> QuantError:
    """Max |error|, RMS error and signal-to-quantisation-noise ratio (dB) against the reference."""
    ref = np.asarray(reference, dtype=np.float64)
    got = np.asarray(dequantized, dtype=np.float64)
    if ref.shape != got.shape or ref.size == 0:
        raise ValueError(f"reference and dequantized must have the same non-empty shape, got {ref.shape} and {got.shape}")
    err = got - ref
    noise = float(np.mean(err ** 2))
    signal = float(np.mean(ref ** 2))
    if noise == 0:
        snr = math.inf
    elif signal == 0:
        snr = -math.inf
    else:
        snr = 10.0 * math.log10(signal / noise)
    return QuantError(float(np.max(np.abs(err))), math.sqrt(noise), snr)
