"""Mapping: searching how each layer is tiled, ordered and unrolled onto a machine.

``MAPPERS`` holds one search function per hardware kind; ``estimate`` hands it to that
kind's cost model (hardware code sits below this layer and never imports it).
"""

from __future__ import annotations

from typing import Any, Callable

from ..registry import Registry

__all__ = ["MAPPERS"]

MAPPERS: Registry[Callable[..., Any]] = Registry("mapper", entry_point_group="accelsim.mappers")
