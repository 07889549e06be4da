"""Compression that trains: iterative pruning with fine-tuning, group-lasso structured pruning,
growth from a narrow network, and quantisation-aware fine-tuning.

The one-shot passes (``prune``, ``quantize``) only look at the weights; these ones also fit
them to the model's training data with the numpy trainer (``passes.trainer``), so they work
only on models that ship with their data (the digits models). Each returns a ``PassResult``
whose graph carries the same annotations the plain pass leaves (``sparsity`` with the measured
density, ``quant``) and whose notes give the float accuracy on the model's test split; the
integer measurement (``compression.quality.Judge``) is the caller's.

* ``prune_finetune``: Han et al., "Learning both Weights and Connections for Efficient
  Neural Networks", NeurIPS 2015: raise the sparsity in steps, pruning by magnitude and
  retraining the survivors with the pruned weights held at zero after each step.
* ``group_lasso``: Wen et al., "Learning Structured Sparsity in Deep Neural Networks",
  NeurIPS 2016: train with a group-lasso penalty on every filter (a proximal shrink of each
  group's L2 norm), remove the weakest filters (``prune`` with ``structure="channel"``),
  fine-tune.
* ``grow``: start from a narrow copy and widen, round by round, the layer whose weights'
  loss gradients are largest; a new channel enters with zero outgoing weights, so it does
  not change the function when it is inserted (Chen et al., "Net2Net", ICLR 2016; Evci et
  al., "GradMax", ICLR 2022).
* ``quantize_aware``: Jacob et al., "Quantization and Training of Neural Networks for
  Efficient Integer-Arithmetic-Only Inference", CVPR 2018: fine-tune through fake-quantised
  weights with a straight-through gradient, then quantise.

Everything is seeded: the same call gives the same bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import PassError
from ..ir import Graph, Sparsity
from . import trainer
from .prune import PRUNABLE, channel_batchnorms, channel_readers, prune, rebuild
from .quantize import BITS, QUANTIZED_WEIGHTS, quantize
from .result import PassResult

__all__ = ["TrainingData", "training_data", "prune_finetune", "lasso_train", "group_norms", "group_lasso",
           "widen", "grow", "fake_quantizer", "quantize_aware"]

BATCH = 32  # mini-batch of every fine-tuning run
NEW_CHANNEL_SCALE = 0.5  # new filters: this fraction of the He-uniform bound (small, not silent)


# --------------------------------------------------------------------------- data and checks


@dataclass(frozen=True, eq=False)
class TrainingData:
    """A model's training images and labels, and the test split its accuracy is noted on."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def training_data(graph: Graph) -> TrainingData:
    """The training and test data of ``graph``'s model, found by its name among the models
    that ship with their own data (``datasets.MODELS_WITH_DATA``).

    Raises:
        PassError: the model has no bundled data, or ``graph`` has no weights to fine-tune.
    """
    from ..datasets import MODELS_WITH_DATA

    if graph.name not in MODELS_WITH_DATA:
        raise PassError(f"fine-tuning needs the model's training data; {graph.name!r} has none bundled "
                        f"(models with data: {', '.join(sorted(MODELS_WITH_DATA))})")
    if not graph.has_weights:
        raise PassError(f"fine-tuning needs trained weights; {graph.name!r} has none")
    from ..datasets import load_digits_split  # every model with data is a digits model
    split = load_digits_split()
    return TrainingData(split.x_train, split.y_train, split.x_test, split.y_test)


def _whole(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise PassError(f"{name} must be a whole number >= {least}, got {value!r}")
    return int(value)


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise PassError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _fraction(name: str, value: Any, *, low: float, high: float, closed_high: bool) -> float:
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and low <= value and (value <= high if closed_high else value < high))
    if not ok:
        raise PassError(f"{name} must lie in [{low:g}, {high:g}{']' if closed_high else ')'}, got {value!r}")
    return float(value)


def _accuracy(graph: Graph, data: TrainingData) -> float:
    return round(trainer.accuracy(graph, data.x_test, data.y_test), 6)


def _fit(graph: Graph, data: TrainingData, epochs: int, lr: float, seed: int, **kw: Any) -> Graph:
    if epochs == 0:
        return graph
    return trainer.train(graph, data.x_train, data.y_train, epochs=epochs, lr=lr, batch_size=BATCH,
                         seed=seed, **kw)


def _removable(graph: Graph) -> list[str]:
    """The conv2d / linear layers whose filters can go without touching another branch:
    exactly those ``prune(structure="channel")`` narrows."""
    out = []
    for node in graph.nodes():
        if node.op not in PRUNABLE or (node.op == "conv2d" and node.attrs["groups"] != 1):
            continue
        if channel_readers(graph, node.name):
            out.append(node.name)
    return out


# --------------------------------------------------------------------------- iterative pruning


def _masks(graph: Graph) -> dict[str, np.ndarray]:
    """0/1 masks of the non-zero weights of every layer the prune pass annotated."""
    return {node.name: (np.asarray(graph.weights(node.name)["weight"]) != 0).astype(np.float64)
            for node in graph.nodes()
            if isinstance(node.annotations.get("sparsity"), Sparsity) and "weight" in graph.weights(node.name)}


def _schedule(sparsity: float | None, structure: str, n: int | None, m: int | None,
              steps: int) -> list[dict[str, Any]]:
    """The prune calls of each step: sparsity rising linearly to the goal, or for n:m the
    kept count per group falling from m to n."""
    if structure == "unstructured":
        assert sparsity is not None
        return [{"sparsity": sparsity * (i + 1) / steps} for i in range(steps)]
    assert n is not None and m is not None
    kept = [m - round((m - n) * (i + 1) / steps) for i in range(steps)]
    unique = sorted({k for k in kept if k < m}, reverse=True)
    return [{"structure": "n:m", "n": k, "m": m} for k in unique]


def prune_finetune(graph: Graph, sparsity: float | None = None, *, structure: str = "unstructured",
                   n: int | None = None, m: int | None = None, steps: int = 4, epochs_per_step: int = 3,
                   lr: float = 0.02, seed: int = 0) -> PassResult:
    """Prune ``graph``'s conv2d and linear layers to ``sparsity`` (per layer, by magnitude;
    or ``n`` kept in every ``m`` with ``structure="n:m"``, where ``sparsity`` may be left out)
    in ``steps`` equal steps, fine-tuning ``epochs_per_step`` epochs after each with the
    pruned weights held at zero. The pruned weights of the result are exactly zero and each
    layer's ``sparsity`` annotation holds its measured density.

    Raises:
        PassError: no training data; a bad sparsity, structure, n:m, step count or rate.
    """
    data = training_data(graph)
    if structure == "unstructured":
        sparsity = _fraction("prune_finetune: sparsity", sparsity, low=0.0, high=1.0, closed_high=False)
    elif structure == "n:m":
        if n is None or m is None or not 0 < n < m:
            raise PassError(f"prune_finetune: n:m needs 0 < n < m, got {n}:{m}")
        if sparsity is not None and not math.isclose(sparsity, 1 - n / m):
            raise PassError(f"prune_finetune: {n}:{m} prunes {1 - n / m:g} of the weights, not the "
                            f"sparsity {sparsity!r} given")
    else:
        raise PassError(f"prune_finetune: structure must be 'unstructured' or 'n:m', got {structure!r}")
    steps = _whole("prune_finetune: steps", steps, 1)
    epochs_per_step = _whole("prune_finetune: epochs_per_step", epochs_per_step, 0)
    lr = _rate("prune_finetune: lr", lr)
    before = _accuracy(graph, data)
    schedule = _schedule(sparsity, structure, n, m, steps)
    one_shot = prune(graph, **schedule[-1])
    current, result = graph, one_shot
    for i, call in enumerate(schedule):
        result = prune(current, **call)
        current = _fit(result.graph, data, epochs_per_step, lr, seed + i, masks=_masks(result.graph))
    by_layer: dict[str, dict[str, Any]] = {}
    for name, layer in result.by_layer.items():
        ann = current.node(name).annotations.get("sparsity")
        if not isinstance(ann, Sparsity):
            by_layer[name] = dict(layer)  # skipped (an n:m group that does not fit)
            continue
        w = np.asarray(current.weights(name)["weight"])
        density = float(np.count_nonzero(w)) / w.size
        if ann.structure == "unstructured" and density > 0:  # fine-tuning keeps zeros zero; say so exactly
            current.annotate(name, Sparsity(weight_density=min(1.0, density), act_density=ann.act_density))
        by_layer[name] = {"density": round(density, 6)}
    notes = {**result.notes, "steps": len(schedule), "epochs": len(schedule) * epochs_per_step,
             "accuracy": _accuracy(current, data), "accuracy_one_shot": _accuracy(one_shot.graph, data),
             "accuracy_before": before}
    return PassResult(current, notes=notes, by_layer=by_layer)


# --------------------------------------------------------------------------- group lasso


def _group_rows(graph: Graph, name: str) -> np.ndarray:
    """One row per output channel: its filter's weights and its bias."""
    arrays = graph.weights(name)
    w = np.asarray(arrays["weight"], dtype=np.float64)
    rows = w.reshape(w.shape[0], -1)
    if "bias" in arrays:
        rows = np.concatenate([rows, np.asarray(arrays["bias"], dtype=np.float64).reshape(-1, 1)], axis=1)
    return rows


def group_norms(graph: Graph) -> dict[str, np.ndarray]:
    """The L2 norm of every removable filter (its weights and bias), per layer: the groups
    ``group_lasso`` penalises."""
    return {name: np.linalg.norm(_group_rows(graph, name), axis=1) for name in _removable(graph)}


def _shrink(graph: Graph, layers: list[str], threshold: float) -> Graph:
    """The group-lasso proximal step: each group's L2 norm made ``threshold`` smaller, groups
    that fall to zero set to exactly zero (a soft threshold on the norm, Wen et al. 2016)."""
    g = graph.copy()
    for name in layers:
        arrays = dict(g.weights(name))
        norms = np.linalg.norm(_group_rows(g, name), axis=1)
        factor = np.where(norms > threshold, 1.0 - threshold / np.where(norms > 0, norms, 1.0), 0.0)
        for key in ("weight", "bias"):
            if key in arrays:
                a = np.asarray(arrays[key], dtype=np.float64)
                arrays[key] = a * factor.reshape((-1,) + (1,) * (a.ndim - 1))
        g.set_weights(name, arrays)
    return g


def lasso_train(graph: Graph, *, strength: float = 0.3, epochs: int = 10, lr: float = 0.02,
                seed: int = 0) -> Graph:
    """``graph`` trained ``epochs`` epochs under a group-lasso penalty of ``strength`` on
    every removable filter (``group_norms``).

    Proximal SGD, one proximal step per epoch: the trainer runs an epoch of plain SGD, then
    every group's norm shrinks by the penalty those ``lr`` steps would apply
    (``lr * strength * batches``). Momentum restarts each epoch.

    Raises:
        PassError: no training data; a bad strength, epoch count or rate.
    """
    data = training_data(graph)
    strength = _rate("group_lasso: strength", strength)
    epochs = _whole("group_lasso: epochs", epochs, 0)
    lr = _rate("group_lasso: lr", lr)
    layers = _removable(graph)
    threshold = lr * strength * math.ceil(len(data.x_train) / BATCH)
    g = graph
    for epoch in range(epochs):
        g = _shrink(_fit(g, data, 1, lr, seed + epoch), layers, threshold)
    return g


def _spread(norms: dict[str, np.ndarray]) -> tuple[float, float]:
    everything = np.concatenate(list(norms.values())) if norms else np.zeros(1)
    return float(everything.min()), float(everything.max())


def group_lasso(graph: Graph, sparsity: float, *, strength: float = 0.3, epochs: int = 10, lr: float = 0.02,
                finetune_epochs: int = 3, seed: int = 0) -> PassResult:
    """Structured pruning by regularisation: ``lasso_train``, then remove the ``sparsity``
    fraction of filters of every removable layer (``prune`` with ``structure="channel"``,
    which ranks by L1 norm: the groups the penalty zeroed rank last either way), then
    fine-tune ``finetune_epochs`` epochs. Notes: accuracy, filters removed, the smallest and
    largest group norm before and after the penalty.

    Raises:
        PassError: no training data; a bad sparsity, strength, epoch count or rate.
    """
    data = training_data(graph)
    sparsity = _fraction("group_lasso: sparsity", sparsity, low=0.0, high=1.0, closed_high=False)
    finetune_epochs = _whole("group_lasso: finetune_epochs", finetune_epochs, 0)
    before = group_norms(graph)
    penalised = lasso_train(graph, strength=strength, epochs=epochs, lr=lr, seed=seed)
    after = group_norms(penalised)
    cut = prune(penalised, sparsity, structure="channel")
    tuned = _fit(cut.graph, data, finetune_epochs, lr, seed + epochs)
    by_layer: dict[str, dict[str, Any]] = {}
    removed = 0
    for name, norms in after.items():
        layer = dict(cut.by_layer.get(name, {"filters": len(norms), "kept": len(norms)}))
        removed += layer.get("filters", 0) - layer.get("kept", 0)
        layer.update(zeroed=int(np.count_nonzero(norms == 0)),
                     norm_min_before=round(float(before[name].min()), 6), norm_max_before=round(float(before[name].max()), 6),
                     norm_min_after=round(float(norms.min()), 6), norm_max_after=round(float(norms.max()), 6))
        by_layer[name] = layer
    (lo0, hi0), (lo1, hi1) = _spread(before), _spread(after)
    notes = {"structure": "channel", "strength": strength, "epochs": epochs, "filters_removed": removed,
             "groups_zeroed": sum(int(np.count_nonzero(v == 0)) for v in after.values()),
             "params_removed": graph.params() - tuned.params(),
             "norm_min_before": round(lo0, 6), "norm_max_before": round(hi0, 6),
             "norm_min_after": round(lo1, 6), "norm_max_after": round(hi1, 6),
             "accuracy_penalised": _accuracy(penalised, data), "accuracy": _accuracy(tuned, data)}
    return PassResult(tuned, notes=notes, by_layer=by_layer)


# --------------------------------------------------------------------------- growth


def _width(graph: Graph, name: str) -> int:
    return graph.type_of(name).shape[1]


def widen(graph: Graph, layer: str, channels: int, *, seed: int = 0) -> Graph:
    """``graph`` with ``channels`` more output channels on ``layer`` (appended after the
    others): their filters seeded, uniform within ``NEW_CHANNEL_SCALE`` of the He bound,
    their biases zero, batchnorms between at identity, and the readers' weights on them zero,
    so the widened network computes the same function.

    Raises:
        PassError: ``layer`` is not a conv2d / linear layer whose channels can change
            (its output reaches an add, a concat, a grouped conv or a graph output).
    """
    if layer not in _removable(graph):
        raise PassError(f"widen: {layer!r} is not a conv2d or linear layer of {graph.name!r} whose width can "
                        f"change (candidates: {', '.join(_removable(graph)) or 'none'})")
    channels = _whole("widen: channels", channels, 0)
    if channels == 0:
        return graph.copy()
    rng = np.random.default_rng(seed)
    node = graph.node(layer)
    old = _width(graph, layer)
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in graph.weights(layer).items()}
    w = arrays["weight"]
    bound = NEW_CHANNEL_SCALE * math.sqrt(6.0 / math.prod(w.shape[1:]))
    arrays["weight"] = np.concatenate([w, rng.uniform(-bound, bound, (channels,) + w.shape[1:])])
    if "bias" in arrays:
        arrays["bias"] = np.concatenate([arrays["bias"], np.zeros(channels)])
    weights: dict[str, dict[str, np.ndarray]] = {layer: arrays}
    for bn in channel_batchnorms(graph, layer):
        b = {k: np.asarray(v, dtype=np.float64) for k, v in graph.weights(bn).items()}
        weights[bn] = {k: np.concatenate([v, (np.ones if k == "scale" else np.zeros)(channels)]) for k, v in b.items()}
    readers = channel_readers(graph, layer) or []
    for reader, how in readers:
        r = {k: np.asarray(v, dtype=np.float64) for k, v in graph.weights(reader).items()}
        rw = r["weight"]
        if how == "flatten":  # channel-major flatten: the new channels' columns come last
            spatial = graph.type_of(graph.node(reader).inputs[0]).shape[-1] // old
            extra = (rw.shape[0], channels * spatial)
        else:
            extra = (rw.shape[0], channels) + rw.shape[2:]
        r["weight"] = np.concatenate([rw, np.zeros(extra)], axis=1)
        weights[reader] = r
    key = "out_channels" if node.op == "conv2d" else "out_features"
    return rebuild(graph, {layer: {key: old + channels}}, weights)


def _scores(graph: Graph, data: TrainingData) -> dict[str, float]:
    """Per growable layer: the mean |loss gradient| over the weights one of its channels
    adds (its own filters and its readers' weights), on the whole training set. Mean per
    weight is the benefit per added parameter."""
    _, grads = trainer.loss_and_gradients(graph, data.x_train, data.y_train)
    out = {}
    for name in _removable(graph):
        touched = [name] + [reader for reader, _ in channel_readers(graph, name) or []]
        total = sum(float(np.abs(grads[t]["weight"]).sum()) for t in touched)
        size = sum(grads[t]["weight"].size for t in touched)
        out[name] = total / size
    return out


def grow(graph: Graph, *, start: float = 0.25, target: float = 1.0, rounds: int = 3, epochs_per_round: int = 3,
         lr: float = 0.02, seed: int = 0) -> PassResult:
    """Growth from a narrow network: narrow every removable layer to ``start`` of its width
    (``prune`` with ``structure="channel"``: the largest trained filters stay), train
    ``epochs_per_round`` epochs, then in each of ``rounds`` rounds widen the layer with the
    largest mean |gradient| per added weight (``_scores``) by a ``1 / rounds`` share of the
    way to ``target`` of its original width (``widen``) and train again. A layer at its
    target is not widened further, so the result is never wider than ``target`` of the
    original. ``by_layer``: each layer's width, start and original width.

    Raises:
        PassError: no training data; a bad start, target, round count or rate.
    """
    data = training_data(graph)
    start = _fraction("grow: start", start, low=0.0, high=1.0, closed_high=True)
    target = _fraction("grow: target", target, low=start, high=1.0, closed_high=True)
    if start == 0:
        raise PassError("grow: start must be above 0")
    rounds = _whole("grow: rounds", rounds, 0)
    epochs_per_round = _whole("grow: epochs_per_round", epochs_per_round, 0)
    lr = _rate("grow: lr", lr)
    original = {name: _width(graph, name) for name in _removable(graph)}
    g = prune(graph, 1.0 - start, structure="channel").graph if start < 1 else graph.copy()
    g = _fit(g, data, epochs_per_round, lr, seed)
    first = {name: _width(g, name) for name in original}
    cap = {name: max(first[name], math.floor(target * width + 1e-9)) for name, width in original.items()}
    step = {name: math.ceil((cap[name] - first[name]) / rounds) if rounds else 0 for name in original}
    start_accuracy = _accuracy(g, data)
    grew: list[str] = []
    for r in range(rounds):
        open_layers = {name: s for name, s in _scores(g, data).items() if _width(g, name) < cap[name]}
        if not open_layers:
            break
        name = max(open_layers, key=lambda k: (open_layers[k], k))
        g = widen(g, name, min(step[name], cap[name] - _width(g, name)), seed=seed * 1000 + r)
        g = _fit(g, data, epochs_per_round, lr, seed + r + 1)
        grew.append(name)
    by_layer = {name: {"width": _width(g, name), "start": first[name], "original": width}
                for name, width in original.items()}
    notes = {"rounds": len(grew), "grew": ",".join(grew), "params": g.params(), "params_original": graph.params(),
             "accuracy_start": start_accuracy, "accuracy": _accuracy(g, data)}
    return PassResult(g, notes=notes, by_layer=by_layer)


# --------------------------------------------------------------------------- quantisation-aware


def fake_quantizer(graph: Graph, bits: int, *, per_channel: bool = False,
                   method: str = "minmax") -> trainer.WeightTransform:
    """A trainer ``weight_transform`` that puts every conv2d / linear weight on the symmetric
    ``bits`` grid the quantize pass would choose with ``method`` (per output channel if
    ``per_channel``) and leaves other layers' weights alone."""
    from ..kernels.quant import choose_params, dequantize
    from ..kernels.quant import quantize as to_grid

    weighted = {node.name for node in graph.nodes() if node.op in QUANTIZED_WEIGHTS}

    def transform(layer: str, w: np.ndarray) -> np.ndarray:
        if layer not in weighted:
            return w
        params = choose_params(w, bits, symmetric=True, axis=0 if per_channel and w.ndim > 1 else None,
                               method=method)
        return dequantize(to_grid(w, params), params)

    return transform


def quantize_aware(graph: Graph, bits: int, *, act_bits: int | None = None, per_channel: bool = False,
                   method: str = "mse", epochs: int = 3, lr: float = 0.01, seed: int = 0) -> PassResult:
    """Quantisation-aware fine-tuning: ``epochs`` epochs through weights fake-quantised to
    ``bits`` (``fake_quantizer``, straight-through gradient to the float weights), then the
    quantize pass with the same ``method`` on the result, so its grid is the one trained
    through. Only weights are fake-quantised in training; activations at ``act_bits`` are
    left to calibration, as in the quantize pass.

    ``method`` defaults to ``mse`` clipping: with min-max grids the largest latent weight sets
    the step, and at 2 bits nearly every other weight rounds to zero; the straight-through
    updates then grow the weights, the largest with them, and the network collapses (on
    digits_cnn, int2 per tensor: 0.11 after three epochs, 0.31 before them).

    Raises:
        PassError: no training data; a width or method the quantize pass refuses; a bad epoch
            count or rate.
    """
    data = training_data(graph)
    if bits not in BITS:
        raise PassError(f"quantize_aware: bits must be one of {', '.join(map(str, BITS))}, got {bits!r}")
    post = quantize(graph, bits, act_bits=act_bits, per_channel=per_channel, method=method)
    epochs = _whole("quantize_aware: epochs", epochs, 0)
    lr = _rate("quantize_aware: lr", lr)
    transform = fake_quantizer(graph, bits, per_channel=per_channel, method=method)
    tuned = _fit(graph, data, epochs, lr, seed, weight_transform=transform)
    result = quantize(tuned, bits, act_bits=act_bits, per_channel=per_channel, method=method)
    notes = {**result.notes, "epochs": epochs, "accuracy": _accuracy(result.graph, data),
             "accuracy_post_training": _accuracy(post.graph, data), "accuracy_float": _accuracy(graph, data)}
    return PassResult(result.graph, notes=notes, by_layer=result.by_layer)
