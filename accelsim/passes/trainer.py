"""A small numpy trainer: fit a Graph's weights to labelled data, so that compression passes
(pruning, quantisation, weight sharing) can be measured and fine-tuned on real accuracy.

It runs the graph forward on a whole mini-batch at once (the graph's input batch is 1; any
batch of the same per-sample shape is taken), back-propagates a softmax cross-entropy on the
graph's single output and steps SGD with momentum. Convolutions are im2col matrix products
over ``sliding_window_view``; pooling routes its gradient to the first maximum of each
window. Everything is float64 and every random choice takes a seed, so the same call gives
the same bits.

Ops: ``conv2d`` (groups 1; any stride, padding, dilation), ``linear``, ``relu``, ``maxpool``,
``flatten``, ``batchnorm`` (a trainable per-channel scale and shift, as the IR defines it),
``add``, ``identity`` and ``dropout`` (both the identity at inference, and here), and
``fused`` annotations of those one-input ops.

``weight_transform(layer, weight)`` replaces each ``weight`` array in the forward pass (the
caller's fake quantisation, say); its gradient passes straight through to the latent weight
(Bengio et al., "Estimating or Propagating Gradients Through Stochastic Neurons", 2013), the
usual quantisation-aware training. ``masks`` hold pruned weights at zero: the weight and its
gradient are multiplied by the mask at every step.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import PassError
from ..ir import Graph, Node
from ..ir.ops import resolve_padding

__all__ = ["TRAINABLE_OPS", "WeightTransform", "train", "predict", "accuracy", "loss_and_gradients"]

Array = np.ndarray
WeightTransform = Callable[[str, Array], Array]
Params = dict[str, dict[str, Array]]

TRAINABLE_OPS = ("conv2d", "linear", "batchnorm")
_PASS_THROUGH = ("identity", "dropout")
_UNARY = ("relu",) + _PASS_THROUGH
_OPS = TRAINABLE_OPS + _UNARY + ("maxpool", "flatten", "add")
_PREDICT_CHUNK = 1024  # images per forward pass in predict: bounds the im2col buffers


# --------------------------------------------------------------------------- checking


def _error(node: Node, message: str) -> PassError:
    return PassError(f"train: layer {node.name!r} ({node.op}): {message}",
                     file=node.source.file, line=node.source.line)


def _check_graph(graph: Graph) -> tuple[str, str]:
    """The graph's (input, output) names, after refusing what the trainer cannot run."""
    graph.verify()
    inputs, outputs = graph.inputs, graph.outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise PassError(f"train: the graph needs one input and one output, has {len(inputs)} and "
                        f"{len(outputs)}")
    for node in graph.nodes():
        if node.op == "input":
            continue
        if node.op not in _OPS:
            raise _error(node, f"the trainer runs only {', '.join(_OPS)}")
        if node.op == "conv2d" and node.attrs["groups"] != 1:
            raise _error(node, "grouped convolutions are not supported")
        fused = node.annotations.get("fused")
        for op in fused.ops if fused is not None else ():
            if op not in _UNARY:
                raise _error(node, f"a fused {op!r} is not supported (only {', '.join(_UNARY)})")
    out = graph.type_of(outputs[0])
    if out.rank != 2:
        raise PassError(f"train: the output {outputs[0]!r} must be (batch, classes) logits, has shape "
                        f"{list(out.shape)}")
    return inputs[0], outputs[0]


def _check_batch(graph: Graph, name: str, x: Any) -> Array:
    x = np.asarray(x, dtype=np.float64)
    want = graph.type_of(name).shape
    if x.ndim != len(want) or x.shape[1:] != tuple(want[1:]) or len(x) == 0:
        raise PassError(f"train: input {name!r} takes arrays of shape [n, {', '.join(map(str, want[1:]))}] "
                        f"with n >= 1, got {list(x.shape)}")
    return x


def _check_labels(y: Any, n: int, classes: int) -> Array:
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise PassError(f"train: labels must be {n} integers, got shape {list(y.shape)} of {y.dtype}")
    if n and (y.min() < 0 or y.max() >= classes):
        raise PassError(f"train: labels must lie in 0..{classes - 1}, got {int(y.min())}..{int(y.max())}")
    return y.astype(np.int64)


# --------------------------------------------------------------------------- parameters


def _expected_shapes(graph: Graph, node: Node) -> dict[str, tuple[int, ...]]:
    return node.opdef.weight_shapes([graph.type_of(i) for i in node.inputs], node.attrs)


def _he_uniform(rng: np.random.Generator, key: str, shape: tuple[int, ...], op: str) -> Array:
    """He et al. 2015 ("Delving Deep into Rectifiers") uniform: U(-b, b), b = sqrt(6 / fan_in);
    biases and batchnorm shifts start at 0, batchnorm scales at 1."""
    if op == "batchnorm":
        return np.ones(shape) if key == "scale" else np.zeros(shape)
    if key != "weight":
        return np.zeros(shape)
    fan_in = math.prod(shape[1:])
    bound = math.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape)


def _params(graph: Graph, init_seed: int | None) -> Params:
    """float64 copies of every trainable layer's weights; missing ones He-initialised."""
    rng = np.random.default_rng(init_seed) if init_seed is not None else None
    out: Params = {}
    for node in graph.nodes():
        if node.op not in TRAINABLE_OPS:
            continue
        have = graph.weights(node.name)
        arrays = {}
        for key, shape in _expected_shapes(graph, node).items():
            if key in have:
                arrays[key] = np.array(have[key], dtype=np.float64)
            elif rng is None:
                raise _error(node, f"has no weight {key!r}; pass init_seed to initialise the missing weights")
            else:
                arrays[key] = _he_uniform(rng, key, shape, node.op)
        out[node.name] = arrays
    return out


def _check_masks(params: Params, masks: Mapping[str, Any] | None) -> dict[str, Array]:
    out = {}
    for name, mask in (masks or {}).items():
        if "weight" not in params.get(name, {}):
            with_weight = [layer for layer, arrays in params.items() if "weight" in arrays]
            raise PassError(f"train: mask for {name!r}, which is not a layer with weights "
                            f"({', '.join(with_weight) or 'none'})")
        m = np.asarray(mask)
        shape = params[name]["weight"].shape
        if m.shape != shape or not np.isin(m, (0, 1)).all():
            raise PassError(f"train: the mask of {name!r} must be 0/1 of shape {list(shape)}, "
                            f"got shape {list(m.shape)}")
        out[name] = m.astype(np.float64)
    return out


# --------------------------------------------------------------------------- forward / backward


def _windows(x: Array, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
             pads: tuple[int, int, int, int], out_hw: tuple[int, int], fill: float) -> tuple[Array, Array]:
    """(padded input, its (N, C, P, Q, R, S) window view)."""
    t, l, b, r = pads
    p, q = out_hw
    # pad enough on the far side for every window (ceil_mode's overhang), never past it
    need_h = (p - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1
    need_w = (q - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1
    b = max(b, need_h - x.shape[2] - t)
    r = max(r, need_w - x.shape[3] - l)
    xp = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=fill)
    span = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    win = sliding_window_view(xp, span, axis=(2, 3))
    return xp, win[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]][:, :, :p, :q]


def _scatter_windows(grad: Array, padded_shape: tuple[int, ...], stride: tuple[int, int],
                     dilation: tuple[int, int], pads: tuple[int, int, int, int], in_hw: tuple[int, int]) -> Array:
    """col2im: add the (N, C, P, Q, R, S) window gradients back onto the input they were cut
    from; one strided add per kernel position, so overlapping windows sum."""
    n, c, p, q, kr, ks = grad.shape
    dxp = np.zeros(padded_shape)
    for i in range(kr):
        for j in range(ks):
            h0, w0 = i * dilation[0], j * dilation[1]
            dxp[:, :, h0:h0 + (p - 1) * stride[0] + 1:stride[0],
                w0:w0 + (q - 1) * stride[1] + 1:stride[1]] += grad[:, :, :, :, i, j]
    t, l = pads[0], pads[1]
    return dxp[:, :, t:t + in_hw[0], l:l + in_hw[1]]


class _Net:
    """One forward pass over a batch, keeping what the backward pass needs."""

    def __init__(self, graph: Graph, params: Params, transform: WeightTransform | None) -> None:
        self.graph = graph
        self.params = params
        self.used = {name: dict(arrays) for name, arrays in params.items()}
        if transform is not None:
            for name, arrays in self.used.items():
                if "weight" in arrays:
                    w = np.asarray(transform(name, arrays["weight"]), dtype=np.float64)
                    if w.shape != arrays["weight"].shape:
                        raise PassError(f"train: weight_transform changed the shape of {name!r}'s weight "
                                        f"from {list(arrays['weight'].shape)} to {list(w.shape)}")
                    arrays["weight"] = w
        self.saved: dict[str, Any] = {}

    # forward ------------------------------------------------------------------

    def forward(self, x: Array) -> Array:
        values: dict[str, Array] = {}
        for node in self.graph.nodes():
            if node.op == "input":
                values[node.name] = x
                continue
            y = getattr(self, "_f_" + node.op)(node, [values[i] for i in node.inputs])
            fused = node.annotations.get("fused")
            for op in fused.ops if fused is not None else ():
                y = self._unary_forward(f"{node.name}#{op}", op, y)
            values[node.name] = y
        self.order = [n for n in self.graph.nodes() if n.op != "input"]
        return values[self.graph.outputs[0]]

    def _unary_forward(self, key: str, op: str, x: Array) -> Array:
        if op == "relu":
            self.saved[key] = x > 0
            return np.maximum(x, 0)
        return x

    def _f_relu(self, node: Node, xs: list[Array]) -> Array:
        return self._unary_forward(node.name, "relu", xs[0])

    def _f_identity(self, node: Node, xs: list[Array]) -> Array:
        return xs[0]

    _f_dropout = _f_identity

    def _f_add(self, node: Node, xs: list[Array]) -> Array:
        self.saved[node.name] = [x.shape for x in xs]
        return sum(xs[1:], xs[0])

    def _f_flatten(self, node: Node, xs: list[Array]) -> Array:
        x = xs[0]
        start, end = node.attrs["start_dim"] % x.ndim, node.attrs["end_dim"] % x.ndim
        self.saved[node.name] = x.shape
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])

    def _f_linear(self, node: Node, xs: list[Array]) -> Array:
        w = self.used[node.name]
        self.saved[node.name] = xs[0]
        y = xs[0] @ np.ascontiguousarray(w["weight"].T)
        return y + w["bias"] if "bias" in w else y

    def _f_batchnorm(self, node: Node, xs: list[Array]) -> Array:
        w = self.used[node.name]
        x = xs[0]
        shape = (1, -1) + (1,) * (x.ndim - 2)
        self.saved[node.name] = x
        return x * w["scale"].reshape(shape) + w["bias"].reshape(shape)

    def _geometry(self, node: Node, x: Array, pool: bool) -> tuple[Any, ...]:
        a = node.attrs
        kernel = a["kernel"]
        stride = a["stride"] if a.get("stride") is not None else kernel
        dilation = (1, 1) if pool else a["dilation"]
        pads = resolve_padding(a, x.shape[2], x.shape[3], kernel, stride, dilation)
        out_hw = tuple(self.graph.type_of(node.name).shape[2:])
        return kernel, stride, dilation, pads, out_hw

    def _f_conv2d(self, node: Node, xs: list[Array]) -> Array:
        x = xs[0]
        w = self.used[node.name]
        kernel, stride, dilation, pads, (p, q) = self._geometry(node, x, pool=False)
        xp, win = _windows(x, kernel, stride, dilation, pads, (p, q), 0.0)
        n, c = x.shape[:2]
        cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * p * q, c * kernel[0] * kernel[1])
        k = w["weight"].shape[0]
        y = cols @ np.ascontiguousarray(w["weight"].reshape(k, -1).T)
        if "bias" in w:
            y += w["bias"]
        self.saved[node.name] = (cols, xp.shape, x.shape, kernel, stride, dilation, pads, (p, q))
        return y.reshape(n, p, q, k).transpose(0, 3, 1, 2)

    def _f_maxpool(self, node: Node, xs: list[Array]) -> Array:
        x = xs[0]
        kernel, stride, dilation, pads, (p, q) = self._geometry(node, x, pool=True)
        xp, win = _windows(x, kernel, stride, dilation, pads, (p, q), -np.inf)
        flat = win.reshape(win.shape[:4] + (-1,))
        arg = flat.argmax(axis=-1)
        self.saved[node.name] = (arg, xp.shape, x.shape, kernel, stride, pads)
        return np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]

    # backward -----------------------------------------------------------------

    def backward(self, dout: Array) -> Params:
        """Gradients of every trainable weight (of the arrays used, so a transform's
        gradient passes straight through), given the output's gradient."""
        grads: dict[str, Array] = {self.graph.outputs[0]: dout}
        wgrads: Params = {}
        for node in reversed(self.order):
            dy = grads.pop(node.name, None)
            if dy is None:
                continue  # nothing downstream of this layer reaches the loss
            fused = node.annotations.get("fused")
            for op in reversed(fused.ops) if fused is not None else ():
                dy = self._unary_backward(f"{node.name}#{op}", op, dy)
            dxs = getattr(self, "_b_" + node.op)(node, dy, wgrads)
            for name, dx in zip(node.inputs, dxs):
                if dx is None or self.graph.node(name).op == "input":
                    continue
                grads[name] = grads[name] + dx if name in grads else dx
        return wgrads

    def _unary_backward(self, key: str, op: str, dy: Array) -> Array:
        return dy * self.saved[key] if op == "relu" else dy

    def _b_relu(self, node: Node, dy: Array, wg: Params) -> list[Array]:
        return [self._unary_backward(node.name, "relu", dy)]

    def _b_identity(self, node: Node, dy: Array, wg: Params) -> list[Array]:
        return [dy]

    _b_dropout = _b_identity

    def _b_add(self, node: Node, dy: Array, wg: Params) -> list[Array]:
        out = []
        for shape in self.saved[node.name]:  # undo broadcasting: sum over the axes it added
            g = dy.sum(axis=tuple(range(dy.ndim - len(shape)))) if dy.ndim > len(shape) else dy
            axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
            out.append(g.sum(axis=axes, keepdims=True) if axes else g)
        return out

    def _b_flatten(self, node: Node, dy: Array, wg: Params) -> list[Array]:
        return [dy.reshape(self.saved[node.name])]

    def _b_linear(self, node: Node, dy: Array, wg: Params) -> list[Array]:
        x = self.saved[node.name]
        x2, dy2 = x.reshape(-1, x.shape[-1]), dy.reshape(-1, dy.shape[-1])
        g = {"weight": np.ascontiguousarray(dy2.T) @ x2}
        if "bias" in self.used[node.name]:
            g["bias"] = dy2.sum(axis=0)
        wg[node.name] = g
        return [dy @ self.used[node.name]["weight"]]

    def _b_batchnorm(self, node: Node, dy: Array, wg: Params) -> list[Array]:
        x = self.saved[node.name]
        axes = (0,) + tuple(range(2, x.ndim))
        scale = self.used[node.name]["scale"]
        wg[node.name] = {"scale": (dy * x).sum(axis=axes), "bias": dy.sum(axis=axes)}
        return [dy * scale.reshape((1, -1) + (1,) * (x.ndim - 2))]

    def _b_conv2d(self, node: Node, dy: Array, wg: Params) -> list[Array]:
        cols, padded, in_shape, kernel, stride, dilation, pads, (p, q) = self.saved[node.name]
        n, c = in_shape[:2]
        w = self.used[node.name]["weight"]
        k = w.shape[0]
        dy2 = dy.transpose(0, 2, 3, 1).reshape(n * p * q, k)
        g = {"weight": (np.ascontiguousarray(dy2.T) @ cols).reshape(w.shape)}
        if "bias" in self.used[node.name]:
            g["bias"] = dy2.sum(axis=0)
        wg[node.name] = g
        dcols = (dy2 @ w.reshape(k, -1)).reshape(n, p, q, c, kernel[0], kernel[1]).transpose(0, 3, 1, 2, 4, 5)
        return [_scatter_windows(dcols, padded, stride, dilation, pads, in_shape[2:])]

    def _b_maxpool(self, node: Node, dy: Array, wg: Params) -> list[Array]:
        arg, padded, in_shape, kernel, stride, pads = self.saved[node.name]
        onehot = arg[..., None] == np.arange(kernel[0] * kernel[1])
        dwin = (onehot * dy[..., None]).reshape(dy.shape + tuple(kernel))
        return [_scatter_windows(dwin, padded, stride, (1, 1), pads, in_shape[2:])]


def _softmax_cross_entropy(logits: Array, y: Array) -> tuple[float, Array]:
    """Mean loss over the batch and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -float(log_p[np.arange(n), y].mean())
    grad = np.exp(log_p)
    grad[np.arange(n), y] -= 1.0
    return loss, grad / n


# --------------------------------------------------------------------------- API


def loss_and_gradients(graph: Graph, x: Any, y: Any, *,
                       weight_transform: WeightTransform | None = None) -> tuple[float, Params]:
    """The mean softmax cross-entropy of ``graph`` on ``(x, y)`` and its gradient with
    respect to every trainable weight (layer name -> weight key -> array).

    Raises:
        PassError: an op the trainer cannot run, missing weights, ill-shaped data.
    """
    name, out = _check_graph(graph)
    x = _check_batch(graph, name, x)
    y = _check_labels(y, len(x), graph.type_of(out).shape[1])
    net = _Net(graph, _params(graph, None), weight_transform)
    loss, dlogits = _softmax_cross_entropy(net.forward(x), y)
    return loss, net.backward(dlogits)


def train(graph: Graph, x: Any, y: Any, *, epochs: int, lr: float, batch_size: int = 32, seed: int = 0,
          init_seed: int | None = None, masks: Mapping[str, Any] | None = None,
          weight_transform: WeightTransform | None = None, momentum: float = 0.9) -> Graph:
    """A copy of ``graph`` with its weights fitted to images ``x`` (n, ...) and integer class
    labels ``y`` (n,) by SGD with momentum on the softmax cross-entropy of its output.

    Each epoch visits every sample once in an order drawn from ``seed``. Layers without
    weights are He-initialised from ``init_seed`` (None: every layer must have weights).
    ``masks`` (layer -> 0/1 array of its weight's shape) keep pruned weights at zero;
    ``weight_transform`` is used in the forward pass with a straight-through gradient. The
    copy holds the latent float64 weights, not transformed ones.

    Raises:
        PassError: an op the trainer cannot run, missing weights, ill-shaped data or masks,
            a non-positive epoch count, rate or batch size.
    """
    name, out = _check_graph(graph)
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        raise PassError(f"train: epochs must be a whole number >= 0, got {epochs!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise PassError(f"train: batch_size must be a positive integer, got {batch_size!r}")
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise PassError(f"train: lr must be a positive number, got {lr!r}")
    if not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise PassError(f"train: momentum must lie in [0, 1), got {momentum!r}")
    x = _check_batch(graph, name, x)
    y = _check_labels(y, len(x), graph.type_of(out).shape[1])
    params = _params(graph, init_seed)
    mask = _check_masks(params, masks)
    for layer, m in mask.items():
        params[layer]["weight"] *= m
    velocity = {layer: {k: np.zeros_like(a) for k, a in arrays.items()} for layer, arrays in params.items()}
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            net = _Net(graph, params, weight_transform)
            _, dlogits = _softmax_cross_entropy(net.forward(x[batch]), y[batch])
            for layer, grads in net.backward(dlogits).items():
                for key, g in grads.items():
                    if key == "weight" and layer in mask:
                        g = g * mask[layer]
                    v = velocity[layer][key]
                    v *= momentum
                    v -= lr * g
                    params[layer][key] += v
                if layer in mask:
                    params[layer]["weight"] *= mask[layer]
    result = graph.copy()
    for layer, arrays in params.items():
        result.set_weights(layer, arrays)
    result.verify()
    return result


def predict(graph: Graph, x: Any, *, weight_transform: WeightTransform | None = None) -> Array:
    """The output logits (n, classes), float64, of ``graph`` on images ``x`` (n, ...).

    Raises:
        PassError: an op the trainer cannot run, missing weights, ill-shaped data.
    """
    name, _ = _check_graph(graph)
    x = _check_batch(graph, name, x)
    params = _params(graph, None)
    return np.concatenate([_Net(graph, params, weight_transform).forward(x[i:i + _PREDICT_CHUNK])
                           for i in range(0, len(x), _PREDICT_CHUNK)])


def accuracy(graph: Graph, x: Any, y: Any, *, weight_transform: WeightTransform | None = None) -> float:
    """The fraction of images in ``x`` whose largest logit is at their label in ``y``."""
    logits = predict(graph, x, weight_transform=weight_transform)
    y = _check_labels(y, len(logits), logits.shape[1])
    return float((logits.argmax(axis=1) == y).mean())
