"""The share pass: Huffman code lengths by hand, k-means on planted clusters (exact values
and per-cluster means from numpy), zeros kept, determinism, the untouched input, model bytes
and the weightless zoo."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import PassError
from accelsim.frontend import load_model
from accelsim.ir import Graph, Sharing, Sparsity
from accelsim.passes.share import huffman_lengths, kmeans_1d, share
from accelsim.passes.storage import model_storage


def test_huffman_by_hand():
    # CLRS 16.3: a:45 b:13 c:12 d:16 e:9 f:5 -> a=0, c=100, b=101, d=111, f=1100, e=1101
    lengths = huffman_lengths([45, 13, 12, 16, 9, 5])
    assert lengths.tolist() == [1, 3, 3, 3, 4, 4]
    assert (lengths * [45, 13, 12, 16, 9, 5]).sum() / 100 == pytest.approx(2.24)


def test_huffman_edge_cases():
    assert huffman_lengths([0, 7, 0]).tolist() == [0, 1, 0]  # one symbol still costs a bit
    assert huffman_lengths([]).tolist() == []
    assert huffman_lengths([1, 1, 1, 1]).tolist() == [2, 2, 2, 2]
    assert huffman_lengths([1, 1, 2, 4, 8]).tolist() == [4, 4, 3, 2, 1]
    # Kraft equality holds for any full binary code
    f = np.random.default_rng(3).integers(1, 1000, 50)
    assert (2.0 ** -huffman_lengths(f)).sum() == pytest.approx(1.0)


def layer_graph(weight: np.ndarray) -> Graph:
    g = Graph("one")
    g.add("x", "input", (), {"shape": [1, weight.shape[1]]})
    g.add("fc", "linear", ("x",), {"out_features": weight.shape[0], "bias": False})
    g.set_weights("fc", {"weight": weight})
    g.verify()
    return g


PLANTED = np.array([-1.5, -0.5, 0.5, 2.0])


def planted(seed: int = 0, zeros: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.choice(PLANTED, size=(16, 32))
    w[rng.random(w.shape) < zeros] = 0.0
    return w


def test_planted_values_are_recovered_exactly():
    w = planted()
    r = share(layer_graph(w), 2)
    out = r.graph.weights("fc")["weight"]
    assert np.array_equal(out, w)  # four values, four centroids: nothing moves
    assert sorted(np.unique(out[out != 0])) == PLANTED.tolist()
    assert r.graph.node("fc").annotations["sharing"] == Sharing(2, codebook=4)
    assert r.by_layer["fc"]["relative_error"] == 0 and r.by_layer["fc"]["distinct_values"] == 4


def test_centroids_are_the_cluster_means():
    rng = np.random.default_rng(5)
    centres = np.array([-2.0, -0.7, 0.6, 2.5])
    truth = np.repeat(np.arange(4), 50)
    x = centres[truth] + rng.normal(0, 0.05, truth.size)
    c, labels = kmeans_1d(x, 4)
    means = np.array([x[truth == i].mean() for i in range(4)])
    np.testing.assert_allclose(c, means, rtol=0, atol=1e-12)
    assert np.array_equal(labels, truth)


def test_zeros_stay_zero_and_are_not_indices():
    w = planted(seed=1) + np.where(planted(seed=1) != 0, 0.01, 0.0)  # 4 values, pruned half
    w[0, :] = 0.0
    r = share(layer_graph(w), 1)
    out = r.graph.weights("fc")["weight"]
    assert np.array_equal(out == 0, w == 0)
    assert len(np.unique(out[out != 0])) == 2  # 2 centroids for the non-zeros, none for zero


def test_deterministic_and_the_input_is_untouched():
    w = np.random.default_rng(9).standard_normal((8, 16))
    g = layer_graph(w)
    before = g.weights("fc")["weight"].copy()
    a, b = share(g, 3, huffman=True), share(g, 3, huffman=True, seed=1)
    assert np.array_equal(a.graph.weights("fc")["weight"], b.graph.weights("fc")["weight"])
    assert a.by_layer == b.by_layer
    assert np.array_equal(g.weights("fc")["weight"], before) and "sharing" not in g.node("fc").annotations
    assert len(np.unique(a.graph.weights("fc")["weight"])) <= 8
    assert 0 < a.by_layer["fc"]["relative_error"] < 0.2


def test_huffman_coded_bits_of_a_planted_stream():
    # six values with counts 45, 13, 12, 16, 9, 5 get six of 8 centroids (3 bits) exactly,
    # so the index stream is the hand case above: 2.24 bits per index
    values = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [45, 13, 12, 16, 9, 5])
    w = np.random.default_rng(0).permutation(values).reshape(4, 25)
    r = share(layer_graph(w), 3, huffman=True)
    ann = r.graph.node("fc").annotations["sharing"]
    assert np.array_equal(r.graph.weights("fc")["weight"], w)
    assert ann.codebook == 6 and ann.coded_bits == pytest.approx(2.24)


def test_model_bytes_decrease():
    w = planted(seed=2)
    g = layer_graph(w)
    g.annotate("fc", Sparsity(weight_density=0.5))
    r = share(g, 2, huffman=True)
    assert r.notes["bytes_after"] < r.notes["bytes_before"] == model_storage(g).total_bytes
    assert r.notes["bytes_after"] == model_storage(r.graph).total_bytes
    assert r.notes["layers_clustered"] == 1


def test_weightless_zoo_is_annotated_only():
    g = load_model("vgg16")
    r = share(g, 5)
    weighted = [layer.name for layer in g.layers() if layer.params]
    assert all(r.graph.node(n).annotations["sharing"] == Sharing(5) for n in weighted)
    assert r.notes["layers_clustered"] == 0 and "none" in r.notes["clustering"]
    # fp32 -> 5-bit indices with 32-entry codebooks and fp32 biases
    params, biases = g.params(), sum(layer.output.shape[1] for layer in g.layers() if layer.params)
    expected = (params - biases) * 5 / 8 + biases * 4 + len(weighted) * 32 * 4
    assert r.notes["bytes_after"] == pytest.approx(expected)


def test_layer_selection_and_bad_arguments():
    g = load_model("alexnet")
    r = share(g, 4, layers=["fc8"])
    assert [n.name for n in r.graph.nodes() if "sharing" in n.annotations] == ["fc8"]
    with pytest.raises(PassError, match="no layer 'fc9'"):
        share(g, 4, layers=["fc9"])
    with pytest.raises(PassError, match="no weight array"):
        share(g, 4, layers=["pool1"])
    for bits in (0, 17, 2.5, True):
        with pytest.raises(PassError, match="bits"):
            share(g, bits)
    with pytest.raises(PassError, match="iterations"):
        share(g, 4, iterations=0)
