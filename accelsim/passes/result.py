"""What a compression pass returns: the new graph and the figures it measured on the way.

A pass run from a list only needs the graph (``Pass.run``); ``accelsim compress`` also shows
what each pass measured itself (a fit error, the sparsity it reached, the rank it kept), so a
parameterised pass returns a ``PassResult`` and its ``Pass`` wrapper keeps the graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..ir import Graph

__all__ = ["PassResult", "Note"]

Note = float | int | str


@dataclass(frozen=True)
class PassResult:
    """``graph``: the transformed copy; ``notes``: whole-model figures of the pass
    (``{"fit_error": 0.03}``); ``by_layer``: per-layer figures, keyed by layer name."""

    graph: Graph
    notes: Mapping[str, Note] = field(default_factory=dict)
    by_layer: Mapping[str, Mapping[str, Note]] = field(default_factory=dict)
