"""The quantize pass: post-training integer quantisation, per tensor or per channel, with
min-max, percentile or MSE-optimal clipping, one width for all layers or one per layer.

Weights are rounded to their integer grid and kept as the float values they stand for
(``q * scale``), so the float reference interpreter runs the quantised model as it is and the
integer executor (``accelsim.compression.execute``) recovers ``q`` and the scale exactly: a
symmetric grid's largest magnitude is always ``qmax * scale`` (min-max puts the largest weight
there, clipping saturates at it). Every layer gets a ``quant`` annotation, so activations
between layers are costed at ``act_bits`` too; activation scales are calibrated where the
network is run (they depend on data, not on weights).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import PassError
from ..ir import Graph, Quant
from .result import PassResult

__all__ = ["quantize", "QUANTIZED_WEIGHTS", "BITS"]

QUANTIZED_WEIGHTS = ("conv2d", "linear", "matmul", "embedding")
BITS = (1, 2, 4, 8, 16)
_SKIP = ("input", "constant")


def quantize(graph: Graph, bits: int | Mapping[str, int] = 8, *, act_bits: int | None = None,
             per_channel: bool = False, method: str = "minmax",
             layers: Sequence[str] | None = None) -> PassResult:
    """Quantise ``graph``'s weights to ``bits`` (or per layer: ``{"fc1": 4, ...}``, others
    at 8) and its activations to ``act_bits`` (default: 8, or ``bits`` when wider than 8).

    Raises:
        PassError: a width other than 1, 2, 4, 8, 16; an unknown method or layer.
    """
    from ..kernels.quant import METHODS, choose_params, dequantize, quant_error
    from ..kernels.quant import quantize as to_grid

    per_layer = dict(bits) if isinstance(bits, Mapping) else {}
    default = 8 if isinstance(bits, Mapping) else bits
    for name, b in [("all", default), *per_layer.items()]:
        if b not in BITS:
            raise PassError(f"quantize: {name}: bits must be one of {', '.join(map(str, BITS))}, got {b!r}")
        if name != "all" and name not in graph:
            raise PassError(f"quantize: {graph.name!r} has no layer {name!r}")
    if method not in METHODS:
        raise PassError(f"quantize: unknown method {method!r}; expected one of {', '.join(METHODS)}")
    act = act_bits if act_bits is not None else max(8, default)
    if act not in BITS or act < 2:
        raise PassError(f"quantize: act_bits must be one of 2, 4, 8, 16, got {act!r}")
    chosen = set(layers) if layers is not None else None
    g = graph.copy()
    by_layer: dict[str, dict[str, Any]] = {}
    for node in graph.nodes():
        if node.op in _SKIP or (chosen is not None and node.name not in chosen):
            continue
        if g.type_of(node.name).dtype.is_index:
            continue
        b = per_layer.get(node.name, default)
        weighted = node.op in QUANTIZED_WEIGHTS
        g.annotate(node.name, Quant(weight_bits=b if weighted else act, act_bits=act,
                                    per_channel=per_channel and weighted))
        arrays = dict(g.weights(node.name))
        if not weighted or "weight" not in arrays:
            continue
        w = np.asarray(arrays["weight"], dtype=np.float64)
        axis = 0 if per_channel and w.ndim > 1 else None
        params = choose_params(w, b, symmetric=True, axis=axis, method=method)
        deq = dequantize(to_grid(w, params), params)
        arrays["weight"] = deq.astype(np.asarray(arrays["weight"]).dtype)
        g.set_weights(node.name, arrays)
        err = quant_error(w, deq)
        by_layer[node.name] = {"bits": b, "weight_snr_db": round(float(err.snr_db), 3)}
    return PassResult(g, notes={"weight_bits": default if not per_layer else "mixed", "act_bits": act,
                                "per_channel": per_channel, "method": method}, by_layer=by_layer)
