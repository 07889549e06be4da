"""An on-disk store of results that are slow to compute and cheap to keep (mapping searches).

Entries are JSON files, one per key, under ``cache_dir()/<namespace>/<version>-s<schema>/``:
the key (any value ``canonical`` accepts) is written out as canonical JSON and hashed for
the file name, and the file holds the key itself beside the value, so that an entry is used
only for exactly its own key.

* Invalidation: accelsim's version and the caller's schema number name the folder, so a new
  release or a change of what a result means (the caller bumps its schema) never reads old
  entries. Old folders are inert; deleting the cache folder is always safe.
* Concurrency: a write goes to a temporary file renamed into place (``fileio.write_atomic``),
  so readers in other processes see a whole entry or none; two writers of one key write
  the same value.
* Damage: an entry that cannot be read or parsed, or that holds another key, is a miss and
  is overwritten by the next ``put``. A cache folder that cannot be written is skipped:
  the cache only ever saves time.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
from pathlib import Path, PurePath
from typing import Any

from .fileio import write_atomic

__all__ = ["ResultCache", "cache_dir", "canonical", "canonical_text"]


def cache_dir() -> Path:
    """Where accelsim keeps its caches: ``$ACCELSIM_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/accelsim``, else ``~/.cache/accelsim``."""
    explicit = os.environ.get("ACCELSIM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "accelsim"


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data, equal for equal values: a dataclass becomes its type name
    and fields, tuples and lists become lists, mapping keys strings, paths strings.

    Raises:
        TypeError: a value of another type (the caller's key is not data).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return canonical(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"__type__": type(value).__qualname__}
        for f in dataclasses.fields(value):
            out[f.name] = canonical(getattr(value, f.name))
        return out
    if isinstance(value, (tuple, list)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot use a {type(value).__name__} in a cache key")


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def canonical_text(value: Any) -> str:
    """``canonical(value)`` as compact JSON with sorted keys: one text per value.

    Raises:
        TypeError: as ``canonical``.
    """
    return _dumps(canonical(value))


def _version() -> str:
    import accelsim

    return accelsim.__version__


class ResultCache:
    """JSON values on disk by key (see the module docstring). ``root`` defaults to
    ``cache_dir()`` and ``version`` to ``accelsim.__version__``, both read when built."""

    def __init__(self, namespace: str, *, schema: int, root: Path | None = None,
                 version: str | None = None) -> None:
        self.folder = (root if root is not None else cache_dir()) / namespace / f"{version or _version()}-s{schema}"

    def _path(self, text: str) -> Path:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return self.folder / digest[:2] / f"{digest[2:]}.json"

    def get(self, key: Any) -> Any | None:
        """The value stored for ``key``, or None (absent, unreadable or another key's)."""
        text = canonical_text(key)
        try:
            entry = json.loads(self._path(text).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or "value" not in entry:
            return None
        if _dumps(entry.get("key")) != text:
            return None
        return entry["value"]

    def put(self, key: Any, value: Any) -> None:
        """Store ``value`` (JSON data) for ``key``; an unwritable folder is skipped."""
        text = canonical_text(key)
        data = '{"key":' + text + ',"value":' + json.dumps(value, separators=(",", ":")) + "}"
        try:
            write_atomic(self._path(text), data)
        except OSError:
            pass
