"""The ``systolic`` hardware family: an R x C MAC array (OS, WS or IS dataflow) with
double-buffered SRAMs per operand, DRAM interfaces and a vector unit.

One model serves every dataflow (:mod:`.dataflow` holds them as data). In ``scalesim`` mode
it reproduces SCALE-Sim 3.0.0's reports exactly, quirks included; the ``default`` mode fixes
the quirks (docs/systolic.md). The cost model (and numba with it) loads on first use, so
registering the family costs nothing.
"""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from ..cost import FAMILIES, CostContext, CostModel, Family, Flag
from .spec import SystolicSpec, build_spec, load_systolic

__all__ = ["SystolicSpec", "SystolicModel", "SystolicOptions", "load_systolic", "build_spec"]

COMPAT_MODES = ("scalesim",)


@dataclass(frozen=True)
class SystolicOptions:
    """``compat``: ``scalesim`` reproduces SCALE-Sim 3.0.0's figures, quirks included (None:
    the spec's ``mode``, which a SCALE-Sim ``.cfg`` sets to ``scalesim``)."""

    compat: str | None = None


def _cost_model(spec: Any, options: SystolicOptions, context: CostContext) -> CostModel:
    from .model import SystolicModel
    return SystolicModel(spec, options, context)


def __getattr__(name: str) -> Any:
    if name == "SystolicModel":
        from .model import SystolicModel
        return SystolicModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


FAMILIES.add("systolic", Family(
    kind="systolic", load=load_systolic, cost_model=_cost_model, options=SystolicOptions,
    flags=(Flag("compat", "reproduce another tool's figures, quirks included (scalesim: SCALE-Sim 3.0.0; "
                "the default for a .cfg)", choices=COMPAT_MODES),),
    doc="R x C systolic array (os/ws/is) with double-buffered SRAMs; SCALE-Sim compatible.",
))
