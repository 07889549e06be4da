"""Mapping: searching how each layer is tiled, ordered and unrolled onto a machine.

``MAPPERS`` holds one search per hardware kind; ``estimate`` hands it to that kind's cost
model (hardware code sits below this layer and never imports it). ``npu``: the search of
``npu_search`` (mapspace ``npu_space``, candidates ``npu_candidates``, Timeloop constraints
``npu_constraints``).
"""

from __future__ import annotations

from typing import Any, Callable

from ..registry import Registry
from .npu_search import search as _npu_search

__all__ = ["MAPPERS"]

MAPPERS: Registry[Callable[..., Any]] = Registry("mapper", entry_point_group="accelsim.mappers")
MAPPERS.add("npu", _npu_search)
