"""The validation-case record and its registry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

from ..errors import SpecError
from ..registry import Registry

__all__ = ["Check", "Skipped", "ValidationCase", "CASES", "run_all"]


@dataclass(frozen=True)
class Check:
    """One predicted figure against its reference.

    ``tolerance`` is relative (0.01 = 1%); 0 means exact. ``kind`` is ``"approx"`` (within
    tolerance), ``"upper_bound"`` (the prediction may not be below the reference, e.g. a
    roofline against a measurement) or ``"lower_bound"`` (the prediction may not exceed the
    reference by more than the tolerance, e.g. a searched cost against another tool's
    search).
    """

    case: str
    quantity: str
    predicted: float
    reference: float
    tolerance: float
    source: str
    kind: str = "approx"

    @property
    def error(self) -> float:
        """Relative error (predicted - reference) / reference."""
        if self.reference == 0:
            return 0.0 if self.predicted == 0 else math.inf
        return (self.predicted - self.reference) / abs(self.reference)

    @property
    def ok(self) -> bool:
        if self.kind == "upper_bound":
            return self.predicted >= self.reference * (1 - 1e-12)
        if self.kind == "lower_bound":
            return self.predicted <= self.reference * (1 + self.tolerance + 1e-12)
        if self.tolerance == 0:
            return self.predicted == self.reference
        return abs(self.error) <= self.tolerance


class Skipped(Exception):
    """A case's reference data is not available here; the message says why."""


@dataclass(frozen=True)
class ValidationCase:
    """A named group of checks with the reference it comes from."""

    name: str
    description: str
    run: Callable[[], list[Check]]


CASES: Registry[ValidationCase] = Registry("validation case")


def run_all(names: list[str] | None = None) -> Iterator[tuple[ValidationCase, list[Check] | Skipped]]:
    """Run the named cases (all by default), yielding each with its checks or why it was skipped."""
    for name in names or list(CASES.names()):
        try:
            case = CASES.get(name)
        except KeyError as exc:
            raise SpecError(exc.args[0], field="case") from None
        try:
            yield case, case.run()
        except Skipped as why:
            yield case, why
