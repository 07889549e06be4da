"""Graph lint, variants and counts."""

import numpy as np
import pytest

from accelsim.errors import GraphError
from accelsim.ir import Graph, Source, dtype


def chain() -> Graph:
    g = Graph("chain")
    g.add("x", "input", (), {"shape": [1, 16]})
    g.add("fc1", "linear", ("x",), {"out_features": 32})
    g.add("act", "relu", ("fc1",))
    g.add("fc2", "linear", ("act",), {"out_features": 4})
    return g


def test_topological_iteration_and_totals():
    g = chain()
    g.verify()
    assert [n.name for n in g.nodes()] == ["x", "fc1", "act", "fc2"]
    assert g.macs() == 16 * 32 + 32 * 4
    assert g.params() == (16 * 32 + 32) + (32 * 4 + 4)
    assert g.outputs == ["fc2"]


def test_undefined_input_names_the_layer_and_place():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 4]})
    g.add("y", "relu", ("nope",), source=Source("m.yaml", 7, "layers[1]"))
    with pytest.raises(GraphError) as err:
        g.verify()
    assert str(err.value) == "m.yaml:7: layers[1].in: input 'nope' of layer 'y' is not defined"


def test_cycle_is_reported():
    g = Graph()
    g.add("x", "input", (), {"shape": [1, 4]})
    g.add("a", "add", ("x", "b"))
    g.add("b", "relu", ("a",))
    with pytest.raises(GraphError, match="cycle"):
        g.verify()


def test_duplicate_name():
    g = chain()
    with pytest.raises(GraphError, match="used twice"):
        g.add("act", "relu", ("fc2",))


def test_with_batch_scales_macs_and_keeps_original():
    g = chain()
    g4 = g.with_batch(4)
    assert g4.macs() == 4 * g.macs()
    assert g.type_of("fc2").shape == (1, 4)
    assert g4.type_of("fc2").shape == (4, 4)
    with pytest.raises(GraphError):
        g.with_batch(0)


def test_cast_changes_bytes_not_ids():
    g = Graph()
    g.add("ids", "input", (), {"shape": [1, 8], "dtype": "int64"})
    g.add("emb", "embedding", ("ids",), {"num_embeddings": 100, "dim": 16})
    g.add("fc", "linear", ("emb",), {"out_features": 16})
    h = g.cast(dtype("int8"))
    assert h.type_of("ids").dtype.name == "int64"
    assert h.type_of("fc").dtype.name == "int8"
    assert h.type_of("fc").nbytes == 8 * 16


def test_weight_shapes_checked():
    g = chain()
    g.set_weights("fc1", {"weight": np.zeros((32, 16)), "bias": np.zeros(32)})
    g.verify()
    g.set_weights("fc2", {"weight": np.zeros((5, 32))})
    with pytest.raises(GraphError, match="expected \\[4, 32\\]"):
        g.verify()
