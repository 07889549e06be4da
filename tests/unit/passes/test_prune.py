"""The prune pass: densities and patterns counted on the real weights, and channel pruning
computing what the original network computes with those filters zeroed (the float reference)."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import PassError
from accelsim.frontend import load_model
from accelsim.ir import Graph, Sparsity
from accelsim.passes.prune import prune
from accelsim.passes.reference import run_reference


def small(seed: int = 0) -> Graph:
    """x[2,3,8,8] -> conv1 (8, 3x3) -> relu -> pool -> conv2 (6, 3x3) -> flatten -> fc (5)."""
    rng = np.random.default_rng(seed)
    g = Graph("small")
    g.add("x", "input", (), {"shape": [2, 3, 8, 8]})
    g.add("conv1", "conv2d", ("x",), {"out_channels": 8, "kernel": 3, "padding": 1})
    g.add("relu", "relu", ("conv1",))
    g.add("pool", "maxpool", ("relu",), {"kernel": 2})
    g.add("conv2", "conv2d", ("pool",), {"out_channels": 6, "kernel": 3, "padding": 1})
    g.add("flat", "flatten", ("conv2",))
    g.add("fc", "linear", ("flat",), {"out_features": 5})
    g.set_outputs(["fc"])
    g.set_weights("conv1", {"weight": rng.standard_normal((8, 3, 3, 3)), "bias": rng.standard_normal(8)})
    g.set_weights("conv2", {"weight": rng.standard_normal((6, 8, 3, 3)), "bias": rng.standard_normal(6)})
    g.set_weights("fc", {"weight": rng.standard_normal((5, 96)), "bias": rng.standard_normal(5)})
    g.verify()
    return g


def test_unstructured_keeps_the_largest_and_annotates_what_it_measured() -> None:
    g = small()
    out = prune(g, 0.75).graph
    for name, size in (("conv1", 216), ("conv2", 432), ("fc", 480)):
        w, before = np.asarray(out.weights(name)["weight"]), np.asarray(g.weights(name)["weight"])
        kept = np.count_nonzero(w)
        assert kept == size // 4
        # every kept weight is at least as large as every removed one
        assert np.abs(before[w != 0]).min() >= np.abs(before[w == 0]).max()
        assert out.node(name).annotations["sparsity"].weight_density == pytest.approx(kept / size)
    assert not g.node("fc").annotations  # the input graph is not changed


def test_global_scope_uses_one_threshold() -> None:
    out = prune(small(), 0.5, scope="global").graph
    kept = [np.asarray(out.weights(n)["weight"]) for n in ("conv1", "conv2", "fc")]
    assert sum(np.count_nonzero(w) for w in kept) == (216 + 432 + 480) // 2
    smallest_kept = min(np.abs(w[w != 0]).min() for w in kept)
    original = [np.asarray(small().weights(n)["weight"]) for n in ("conv1", "conv2", "fc")]
    largest_removed = max(np.abs(o[w == 0]).max() for o, w in zip(original, kept))
    assert smallest_kept >= largest_removed


def test_two_of_four_along_the_reduction() -> None:
    out = prune(small(), structure="n:m", n=2, m=4).graph
    for name in ("conv2", "fc"):  # conv1's reduction (27) is not a multiple of 4
        w = np.asarray(out.weights(name)["weight"]).reshape(np.shape(out.weights(name)["weight"])[0], -1)
        assert (np.count_nonzero(w.reshape(w.shape[0], -1, 4), axis=2) == 2).all()
        ann = out.node(name).annotations["sparsity"]
        assert (ann.structure, ann.n, ann.m, ann.weight_density) == ("n:m", 2, 4, 0.5)
    assert "sparsity" not in out.node("conv1").annotations


def test_channel_pruning_computes_what_zeroed_filters_compute() -> None:
    """Removing conv1's weakest filters must give the outputs of the original network with
    those filters (and their biases) set to zero: they then feed only zeros onward (relu and
    max-pool of 0 are 0), which is what the readers' removed input channels multiplied."""
    g = small(1)
    result = prune(g, 0.5, structure="channel", layers=["conv1", "conv2"])
    out = result.graph
    assert out.type_of("conv1").shape[1] == 4 and out.type_of("conv2").shape[1] == 3
    w1 = np.asarray(g.weights("conv1")["weight"])
    dropped = np.argsort(np.abs(w1).reshape(8, -1).sum(axis=1))[:4]
    w2 = np.asarray(g.weights("conv2")["weight"])
    dropped2 = np.argsort(np.abs(w2).reshape(6, -1).sum(axis=1))[:3]
    zeroed = g.copy()
    zeroed.set_weights("conv1", {"weight": np.where(np.isin(np.arange(8), dropped)[:, None, None, None], 0, w1),
                                 "bias": np.where(np.isin(np.arange(8), dropped), 0, g.weights("conv1")["bias"])})
    zeroed.set_weights("conv2", {"weight": np.where(np.isin(np.arange(6), dropped2)[:, None, None, None], 0, w2),
                                 "bias": np.where(np.isin(np.arange(6), dropped2), 0, g.weights("conv2")["bias"])})
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8))
    np.testing.assert_allclose(run_reference(out, {"x": x})["fc"], run_reference(zeroed, {"x": x})["fc"],
                               rtol=1e-12, atol=1e-12)
    assert result.notes["params_removed"] == g.params() - out.params()


def test_channels_that_reach_a_residual_add_are_kept() -> None:
    result = prune(load_model("resnet18"), 0.5, structure="channel")
    skipped = [n for n, v in result.by_layer.items() if "skipped" in v]
    kept = [n for n, v in result.by_layer.items() if "kept" in v]
    assert kept and skipped  # the first conv of each block is pruned, the one before the add is not
    result.graph.verify()
    assert result.graph.macs() < load_model("resnet18").macs()


def test_without_weights_only_annotations_change() -> None:
    out = prune(load_model("alexnet"), 0.9).graph
    densities = {n.name: n.annotations["sparsity"].weight_density for n in out.nodes() if "sparsity" in n.annotations}
    assert len(densities) == 8 and all(d == pytest.approx(0.1) for d in densities.values())


@pytest.mark.parametrize("kwargs, message", [
    (dict(sparsity=1.0), "sparsity must be in"),
    (dict(structure="n:m", n=4, m=4), "n:m needs"),
    (dict(sparsity=0.5, structure="diagonal"), "unknown structure"),
    (dict(sparsity=0.5, layers=["relu"]), "not a conv2d or linear"),
])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(PassError, match=message):
        prune(small(), **kwargs)


def test_sparsity_annotation_survives_with_the_activation_density() -> None:
    g = small()
    g.annotate("fc", Sparsity(act_density=0.4))
    assert prune(g, 0.5).graph.node("fc").annotations["sparsity"].act_density == 0.4
