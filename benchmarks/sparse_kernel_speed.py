"""Speed of the sparse kernels (``accelsim.kernels.sparse``) as weight non-zeros per second, at
50%, 90% and 99% sparsity, against dense kernels on the same matrix in the same run.

``W[1024, 1024]`` (unstructured magnitude pruning of a seeded Gaussian matrix) times
``X[1024, 64]``. Values: :func:`spmm_csr` against numpy's dense ``W @ X`` (float64, BLAS).
Cycle model: :func:`sparse_gemm_cycles` in ``skip`` mode (per-output effectual counts on a
32 x 32 array, 50% dense activations) against its ``dense`` mode on the same masks (which
needs no per-output counts). BLAS runs on one thread, as the kernels do (unless the
environment already sets its thread count), so the comparison is core for core. Every kernel runs once before it is timed (compiling, or
loading numba's cache); each figure is the median of several runs. "x dense" is the dense
baseline's wall time over the kernel's: above 1, the sparse kernel is faster.

    python benchmarks/sparse_kernel_speed.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS

import numpy as np  # noqa: E402

from accelsim.kernels.jit import HAVE_NUMBA  # noqa: E402
from accelsim.kernels.sparse import encode, magnitude_mask, sparse_gemm_cycles, spmm_csr  # noqa: E402
from whole_process import median_wall

M, K, N, ROWS, COLS, ACT_DENSITY, SEED = 1024, 1024, 64, 32, 32, 0.5, 0
SPARSITIES = (0.5, 0.9, 0.99)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    rng = np.random.default_rng(SEED)
    dense_w = rng.standard_normal((M, K))
    x = rng.standard_normal((K, N))
    x_mask = rng.random((K, N)) < ACT_DENSITY

    rows = []
    for sparsity in SPARSITIES:
        w = np.where(magnitude_mask(dense_w, 1 - sparsity), dense_w, 0.0)
        w_mask = w != 0
        nnz = int(np.count_nonzero(w))
        csr = encode(w, "csr", value_bits=32)
        np.testing.assert_allclose(spmm_csr(csr, x), w @ x, rtol=1e-9, atol=1e-9)
        t_matmul = median_wall(lambda: w @ x, repeats, warm_up=True)
        t_spmm = median_wall(lambda: spmm_csr(csr, x), repeats, warm_up=True)
        t_dense = median_wall(lambda: sparse_gemm_cycles(w_mask, x_mask, ROWS, COLS, mode="dense"), repeats, warm_up=True)
        t_skip = median_wall(lambda: sparse_gemm_cycles(w_mask, x_mask, ROWS, COLS, mode="skip"), repeats, warm_up=True)
        skip = sparse_gemm_cycles(w_mask, x_mask, ROWS, COLS, mode="skip")
        rows += [
            (sparsity, "numpy dense W @ X (baseline)", nnz, t_matmul, t_matmul),
            (sparsity, "spmm_csr", nnz, t_spmm, t_matmul),
            (sparsity, "sparse_gemm_cycles dense mode (baseline)", nnz, t_dense, t_dense),
            (sparsity, f"sparse_gemm_cycles skip mode (imbalance {skip.imbalance:.2f})", nnz, t_skip, t_dense),
        ]

    print(f"W[{M}, {K}] @ X[{K}, {N}], {ROWS}x{COLS} array, activation density {ACT_DENSITY}; "
          f"median of {repeats} runs after a warm-up; numba {'on' if HAVE_NUMBA else 'off (plain Python)'}; "
          f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}\n")
    print("| sparsity | kernel | nnz(W) | wall (s) | nnz/s | x dense |\n|---|---|---|---|---|---|")
    for sparsity, label, nnz, wall, base in rows:
        print(f"| {sparsity:.0%} | {label} | {nnz:,} | {wall:.5f} | {nnz / wall:,.0f} | {base / wall:.2f} |")


if __name__ == "__main__":
    main()
