"""Sparse formats, sparse GEMM values and the sparse cycle model against hand counts and plain
numpy references."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accelsim.kernels import sparse
from accelsim.kernels.sparse import (FORMATS, MODES, block_mask, channel_mask, decode, density, encode, im2col,
                                     magnitude_mask, nm_mask, sparse_conv_cycles, sparse_gemm_cycles, spmm_csr)

# M = 3 rows, K = 8 columns, 6 non-zeros; 2:4 along K; row 1 is empty.
W = np.array([[1, 0, 0, 2, 0, 0, 0, 0],
              [0, 0, 0, 0, 0, 0, 0, 0],
              [0, 3, 4, 0, 6, 0, 0, 7]], dtype=np.int64)

# (format, value bytes, metadata bytes by array) at value_bits = 8, counted by hand:
#   dense:   24 values x 8 = 192 bits = 24 B; no metadata.
#   bitmask: 6 values = 6 B; mask 3 x 8 = 24 bits = 3 B.
#   csr:     6 values = 6 B; column index 6 x ceil(log2 8) = 6 x 3 = 18 bits -> 3 B;
#            row pointers (3 + 1) x ceil(log2(6 + 1)) = 4 x 3 = 12 bits -> 2 B.
#   csc:     6 values = 6 B; row index 6 x ceil(log2 3) = 6 x 2 = 12 bits -> 2 B;
#            column pointers (8 + 1) x 3 = 27 bits -> 4 B.
#   nm 2:4:  3 rows x 2 groups x 2 slots = 12 slots = 12 B (row 1 and row 0's second group
#            are zero padding); index 12 x ceil(log2 4) = 24 bits = 3 B.
#   block 2x2: grid ceil(3/2) x ceil(8/2) = 2 x 4 = 8 bits = 1 B; non-zero blocks
#            (0,0){1} (0,1){2} (1,0){3} (1,1){4} (1,2){6} (1,3){7}, not (0,2) or (0,3):
#            6 blocks x 4 values (the bottom ones padded from 1 row to 2) = 24 B.
#   channel: rows 0 and 2 kept, 2 x 8 values = 16 B; row index 2 x ceil(log2 3) = 4 bits -> 1 B.
HAND_BYTES = {
    "dense": (24, {}),
    "bitmask": (6, {"mask": 3}),
    "csr": (6, {"col_index": 3, "row_pointers": 2}),
    "csc": (6, {"row_index": 2, "col_pointers": 4}),
    "nm": (12, {"index": 3}),
    "block": (24, {"block_mask": 1}),
    "channel": (16, {"row_index": 1}),
}
PARAMS = {"n": 2, "m": 4, "block": (2, 2)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_bytes_of_each_format_equal_a_hand_count(fmt):
    enc = encode(W, fmt, value_bits=8, **PARAMS)
    values, metadata = HAND_BYTES[fmt]
    assert enc.nnz == 6
    assert enc.value_bytes == values
    assert dict(enc.metadata) == metadata
    assert enc.metadata_bytes == sum(metadata.values())
    assert enc.total_bytes == values + sum(metadata.values())


def test_value_bits_round_each_array_up_to_whole_bytes():
    # 3-bit values: dense 24 x 3 = 72 bits = 9 B; bitmask 6 x 3 = 18 bits -> 3 B;
    # nm 12 slots x 3 = 36 bits -> 5 B; channel 16 x 3 = 48 bits = 6 B.
    got = {f: encode(W, f, value_bits=3, **PARAMS).value_bytes for f in ("dense", "bitmask", "nm", "channel")}
    assert got == {"dense": 9, "bitmask": 3, "nm": 5, "channel": 6}


def test_nm_layout_stores_the_non_zeros_then_zero_padding_slots():
    enc = encode(W, "nm", value_bits=8, n=2, m=4)
    # row 0: group 0 holds 1 at 0 and 2 at 3; group 1 is empty, padded at positions 0, 1.
    np.testing.assert_array_equal(enc.arrays["indices"][0], [[0, 3], [0, 1]])
    np.testing.assert_array_equal(enc.arrays["values"][0], [[1, 2], [0, 0]])
    np.testing.assert_array_equal(enc.arrays["indices"][2], [[1, 2], [0, 3]])
    np.testing.assert_array_equal(enc.arrays["values"][2], [[3, 4], [6, 7]])


def test_csr_arrays_by_hand():
    enc = encode(W, "csr", value_bits=8)
    np.testing.assert_array_equal(enc.arrays["values"], [1, 2, 3, 4, 6, 7])
    np.testing.assert_array_equal(enc.arrays["indices"], [0, 3, 1, 2, 4, 7])
    np.testing.assert_array_equal(enc.arrays["indptr"], [0, 2, 2, 6])


def test_nm_encoding_rejects_a_group_over_n():
    bad = W.copy()
    bad[2, 3] = 5  # group 0 of row 2 now holds 3, 4, 5
    with pytest.raises(ValueError, match="2:4"):
        encode(bad, "nm", value_bits=8, n=2, m=4)


@pytest.mark.parametrize("bad", [{"fmt": "coo"}, {"fmt": "nm"}, {"fmt": "block"}, {"fmt": "nm", "n": 5, "m": 4},
                                 {"fmt": "dense", "value_bits": 0}])
def test_bad_encode_arguments(bad):
    kw = {"value_bits": 8, **bad}
    with pytest.raises(ValueError):
        encode(W, kw.pop("fmt"), **kw)


def _pruned(shape, seed, dtype):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape) if dtype == np.float64 else rng.integers(-9, 10, shape)
    return np.where(rng.random(shape) < 0.4, w, 0).astype(dtype)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("shape", [(5, 7), (6, 2, 3, 3), (1, 1), (4, 13)])
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_decode_of_encode_round_trips(fmt, shape, dtype):
    w = _pruned(shape, 11, dtype)
    if fmt == "nm":
        w = w * nm_mask(w.reshape(shape[0], -1), 2, 4).reshape(shape)
    enc = encode(w, fmt, value_bits=16, n=2, m=4, block=(2, 3))
    back = decode(enc)
    assert back.shape == w.shape and back.dtype == w.dtype
    np.testing.assert_array_equal(back, w)
    assert enc.nnz == np.count_nonzero(w)


def test_nm_mask_by_hand():
    w = np.array([[3, -5, 1, 4, 2, 2, 2, 2]])
    # group 0: |-5| and 4 are the two largest; group 1: a four-way tie keeps the lower two
    np.testing.assert_array_equal(nm_mask(w, 2, 4), [[0, 1, 0, 1, 1, 1, 0, 0]])


@pytest.mark.parametrize("n,m,k", [(2, 4, 16), (1, 4, 12), (3, 8, 24), (2, 4, 10)])
def test_nm_mask_keeps_exactly_n_per_group(n, m, k):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, k))
    keep = nm_mask(w, n, m)
    for start in range(0, k, m):
        counts = keep[:, start:start + m].sum(axis=1)
        assert (counts == min(n, k - start)).all()
    # a kept weight is at least as large as every dropped one of its group
    for row in range(5):
        for start in range(0, k, m):
            a, kk = np.abs(w[row, start:start + m]), keep[row, start:start + m]
            if (~kk).any():
                assert a[kk].min() >= a[~kk].max()
    encode(w * keep, "nm", value_bits=8, n=n, m=m)  # the masked weights satisfy n:m


def test_magnitude_mask_counts_and_ties_to_the_lower_index():
    w = np.array([[0.5, -3.0, 2.0], [2.0, 0.1, -1.0]])
    # 1/3 of 6 keeps 2: |-3| at 1, then the tie of 2.0 at flat 2 and 3 goes to 2
    np.testing.assert_array_equal(magnitude_mask(w, 1 / 3), [[0, 1, 1], [0, 0, 0]])
    # 0.5 keeps 3
    np.testing.assert_array_equal(magnitude_mask(w, 0.5), [[0, 1, 1], [1, 0, 0]])
    # 0.4 of 6 = 2.4: at least that much, 3 weights
    assert magnitude_mask(w, 0.4).sum() == 3
    assert magnitude_mask(w, 0).sum() == 0 and magnitude_mask(w, 1).all()
    with pytest.raises(ValueError):
        magnitude_mask(w, 1.5)


def test_channel_mask_keeps_rows_by_l2_norm():
    w = np.array([[3.0, 4.0], [0.0, 6.0], [1.0, 1.0]]).reshape(3, 2, 1, 1)  # norms 5, 6, 1.41
    keep = channel_mask(w, 0.5)  # ceil(1.5) = 2 rows: 1 and 0
    assert keep.shape == w.shape
    np.testing.assert_array_equal(keep.reshape(3, 2), [[1, 1], [1, 1], [0, 0]])


def test_block_mask_keeps_blocks_by_l2_norm():
    w = np.array([[1, 1, 0, 5],
                  [1, 1, 0, 0],
                  [2, 0, 0, 0]], dtype=float)
    # 2x2 blocks: (0,0) norm 2, (0,1) norm 5, (1,0) norm 2 (edge block), (1,1) 0.
    np.testing.assert_array_equal(block_mask(w, 0.25, (2, 2)), [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0]])
    # half: (0,1) then the tie of norm 2 between (0,0) and (1,0) goes to (0,0)
    np.testing.assert_array_equal(block_mask(w, 0.5, (2, 2)), [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]])


def test_density():
    assert density(np.array([[0, 1], [0, 2]])) == 0.5
    assert density(np.zeros(3)) == 0.0


def test_spmm_csr_int64_is_exact():
    rng = np.random.default_rng(5)
    w = _pruned((9, 14), 5, np.int64)
    x = rng.integers(-1000, 1000, (14, 6))
    got = spmm_csr(encode(w, "csr", value_bits=8), x)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, w @ x)


def test_spmm_csr_float64_matches_numpy():
    rng = np.random.default_rng(6)
    w = _pruned((9, 14), 6, np.float64)
    x = rng.standard_normal((14, 6))
    enc = encode(w, "csr", value_bits=32)
    np.testing.assert_allclose(spmm_csr(enc, x), decode(enc) @ x, rtol=1e-12, atol=1e-12)


def test_spmm_csr_rejects_other_formats_and_shapes():
    with pytest.raises(ValueError, match="csr"):
        spmm_csr(encode(W, "bitmask", value_bits=8), np.ones((8, 2)))
    with pytest.raises(ValueError, match="8 rows"):
        spmm_csr(encode(W, "csr", value_bits=8), np.ones((7, 2)))


def test_a_pruned_convolution_through_im2col_and_spmm():
    rng = np.random.default_rng(7)
    w = _pruned((3, 2, 3, 3), 7, np.int64)
    x = rng.integers(-5, 6, (2, 2, 5, 5))
    stride, pad = 2, 1
    P = Q = (5 + 2 * pad - 3) // stride + 1
    ref = np.zeros((3, 2, P, Q), np.int64)
    for k in range(3):
        for n in range(2):
            for p in range(P):
                for q in range(Q):
                    for c in range(2):
                        for r in range(3):
                            for s in range(3):
                                h, v = p * stride - pad + r, q * stride - pad + s
                                if 0 <= h < 5 and 0 <= v < 5:
                                    ref[k, n, p, q] += w[k, c, r, s] * x[n, c, h, v]
    y = spmm_csr(encode(w, "csr", value_bits=8), im2col(x, (3, 3), stride, pad))
    np.testing.assert_array_equal(y.reshape(3, 2, P, Q), ref)


# The cycle model. 2 x 2 PEs, M = 4, K = 4, N = 2.
WM = np.array([[1, 1, 1, 1],
               [1, 0, 0, 0],
               [0, 1, 0, 1],
               [0, 0, 1, 0]], dtype=bool)
XM = np.array([[1, 1],
               [1, 0],
               [0, 1],
               [1, 1]], dtype=bool)
# Effectual pairs per output (m, n), k with W[m, k] and X[k, n]:
#   m0: n0 {0,1,3} = 3, n1 {0,2,3} = 3     m1: n0 {0} = 1, n1 {0} = 1
#   m2: n0 {1,3}   = 2, n1 {3}     = 1     m3: n0 {}  = 0, n1 {2} = 1
# Tile 0 = rows 0-1: busiest 3, work 8 over 4 PEs -> ideal 2.
# Tile 1 = rows 2-3: busiest 2, work 4 over 4 PEs -> ideal 1.
# skip: 3 + 2 = 5 cycles, 12 effective MACs of 4*2*4 = 32, 5 x 4 = 20 PE-cycles.


def test_skip_cycles_by_hand():
    r = sparse_gemm_cycles(WM, XM, 2, 2, mode="skip")
    assert (r.cycles, r.ideal_cycles, r.tiles) == (5, 3, 2)
    assert (r.effective_macs, r.dense_macs, r.gated_macs) == (12, 32, 20)
    assert r.pe_cycles_available == 20
    assert r.utilization == pytest.approx(12 / 20)
    assert r.imbalance == pytest.approx(5 / 3)


def test_gate_costs_the_dense_cycles_with_the_same_effective_macs():
    skip = sparse_gemm_cycles(WM, XM, 2, 2, mode="skip")
    gate = sparse_gemm_cycles(WM, XM, 2, 2, mode="gate")
    dense = sparse_gemm_cycles(WM, XM, 2, 2, mode="dense")
    assert gate.cycles == dense.cycles == 2 * 4  # two tiles of K = 4 steps
    assert gate.effective_macs == dense.effective_macs == skip.effective_macs == 12
    assert (gate.gated_macs, dense.gated_macs) == (20, 0)
    assert gate.imbalance == dense.imbalance == 1.0
    assert gate.utilization == pytest.approx(12 / 32)


def test_fill_cycles_are_paid_once_per_tile():
    r = sparse_gemm_cycles(WM, XM, 2, 2, mode="skip", fill_cycles=2 + 2 - 2)
    assert r.cycles == 5 + 2 * 2 and r.ideal_cycles == 3 + 2 * 2
    assert sparse_gemm_cycles(WM, XM, 2, 2, mode="gate", fill_cycles=2).cycles == 8 + 2 * 2


def test_an_edge_tile_costs_its_busiest_pe_by_hand():
    # M = 3 on 2 rows: tile 1 is row 2 alone, counts (2, 1): busiest 2, ideal ceil(3 / 2) = 2.
    r = sparse_gemm_cycles(WM[:3], XM, 2, 2, mode="skip")
    assert (r.cycles, r.ideal_cycles, r.effective_macs) == (5, 4, 11)
    assert r.pe_cycles_available == 5 * 4  # the idle PEs of the edge tile count
    # N = 2 on 3 columns: one tile column, half a tile idle
    r = sparse_gemm_cycles(WM, XM, 4, 3, mode="skip")
    assert (r.cycles, r.tiles, r.pe_cycles_available) == (3, 1, 3 * 12)


def test_skip_on_a_dense_pattern_equals_the_dense_cycles():
    w, x = np.ones((5, 7), bool), np.ones((7, 3), bool)
    got = {mode: sparse_gemm_cycles(w, x, 2, 2, mode=mode).cycles for mode in MODES}
    assert got == dict.fromkeys(MODES, 3 * 2 * 7)  # ceil(5/2) x ceil(3/2) tiles of 7
    assert sparse_gemm_cycles(w, x, 2, 2, mode="skip").gated_macs == 0


def test_imbalance_is_one_when_balanced_and_above_when_skewed():
    band = np.zeros((4, 4), bool)
    for i in range(4):
        band[i, i] = band[i, (i + 1) % 4] = True  # two non-zeros per row
    ones = np.ones((4, 2), bool)
    r = sparse_gemm_cycles(band, ones, 2, 2)
    assert (r.cycles, r.imbalance) == (2 * 2, 1.0)
    skew = np.zeros((4, 4), bool)
    skew[0] = True  # one row holds all the work: tile 0 busiest 4, ideal ceil(8 / 4) = 2
    r = sparse_gemm_cycles(skew, ones, 2, 2)
    assert (r.cycles, r.ideal_cycles, r.imbalance) == (4, 2, 2.0)


def test_nm_structure_steps_through_its_slots_whatever_the_data():
    rng = np.random.default_rng(8)
    w = nm_mask(rng.standard_normal((4, 8)), 2, 4)
    w[1] = False  # an empty row still takes its slots
    x = rng.random((8, 3)) < 0.5
    r = sparse_gemm_cycles(w, x, 2, 2, mode="skip", structure="nm", n=2, m=4)
    assert r.cycles == r.ideal_cycles == 2 * 2 * 4  # 4 tiles of 2 groups x 2 slots
    expected = int((w.astype(np.int64) @ x.astype(np.int64)).sum())
    assert r.effective_macs == expected and r.gated_macs == 4 * 3 * 8 - expected
    assert sparse_gemm_cycles(w, x, 2, 2, mode="gate", structure="nm", n=2, m=4).cycles == 4 * 8
    with pytest.raises(ValueError, match="1:4"):
        sparse_gemm_cycles(w, x, 2, 2, structure="nm", n=1, m=4)


@pytest.mark.parametrize("kw", [{"mode": "fast"}, {"structure": "block"}, {"structure": "nm"},
                                {"fill_cycles": -1}])
def test_bad_cycle_arguments(kw):
    with pytest.raises(ValueError):
        sparse_gemm_cycles(WM, XM, 2, 2, **kw)
    with pytest.raises(ValueError):
        sparse_gemm_cycles(WM, XM, 0, 2)
    with pytest.raises(ValueError):
        sparse_gemm_cycles(WM, XM.T, 2, 2)


def _conv_counts(w, x, stride, pad):
    """Effectual pairs per (k, n, p, q) by explicit loops over n, k, p, q, c, r, s."""
    K, C, R, S = w.shape
    N, _, H, Wd = x.shape
    P, Q = (H + 2 * pad - R) // stride + 1, (Wd + 2 * pad - S) // stride + 1
    out = np.zeros((K, N, P, Q), np.int64)
    for n in range(N):
        for k in range(K):
            for p in range(P):
                for q in range(Q):
                    for c in range(C):
                        for r in range(R):
                            for s in range(S):
                                h, v = p * stride - pad + r, q * stride - pad + s
                                if 0 <= h < H and 0 <= v < Wd and w[k, c, r, s] and x[n, c, h, v]:
                                    out[k, n, p, q] += 1
    return out


@pytest.mark.parametrize("stride,pad,hw", [(1, 1, 4), (2, 0, 5), (2, 1, 5)])
def test_conv_lowering_agrees_with_explicit_loops(stride, pad, hw):
    rng = np.random.default_rng(9)
    w = rng.random((3, 2, 3, 3)) < 0.5
    x = rng.random((2, 2, hw, hw)) < 0.6
    counts = _conv_counts(w, x, stride, pad).reshape(3, -1)  # rows k, columns (n, p, q)
    rows, cols = 2, 5
    cycles = 0
    for r0 in range(0, counts.shape[0], rows):
        for c0 in range(0, counts.shape[1], cols):
            cycles += counts[r0:r0 + rows, c0:c0 + cols].max()
    got = sparse_conv_cycles(w, x, stride, pad, rows, cols, "skip")
    assert got.effective_macs == counts.sum()
    assert got.cycles == cycles
    assert got.dense_macs == counts.size * 2 * 9


@pytest.mark.parametrize("method", ["rows", "packed"])
@pytest.mark.parametrize("k", [1, 63, 64, 65, 130])
def test_both_count_kernels_match_numpy(method, k):
    rng = np.random.default_rng(k)
    w = rng.random((6, k)) < 0.3
    x = rng.random((k, 5)) < 0.7
    got = sparse._effectual_counts(w, x, method)
    np.testing.assert_array_equal(got, w.astype(np.int64) @ x.astype(np.int64))


masks = st.tuples(st.integers(1, 7), st.integers(1, 70), st.integers(1, 7), st.integers(0, 2**32 - 1),
                  st.floats(0, 1))


@settings(max_examples=40, deadline=None)
@given(masks, st.integers(1, 4), st.integers(1, 4))
def test_effective_macs_are_the_mask_product(case, rows, cols):
    M, K, N, seed, d = case
    rng = np.random.default_rng(seed)
    w = rng.random((M, K)) < d
    x = rng.random((K, N)) < 0.5
    expected = int((w.astype(np.int64) @ x.astype(np.int64)).sum())
    for mode in MODES:
        r = sparse_gemm_cycles(w, x, rows, cols, mode=mode)
        assert r.effective_macs == expected
        assert r.imbalance >= 1.0
    skip = sparse_gemm_cycles(w, x, rows, cols, mode="skip")
    assert skip.cycles <= sparse_gemm_cycles(w, x, rows, cols, mode="gate").cycles
    assert sparse_gemm_cycles(w, x, 1, 1).cycles == expected  # one PE does every pair
