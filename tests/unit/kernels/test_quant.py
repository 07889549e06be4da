"""Quantized kernels against plain numpy int64 / float64 references and hand computations.

References are built differently from the kernels: GEMMs with ``np.matmul`` on int64
operands, overflow from ``np.cumsum`` of every product along k, wrapping by numpy's
two's-complement cast to a narrower dtype, convolutions by explicit loops or an einsum over
``sliding_window_view``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accelsim.kernels.quant import (QuantParams, binary_gemm, choose_params, dequantize, qconv2d, qgemm,
                                    quant_error, quantize, quantize_bias, requantize)

WRAP_DTYPE = {8: np.int8, 16: np.int16, 32: np.int32}


def _signed_ints(rng, bits, shape):
    """Uniform integers over the restricted signed range of ``bits`` (+-1 for bits=1)."""
    if bits == 1:
        return rng.choice(np.array([-1, 1]), size=shape)
    top = 2 ** (bits - 1) - 1
    return rng.integers(-top, top + 1, size=shape)


def _reference_gemm(a, b, za=0, zb=0, acc_bits=32):
    """(acc, overflow) from every partial sum, computed with numpy along k."""
    a = a.astype(np.int64) - np.asarray(za, np.int64).reshape(-1, 1)
    b = b.astype(np.int64) - np.asarray(zb, np.int64).reshape(1, -1)
    partial = np.cumsum(a[:, :, None] * b[None, :, :], axis=1)  # (M, K, N), k order 0..K-1
    lo, hi = -(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1
    overflow = ((partial < lo) | (partial > hi)).any(axis=1)
    exact = a @ b
    np.testing.assert_array_equal(exact, partial[:, -1, :])
    return exact, overflow


# ----------------------------------------------------------------------------- parameters


def test_ranges_and_containers_by_hand():
    cases = {(8, True): (-127, 127, np.int8), (8, False): (0, 255, np.int16), (4, True): (-7, 7, np.int8),
             (4, False): (0, 15, np.int8), (2, True): (-1, 1, np.int8), (2, False): (0, 3, np.int8),
             (16, True): (-32767, 32767, np.int16), (16, False): (0, 65535, np.int32), (1, True): (-1, 1, np.int8)}
    for (bits, signed), (lo, hi, dt) in cases.items():
        p = QuantParams(bits, signed, np.array([1.0]), np.array([0]), None)
        assert (p.qmin, p.qmax, p.dtype) == (lo, hi, np.dtype(dt)), (bits, signed)


def test_minmax_symmetric_and_asymmetric_by_hand():
    p = choose_params(np.array([-2.54, 1.0, 0.3]), 8)
    assert p.signed and p.axis is None
    np.testing.assert_allclose(p.scale, [2.54 / 127])
    np.testing.assert_array_equal(p.zero_point, [0])
    # [-1, 3] over 255 steps: scale 4/255, float 0 at rint(1 / (4/255)) = rint(63.75) = 64
    p = choose_params(np.array([-1.0, 3.0, 0.5]), 8, symmetric=False)
    assert not p.signed and (p.qmin, p.qmax) == (0, 255)
    np.testing.assert_allclose(p.scale, [4 / 255])
    np.testing.assert_array_equal(p.zero_point, [64])
    # an all-positive tensor still has 0 in its asymmetric range: zero point 0
    p = choose_params(np.array([1.0, 2.0, 5.1]), 4, symmetric=False)
    np.testing.assert_allclose(p.scale, [5.1 / 15])
    np.testing.assert_array_equal(p.zero_point, [0])


def test_all_zero_tensor_and_channel_get_scale_one():
    for symmetric in (True, False):
        p = choose_params(np.zeros((3, 4)), 8, symmetric=symmetric)
        np.testing.assert_array_equal(p.scale, [1.0])
        np.testing.assert_array_equal(quantize(np.zeros((3, 4)), p), 0)
    w = np.zeros((2, 3))
    w[1] = [0.5, -1.0, 0.25]
    p = choose_params(w, 8, axis=0)
    np.testing.assert_allclose(p.scale, [1.0, 1.0 / 127])
    np.testing.assert_array_equal(dequantize(quantize(w, p), p)[0], 0.0)


def test_per_channel_scales_are_each_channels_max():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 3, 2, 2)) * np.array([0.1, 1.0, 5.0, 0.01])[:, None, None, None]
    p = choose_params(w, 4, axis=0)
    np.testing.assert_allclose(p.scale, [np.abs(w[k]).max() / 7 for k in range(4)])
    p = choose_params(w, 8, axis=-1)
    assert p.axis == 3
    np.testing.assert_allclose(p.scale, [np.abs(w[..., s]).max() / 127 for s in range(2)])


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("axis", [None, 1])
def test_round_trip_error_is_at_most_half_a_step(bits, symmetric, axis):
    rng = np.random.default_rng(bits)
    x = rng.normal(size=(3, 5, 7)) * np.array([0.5, 2.0, 0.01, 1.0, 3.0])[None, :, None]
    p = choose_params(x, bits, symmetric=symmetric, axis=axis)
    q = quantize(x, p)
    assert q.dtype == p.dtype and q.min() >= p.qmin and q.max() <= p.qmax
    step = p.scale if axis is None else p.scale[None, :, None]
    assert np.all(np.abs(dequantize(q, p) - x) <= step / 2 * (1 + 1e-9))


def test_rounding_is_half_to_even_and_saturates():
    p = QuantParams(8, True, np.array([0.5]), np.array([0]))
    x = np.array([0.25, 0.75, 1.25, -0.25, -0.75, 100.0, -100.0])   # x / 0.5: .5 1.5 2.5 -.5 -1.5
    np.testing.assert_array_equal(quantize(x, p), [0, 2, 2, 0, -2, 127, -127])
    p = QuantParams(4, False, np.array([1.0]), np.array([8]))
    np.testing.assert_array_equal(quantize(np.array([-8.5, -9.0, 6.5, 7.5, 0.0]), p), [0, 0, 14, 15, 8])
    np.testing.assert_array_equal(dequantize(np.array([0, 8, 15]), p), [-8.0, 0.0, 7.0])


def test_binary_is_sign_times_mean_magnitude():
    x = np.array([[0.5, -1.5, 0.0, 2.0], [-0.1, -0.3, 0.2, 0.2]])
    p = choose_params(x, 1, axis=0)
    np.testing.assert_allclose(p.scale, [1.0, 0.2])
    q = quantize(x, p)
    np.testing.assert_array_equal(q, [[1, -1, 1, 1], [-1, -1, 1, 1]])
    np.testing.assert_allclose(dequantize(q, p), [[1, -1, 1, 1], [-0.2, -0.2, 0.2, 0.2]])
    with pytest.raises(ValueError, match="symmetric"):
        choose_params(x, 1, symmetric=False)


def test_percentile_clips_outliers():
    rng = np.random.default_rng(7)
    x = np.append(rng.normal(size=999), 50.0)
    full = choose_params(x, 8)
    clipped = choose_params(x, 8, method="percentile", percentile=99.0)
    assert clipped.scale[0] < full.scale[0] / 10
    q = quantize(x, clipped)
    assert q[-1] == clipped.qmax and dequantize(q, clipped)[-1] < 50.0 / 10
    np.testing.assert_allclose(clipped.scale, np.percentile(np.abs(x), 99.0) / 127)
    asym = choose_params(x, 8, symmetric=False, method="percentile", percentile=99.0)
    np.testing.assert_allclose(asym.scale, (np.percentile(x, 99.0) - np.percentile(x, 1.0)) / 255)


@pytest.mark.parametrize("symmetric", [True, False])
def test_mse_clipping_beats_minmax_on_a_heavy_tailed_sample(symmetric):
    rng = np.random.default_rng(11)
    x = rng.standard_t(df=2, size=(4, 500))
    errors = {}
    for method in ("minmax", "mse"):
        p = choose_params(x, 4, symmetric=symmetric, method=method)
        errors[method] = float(np.mean((dequantize(quantize(x, p), p) - x) ** 2))
    assert errors["mse"] < errors["minmax"]
    # per channel too, and the same answer every time
    a = choose_params(x, 4, symmetric=symmetric, axis=0, method="mse")
    b = choose_params(x, 4, symmetric=symmetric, axis=0, method="mse")
    np.testing.assert_array_equal(a.scale, b.scale)
    m = choose_params(x, 4, symmetric=symmetric, axis=0)
    for c in range(4):
        err = [np.mean((dequantize(quantize(x, p), p)[c] - x[c]) ** 2) for p in (a, m)]
        assert err[0] <= err[1]


def test_bad_parameters_are_rejected():
    x = np.ones((2, 3))
    for kwargs, match in (({"bits": 3}, "bits"), ({"bits": 8, "method": "kl"}, "method"),
                          ({"bits": 8, "axis": 2}, "axis"), ({"bits": 8, "percentile": 0}, "percentile")):
        with pytest.raises(ValueError, match=match):
            choose_params(x, **kwargs)
    with pytest.raises(ValueError, match="non-finite"):
        choose_params(np.array([1.0, np.nan]), 8)
    with pytest.raises(ValueError, match="scale"):
        QuantParams(8, True, np.array([0.0]), np.array([0]))
    with pytest.raises(ValueError, match="per-channel"):
        quantize(x, choose_params(np.ones((4, 3)), 8, axis=0))


# ----------------------------------------------------------------------------- GEMM


@pytest.mark.parametrize("bits", [8, 4, 2])
@pytest.mark.parametrize("zeros", ["none", "scalar", "per-channel"])
def test_qgemm_is_bit_exact_against_numpy_int64(bits, zeros):
    rng = np.random.default_rng(bits * 10 + len(zeros))
    m, k, n = 5, 13, 6
    if zeros == "none":
        a, b = _signed_ints(rng, bits, (m, k)), _signed_ints(rng, bits, (k, n))
        za, zb = 0, 0
    else:
        a = rng.integers(0, 2 ** bits, size=(m, k))   # unsigned activations with a zero point
        b = rng.integers(0, 2 ** bits, size=(k, n))
        za = int(rng.integers(0, 2 ** bits))
        zb = rng.integers(0, 2 ** bits, size=n) if zeros == "per-channel" else int(rng.integers(0, 2 ** bits))
    container = np.int8 if bits < 8 or zeros == "none" else np.int16
    res = qgemm(a.astype(container), b.astype(container), za, zb)
    ref = (a.astype(np.int64) - za) @ (b.astype(np.int64) - np.asarray(zb, np.int64))
    assert res.acc.dtype == np.int64 and res.acc.shape == (m, n)
    np.testing.assert_array_equal(res.acc, ref)
    assert res.overflows == 0 and not res.overflow.any()


def test_qgemm_per_row_activation_zero_points():
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 256, size=(4, 9)), rng.integers(-127, 128, size=(9, 3))
    za = np.array([0, 128, 3, 255])
    np.testing.assert_array_equal(qgemm(a, b, za).acc, (a - za[:, None]) @ b)


def test_partial_sum_overflow_is_flagged_even_when_the_final_sum_fits():
    # products 2^30, 2^30, -2^30: partial sums 2^30, 2^31 (> 2^31 - 1), 2^30
    a = np.array([[2 ** 15, 2 ** 15, -2 ** 15]])
    b = np.array([[2 ** 15], [2 ** 15], [2 ** 15]])
    res = qgemm(a, b)
    assert res.overflow.tolist() == [[True]] and res.overflows == 1
    assert res.acc.tolist() == [[2 ** 30]]  # wrapped twice, back on the exact value
    # the same products in the order -2^30, 2^30, 2^30: partial sums -2^30, 0, 2^30
    res = qgemm(a[:, [2, 0, 1]], b)
    assert res.overflow.tolist() == [[False]] and res.acc.tolist() == [[2 ** 30]]
    # a final sum outside the range wraps: 3 * 2^30 = 2^31 + 2^30 -> -2^31 + 2^30
    res = qgemm(np.abs(a), b)
    assert res.overflow.tolist() == [[True]] and res.acc.tolist() == [[-2 ** 30]]


def test_range_edges_of_an_8_bit_accumulator():
    # [-128, 127]: reaching an edge is fine, one past it is not
    b = np.array([[1], [1]])
    for row, over, acc in (([126, 1], False, 127), ([127, 1], True, -128),
                           ([-127, -1], False, -128), ([-128, -1], True, 127)):
        res = qgemm(np.array([row]), b, acc_bits=8)
        assert (bool(res.overflow[0, 0]), int(res.acc[0, 0])) == (over, acc), row


def test_int16_accumulator_on_int8_data_hand_count():
    a = np.array([[127, 127, 127, 127],       # col 0: 16129, 32258, 48387 > 32767 -> overflow at k=2
                  [127, 127, -127, -127],     # col 0: 16129, 32258, 16129, 0 (32258 fits)
                  [-128, -128, -128, 0]],     # col 0: -16256, -32512, -48768 < -32768 -> overflow
                 dtype=np.int8)
    b = np.array([[127, 127], [127, -127], [127, 127], [127, -127]], dtype=np.int8)
    # col 1 keeps every partial sum within +-16256 for all three rows
    res = qgemm(a, b, acc_bits=16)
    assert res.overflow.tolist() == [[True, False], [False, False], [True, False]]
    assert res.overflows == 2
    exact = a.astype(np.int64) @ b.astype(np.int64)
    np.testing.assert_array_equal(res.acc, exact.astype(np.int16))   # numpy's cast wraps
    assert res.acc[0, 0] == 4 * 16129 - 65536


@pytest.mark.parametrize("acc_bits", [4, 8, 12, 16, 18, 20, 32])
def test_overflow_matches_every_partial_sum_on_random_data(acc_bits):
    rng = np.random.default_rng(acc_bits)
    m, k, n = 6, 24, 5
    a = rng.integers(0, 256, size=(m, k))
    b = rng.integers(-127, 128, size=(k, n))
    b[:, 0] = 0                                   # one column that cannot overflow
    za, zb = 128, rng.integers(-3, 4, size=n)
    zb[0] = 0
    res = qgemm(a, b, za, zb, acc_bits=acc_bits)
    exact, overflow = _reference_gemm(a, b, za, zb, acc_bits)
    np.testing.assert_array_equal(res.overflow, overflow)
    wrapped = exact.astype(WRAP_DTYPE[acc_bits]) if acc_bits in WRAP_DTYPE else \
        (exact + 2 ** (acc_bits - 1)) % 2 ** acc_bits - 2 ** (acc_bits - 1)
    np.testing.assert_array_equal(res.acc, wrapped)
    if acc_bits == 12:
        assert 0 < res.overflows < m * n


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(1, 20), st.integers(1, 5), st.sampled_from([3, 8, 11, 16, 24, 32]),
       st.integers(0, 2 ** 32 - 1))
def test_qgemm_matches_every_partial_sum_for_any_shape(m, k, n, acc_bits, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 256, size=(m, k))
    b = rng.integers(-128, 128, size=(k, n))
    za, zb = int(rng.integers(-128, 256)), rng.integers(-8, 9, size=n)
    res = qgemm(a, b, za, zb, acc_bits=acc_bits)
    exact, overflow = _reference_gemm(a, b, za, zb, acc_bits)
    np.testing.assert_array_equal(res.overflow, overflow)
    np.testing.assert_array_equal(res.acc, (exact + 2 ** (acc_bits - 1)) % 2 ** acc_bits - 2 ** (acc_bits - 1))


@pytest.mark.numba
@pytest.mark.parametrize("acc_bits", [20, 24, 32])
def test_qgemm_larger_case_against_every_partial_sum(acc_bits):
    rng = np.random.default_rng(100 + acc_bits)
    a = rng.integers(-128, 128, size=(48, 160)).astype(np.int8)
    b = rng.integers(-128, 128, size=(160, 40)).astype(np.int8)
    zb = rng.integers(-5, 6, size=40)
    res = qgemm(a, b, 0, zb, acc_bits=acc_bits)
    exact, overflow = _reference_gemm(a, b, 0, zb, acc_bits)
    np.testing.assert_array_equal(res.overflow, overflow)
    np.testing.assert_array_equal(res.acc, (exact + 2 ** (acc_bits - 1)) % 2 ** acc_bits - 2 ** (acc_bits - 1))


@pytest.mark.parametrize("k", [1, 5, 63, 64, 65, 130])
def test_binary_gemm_is_exact_for_any_k(k):
    rng = np.random.default_rng(k)
    a, b = _signed_ints(rng, 1, (4, k)), _signed_ints(rng, 1, (k, 3))
    out = binary_gemm(a.astype(np.int8), b.astype(np.int8))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, a.astype(np.int64) @ b.astype(np.int64))


def test_binary_gemm_extremes_by_hand():
    a = np.array([[1] * 70, [-1] * 70])
    b = np.array([[1] * 70, [-1] * 70]).T
    np.testing.assert_array_equal(binary_gemm(a, b), [[70, -70], [-70, 70]])
    with pytest.raises(ValueError, match=r"-1 and \+1"):
        binary_gemm(np.array([[1, 0]]), np.array([[1], [1]]))


@pytest.mark.numba
def test_binary_gemm_larger_case():
    rng = np.random.default_rng(9)
    a, b = _signed_ints(rng, 1, (64, 300)), _signed_ints(rng, 1, (300, 48))
    np.testing.assert_array_equal(binary_gemm(a, b), a @ b)


def test_qgemm_rejects_bad_arguments():
    a, b = np.ones((2, 3), np.int8), np.ones((3, 4), np.int8)
    for args, kwargs, match in (((a, b.T), {}, "shapes"), ((a.astype(float), b), {}, "integer"),
                                ((a, b, 0, np.zeros(3, int)), {}, "b_zero"), ((a, b, np.zeros(3, int)), {}, "a_zero"),
                                ((a, b), {"acc_bits": 64}, "acc_bits"), ((a, b), {"acc_bits": 1}, "acc_bits")):
        with pytest.raises(ValueError, match=match):
            qgemm(*args, **kwargs)


# ----------------------------------------------------------------------------- requantisation


def test_requantize_by_hand():
    # x 0.5: 3.5 -> 4, -1.5 -> -2, 20, 2.5 -> 2, 1.5 -> 2 (half to even); + 3; clip to [0, 15]
    acc = np.array([7, -3, 40, 5, 3])
    out = requantize(acc, 0.5, 3, 4, False)
    np.testing.assert_array_equal(out, [7, 1, 15, 5, 5])
    # per column: multiplier (0.5, 0.25), bias (1, -2), zero point 0, signed 8 bits [-127, 127]
    acc = np.array([[9, 10], [-600, 1000]])
    out = requantize(acc, np.array([0.5, 0.25]), 0, 8, True, bias_q=np.array([1, -2]))
    # (9+1)*.5 = 5, (10-2)*.25 = 2, (-600+1)*.5 = -299.5 -> -127, (1000-2)*.25 = 249.5 -> 127
    np.testing.assert_array_equal(out, [[5, 2], [-127, 127]])
    assert out.dtype == np.int8
    # per channel on axis 1 of a conv output
    acc = np.arange(8).reshape(1, 2, 2, 2)
    out = requantize(acc, np.array([1.0, 0.5]), np.array([0, 10]), 8, False, axis=1)
    np.testing.assert_array_equal(out, [[[[0, 1], [2, 3]], [[12, 12], [13, 14]]]])
    np.testing.assert_array_equal(requantize(np.array([-1, 0, 5]), 1.0, 0, 1, True), [-1, 1, 1])


def test_quantize_bias_by_hand():
    # steps 0.05 * (0.1, 0.5) = (0.005, 0.025): 0.1 / 0.005 = 20, -0.25 / 0.025 = -10
    q = quantize_bias(np.array([0.1, -0.25]), 0.05, np.array([0.1, 0.5]))
    assert q.dtype == np.int32 and q.tolist() == [20, -10]
    assert quantize_bias(np.array([0.0125]), 0.1, 0.05).tolist() == [2]   # 2.5 -> 2
    with pytest.raises(ValueError, match="int32"):
        quantize_bias(np.array([1e6]), 1e-3, 1e-3)


def test_int8_linear_layer_end_to_end_against_float():
    rng = np.random.default_rng(21)
    x = rng.uniform(0, 1, size=(8, 16))
    w = rng.normal(size=(16, 6))
    bias = rng.normal(size=6) * 0.1
    xp = choose_params(x, 8, symmetric=False)
    wp = choose_params(w, 8, axis=1)
    y = x @ w + bias
    yp = choose_params(y, 8, symmetric=False)
    res = qgemm(quantize(x, xp), quantize(w, wp), int(xp.zero_point[0]), 0)
    bq = quantize_bias(bias, xp.scale[0], wp.scale)
    yq = requantize(res.acc, xp.scale[0] * wp.scale / yp.scale[0], int(yp.zero_point[0]), 8, False, bias_q=bq)
    # a few output steps at most: input, weight and output rounding
    assert np.max(np.abs(dequantize(yq, yp) - y)) < 3 * yp.scale[0]


# ----------------------------------------------------------------------------- convolution


def _conv_reference_loops(x, w, xz, wz, stride, pad, dil, groups):
    n, c, h, wd = x.shape
    k, cg, r, s = w.shape
    xp = np.full((n, c, h + pad[0] + pad[2], wd + pad[1] + pad[3]), xz, np.int64)
    xp[:, :, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    p = (xp.shape[2] - dil[0] * (r - 1) - 1) // stride[0] + 1
    q = (xp.shape[3] - dil[1] * (s - 1) - 1) // stride[1] + 1
    wz = np.broadcast_to(np.asarray(wz, np.int64), (k,))
    out = np.zeros((n, k, p, q), np.int64)
    kg = k // groups
    for b in range(n):
        for o in range(k):
            g = o // kg
            for i in range(p):
                for j in range(q):
                    total = 0
                    for ci in range(cg):
                        for u in range(r):
                            for v in range(s):
                                xv = int(xp[b, g * cg + ci, i * stride[0] + u * dil[0], j * stride[1] + v * dil[1]])
                                total += (xv - xz) * (int(w[o, ci, u, v]) - int(wz[o]))
                    out[b, o, i, j] = total
    return out


def _conv_reference_einsum(x, w, xz, wz, stride, pad, dil, groups):
    k, cg, r, s = w.shape
    xp = np.pad(x.astype(np.int64) - xz, ((0, 0), (0, 0), (pad[0], pad[2]), (pad[1], pad[3])))
    span = (dil[0] * (r - 1) + 1, dil[1] * (s - 1) + 1)
    win = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(2, 3))
    win = win[:, :, ::stride[0], ::stride[1], ::dil[0], ::dil[1]]          # (N, C, P, Q, R, S)
    wc = w.astype(np.int64) - np.asarray(wz, np.int64).reshape(-1, 1, 1, 1)
    kg = k // groups
    parts = [np.einsum("ncpqrs,kcrs->nkpq", win[:, g * cg:(g + 1) * cg], wc[g * kg:(g + 1) * kg])
             for g in range(groups)]
    return np.concatenate(parts, axis=1)


CONV_CASES = [
    # (N, C, H, W, K, R, S, stride, padding, dilation, groups)
    (1, 1, 3, 3, 1, 2, 2, (1, 1), (0, 0, 0, 0), (1, 1), 1),
    (2, 3, 6, 5, 4, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (1, 4, 7, 6, 4, 3, 2, (2, 1), (1, 0, 2, 1), (1, 2), 2),
    (1, 4, 5, 5, 4, 3, 3, (2, 2), (1, 1, 1, 1), (1, 1), 4),   # depthwise
    (2, 2, 4, 4, 3, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),   # 1x1
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("zeros", [False, True])
def test_qconv2d_is_bit_exact_against_two_references(case, zeros):
    n, c, h, w, k, r, s, stride, pad, dil, groups = case
    rng = np.random.default_rng(sum(case[:7]) + zeros)
    if zeros:
        x = rng.integers(0, 256, size=(n, c, h, w)).astype(np.int16)
        xz, wz = 117, rng.integers(-4, 5, size=k)
    else:
        x = rng.integers(-127, 128, size=(n, c, h, w)).astype(np.int8)
        xz, wz = 0, 0
    wt = rng.integers(-127, 128, size=(k, c // groups, r, s)).astype(np.int8)
    res = qconv2d(x, wt, xz, wz, stride=stride, padding=pad, dilation=dil, groups=groups)
    ref = _conv_reference_loops(x, wt, xz, wz, stride, pad, dil, groups)
    np.testing.assert_array_equal(ref, _conv_reference_einsum(x, wt, xz, wz, stride, pad, dil, groups))
    np.testing.assert_array_equal(res.acc, ref)
    assert res.overflows == 0


def test_qconv2d_by_hand():
    x = np.arange(9).reshape(1, 1, 3, 3)            # 0 1 2 / 3 4 5 / 6 7 8
    w = np.array([[[[1, 0], [0, -1]]]])               # x[i, j] - x[i+1, j+1] = -4 everywhere
    np.testing.assert_array_equal(qconv2d(x, w).acc, [[[[-4, -4], [-4, -4]]]])
    # padding of 1 on top only with zero point 2: the padded row holds 2, i.e. (2 - 2) = 0, so
    # the first output row is -(x[0, 1] - 2), -(x[0, 2] - 2) and the rest is unchanged
    res = qconv2d(x, w, 2, 0, padding=(1, 0, 0, 0))
    np.testing.assert_array_equal(res.acc, [[[[1, 0], [-4, -4], [-4, -4]]]])


def test_qconv2d_overflow_in_c_r_s_order():
    # C=2, 1x2 filter: k order (c0,s0), (c0,s1), (c1,s0), (c1,s1); int16 accumulator
    x = np.array([[[[127, 127]], [[127, -128]]]])
    w = np.array([[[[127, 127]], [[127, 127]]]])
    # partial sums 16129, 32258, 48387 (overflow), 32131
    res = qconv2d(x, w, acc_bits=16)
    assert res.overflow.tolist() == [[[[True]]]] and res.acc[0, 0, 0, 0] == 32131
    w2 = np.array([[[[127, 127]], [[-127, -127]]]])    # 16129, 32258, 16129, 32385: fits
    assert qconv2d(x, w2, acc_bits=16).overflows == 0


def test_qconv2d_overflow_matches_every_partial_sum():
    rng = np.random.default_rng(31)
    x = rng.integers(0, 256, size=(1, 4, 5, 5))
    wt = rng.integers(-127, 128, size=(6, 2, 3, 3))
    xz, wz = 100, rng.integers(-2, 3, size=6)
    res = qconv2d(x, wt, xz, wz, padding=(1, 1, 1, 1), groups=2, acc_bits=16)
    xp = np.pad(x - xz, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))   # (1, 4, 5, 5, 3, 3)
    wc = wt - wz[:, None, None, None]
    flagged = np.zeros(res.acc.shape, bool)
    for o in range(6):
        g = o // 3
        prods = win[0, 2 * g:2 * g + 2] * wc[o][:, None, None]               # (2, 5, 5, 3, 3) as (c, p, q, r, s)
        terms = prods.transpose(1, 2, 0, 3, 4).reshape(5, 5, 18)             # k = (c, r, s) ascending
        partial = np.cumsum(terms, axis=-1)
        flagged[0, o] = ((partial < -2 ** 15) | (partial > 2 ** 15 - 1)).any(axis=-1)
    np.testing.assert_array_equal(res.overflow, flagged)
    assert 0 < res.overflows < res.acc.size


def test_qconv2d_rejects_bad_arguments():
    x, w = np.zeros((1, 4, 5, 5), np.int8), np.zeros((4, 2, 3, 3), np.int8)
    with pytest.raises(ValueError, match="groups"):
        qconv2d(x, w)
    with pytest.raises(ValueError, match="does not fit"):
        qconv2d(x, np.zeros((4, 4, 7, 7), np.int8))
    with pytest.raises(ValueError, match="padding"):
        qconv2d(x, w, groups=2, padding=(1, 1))


# ----------------------------------------------------------------------------- error figures


def test_quant_error_by_hand():
    e = quant_error(np.array([1.0, -1.0, 2.0, 0.0]), np.array([1.5, -1.0, 2.0, 0.0]))
    # max 0.5; rms sqrt(0.25 / 4) = 0.25; SNR 10 log10((6 / 4) / (0.25 / 4)) = 10 log10(24)
    assert e.max_abs == 0.5 and e.rms == 0.25
    assert e.snr_db == pytest.approx(10 * math.log10(24))
    max_abs, rms, snr = quant_error(np.ones(3, np.float32), np.ones(3))
    assert (max_abs, rms, snr) == (0.0, 0.0, math.inf)


def test_snr_falls_from_int8_to_int4_to_int2_on_a_gaussian_gemm():
    rng = np.random.default_rng(42)
    a = rng.normal(size=(16, 32)).astype(np.float32)
    b = rng.normal(size=(32, 12)).astype(np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    snr = {}
    for bits in (8, 4, 2):
        ap, bp = choose_params(a, bits), choose_params(b, bits, axis=1)
        acc = qgemm(quantize(a, ap), quantize(b, bp)).acc
        snr[bits] = quant_error(ref, acc * ap.scale[0] * bp.scale[None, :]).snr_db
    assert snr[8] > snr[4] > snr[2]
    # uniform noise of step^2/12 on operands clipped near 3 sigma: about 40 dB at 8 bits
    assert snr[8] > 35
