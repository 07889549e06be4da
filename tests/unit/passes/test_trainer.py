"""The numpy trainer: its gradients against central finite differences of the loss computed
by the reference interpreter (an independent forward), pruning masks, determinism, the
straight-through weight transform, and the bundled digit classifiers' test accuracy."""

from __future__ import annotations

import re

import numpy as np
import pytest

from accelsim.datasets import load_digits_split
from accelsim.errors import PassError
from accelsim.frontend import load_model
from accelsim.ir import Graph
from accelsim.passes.fuse import fuse
from accelsim.passes.reference import run_reference
from accelsim.passes.trainer import accuracy, loss_and_gradients, predict, train
from accelsim.resources import data_dir


def conv_pool_net(seed: int) -> Graph:
    """conv 2->3 3x3 pad 1, relu, overlapping maxpool 3/2, conv 3->4 3x3 stride 2 pad 1,
    relu, flatten, linear 16->5; seeded weights."""
    g = Graph("tiny")
    g.add("x", "input", (), {"shape": [1, 2, 7, 7]})
    g.add("c1", "conv2d", ("x",), {"out_channels": 3, "kernel": 3, "padding": 1})
    g.add("r1", "relu", ("c1",))
    g.add("p1", "maxpool", ("r1",), {"kernel": 3, "stride": 2})
    g.add("c2", "conv2d", ("p1",), {"out_channels": 4, "kernel": 3, "stride": 2, "padding": 1})
    g.add("r2", "relu", ("c2",))
    g.add("f", "flatten", ("r2",))
    g.add("fc", "linear", ("f",), {"out_features": 5})
    return _seeded(g, seed)


def residual_net(seed: int) -> Graph:
    """conv 3x3 without bias, batchnorm, relu, added to a 1x1 conv of the input, maxpool 2
    with ceil_mode (5x5 -> 3x3), flatten, linear 36->3."""
    g = Graph("residual")
    g.add("x", "input", (), {"shape": [1, 3, 5, 5]})
    g.add("c", "conv2d", ("x",), {"out_channels": 4, "kernel": 3, "padding": 1, "bias": False})
    g.add("bn", "batchnorm", ("c",))
    g.add("r", "relu", ("bn",))
    g.add("skip", "conv2d", ("x",), {"out_channels": 4, "kernel": 1})
    g.add("sum", "add", ("r", "skip"))
    g.add("p", "maxpool", ("sum",), {"kernel": 2, "ceil_mode": True})
    g.add("f", "flatten", ("p",))
    g.add("fc", "linear", ("f",), {"out_features": 3})
    return _seeded(g, seed)


def _seeded(g: Graph, seed: int) -> Graph:
    rng = np.random.default_rng(seed)
    for layer in g.layers():
        shapes = layer.node.opdef.weight_shapes(list(layer.inputs), layer.node.attrs)
        if shapes:
            g.set_weights(layer.name, {k: rng.standard_normal(s) * 0.5 for k, s in shapes.items()})
    g.verify()
    return g


def reference_loss(g: Graph, x: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy from the reference interpreter's logits, per sample."""
    logits = run_reference(g.with_batch(len(x)), {g.inputs[0]: x})[g.outputs[0]]
    total = 0.0
    for row, label in zip(logits, y):
        m = row.max()
        total += m + np.log(np.sum(np.exp(row - m))) - row[label]
    return total / len(y)


def data_for(g: Graph, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = g.type_of(g.inputs[0]).shape
    classes = g.type_of(g.outputs[0]).shape[1]
    return rng.standard_normal((n,) + tuple(shape[1:])), rng.integers(0, classes, n)


@pytest.mark.parametrize("make", [conv_pool_net, residual_net, lambda s: fuse(residual_net(s))],
                         ids=["conv-pool", "residual", "residual-fused"])
def test_gradients_match_central_differences_of_the_reference_loss(make):
    g = make(3)
    x, y = data_for(g, 4, seed=4)
    loss, grads = loss_and_gradients(g, x, y)
    assert loss == pytest.approx(reference_loss(g, x, y), rel=1e-12)
    eps = 1e-6
    for layer, arrays in grads.items():
        assert set(arrays) == set(g.weights(layer))
        for key, grad in arrays.items():
            w = g.weights(layer)[key]
            numeric = np.zeros_like(w)
            for i in np.ndindex(w.shape):
                values = []
                for step in (eps, -eps):
                    moved = w.copy()
                    moved[i] += step
                    h = g.copy()
                    h.set_weights(layer, {**g.weights(layer), key: moved})
                    values.append(reference_loss(h, x, y))
                numeric[i] = (values[0] - values[1]) / (2 * eps)
            np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8, err_msg=f"{layer}/{key}")


def test_predict_matches_the_reference_interpreter():
    g = residual_net(5)
    x, _ = data_for(g, 6, seed=6)
    want = run_reference(g.with_batch(6), {"x": x})["fc"]
    np.testing.assert_allclose(predict(g, x), want, rtol=1e-12, atol=1e-12)


def fake_quant(layer: str, w: np.ndarray) -> np.ndarray:
    return np.round(w * 4) / 4


def test_weight_transform_is_used_forward_and_passed_straight_through():
    g = conv_pool_net(7)
    x, y = data_for(g, 3, seed=8)
    quantised = g.copy()
    for layer in ("c1", "c2", "fc"):
        quantised.set_weights(layer, {**g.weights(layer), "weight": fake_quant(layer, g.weights(layer)["weight"])})
    want = run_reference(quantised.with_batch(3), {"x": x})["fc"]
    np.testing.assert_allclose(predict(g, x, weight_transform=fake_quant), want, rtol=1e-12, atol=1e-12)
    # straight through: the latent weight's gradient is the quantised weight's
    loss, grads = loss_and_gradients(g, x, y, weight_transform=fake_quant)
    want_loss, want_grads = loss_and_gradients(quantised, x, y)
    assert loss == want_loss
    for layer, arrays in want_grads.items():
        for key, grad in arrays.items():
            np.testing.assert_array_equal(grads[layer][key], grad)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


def small_cnn() -> Graph:
    g = Graph("cnn")
    g.add("image", "input", (), {"shape": [1, 1, 8, 8]})
    g.add("conv", "conv2d", ("image",), {"out_channels": 4, "kernel": 3, "padding": 1})
    g.add("relu", "relu", ("conv",))
    g.add("pool", "maxpool", ("relu",), {"kernel": 2})
    g.add("flat", "flatten", ("pool",))
    g.add("fc", "linear", ("flat",), {"out_features": 10})
    return g


def test_masks_keep_pruned_weights_at_zero(digits):
    g = small_cnn()
    rng = np.random.default_rng(9)
    masks = {"conv": rng.integers(0, 2, (4, 1, 3, 3)), "fc": rng.integers(0, 2, (10, 64))}
    start = train(g, digits.x_train[:64], digits.y_train[:64], epochs=0, lr=0.1, init_seed=1)
    out = train(g, digits.x_train[:512], digits.y_train[:512], epochs=3, lr=0.1, init_seed=1, masks=masks)
    for layer, mask in masks.items():
        w0, w = start.weights(layer)["weight"], out.weights(layer)["weight"]
        assert np.all(w0 != 0)  # He-uniform draws: the masked ones were non-zero before
        assert np.all(w[mask == 0] == 0.0)
        assert np.all(w[mask == 1] != w0[mask == 1])  # the kept ones trained
    assert accuracy(out, digits.x_test, digits.y_test) > 0.6  # and they learn (chance: 0.1)


def test_same_seeds_same_bits_and_another_seed_another_result(digits):
    g = small_cnn()
    x, y = digits.x_train[:200], digits.y_train[:200]
    runs = [train(g, x, y, epochs=2, lr=0.05, batch_size=16, seed=s, init_seed=2) for s in (0, 0, 1)]
    for layer in ("conv", "fc"):
        for key in ("weight", "bias"):
            a, b, c = (r.weights(layer)[key] for r in runs)
            assert a.dtype == np.float64
            np.testing.assert_array_equal(a, b)
            assert not np.array_equal(a, c)
    assert not g.has_weights  # the input graph is left as it was


def test_training_from_scratch_learns_the_digits(digits):
    g = load_model("digits_mlp")
    bare = g.copy()
    for layer in ("fc1", "fc2"):
        bare.set_weights(layer, {})
    out = train(bare, digits.x_train, digits.y_train, epochs=10, lr=0.05, init_seed=0)
    assert accuracy(out, digits.x_test, digits.y_test) >= 0.9


# --------------------------------------------------------------------------- bundled weights

TARGET = {"digits_mlp": 0.95, "digits_cnn": 0.97}


@pytest.mark.parametrize("name", sorted(TARGET))
def test_bundled_weights_reach_the_accuracy_their_yaml_states(name, digits):
    text = (data_dir("models") / f"{name}.yaml").read_text(encoding="utf-8")
    stated = re.search(r"test accuracy (0\.\d+) \((\d+)/360\)", text)
    assert stated and f"weights: {name}.npz" in text
    g = load_model(name)
    n = len(digits.y_test)
    logits = run_reference(g.with_batch(n), {"image": digits.x_test})[g.outputs[0]]
    correct = int((logits.argmax(axis=1) == digits.y_test).sum())
    assert correct == int(stated.group(2))
    assert round(correct / n, 3) == float(stated.group(1)) >= TARGET[name]
    np.testing.assert_allclose(predict(g, digits.x_test[:8]), logits[:8], rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- errors


def test_errors_name_the_problem():
    g = conv_pool_net(0)
    x, y = data_for(g, 2, seed=0)
    with pytest.raises(PassError, match="shape"):
        train(g, x[:, :1], y, epochs=1, lr=0.1)
    with pytest.raises(PassError, match="labels"):
        train(g, x, y + 5, epochs=1, lr=0.1)
    with pytest.raises(PassError, match="mask of 'fc'"):
        train(g, x, y, epochs=1, lr=0.1, masks={"fc": np.ones((5, 15))})
    with pytest.raises(PassError, match="not a layer with weights"):
        train(g, x, y, epochs=1, lr=0.1, masks={"r1": np.ones(3)})
    with pytest.raises(PassError, match="lr"):
        train(g, x, y, epochs=1, lr=0.0)
    bare = small_cnn()
    with pytest.raises(PassError, match="init_seed"):
        predict(bare, np.zeros((1, 1, 8, 8)))
    soft = small_cnn()
    soft.add("prob", "softmax", ("fc",))
    with pytest.raises(PassError, match="softmax"):
        train(soft, np.zeros((1, 1, 8, 8)), [0], epochs=1, lr=0.1, init_seed=0)
