"""Speed of the integer GEMM kernels (``accelsim.kernels.quant``) against numpy's integer
matmul on the same data.

int8 operands, 256^3 and 512^3 (``--sizes``). The baselines are ``np.matmul`` on the
operands cast to int64 and to int32 (numpy has no BLAS for integers; the cast is not timed).
``qgemm`` is timed whole: casting, zero points, the overflow bound and the GEMM. Rows:

* symmetric int8 with a 32-bit accumulator: the bound proves no partial sum can overflow,
  so no output is replayed (the common case);
* unsigned 8-bit activations with a zero point and per-column weight zero points;
* a 16-bit accumulator: the bound fails for every output, so each is replayed step by step
  with a range check (the slow path, exact overflow flags);
* ``binary_gemm`` on +-1 operands (XNOR-popcount over 64-bit words) against ``np.matmul``
  of the same +-1 matrices as int64.

Every kernel runs once before timing, so compilation (or loading numba's cache) is not
counted; each figure is the median of several runs, and every result is checked against
numpy's.

    python benchmarks/quant_gemm_speed.py [--repeats 5] [--sizes 256 512]
"""

from __future__ import annotations

import argparse

import numpy as np

from accelsim.kernels.jit import HAVE_NUMBA
from accelsim.kernels.quant import binary_gemm, qgemm
from whole_process import median_wall

SEED = 0




def _rows(n: int, repeats: int) -> list[tuple[str, float]]:
    rng = np.random.default_rng(SEED + n)
    a = rng.integers(-127, 128, size=(n, n)).astype(np.int8)
    b = rng.integers(-127, 128, size=(n, n)).astype(np.int8)
    au = rng.integers(0, 256, size=(n, n)).astype(np.int16)
    zb = rng.integers(-3, 4, size=n)
    a64, b64, a32, b32 = a.astype(np.int64), b.astype(np.int64), a.astype(np.int32), b.astype(np.int32)
    sa = np.where(rng.random((n, n)) < 0.5, -1, 1).astype(np.int8)
    sb = np.where(rng.random((n, n)) < 0.5, -1, 1).astype(np.int8)
    sa64, sb64 = sa.astype(np.int64), sb.astype(np.int64)

    ref = a64 @ b64
    assert np.array_equal(qgemm(a, b).acc, ref), "qgemm disagrees with numpy"
    ref_u = (au.astype(np.int64) - 128) @ (b64 - zb)
    assert np.array_equal(qgemm(au, b, 128, zb).acc, ref_u), "qgemm with zero points disagrees with numpy"
    narrow = qgemm(a, b, acc_bits=16)
    assert np.array_equal(narrow.acc, ref.astype(np.int16)), "16-bit accumulator disagrees with numpy's wrap"
    assert np.array_equal(binary_gemm(sa, sb), sa64 @ sb64), "binary_gemm disagrees with numpy"

    return [
        ("np.matmul int64 (baseline)", median_wall(lambda: a64 @ b64, repeats)),
        ("np.matmul int32", median_wall(lambda: a32 @ b32, repeats)),
        ("qgemm int8, acc 32", median_wall(lambda: qgemm(a, b), repeats)),
        ("qgemm uint8 - 128, per-column weight zero points, acc 32",
         median_wall(lambda: qgemm(au, b, 128, zb), repeats)),
        (f"qgemm int8, acc 16 (replays all outputs; {narrow.overflows:,} overflow)",
         median_wall(lambda: qgemm(a, b, acc_bits=16), repeats)),
        ("np.matmul int64 of +-1", median_wall(lambda: sa64 @ sb64, repeats)),
        ("binary_gemm +-1 (XNOR-popcount)", median_wall(lambda: binary_gemm(sa, sb), repeats)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    args = parser.parse_args()
    warm = np.ones((4, 4), np.int8)
    qgemm(warm, warm)                      # compile, or load numba's cache
    qgemm(warm, warm, acc_bits=4)          # the replay kernel too
    binary_gemm(warm, warm)
    print(f"numba: {'yes' if HAVE_NUMBA else 'no (plain Python)'}; median of {args.repeats} runs; "
          "x baseline = wall / wall of np.matmul int64 (below 1 is faster)\n")
    print("| M = K = N | case | wall (s) | x baseline |\n|---|---|---|---|")
    for n in args.sizes:
        rows = _rows(n, args.repeats)
        base = rows[0][1]
        for label, wall in rows:
            print(f"| {n} | {label} | {wall:.4f} | {wall / base:.3f} |")


if __name__ == "__main__":
    main()
