"""Cycle-by-cycle simulation of a GEMM on an R x C systolic array (OS, WS and IS dataflows).

Closed-form twin: :func:`accelsim.hw.systolic.timing.fold_cycles`; the cycle count returned
here equals it for every shape and array size (``tests/unit/kernels``). Nothing here knows
the IR or the specs: the inputs are two matrices, the array size and the dataflow name.

The machine. Every PE has one multiplier-adder and output registers towards its right and
lower neighbours; all registers latch at the same clock edge, so an operand moves exactly
one PE per cycle and a PE does at most one MAC per cycle. Every register carries a valid
bit next to its value. Operands enter at the left and top edges from skew buffers (row
``i`` is delayed ``i`` cycles, column ``j`` by ``j``); results leave at the bottom edge
into an output buffer that stores them in arrival order. A value *leaves the array in cycle
t* when it is latched into that buffer at the clock edge ending cycle ``t``.

* OS (:func:`_os_fold`): A rows stream from the left and B columns from the top; PE
  ``(i, j)`` accumulates ``out[i, j]`` in place. When no operand is in flight any more,
  the array switches to drain: the accumulators shift down one row per cycle and leave at
  the bottom, ``R`` cycles.
* WS and IS (:func:`_stationary_fold`): the stationary tile is preloaded from the top, one
  row per cycle (``R`` cycles); then the streamed operand enters from the left, skewed by
  row, and moves right, while partial sums start at zero in row 0, gain one product per PE
  and move down, leaving at the bottom. WS keeps B (K x N) in the array and streams the
  rows of A; IS keeps A transposed (K x M), streams the columns of B and produces
  ``out`` transposed.

The problem is tiled into folds (``accelsim.hw.systolic.timing``); an edge tile is padded
with zeros to the whole array and runs the same schedule (the padding lanes carry valid
zeros), folds run back to back, and WS/IS partial sums of different K tiles are added in
the output buffer. A fold ends in the cycle its last output leaves the array.

The per-fold kernels are numba ``@njit(cache=True)`` functions when numba is installed
and plain Python otherwise (:mod:`accelsim.kernels.jit`; the ``.py_func`` of each is the
same code, uncompiled).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .jit import njit

__all__ = ["simulate"]


@njit(cache=True)
def _os_fold(left, top, out, exit_cycle):
    """One output-stationary fold on an R x C array.

    ``left[i, k]`` enters row ``i`` at the left edge at cycle ``i + k``; ``top[k, j]``
    enters column ``j`` at the top edge at cycle ``j + k``. Fills ``out`` (R x C) from the
    drained accumulators and ``exit_cycle`` with the cycle each one left the bottom edge.
    Returns ``(cycles, macs)``.
    """
    R, T = left.shape
    C = top.shape[1]
    a_reg = np.zeros_like(out)  # horizontal operand leaving each PE to the right
    b_reg = np.zeros_like(out)  # vertical operand leaving each PE downwards
    a_nxt = np.zeros_like(out)
    b_nxt = np.zeros_like(out)
    acc = np.zeros_like(out)
    a_ok = np.zeros((R, C), np.bool_)
    b_ok = np.zeros((R, C), np.bool_)
    a_ok_nxt = np.zeros((R, C), np.bool_)
    b_ok_nxt = np.zeros((R, C), np.bool_)
    acc_ok = np.zeros((R, C), np.bool_)
    received = np.zeros(C, np.int64)  # outputs the buffer has taken from each column
    limit = 4 * (R + C + T) + 8  # a stuck schedule is a bug, not a long fold
    macs = 0
    emitted = 0
    draining = False
    t = 0
    while emitted < R * C:
        if t > limit:
            raise RuntimeError("systolic OS fold did not finish")
        if not draining:
            # Operands arriving at each PE this cycle: from the edge skew buffers or from
            # the neighbour's register latched last cycle.
            arrivals = 0
            for i in range(R):
                for j in range(C):
                    if j == 0:
                        k = t - i
                        a_in_ok = 0 <= k < T
                        a_in = left[i, k] if a_in_ok else left[i, 0] * 0
                    else:
                        a_in_ok = a_ok[i, j - 1]
                        a_in = a_reg[i, j - 1]
                    if i == 0:
                        k = t - j
                        b_in_ok = 0 <= k < T
                        b_in = top[k, j] if b_in_ok else top[0, j] * 0
                    else:
                        b_in_ok = b_ok[i - 1, j]
                        b_in = b_reg[i - 1, j]
                    if a_in_ok != b_in_ok:
                        raise RuntimeError("systolic OS operands out of step")
                    if a_in_ok:
                        acc[i, j] += a_in * b_in
                        acc_ok[i, j] = True
                        macs += 1
                        arrivals += 1
                    a_nxt[i, j] = a_in
                    b_nxt[i, j] = b_in
                    a_ok_nxt[i, j] = a_in_ok
                    b_ok_nxt[i, j] = b_in_ok
            a_reg, a_nxt = a_nxt, a_reg
            b_reg, b_nxt = b_nxt, b_reg
            a_ok, a_ok_nxt = a_ok_nxt, a_ok
            b_ok, b_ok_nxt = b_ok_nxt, b_ok
            exhausted = t - (R - 1) >= T and t - (C - 1) >= T
            if arrivals == 0 and exhausted:
                draining = True  # nothing reached a PE: this cycle is the first drain cycle
        if draining:
            for j in range(C):
                if acc_ok[R - 1, j]:
                    row = R - 1 - received[j]  # the bottom row leaves first
                    out[row, j] = acc[R - 1, j]
                    exit_cycle[row, j] = t
                    received[j] += 1
                    emitted += 1
                for i in range(R - 1, 0, -1):
                    acc[i, j] = acc[i - 1, j]
                    acc_ok[i, j] = acc_ok[i - 1, j]
                acc_ok[0, j] = False
        t += 1
    return t, macs


@njit(cache=True)
def _stationary_fold(stream, stationary, out, exit_cycle):
    """One weight- (or input-) stationary fold on an R x C array.

    ``stationary`` (R x C) is preloaded through the top edge. Then ``stream[m, i]`` enters
    row ``i`` at the left edge ``i`` cycles after row ``m`` starts, and the partial sum of
    ``out[m, j] = sum_i stream[m, i] * stationary[i, j]`` runs down column ``j``. Fills
    ``out`` (T x C) in arrival order and ``exit_cycle`` with the cycle each value left the
    bottom edge. Returns ``(cycles, macs)``.
    """
    T, R = stream.shape
    C = stationary.shape[1]
    w = np.zeros_like(stationary)  # the stationary operand held in each PE
    w_ok = np.zeros((R, C), np.bool_)
    x_reg = np.zeros_like(stationary)  # streamed operand leaving each PE to the right
    p_reg = np.zeros_like(stationary)  # partial sum leaving each PE downwards
    x_nxt = np.zeros_like(stationary)
    p_nxt = np.zeros_like(stationary)
    x_ok = np.zeros((R, C), np.bool_)
    p_ok = np.zeros((R, C), np.bool_)
    x_ok_nxt = np.zeros((R, C), np.bool_)
    p_ok_nxt = np.zeros((R, C), np.bool_)
    received = np.zeros(C, np.int64)
    limit = 4 * (R + C + T) + 8
    t = 0
    # Preload: each cycle every PE passes its stationary value one row down and row 0
    # takes the next row from the top edge; the row sent first ends up deepest.
    sent = 0
    while not w_ok.all():
        for j in range(C):
            for i in range(R - 1, 0, -1):
                w[i, j] = w[i - 1, j]
                w_ok[i, j] = w_ok[i - 1, j]
            w[0, j] = stationary[R - 1 - sent, j]
            w_ok[0, j] = True
        sent += 1
        t += 1
    # Streaming: s counts cycles since the preload finished.
    macs = 0
    emitted = 0
    s = 0
    while emitted < T * C:
        if t > limit:
            raise RuntimeError("systolic stationary fold did not finish")
        for i in range(R):
            for j in range(C):
                if j == 0:
                    m = s - i
                    x_in_ok = 0 <= m < T
                    x_in = stream[m, i] if x_in_ok else stream[0, i] * 0
                else:
                    x_in_ok = x_ok[i, j - 1]
                    x_in = x_reg[i, j - 1]
                if i == 0:
                    p_in_ok = x_in_ok  # a new partial sum starts at zero with each operand row
                    p_in = x_in * 0
                else:
                    p_in_ok = p_ok[i - 1, j]
                    p_in = p_reg[i - 1, j]
                if p_in_ok != x_in_ok:
                    raise RuntimeError("systolic stationary operands out of step")
                p_out = p_in
                if x_in_ok:
                    p_out = p_in + x_in * w[i, j]
                    macs += 1
                x_nxt[i, j] = x_in
                x_ok_nxt[i, j] = x_in_ok
                p_nxt[i, j] = p_out
                p_ok_nxt[i, j] = x_in_ok
                if i == R - 1 and x_in_ok:  # the bottom register is the output buffer's latch
                    out[received[j], j] = p_out
                    exit_cycle[received[j], j] = t
                    received[j] += 1
                    emitted += 1
        x_reg, x_nxt = x_nxt, x_reg
        p_reg, p_nxt = p_nxt, p_reg
        x_ok, x_ok_nxt = x_ok_nxt, x_ok
        p_ok, p_ok_nxt = p_ok_nxt, p_ok
        s += 1
        t += 1
    return t, macs


@dataclass(frozen=True)
class _Kernels:
    """The per-fold kernels a run uses: compiled, or their plain-Python originals."""

    edge: Callable  # both operands stream in from the edges (OS)
    stationary: Callable  # one operand preloaded, one streamed (WS, IS)


_COMPILED = _Kernels(edge=_os_fold, stationary=_stationary_fold)
_PYTHON = _Kernels(edge=getattr(_os_fold, "py_func", _os_fold),
                   stationary=getattr(_stationary_fold, "py_func", _stationary_fold))


@dataclass(frozen=True)
class _Scheme:
    """How a dataflow drives the array: which kernel, and whether it computes ``out^T``."""

    stationary: bool  # preload the right-hand operand (WS) instead of streaming both (OS)
    transposed: bool  # run on (B^T, A^T) and transpose the result (IS: A is preloaded)


_SCHEMES = {
    "os": _Scheme(stationary=False, transposed=False),
    "ws": _Scheme(stationary=True, transposed=False),
    "is": _Scheme(stationary=True, transposed=True),
}


def _edge_folds(x: np.ndarray, y: np.ndarray, R: int, C: int, kernel: Callable
                ) -> tuple[np.ndarray, int, int]:
    """``x @ y`` with x's rows on the array rows, y's columns on the array columns."""
    M, K = x.shape
    N = y.shape[1]
    out = np.zeros((M, N), x.dtype)
    cycles = macs = 0
    for r0 in range(0, M, R):
        r = min(R, M - r0)
        for c0 in range(0, N, C):
            c = min(C, N - c0)
            left = np.zeros((R, K), x.dtype)
            left[:r] = x[r0:r0 + r]
            top = np.zeros((K, C), x.dtype)
            top[:, :c] = y[:, c0:c0 + c]
            tile = np.zeros((R, C), x.dtype)
            fold_cycles, fold_macs = kernel(left, top, tile, np.zeros((R, C), np.int64))
            out[r0:r0 + r, c0:c0 + c] = tile[:r, :c]
            cycles += fold_cycles
            macs += fold_macs
    return out, cycles, macs


def _stationary_folds(x: np.ndarray, y: np.ndarray, R: int, C: int, kernel: Callable
                      ) -> tuple[np.ndarray, int, int]:
    """``x @ y`` with y preloaded tile by tile (y's rows on array rows) and x's rows streamed."""
    T, K = x.shape
    N = y.shape[1]
    out = np.zeros((T, N), x.dtype)
    cycles = macs = 0
    for k0 in range(0, K, R):
        k = min(R, K - k0)
        for c0 in range(0, N, C):
            c = min(C, N - c0)
            stationary = np.zeros((R, C), x.dtype)
            stationary[:k, :c] = y[k0:k0 + k, c0:c0 + c]
            stream = np.zeros((T, R), x.dtype)
            stream[:, :k] = x[:, k0:k0 + k]
            tile = np.zeros((T, C), x.dtype)
            fold_cycles, fold_macs = kernel(stream, stationary, tile, np.zeros((T, C), np.int64))
            out[:, c0:c0 + c] += tile[:, :c]  # partial sums of K tiles meet in the output buffer
            cycles += fold_cycles
            macs += fold_macs
    return out, cycles, macs


def _accumulator_dtype(x: np.ndarray) -> type:
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.integer):
        return np.int64
    if np.issubdtype(x.dtype, np.floating):
        return np.float64
    raise TypeError(f"expected integer or real floating-point matrices, got dtype {x.dtype}")


def _simulate(a: np.ndarray, b: np.ndarray, rows: int, cols: int, dataflow: str,
              kernels: _Kernels) -> tuple[np.ndarray, int, int]:
    """:func:`simulate` with a choice of kernels; also returns the number of MACs done."""
    if dataflow not in _SCHEMES:
        raise ValueError(f"unknown dataflow {dataflow!r}; expected one of " + ", ".join(_SCHEMES))
    a = np.asarray(a)
    b = np.asarray(b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"expected matrices A[M, K] and B[K, N], got shapes {a.shape} and {b.shape}")
    if min(a.shape + b.shape) < 1:
        raise ValueError(f"matrix dimensions must be at least 1, got {a.shape} and {b.shape}")
    if int(rows) < 1 or int(cols) < 1:
        raise ValueError(f"the array must be at least 1 x 1, got {rows} x {cols}")
    acc = np.result_type(_accumulator_dtype(a), _accumulator_dtype(b))
    a = np.ascontiguousarray(a, dtype=acc)
    b = np.ascontiguousarray(b, dtype=acc)
    scheme = _SCHEMES[dataflow]
    x, y = (np.ascontiguousarray(b.T), np.ascontiguousarray(a.T)) if scheme.transposed else (a, b)
    if scheme.stationary:
        out, cycles, macs = _stationary_folds(x, y, int(rows), int(cols), kernels.stationary)
    else:
        out, cycles, macs = _edge_folds(x, y, int(rows), int(cols), kernels.edge)
    return (np.ascontiguousarray(out.T) if scheme.transposed else out), cycles, macs


def simulate(a: np.ndarray, b: np.ndarray, rows: int, cols: int, dataflow: str
             ) -> tuple[np.ndarray, int]:
    """Run ``a @ b`` on a ``rows x cols`` systolic array, cycle by cycle.

    Args:
        a: ``A[M, K]``, integer or floating point.
        b: ``B[K, N]``, integer or floating point.
        rows, cols: the array size ``R x C``.
        dataflow: ``"os"``, ``"ws"`` or ``"is"``.

    Returns:
        ``(out, cycles)``: ``out[M, N]`` accumulated in int64 (integer inputs) or float64,
        and the cycles from the first data movement of the first fold to the cycle the last
        output of the last fold leaves the array; equal to
        :func:`accelsim.hw.systolic.timing.fold_cycles`.

    Raises:
        ValueError: unknown dataflow, shapes that do not form a GEMM, sizes below 1.
        TypeError: complex or non-numeric matrices.
    """
    out, cycles, _ = _simulate(a, b, rows, cols, dataflow, _COMPILED)
    return out, cycles
