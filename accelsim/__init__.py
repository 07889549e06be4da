"""accelsim: predict cycles, latency, energy and memory traffic of neural networks on AI hardware.

The public API is small and loaded on first use, so ``import accelsim`` stays instant:

    >>> import accelsim
    >>> est = accelsim.estimate("resnet50", "tpu_v1", batch=8)
    >>> est.totals.latency_s
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "accelsim.frontend",
    "load_hardware": "accelsim.hw",
    "compile": "accelsim.estimation",
    "estimate": "accelsim.estimation",
    "Estimate": "accelsim.estimation",
    "train": "accelsim.training.step",
    "TrainStep": "accelsim.training.step",
    "train_distributed": "accelsim.distributed.step",
    "DistributedOptions": "accelsim.distributed.step",
    "DistributedStep": "accelsim.distributed.step",
    "AccelsimError": "accelsim.errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
