"""Compression that trains, on the bundled digits models: iterative pruning recovers what
one-shot pruning loses, the group-lasso penalty zeroes whole filters so that removing them
is free, growth from a narrow start beats the start, quantisation-aware fine-tuning beats
post-training quantisation on the integer executor, and models without data are refused.

Accuracies are measured by the test itself on the digits test split (``trainer.accuracy``
in float, ``compression.quality.Judge`` on the integer kernels), never read from the notes."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.compression.quality import Judge
from accelsim.datasets import load_digits_split
from accelsim.errors import PassError
from accelsim.frontend import load_model
from accelsim.ir import Graph, Quant, Sparsity
from accelsim.passes import finetune
from accelsim.passes.prune import prune
from accelsim.passes.quantize import quantize
from accelsim.passes.trainer import accuracy, predict


@pytest.fixture(scope="module")
def split():
    return load_digits_split()


@pytest.fixture(scope="module")
def mlp():
    return load_model("digits_mlp")


@pytest.fixture(scope="module")
def cnn():
    return load_model("digits_cnn")


def measured(graph, split) -> float:
    """Float accuracy on the digits test split."""
    return accuracy(graph, split.x_test, split.y_test)


# --------------------------------------------------------------------------- data


def test_training_data_is_the_digits_train_split(mlp, split):
    data = finetune.training_data(mlp)
    assert data.x_train.shape == (1437, 1, 8, 8) and data.x_test.shape == (360, 1, 8, 8)
    np.testing.assert_array_equal(data.y_train, split.y_train)


@pytest.mark.parametrize("call", [
    lambda g: finetune.prune_finetune(g, 0.5),
    lambda g: finetune.group_lasso(g, 0.5),
    lambda g: finetune.grow(g),
    lambda g: finetune.quantize_aware(g, 4),
])
def test_a_model_without_training_data_is_refused(call):
    with pytest.raises(PassError, match="fine-tuning needs the model's training data"):
        call(load_model("resnet18"))


def test_a_digits_graph_without_weights_is_refused():
    bare = Graph("digits_mlp")  # the zoo model's layers, no weights
    bare.add("image", "input", (), {"shape": [1, 1, 8, 8]})
    bare.add("flatten", "flatten", ("image",))
    bare.add("fc1", "linear", ("flatten",), {"out_features": 32})
    bare.add("relu1", "relu", ("fc1",))
    bare.add("fc2", "linear", ("relu1",), {"out_features": 10})
    bare.verify()
    with pytest.raises(PassError, match="trained weights"):
        finetune.prune_finetune(bare, 0.5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sparsity=1.0), "sparsity"),
    (dict(sparsity=0.5, steps=0), "steps"),
    (dict(sparsity=0.5, lr=0), "lr"),
    (dict(sparsity=0.5, structure="block"), "structure"),
    (dict(structure="n:m", n=2, m=2), "0 < n < m"),
    (dict(sparsity=0.3, structure="n:m", n=2, m=4), "2:4 prunes 0.5"),
])
def test_prune_finetune_rejects_bad_arguments(mlp, kwargs, match):
    with pytest.raises(PassError, match=match):
        finetune.prune_finetune(mlp, **kwargs)


# --------------------------------------------------------------------------- iterative pruning


def test_prune_finetune_recovers_what_one_shot_pruning_loses(mlp, split):
    tuned = finetune.prune_finetune(mlp, 0.8, seed=0).graph
    one_shot = prune(mlp, 0.8).graph
    fine, once = measured(tuned, split), measured(one_shot, split)
    assert fine >= once and fine >= 0.9, (fine, once)
    for name in ("fc1", "fc2"):
        w = np.asarray(tuned.weights(name)["weight"])
        zeros = int(np.sum(w == 0))
        assert zeros == round(0.8 * w.size)  # 64*32 -> 1638 zeros, 32*10 -> 256
        ann = tuned.node(name).annotations["sparsity"]
        assert isinstance(ann, Sparsity) and ann.weight_density == pytest.approx((w.size - zeros) / w.size)
    tuned.verify()


def test_prune_finetune_is_seeded(mlp):
    a = finetune.prune_finetune(mlp, 0.5, steps=2, epochs_per_step=1, seed=3).graph
    b = finetune.prune_finetune(mlp, 0.5, steps=2, epochs_per_step=1, seed=3).graph
    np.testing.assert_array_equal(a.weights("fc1")["weight"], b.weights("fc1")["weight"])


def test_prune_finetune_n_m_keeps_the_pattern(mlp, split):
    tuned = finetune.prune_finetune(mlp, structure="n:m", n=2, m=4).graph
    for name in ("fc1", "fc2"):
        w = np.asarray(tuned.weights(name)["weight"])
        per_group = np.count_nonzero(w.reshape(w.shape[0], -1, 4), axis=2)
        assert per_group.max() <= 2 and np.mean(per_group == 2) > 0.99
        ann = tuned.node(name).annotations["sparsity"]
        assert (ann.structure, ann.n, ann.m, ann.weight_density) == ("n:m", 2, 4, 0.5)
    assert measured(tuned, split) >= measured(prune(mlp, structure="n:m", n=2, m=4).graph, split)


# --------------------------------------------------------------------------- group lasso


def _filter_norms(graph, name):
    w = np.asarray(graph.weights(name)["weight"], dtype=np.float64)
    b = np.asarray(graph.weights(name)["bias"], dtype=np.float64)
    return np.sqrt((w.reshape(len(w), -1) ** 2).sum(axis=1) + b ** 2)


def test_the_penalty_drives_whole_filters_to_zero(cnn):
    penalised = finetune.lasso_train(cnn, strength=0.3, epochs=10)
    for name in ("block1.conv", "block2.conv"):
        before, after = _filter_norms(cnn, name), _filter_norms(penalised, name)
        assert before.min() > 0.5  # the trained filters are all alive
        assert after.min() == 0.0 and np.count_nonzero(after == 0) >= 2
        dead = after == 0
        assert np.all(np.asarray(penalised.weights(name)["weight"])[dead] == 0)
    # the output layer's rows are not groups (its classes cannot go): they stay alive
    assert _filter_norms(penalised, "fc").min() > 0.1


def test_removing_the_zeroed_filters_changes_nothing(mlp, split):
    penalised = finetune.lasso_train(mlp, strength=0.3, epochs=10)
    dead = int(np.count_nonzero(_filter_norms(penalised, "fc1") == 0))
    assert dead >= 8
    cut = prune(penalised, dead / 32, structure="channel").graph  # removes exactly `dead` filters
    assert cut.type_of("fc1").shape[1] == 32 - dead
    np.testing.assert_allclose(predict(cut, split.x_test), predict(penalised, split.x_test), atol=1e-12)


def test_group_lasso_removes_whole_filters(cnn, split):
    result = finetune.group_lasso(cnn, 0.5)
    g = result.graph
    g.verify()
    assert g.type_of("block1.conv").shape[1] == 4 and g.type_of("block2.conv").shape[1] == 8
    assert np.asarray(g.weights("block2.conv")["weight"]).shape == (8, 4, 3, 3)
    assert np.asarray(g.weights("fc")["weight"]).shape == (10, 8 * 2 * 2)
    assert result.notes["filters_removed"] == 4 + 8
    assert result.notes["norm_min_after"] == 0.0 < result.notes["norm_min_before"]
    assert measured(g, split) > 0.9


# --------------------------------------------------------------------------- growth


def test_widen_keeps_the_function(cnn, split):
    for layer in ("block1.conv", "block2.conv"):
        wide = finetune.widen(cnn, layer, 3, seed=1)
        wide.verify()
        assert wide.type_of(layer).shape[1] == cnn.type_of(layer).shape[1] + 3
        assert np.any(np.asarray(wide.weights(layer)["weight"])[-3:] != 0)  # new filters are not dead
        np.testing.assert_allclose(predict(wide, split.x_test[:50]), predict(cnn, split.x_test[:50]), atol=1e-12)


def test_widen_refuses_the_output_layer(cnn):
    with pytest.raises(PassError, match="width can change"):
        finetune.widen(cnn, "fc", 2)


def test_grow_beats_the_narrow_start_and_stays_within_the_original(cnn, split):
    result = finetune.grow(cnn, start=0.25, rounds=3, epochs_per_round=3)
    g = result.graph
    g.verify()
    narrow = prune(cnn, 0.75, structure="channel").graph  # 2 and 4 filters, as the start
    assert (narrow.type_of("block1.conv").shape[1], narrow.type_of("block2.conv").shape[1]) == (2, 4)
    final = measured(g, split)
    assert final > measured(narrow, split)
    assert final > result.notes["accuracy_start"]  # and above the trained narrow start
    for layer, width in (("block1.conv", 8), ("block2.conv", 16)):
        assert 2 <= g.type_of(layer).shape[1] <= width
        assert result.by_layer[layer]["width"] == g.type_of(layer).shape[1]
    assert g.params() <= cnn.params()
    assert g.type_of("block1.conv").shape[1] + g.type_of("block2.conv").shape[1] > 6  # it grew


# --------------------------------------------------------------------------- quantisation-aware


def test_quantize_aware_beats_post_training_quantisation_at_int2(cnn, split):
    judge = Judge(cnn)
    qat = finetune.quantize_aware(cnn, 2).graph
    for node in qat.nodes():
        if node.op != "input":
            assert isinstance(node.annotations.get("quant"), Quant)
    for name in ("block1.conv", "block2.conv", "fc"):  # on the 2-bit grid: -s, 0, s
        w = np.asarray(qat.weights(name)["weight"])
        assert len(np.unique(np.abs(w))) <= 2
    got = judge(qat).accuracy  # on the integer kernels
    for method in ("minmax", "mse"):  # post-training on its dequantised weights, in float
        ptq = measured(quantize(cnn, 2, method=method).graph, split)
        assert got > ptq + 0.2, (got, ptq, method)
    assert got > 0.9


def test_quantize_aware_at_int4_is_no_worse_than_post_training(mlp):
    judge = Judge(mlp)
    got = judge(finetune.quantize_aware(mlp, 4, per_channel=True).graph).accuracy
    assert got >= judge(quantize(mlp, 4, per_channel=True).graph).accuracy


def test_quantize_aware_rejects_a_bad_width(mlp):
    with pytest.raises(PassError, match="bits"):
        finetune.quantize_aware(mlp, 3)
