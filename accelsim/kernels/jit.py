"""``njit`` for kernels: numba's when it is installed, a pass-through otherwise.

Kernels are written once in the subset of Python that numba compiles; without numba the same
code runs as plain Python (slowly), so tests and small runs work anywhere.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["njit", "HAVE_NUMBA"]

try:
    from numba import njit as _numba_njit
    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is absent
    _numba_njit = None
    HAVE_NUMBA = False


def njit(*args: Any, **kwargs: Any) -> Any:
    """``numba.njit`` (pass ``cache=True``), or the function itself when numba is missing."""
    if _numba_njit is not None:
        return _numba_njit(*args, **kwargs)
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]

    def keep(fn: Callable[..., Any]) -> Callable[..., Any]:
        return fn
    return keep
