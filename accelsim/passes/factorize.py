"""The ``factorize`` pass: replace a large convolution by a stack of smaller ones, after
Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016,
§3.1 (a 5x5 as two 3x3, a 7x7 as three 3x3) and §3.2 (a kxk as a kx1 then a 1xk).

With C inputs, K outputs and the paper's intermediate width M = K, a 5x5 with C = K costs
2*9/25 = 18/25 of its MACs as two 3x3, a 7x7 27/49 as three 3x3 and a 3x3 6/9 as 3x1 + 1x3.

No nonlinearity sits between the new convolutions, so they compose to one convolution whose
kernel is the full convolution of the factor kernels: two 3x3 span exactly 5x5. Where the
layer has weights the factors are fitted to that kernel: kx1 + 1xk is a rank-M matrix
factorisation of the kernel read as a (K k) x (C k) matrix, whose truncated SVD is the best
fit; a 3x3 stack starts from an SVD of a lifted kernel (see ``_lift_split``) and is refined
by alternating least squares (each step a linear least-squares problem in one factor with
the others fixed, so the error never grows) for a fixed number of sweeps. The fit is
deterministic. The original bias goes on the last convolution.

Shapes: the padding is split so that the stack's output has the original shape and the same
alignment (the pads before sum to the original's, as do the pads after). kx1 + 1xk is then
exact up to the kernel fit, borders included, with the vertical stride on the kx1 and the
horizontal one on the 1xk. A 3x3 stack keeps each conv's own zero padding, as Inception
does, so near the border it sees zeros where the original saw input: even a perfect kernel
fit differs there. A stride goes on the last 3x3 (the only place where the stack still
composes to the original kernel), so the earlier ones run at full resolution and such a
layer usually saves nothing; a layer that saves no MACs is left as it is, with the reason.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..errors import PassError
from ..ir import Graph, NodeSpec
from ..ir.ops import resolve_padding
from ..registry import did_you_mean
from .lowrank import (Fit, Plan, Skip, apply_plans, blocking_annotations, carried_annotations,
                      fitted, float_dtype, fresh_name, select_layers, with_bias)
from .manager import Pass
from .result import Note, PassResult

__all__ = ["factorize", "FACTORIZE", "MODES", "DEFAULT_ITERATIONS", "compose_kernels"]

MODES = ("auto", "3x3", "asymmetric")
DEFAULT_ITERATIONS = 20
# A direct least-squares step builds a design matrix of this many elements at most; beyond
# it the step is conjugate gradients on the normal equations, from the current factor.
_DIRECT_MAX = 1 << 23
_CG_STEPS = 50
# Steps tried along an alternating sweep's change, as multiples of it (largest first).
_EXTRAPOLATE = (8.0, 4.0, 2.0)


def factorize(graph: Graph, *, layers: Iterable[str] | None = None, mode: str = "auto",
              iterations: int = DEFAULT_ITERATIONS) -> PassResult:
    """Factorise each selected conv2d of a copy of ``graph`` into smaller convolutions.

    ``mode``: ``3x3`` (an odd kxk, k >= 5, as (k-1)/2 stacked 3x3), ``asymmetric`` (kh x kw
    as kh x 1 then 1 x kw) or ``auto`` (3x3 stacks for odd square kernels of 5 and more,
    asymmetric otherwise); ``iterations``: alternating least-squares sweeps of a 3x3 stack's
    fit (kx1 + 1xk needs none: its SVD start is the optimum).

    Raises:
        PassError: a bad argument, or an unknown or non-conv2d layer name.
    """
    if mode not in MODES:
        raise PassError(f"factorize: unknown mode {mode!r}; {did_you_mean(str(mode), list(MODES))}")
    if not isinstance(iterations, int) or isinstance(iterations, bool) or iterations < 0:
        raise PassError(f"factorize: iterations must be a non-negative integer, got {iterations!r}")
    names = select_layers(graph, layers, ("conv2d",), "factorize")

    def plan(g: Graph, name: str) -> Plan | Skip:
        return _plan(g, name, mode, iterations)

    return apply_plans(graph, names, plan, "factorize", {"mode": mode, "iterations": iterations},
                       fit="least squares on the composed kernel (the SVD for kx1 + 1xk, an SVD "
                           "start and alternating least squares for 3x3 stacks)")


# --------------------------------------------------------------------------- structure


def _kind(kernel: tuple[int, int], mode: str) -> str | Skip:
    kh, kw = kernel
    stackable = kh == kw and kh % 2 == 1 and kh >= 5
    if mode == "3x3" or (mode == "auto" and stackable):
        return "3x3" if stackable else Skip(f"a 3x3 stack needs a square odd kernel of 5 or more, "
                                            f"got {kh}x{kw}")
    if kh < 2 or kw < 2:
        return Skip(f"a {kh}x{kw} kernel has no kx1 + 1xk factorisation")
    return "asymmetric"


def _split(total: int, parts: int) -> list[int]:
    """``total`` padding rows over ``parts`` convolutions, the extra ones first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _plan(g: Graph, name: str, mode: str, iterations: int) -> Plan | Skip:
    node = g.node(name)
    a = node.attrs
    blocked = blocking_annotations(g, name)
    if blocked:
        return Skip(blocked)
    if a["groups"] != 1:
        return Skip(f"grouped convolution (groups={a['groups']}); the factor stack would mix groups")
    kind = _kind(tuple(a["kernel"]), mode)
    if isinstance(kind, Skip):
        return kind
    x = g.type_of(node.inputs[0])
    t, l, b, r = resolve_padding(a, x.shape[2], x.shape[3], a["kernel"], a["stride"], a["dilation"])
    (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], a["dilation"]
    k_out, c_in = a["out_channels"], x.shape[1]
    width = k_out  # the paper's intermediate width M = K
    if kind == "asymmetric":
        convs = [dict(kernel=(kh, 1), stride=(sh, 1), dilation=(dh, 1), padding=(t, 0, b, 0)),
                 dict(kernel=(1, kw), stride=(1, sw), dilation=(1, dw), padding=(0, l, 0, r))]
        label = f"{kh}x1 + 1x{kw}"
    else:
        n = (kh - 1) // 2
        tops, lefts, bottoms, rights = (_split(p, n) for p in (t, l, b, r))
        convs = [dict(kernel=(3, 3), stride=(sh, sw) if i == n - 1 else (1, 1), dilation=(dh, dw),
                      padding=(tops[i], lefts[i], bottoms[i], rights[i])) for i in range(n)]
        label = f"{n} x 3x3" + (" (stride on the last)" if (sh, sw) != (1, 1) else "")
    taken: set[str] = set()
    names = [fresh_name(g, f"{name}_f{i + 1}", taken) for i in range(len(convs) - 1)] + [name]
    specs = []
    for i, conv in enumerate(convs):
        last = i == len(convs) - 1
        specs.append(NodeSpec(names[i], "conv2d", node.inputs if i == 0 else (names[i - 1],),
                              {**conv, "out_channels": k_out if last else width,
                               "bias": a["bias"] if last else False},
                              annotations=carried_annotations(g, name) if last else ()))
    info: dict[str, Note] = {"kind": label, "convs": len(convs)}
    w = g.weights(name).get("weight")
    if w is None:
        return Plan(tuple(specs), info)

    def fit() -> Fit:
        w64 = np.asarray(w, dtype=np.float64)
        shapes = [(k_out if i == len(convs) - 1 else width, c_in if i == 0 else width) + c["kernel"]
                  for i, c in enumerate(convs)]
        factors, how = _fit(w64, shapes, iterations)
        dt = float_dtype(np.asarray(w))
        factors = [f.astype(dt) for f in factors]
        weights = [{"weight": f} for f in factors[:-1]] + [with_bias(g, name, {"weight": factors[-1]})]
        return fitted(weights, w64, compose_chain([f.astype(np.float64) for f in factors]), {"fit": how})

    return Plan(tuple(specs), info, fit)


# --------------------------------------------------------------------------- kernel algebra
# Kernels are (out, in, h, w) arrays, applied as the IR's conv2d does (cross-correlation).
# conv_b(conv_a(x)) is one conv with kernel compose_kernels(b, a): out[k, c, u + v] sums
# b[k, m, u] a[m, c, v] over m, the full 2-D convolution of the taps with a channel product.


def compose_kernels(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The kernel of ``conv_b(conv_a(x))`` (stride 1, no bias, nothing in between)."""
    k, _, hb, wb = b.shape
    _, c, ha, wa = a.shape
    out = np.zeros((k, c, hb + ha - 1, wb + wa - 1))
    for i in range(hb):
        for j in range(wb):
            out[:, :, i:i + ha, j:j + wa] += np.tensordot(b[:, :, i, j], a, axes=(1, 0))
    return out


def compose_chain(factors: Sequence[np.ndarray]) -> np.ndarray:
    """The kernel of the factors applied first to last."""
    out = factors[0]
    for f in factors[1:]:
        out = compose_kernels(f, out)
    return out


def _adjoint_right(b: np.ndarray, g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Adjoint of ``a -> compose_kernels(b, a)`` applied to ``g``; ``shape`` is ``a``'s."""
    out = np.zeros(shape)
    _, _, ha, wa = shape
    for i in range(b.shape[2]):
        for j in range(b.shape[3]):
            out += np.tensordot(b[:, :, i, j], g[:, :, i:i + ha, j:j + wa], axes=(0, 0))
    return out


def _adjoint_left(a: np.ndarray, g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Adjoint of ``b -> compose_kernels(b, a)`` applied to ``g``; ``shape`` is ``b``'s."""
    out = np.zeros(shape)
    _, _, ha, wa = a.shape
    for i in range(shape[2]):
        for j in range(shape[3]):
            out[:, :, i, j] = np.tensordot(g[:, :, i:i + ha, j:j + wa], a, axes=([1, 2, 3], [1, 2, 3]))
    return out


# --------------------------------------------------------------------------- fits


def _lift_split(w: np.ndarray, width: int, outer: tuple[int, int],
                inner: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Factors ``b`` (K, width, *outer) and ``a`` (width, C, *inner) with
    ``compose_kernels(b, a)`` near ``w``, and whether they are the best such pair.

    The composition sums the blocks ``b[:, :, u] @ a[:, :, v]`` over u + v = p: a linear
    image of the matrix Z = [b_u a_v] (rows (u, k), columns (v, c)), which has rank at most
    ``width``. Spreading each tap of ``w`` evenly over the (u, v) that reach it is the
    smallest Z that composes to ``w``; its truncated SVD gives the pair. Where every tap is
    reached once (kx1 then 1xk) Z is ``w`` rearranged and the SVD is the optimum."""
    k, c, h, wd = w.shape
    (oh, ow), (ih, iw) = outer, inner
    count = np.zeros((h, wd))
    for i in range(oh):
        for j in range(ow):
            count[i:i + ih, j:j + iw] += 1
    z = np.zeros((oh, ow, k, ih, iw, c))
    for i in range(oh):
        for j in range(ow):
            z[i, j] = (w[:, :, i:i + ih, j:j + iw] / count[i:i + ih, j:j + iw]).transpose(0, 2, 3, 1)
    u, s, vt = np.linalg.svd(z.reshape(oh * ow * k, ih * iw * c), full_matrices=False)
    r = min(width, len(s))
    root = np.sqrt(s[:r])
    left, right = np.zeros((oh * ow * k, width)), np.zeros((width, ih * iw * c))
    left[:, :r], right[:r] = u[:, :r] * root, root[:, None] * vt[:r]
    b = left.reshape(oh, ow, k, width).transpose(2, 3, 0, 1)
    a = right.reshape(width, ih, iw, c).transpose(0, 3, 1, 2)
    return b, a, bool(np.all(count == 1))


def _fit(w: np.ndarray, shapes: Sequence[tuple[int, ...]], iterations: int) -> tuple[list[np.ndarray], str]:
    """Factors of ``shapes`` (first applied first) whose composition approximates ``w``, and
    how they were found. The start peels one factor after another off ``w`` with
    ``_lift_split``; alternating least squares then sweeps from the last factor to the first,
    each sweep followed by a step further along its change where that lowers the error (the
    line search that carries alternating least squares through its slow stretches)."""
    factors, rest = [], w
    for shape in shapes[:-1]:
        inner = shape[2:]
        outer = (rest.shape[2] - inner[0] + 1, rest.shape[3] - inner[1] + 1)
        rest, first, optimal = _lift_split(rest, shape[0], outer, inner)
        factors.append(first)
    factors.append(rest)
    if len(shapes) == 2 and optimal:
        return factors, "svd (optimal)"
    error = _error(w, factors)
    for it in range(iterations):
        old = [f.copy() for f in factors]
        for j in reversed(range(len(factors))):
            factors[j] = _solve_factor(w, factors, j)
        error = _error(w, factors)
        for step in (_EXTRAPOLATE if it else ()):
            trial = [f + (step - 1) * (f - o) for f, o in zip(factors, old)]
            trial_error = _error(w, trial)
            if trial_error < error:
                factors, error = trial, trial_error
                break
    return factors, f"svd start + als x{iterations}"


def _error(w: np.ndarray, factors: Sequence[np.ndarray]) -> float:
    return float(np.sum((compose_chain(factors) - w) ** 2))


def _solve_factor(w: np.ndarray, factors: Sequence[np.ndarray], j: int) -> np.ndarray:
    """Factor ``j`` minimising the error with the others fixed: directly where the design
    matrix is small (an end factor's splits into one problem per output channel), else by
    conjugate gradients from its value."""
    x0 = factors[j]
    before = compose_chain(factors[:j]) if j > 0 else None
    after = compose_chain(factors[j + 1:]) if j < len(factors) - 1 else None
    if after is None and before is not None and _design_size(before, x0.shape, w) <= _DIRECT_MAX:
        return _solve_last(before, w, x0.shape)
    if before is None and after is not None:
        flipped = (x0.shape[1], x0.shape[0]) + x0.shape[2:]  # the first factor, channels swapped
        t = after.transpose(1, 0, 2, 3)
        if _design_size(t, flipped, w) <= _DIRECT_MAX:
            return _solve_last(t, w.transpose(1, 0, 2, 3), flipped).transpose(1, 0, 2, 3)
    if before is not None and after is not None and \
            x0.shape[0] * after.shape[0] * _design_size(before, x0.shape, w) <= _DIRECT_MAX:
        return _solve_middle(before, after, w, x0.shape)
    return _cgls(w, before, after, x0)


def _design_size(before: np.ndarray, shape: tuple[int, ...], w: np.ndarray) -> int:
    return before.shape[0] * before.shape[1] * shape[2] * shape[3] * w.shape[2] * w.shape[3]


def _solve_last(before: np.ndarray, w: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """min over b of ||compose_kernels(b, before) - w||: composed[k] = b[k] . D, where row
    (m, i, j) of D is before[m] shifted by (i, j) into w's window."""
    k, m, hb, wb = shape
    _, c, ha, wa = before.shape
    h, wd = w.shape[2:]
    design = np.zeros((m, hb, wb, c, h, wd))
    for i in range(hb):
        for j in range(wb):
            design[:, i, j, :, i:i + ha, j:j + wa] = before
    design = design.reshape(m * hb * wb, c * h * wd)
    sol = np.linalg.lstsq(design.T, w.reshape(k, -1).T, rcond=None)[0]
    return sol.T.reshape(shape)


def _solve_middle(before: np.ndarray, after: np.ndarray, w: np.ndarray,
                  shape: tuple[int, ...]) -> np.ndarray:
    """min over x of ||compose(after, x, before) - w||: entry (o, i, t) of x adds
    E[o, i, k, c, p - t] to composed[k, c, p], where E sums after[k, o, u] before[i, c, v]
    over u + v = p."""
    o, i, xh, xw = shape
    k, _, ah, aw = after.shape
    _, c, bh, bw = before.shape
    e = np.zeros((o, i, k, c, ah + bh - 1, aw + bw - 1))
    for u in range(ah):
        for v in range(aw):
            e[..., u:u + bh, v:v + bw] += np.einsum("ko,icxy->oikcxy", after[:, :, u, v], before)
    design = np.zeros((o, i, xh, xw, k, c) + w.shape[2:])
    for y in range(xh):
        for x in range(xw):
            design[:, :, y, x, :, :, y:y + e.shape[4], x:x + e.shape[5]] = e
    sol = np.linalg.lstsq(design.reshape(o * i * xh * xw, -1).T, w.ravel(), rcond=None)[0]
    return sol.reshape(shape)


def _cgls(w: np.ndarray, before: np.ndarray | None, after: np.ndarray | None,
          x0: np.ndarray) -> np.ndarray:
    """Conjugate gradients on the normal equations of x -> compose(after, x, before), from
    ``x0``: the residual never grows, so an alternating sweep stays monotone."""

    def apply(x: np.ndarray) -> np.ndarray:
        y = compose_kernels(x, before) if before is not None else x
        return compose_kernels(after, y) if after is not None else y

    inner = (x0.shape[0], w.shape[1], w.shape[2] - (after.shape[2] - 1 if after is not None else 0),
             w.shape[3] - (after.shape[3] - 1 if after is not None else 0))

    def adjoint(g: np.ndarray) -> np.ndarray:
        y = _adjoint_right(after, g, inner) if after is not None else g
        return _adjoint_left(before, y, x0.shape) if before is not None else y

    x = x0.copy()
    res = w - apply(x)
    s = adjoint(res)
    p, gamma = s.copy(), float(np.vdot(s, s))
    scale = adjoint(w)
    floor = 1e-28 * float(np.vdot(scale, scale))
    for _ in range(_CG_STEPS):
        if gamma <= floor:
            break
        q = apply(p)
        qq = float(np.vdot(q, q))
        if qq == 0.0:
            break
        alpha = gamma / qq
        x += alpha * p
        res -= alpha * q
        s = adjoint(res)
        new = float(np.vdot(s, s))
        p = s + (new / gamma) * p
        gamma = new
    return x


def _default_factorize(graph: Graph) -> Graph:
    return factorize(graph).graph


FACTORIZE = Pass("factorize", _default_factorize,
                 doc="Replace 5x5 and 7x7 convolutions by 3x3 stacks and 3x3 ones by 3x1 + 1x3 "
                     "(Szegedy et al., CVPR 2016), fitted to the weights where present.")
