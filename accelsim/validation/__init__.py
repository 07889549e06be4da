"""Validation cases: accelsim's predictions next to independent reference figures.

Each case yields ``Check`` rows (quantity, predicted, reference, tolerance, source). The
``accelsim validate`` command prints them all; the test suite holds each within its
tolerance. Cases whose reference data is not present (e.g. files that live outside a
user's clone) report themselves as skipped with the reason.
"""

from __future__ import annotations

from .case import CASES, Check, Skipped, ValidationCase, run_all
from . import eyeriss as _eyeriss, scalesim as _scalesim, timeloop as _timeloop, tpu_v1 as _tpu_v1  # noqa: F401  (register their cases)

__all__ = ["CASES", "Check", "Skipped", "ValidationCase", "run_all"]
