"""The cycle-level systolic kernel against numpy and against its closed-form twin.

Cycle numbers below are 0-based; a fold's cycle count runs from its first data movement to
the cycle its last output leaves the bottom edge, inclusive.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accelsim.hw.systolic.timing import (DATAFLOWS, fold_cycles, fold_latency, folds,
                                         mapping_efficiency, unroll)
from accelsim.kernels import systolic
from accelsim.kernels.systolic import simulate

A = np.array([[1, 2], [3, 4]], dtype=np.int64)
B = np.array([[5, 6], [7, 8]], dtype=np.int64)
AB = np.array([[19, 22], [43, 50]], dtype=np.int64)


def test_os_2x2_array_2x2x2_by_hand():
    # OS, R = C = 2, T = K = 2. Pair k meets in PE (i, j) at cycle i + j + k:
    #   c0: PE(0,0) k=0             (A00 from the left, B00 from the top)
    #   c1: PE(0,0) k=1, PE(0,1) k=0, PE(1,0) k=0   (row 1 / column 1 enter one cycle late)
    #   c2: PE(0,1) k=1, PE(1,0) k=1, PE(1,1) k=0
    #   c3: PE(1,1) k=1             last MAC: (R-1) + (C-1) + (T-1) = 3
    #   c4: no operand reaches a PE -> drain 1: row 1 (out[1, :]) leaves the bottom,
    #       row 0 shifts down
    #   c5: drain 2: row 0 (out[0, :]) leaves
    # 6 cycles = (R-1) + (C-1) + T + R = 1 + 1 + 2 + 2 = 2R + C + T - 2.
    out = np.zeros((2, 2), np.int64)
    exit_cycle = np.zeros((2, 2), np.int64)
    cycles, macs = systolic._os_fold(A, B, out, exit_cycle)
    assert (cycles, macs) == (6, 8)
    np.testing.assert_array_equal(out, AB)
    np.testing.assert_array_equal(exit_cycle, [[5, 5], [4, 4]])
    assert simulate(A, B, 2, 2, "os")[1] == fold_cycles("os", 2, 2, 2, 2, 2) == 6


def test_ws_2x2_array_2x2x2_by_hand():
    # WS, R = C = 2, B (K x N) stationary, the T = M = 2 rows of A stream from the left.
    #   c0: preload: PE row 0 takes B[1, :]
    #   c1: preload: B[1, :] moves to row 1, row 0 takes B[0, :]     (R = 2 cycles)
    #   c2: PE(0,0): A00*B00 starts out[0,0]
    #   c3: PE(1,0): + A01*B10 -> out[0,0] leaves the bottom; PE(0,1) starts out[0,1];
    #       PE(0,0) starts out[1,0]
    #   c4: out[0,1] and out[1,0] leave; PE(0,1) starts out[1,1]
    #   c5: out[1,1] leaves. out[m, j] leaves at R + m + (R-1) + j.
    # 6 cycles = R + T + (R-1) + (C-1) = 2 + 2 + 1 + 1 = 2R + C + T - 2.
    out = np.zeros((2, 2), np.int64)
    exit_cycle = np.zeros((2, 2), np.int64)
    cycles, macs = systolic._stationary_fold(A, B, out, exit_cycle)
    assert (cycles, macs) == (6, 8)
    np.testing.assert_array_equal(out, AB)
    np.testing.assert_array_equal(exit_cycle, [[3, 4], [4, 5]])
    assert simulate(A, B, 2, 2, "ws")[1] == fold_cycles("ws", 2, 2, 2, 2, 2) == 6


def test_is_2x2_array_2x2x2_by_hand():
    # IS: A^T (K x M) stationary, the T = N = 2 columns of B stream from the left, and
    # the bottom of array column m emits out[m, n] for n = 0, 1: the WS schedule on
    # (B^T, A^T), so out^T[n, m] leaves at R + n + (R-1) + m and the fold is again
    # 2 + 2 + 1 + 1 = 6 cycles.
    out_t = np.zeros((2, 2), np.int64)
    exit_cycle = np.zeros((2, 2), np.int64)
    cycles, _ = systolic._stationary_fold(np.ascontiguousarray(B.T), np.ascontiguousarray(A.T),
                                          out_t, exit_cycle)
    assert cycles == 6
    np.testing.assert_array_equal(out_t.T, AB)
    np.testing.assert_array_equal(exit_cycle, [[3, 4], [4, 5]])
    out, cycles = simulate(A, B, 2, 2, "is")
    np.testing.assert_array_equal(out, AB)
    assert cycles == fold_cycles("is", 2, 2, 2, 2, 2) == 6


def test_edge_folds_cost_a_full_fold():
    # OS, 2x2 array, M = 3: folds = ceil(3/2) * ceil(2/2) = 2; the second holds one real
    # row (padded with a zero row) and still runs the whole 6-cycle schedule: 12.
    a = np.arange(6).reshape(3, 2)
    out, cycles = simulate(a, B, 2, 2, "os")
    np.testing.assert_array_equal(out, a @ B)
    assert cycles == 2 * 6 == fold_cycles("os", 2, 2, 3, 2, 2)
    assert mapping_efficiency("os", 2, 2, 3, 2, 2) == pytest.approx((4 + 2) / (2 * 4))


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_single_pe(dataflow):
    # A 1x1 array: one fold per output (OS) or per (k, n) weight (WS); each costs T + 1:
    # OS T MACs then 1 drain cycle, WS/IS 1 preload cycle then T MACs.
    a = np.array([[2, 3, 5]])  # M=1, K=3
    b = np.array([[7], [11], [13]])  # N=1
    out, cycles = simulate(a, b, 1, 1, dataflow)
    np.testing.assert_array_equal(out, a @ b)
    sr, sc, t = unroll(dataflow, 1, 1, 3)
    assert cycles == sr * sc * (t + 1) == fold_cycles(dataflow, 1, 1, 1, 1, 3)


def test_closed_form_table():
    assert unroll("os", 3, 5, 7) == (3, 5, 7)
    assert unroll("ws", 3, 5, 7) == (7, 5, 3)
    assert unroll("is", 3, 5, 7) == (7, 3, 5)
    assert folds("ws", 4, 4, 3, 9, 10) == 3 * 3
    assert fold_latency(4, 8, 10) == 2 * 4 + 8 + 10 - 2
    # SCALE-Sim 3.0.0, 32x32 IS, GEMM 129x33x17, reports 634 = 5 folds * 127 - 1 and a
    # mapping efficiency of 42.83203125 %.
    assert fold_cycles("is", 32, 32, 129, 33, 17) == 635
    assert mapping_efficiency("is", 32, 32, 129, 33, 17) * 100 == pytest.approx(42.83203125)
    with pytest.raises(ValueError, match="expected one of os, ws, is"):
        fold_cycles("rs", 2, 2, 2, 2, 2)
    with pytest.raises(ValueError, match="rows must be at least 1"):
        fold_cycles("os", 0, 2, 2, 2, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="expected one of"):
        simulate(A, B, 2, 2, "OS")
    with pytest.raises(ValueError, match="shapes"):
        simulate(A, np.ones((3, 2)), 2, 2, "os")
    with pytest.raises(TypeError, match="complex"):
        simulate(A.astype(complex), B, 2, 2, "os")


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_pure_python_fallback(dataflow):
    # The uncompiled originals of the njit kernels (what runs when numba is missing).
    a = np.array([[1.5, -2.0, 0.25], [3.0, 4.0, -1.0]])
    b = np.array([[1.0, 2.0], [-3.0, 0.5], [2.0, 2.0]])
    out, cycles, macs = systolic._simulate(a, b, 2, 1, dataflow, systolic._PYTHON)
    np.testing.assert_allclose(out, a @ b)
    assert cycles == fold_cycles(dataflow, 2, 1, 2, 2, 3)
    sr, sc, t = unroll(dataflow, 2, 2, 3)
    assert macs == folds(dataflow, 2, 1, 2, 2, 3) * 2 * 1 * t
    if hasattr(systolic._os_fold, "py_func"):  # numba installed: make sure nothing compiled ran
        assert systolic._PYTHON.edge is systolic._os_fold.py_func
        assert systolic._PYTHON.stationary is systolic._stationary_fold.py_func


dims = st.integers(1, 12)
sides = st.integers(1, 6)


@settings(max_examples=60, deadline=None)
@given(M=dims, N=dims, K=dims, rows=sides, cols=sides, dataflow=st.sampled_from(DATAFLOWS),
       integer=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_matches_numpy_and_closed_form(M, N, K, rows, cols, dataflow, integer, seed):
    rng = np.random.default_rng(seed)
    if integer:
        a = rng.integers(-100, 100, (M, K), dtype=np.int32)
        b = rng.integers(-100, 100, (K, N), dtype=np.int32)
    else:
        a = rng.standard_normal((M, K))
        b = rng.standard_normal((K, N)).astype(np.float32)
    out, cycles = simulate(a, b, rows, cols, dataflow)
    if integer:
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, a.astype(np.int64) @ b.astype(np.int64))
    else:
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, a @ b.astype(np.float64), rtol=1e-12, atol=1e-12)
    assert cycles == fold_cycles(dataflow, rows, cols, M, N, K)
