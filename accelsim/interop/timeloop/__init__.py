"""Timeloop's formats: problem (a conv layer), architecture (v0.3/v0.4) with Accelergy ERTs."""

from __future__ import annotations

from pathlib import Path

from ...hw.npu import NpuSpec
from ...yamlread import read_yaml

__all__ = ["load_architecture"]


def load_architecture(path: str | Path, *, ert: str | Path | None = None) -> NpuSpec:
    """Read a Timeloop architecture file as an ``npu`` spec (energies from ``ert`` if given)."""
    from .arch import load_timeloop_arch

    return load_timeloop_arch(Path(path), read_yaml(Path(path)), ert=ert)
