"""``Registry[T]``: the one mechanism behind every extension point (ops, cost models, passes).

A name maps to one object. ``get`` suggests close names for typos. Third-party plug-ins can
add entries through a Python entry-point group; a broken plug-in is reported as a warning and
never stops the tool.
"""

from __future__ import annotations

import difflib
import warnings
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Callable, Generic, Iterator, TypeVar

__all__ = ["Registry", "did_you_mean"]

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """A short hint naming the closest valid choices, or listing them all."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = sorted(choices)
    more = "" if len(shown) <= 12 else f", ... ({len(shown)} in all)"
    return "expected one of " + ", ".join(shown[:12]) + more


@lru_cache(maxsize=1)
def _entry_points() -> Any:
    """Every installed entry point, read once: each scan of the installed packages costs
    milliseconds, and several registries look."""
    from importlib.metadata import entry_points

    return entry_points()


class Registry(Generic[T]):
    """Names -> objects of one kind, with an optional entry-point group for plug-ins."""

    def __init__(self, what: str, entry_point_group: str | None = None) -> None:
        self.what = what
        self._items: dict[str, T] = {}
        self._group = entry_point_group
        self._plugins_loaded = entry_point_group is None

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form: ``@REG.register("conv2d")``."""
        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj
        return decorate

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self._items[name] = obj

    @contextmanager
    def temporarily(self, name: str, obj: T) -> Iterator[T]:
        """Register ``obj`` for the ``with`` block only (tests, notebooks trying a variant)."""
        self.add(name, obj)
        try:
            yield obj
        finally:
            del self._items[name]

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in _entry_points().select(group=self._group):
            if ep.name in self._items:
                continue
            try:
                self._items[ep.name] = ep.load()
            except Exception as exc:  # a broken plug-in must not break the tool
                warnings.warn(f"ignoring {self.what} plug-in {ep.name!r}: {exc}", stacklevel=2)

    def get(self, name: str) -> T:
        """Return the entry; raise KeyError with a 'did you mean' hint otherwise."""
        if name not in self._items:
            self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} {name!r}; {did_you_mean(name, self.names())}") from None

    def __contains__(self, name: object) -> bool:
        if name not in self._items:
            self._load_plugins()
        return name in self._items

    def names(self) -> tuple[str, ...]:
        self._load_plugins()
        return tuple(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
