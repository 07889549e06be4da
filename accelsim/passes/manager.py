"""Passes and the pass manager: run a list of graph transformations, verifying in between.

A pass is a pure function ``Graph -> Graph`` with declared order constraints. The manager
checks every constraint before anything runs, so a wrong list fails at once and names the
pass whose constraint it breaks; while running, any failure of a pass, or a graph it leaves
that does not verify, becomes one ``PassError`` naming the pass and those run before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import AccelsimError, PassError
from ..ir import Graph
from ..registry import Registry, did_you_mean

__all__ = ["Pass", "PASSES", "PassManager", "run_passes"]


@dataclass(frozen=True)
class Pass:
    """A named graph transformation.

    ``run`` must not change the graph it is given (copy it first, ``Graph.copy``).
    ``after``: passes that, when they are in the same list, must run at least once before
    this one; ``before``: passes that, when in the list, must run at least once after it.
    A constraint naming a pass not in the list (or not installed) does not apply.
    """

    name: str
    run: Callable[[Graph], Graph]
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    doc: str = ""


PASSES: Registry[Pass] = Registry("pass", entry_point_group="accelsim.passes")


def _resolve(item: str | Pass) -> Pass:
    if isinstance(item, Pass):
        return item
    if item not in PASSES and item.split(":")[0] in _spec_names():
        return _configured(item)
    if item not in PASSES:
        names = list(dict.fromkeys([*PASSES.names(), *_spec_names()]))
        raise PassError(f"unknown pass {item!r}; {did_you_mean(str(item), names)}")
    found = PASSES.get(item)
    if not isinstance(found, Pass):  # a plug-in registered something else
        raise PassError(f"pass {item!r} is registered as {type(found).__name__}, not a Pass")
    return found


def _spec_names() -> list[str]:
    from .specs import PASS_SPECS
    return list(PASS_SPECS.names())


def _configured(text: str) -> Pass:
    """A pass written with its arguments (``prune:0.8``), under its plain name, so order
    constraints and messages read the same as for an unconfigured pass."""
    from .specs import ORDER, parse_pass
    configured = parse_pass(text)
    return Pass(configured.name, lambda g: configured.run(g).graph, after=ORDER.get(configured.name, ()),
                doc=configured.text)


def _label(p: Pass, names: Sequence[str]) -> str:
    return f"{p.name} (after: {', '.join(names)})" if names else p.name


class PassManager:
    """An ordered list of passes whose order constraints hold.

    Raises:
        PassError: an unknown pass name (with the closest names), or a broken constraint:
            ``prune (after: fuse, quantize): fuse is not run before it``.
    """

    def __init__(self, passes: Sequence[str | Pass]) -> None:
        self.passes: tuple[Pass, ...] = tuple(_resolve(p) for p in passes)
        names = [p.name for p in self.passes]
        for i, p in enumerate(self.passes):
            for other in p.after:
                if other in names and other not in names[:i]:
                    raise PassError(f"{_label(p, p.after)}: {other} is not run before it")
            for other in p.before:
                if other in names and other not in names[i + 1:]:
                    raise PassError(f"{p.name} (before: {', '.join(p.before)}): {other} is not run after it")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.passes]

    def run(self, graph: Graph) -> Graph:
        """Verify ``graph``, then run each pass on the result of the one before and verify
        what it returns. ``graph`` itself is not changed.

        Raises:
            GraphError: ``graph`` does not verify (before any pass runs).
            PassError: a pass failed or returned a graph that does not verify; the message
                names the pass and the passes run before it, the place is kept.
        """
        graph.verify()
        done: list[str] = []
        for p in self.passes:
            try:
                out = p.run(graph)
                if not isinstance(out, Graph):
                    raise PassError(f"returned {type(out).__name__}, not a Graph")
                out.verify()
            except AccelsimError as exc:
                raise PassError(f"{_label(p, done)}: {exc.message}", file=exc.file, line=exc.line,
                                field=exc.field) from exc
            graph = out
            done.append(p.name)
        return graph


def run_passes(graph: Graph, passes: Sequence[str | Pass]) -> Graph:
    """``PassManager(passes).run(graph)``: the transformed copy of ``graph``."""
    return PassManager(passes).run(graph)
