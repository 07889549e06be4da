"""The model zoo and the hardware configs by name: :mod:`accelsim.resources`, re-exported.

A name on the command line is looked up there; a path is used as it is.
"""

from __future__ import annotations

from ..resources import bundled, data_dir, resolve

__all__ = ["data_dir", "bundled", "resolve"]
