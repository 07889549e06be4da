"""The integer and sparse executor against the float reference on the values it stands for."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.compression.execute import calibrate, run_compressed
from accelsim.frontend import load_model
from accelsim.kernels.quant import choose_params, dequantize, quantize as to_grid
from accelsim.passes import run_passes
from accelsim.passes.reference import run_reference


def _images(n: int = 8) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 1, (n, 1, 8, 8))


def test_integer_layers_compute_the_products_of_their_grids() -> None:
    """digits_mlp's first layer on int8 kernels equals the float reference fed the same
    quantised input: (x_q - z) s_x times q_w s_w is the integer sum scaled once."""
    g = run_passes(load_model("digits_mlp"), ["quantize:int8"]).with_batch(8)
    x = _images()
    ranges = calibrate(g, {"image": x})
    lo, hi = ranges["fc1"]
    act = choose_params(np.array([lo, hi]), 8, symmetric=False)
    x_deq = dequantize(to_grid(x, act), act)
    first = g.copy()
    first.set_outputs(["fc1"])
    got = run_compressed(first, {"image": x}, calibration=ranges)
    want = run_reference(first, {"image": x_deq})["fc1"]
    # (the weights are stored in float32, so q * s is exact to float32's 6e-8)
    np.testing.assert_allclose(got.outputs["fc1"], want, rtol=1e-6, atol=1e-6)
    assert got.integer_layers == 2 and got.overflows == 0  # fc2 still runs (it is not read)


def test_wide_integers_track_the_float_network() -> None:
    g = load_model("digits_cnn").with_batch(8)
    x = _images()
    exact = run_reference(g, {"image": x})["fc"]
    err = {}
    for bits in (16, 8, 4):
        q = run_passes(g, [f"quantize:int{bits}:a{max(bits, 8)}"])
        # 16-bit products summed need more than an int32 accumulator
        run = run_compressed(q, {"image": x}, acc_bits=48 if bits == 16 else 32)
        assert run.overflows == 0
        err[bits] = np.abs(run.outputs["fc"] - exact).max() / np.abs(exact).max()
    assert err[16] < 1e-3 < err[4] and err[16] < err[8] < err[4]
    wide = run_passes(g, ["quantize:int16:a16"])
    assert run_compressed(wide, {"image": x}).overflows > 0  # ... which int32 detects


def test_overflow_is_counted_for_a_narrow_accumulator() -> None:
    g = run_passes(load_model("digits_cnn"), ["quantize:int8"]).with_batch(4)
    x = _images(4)
    assert run_compressed(g, {"image": x}).overflows == 0
    assert run_compressed(g, {"image": x}, acc_bits=12).overflows > 0


def test_pruned_float_layers_run_on_the_sparse_kernel() -> None:
    g = run_passes(load_model("digits_cnn"), ["prune:0.7"]).with_batch(8)
    x = _images()
    got = run_compressed(g, {"image": x})
    assert got.sparse_layers == 3
    np.testing.assert_allclose(got.outputs["fc"], run_reference(g, {"image": x})["fc"], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("spec", ["quantize:binary:a8", "quantize:int2"])
def test_the_narrowest_widths_run(spec: str) -> None:
    g = run_passes(load_model("digits_mlp"), [spec]).with_batch(4)
    out = run_compressed(g, {"image": _images(4)}).outputs["fc2"]
    assert out.shape == (4, 10) and np.isfinite(out).all()
