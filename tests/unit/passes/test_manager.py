"""The pass manager: order constraints checked before anything runs, one-line PassErrors."""

from __future__ import annotations

import pytest

from accelsim.errors import AccelsimError, PassError
from accelsim.ir import Graph, NodeSpec, Source
from accelsim.passes import PASSES, Pass, PassManager, run_passes


def small() -> Graph:
    g = Graph("small")
    g.add("x", "input", (), {"shape": [1, 8]})
    g.add("fc", "linear", ("x",), {"out_features": 4})
    g.add("act", "relu", ("fc",))
    return g


def copying(name: str, log: list[str], **order: tuple[str, ...]) -> Pass:
    def run(graph: Graph) -> Graph:
        log.append(name)
        return graph.copy()
    return Pass(name, run, **order)


def test_unknown_pass_suggests_a_name():
    with pytest.raises(PassError, match="unknown pass 'fsue'; did you mean 'fuse'"):
        PassManager(["fsue"])


def test_after_constraint_is_checked_before_anything_runs():
    log: list[str] = []
    quantize = copying("quantize", log)
    prune = copying("prune", log, after=("fuse", "quantize"))
    with PASSES.temporarily("quantize", quantize), PASSES.temporarily("prune", prune):
        with pytest.raises(PassError) as err:
            PassManager(["quantize", "prune", "fuse"])
        assert str(err.value) == "prune (after: fuse, quantize): fuse is not run before it"
        with pytest.raises(PassError, match="prune \\(after: fuse, quantize\\): quantize is not run before it"):
            PassManager(["fuse", "prune", "quantize"])
        assert log == []
        # a constraint on a pass that is not in the list does not apply; repeats are fine
        assert PassManager(["prune"]).names == ["prune"]
        PassManager(["fuse", "quantize", "prune", "fuse"]).run(small())
        assert log == ["quantize", "prune"]


def test_before_constraint():
    first = copying("first", [], before=("fuse",))
    with pytest.raises(PassError, match=r"^first \(before: fuse\): fuse is not run after it$"):
        PassManager(["fuse", first])
    PassManager([first, "fuse"])


def test_runs_in_order_and_leaves_the_input_alone():
    g = small()
    before = list(g.nodes())
    out = run_passes(g, ["fuse"])
    assert list(g.nodes()) == before
    assert [n.name for n in out.nodes()] == ["x", "fc"]
    assert out.node("fc").annotations["fused"].ops == ("relu",)


def test_a_pass_that_breaks_the_graph_is_named_with_those_before_it():
    def breaker(graph: Graph) -> Graph:
        g = graph.copy()
        g.add("bad", "add", ("fc", "nowhere"), source=Source("m.yaml", 3, "layers[2]"))
        return g
    with pytest.raises(PassError) as err:
        PassManager(["fuse", Pass("breaker", breaker)]).run(small())
    assert isinstance(err.value, AccelsimError)
    assert str(err.value) == ("m.yaml:3: layers[2].in: breaker (after: fuse): input 'nowhere' of layer "
                              "'bad' is not defined")


def test_a_failing_rewrite_inside_a_pass_becomes_a_pass_error():
    def widen(graph: Graph) -> Graph:
        g = graph.copy()
        g.replace("fc", [NodeSpec("act", "linear", ("x",), {"out_features": 4})], "act")
        return g
    with pytest.raises(PassError) as err:
        PassManager([Pass("widen", widen)]).run(small())
    assert err.value.message == "widen: layer name 'act' is used twice"


def test_a_pass_must_return_a_graph():
    with pytest.raises(PassError, match="^none: returned NoneType, not a Graph$"):
        PassManager([Pass("none", lambda g: None)]).run(small())


def test_builtin_passes_are_registered():
    assert "fuse" in PASSES
    assert isinstance(PASSES.get("fuse"), Pass)
