"""Layers as GEMMs for a systolic array, and the addresses of their operands.

A convolution becomes ``ofmap[M, N] = ifmap[M, K] @ filter[K, N]`` with ``M = N*P*Q`` output
pixels, ``N`` = filters per group and ``K = C*R*S`` (the im2col view, as in SCALE-Sim); a
grouped convolution is ``G`` such GEMMs, one per group, run back to back. A ``gemm``
workload with batch ``B`` is ``B`` GEMMs. Every other layer goes to the vector unit.

Addresses are labels: the memory model only asks which operand elements share one (the
overlapping windows of a convolution) and in what order they are requested. SCALE-Sim
stores the ifmap HWC (element ``(m, k)`` is pixel ``(y, x, c)`` of output pixel ``m``'s window,
``k = (r*S + s)*C + c``), filter ``(k, n)`` at ``n*K + k`` and ofmap ``(m, n)`` at ``m*N + n``.
Any one-to-one relabelling gives the same figures, so each operand is numbered with the
dimension that lies across the array's lanes varying fastest (the ifmap CHW when the lanes
are output pixels): a demand line then touches consecutive labels, which keeps the
simulation's per-address tables in cache. A window position outside the image (padding)
has no address and is never fetched. The groups of a grouped convolution share one address
pattern up to an offset, so one group stands for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir import Layer

__all__ = ["ConvGeometry", "GemmJob", "Tables", "gemm_job", "operand_tables"]


@dataclass(frozen=True)
class ConvGeometry:
    """The ifmap side of one convolution group: what decides which addresses repeat."""

    batch: int
    height: int
    width: int
    channels: int  # per group
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad_top: int
    pad_left: int
    out: tuple[int, int]


@dataclass(frozen=True)
class GemmJob:
    """One GEMM for the array, ``repeats`` times; ``conv`` is None for a dense ifmap."""

    M: int
    N: int
    K: int
    conv: ConvGeometry | None = None
    repeats: int = 1

    @property
    def macs(self) -> int:
        return self.M * self.N * self.K


@dataclass(frozen=True)
class Tables:
    """Address tables of one operand over its two GEMM dims (``dims``, e.g. ``"MK"``).

    Element ``(i, j)`` is at ``base[0][i] + base[1][j]`` and exists when
    ``0 <= y[0][i] + y[1][j] < height`` and likewise for ``x`` and ``width``.
    """

    dims: str
    base: tuple[np.ndarray, np.ndarray]
    y: tuple[np.ndarray, np.ndarray]
    x: tuple[np.ndarray, np.ndarray]
    height: int
    width: int
    n_addr: int

    def along(self, dim: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(base, y, x)`` of the GEMM dim ``dim``."""
        i = self.dims.index(dim)
        return self.base[i], self.y[i], self.x[i]


def _same_pad(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Leading pad of TensorFlow-style 'same' padding (the IR's convention)."""
    target = -(-size // stride)
    return max((target - 1) * stride + dilation * (kernel - 1) + 1 - size, 0) // 2


def gemm_job(layer: Layer) -> GemmJob | None:
    """The GEMM a conv or gemm layer runs on the array; None for other layers."""
    w = layer.workload
    if w.kind == "gemm":
        return GemmJob(w.dim("M"), w.dim("N"), w.dim("K"), None, w.dim("B"))
    if w.kind != "conv":
        return None
    n, g, k, c = w.dim("N"), w.dim("G"), w.dim("K"), w.dim("C")
    p, q, r, s = w.dim("P"), w.dim("Q"), w.dim("R"), w.dim("S")
    _, _, h, wd = layer.inputs[0].shape
    pads = layer.node.attrs.get("padding", (0, 0, 0, 0))
    if pads == "same":
        top = _same_pad(h, r, w.strides[0], w.dilation[0])
        left = _same_pad(wd, s, w.strides[1], w.dilation[1])
    else:
        top, left = pads[0], pads[1]
    geometry = ConvGeometry(n, h, wd, c, (r, s), w.strides, w.dilation, top, left, (p, q))
    return GemmJob(n * p * q, k, c * r * s, geometry, g)


def _dense(rows: int, cols: int, rows_fastest: bool) -> tuple:
    """Tables of a dense rows x cols operand numbered row-fastest or column-fastest."""
    zero_r = np.zeros(rows, np.int64)
    zero_c = np.zeros(cols, np.int64)
    r, c = np.arange(rows, dtype=np.int64), np.arange(cols, dtype=np.int64)
    base = (r, c * rows) if rows_fastest else (r * cols, c)
    return base, (zero_r, zero_c), (zero_r, zero_c)


def operand_tables(job: GemmJob, fastest: dict[str, str]) -> dict[str, Tables]:
    """Address tables of ifmap (dims M, K), filter (K, N) and ofmap (M, N), each numbered
    with the GEMM dim ``fastest[operand]`` varying fastest."""
    M, N, K = job.M, job.N, job.K
    f_base, f_y, f_x = _dense(K, N, fastest["filter"] == "K")
    o_base, o_y, o_x = _dense(M, N, fastest["ofmap"] == "M")
    out = {
        "filter": Tables("KN", f_base, f_y, f_x, 1, 1, K * N),
        "ofmap": Tables("MN", o_base, o_y, o_x, 1, 1, M * N),
    }
    g = job.conv
    if g is None:
        i_base, i_y, i_x = _dense(M, K, fastest["ifmap"] == "M")
        out["ifmap"] = Tables("MK", i_base, i_y, i_x, 1, 1, M * K)
        return out
    H, W, C = g.height, g.width, g.channels
    P, Q = g.out
    m = np.arange(M, dtype=np.int64)
    img, pix = np.divmod(m, P * Q)
    oy, ox = np.divmod(pix, Q)
    py = oy * g.stride[0] - g.pad_top
    px = ox * g.stride[1] - g.pad_left
    kk = np.arange(K, dtype=np.int64)
    rs, ch = np.divmod(kk, C)
    r, s = np.divmod(rs, g.kernel[1])
    ky = r * g.dilation[0]
    kx = s * g.dilation[1]
    if fastest["ifmap"] == "M":  # CHW: neighbouring output pixels, neighbouring labels
        m_base = img * (C * H * W) + py * W + px
        k_base = ch * (H * W) + ky * W + kx
    else:  # HWC, as SCALE-Sim stores it
        m_base = img * (H * W * C) + (py * W + px) * C
        k_base = (ky * W + kx) * C + ch
    out["ifmap"] = Tables("MK", (m_base, k_base), (py, ky), (px, kx), H, W, g.batch * H * W * C)
    return out
