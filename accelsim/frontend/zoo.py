"""Bundled files: the model zoo (``models/``) and hardware configs (``hw_configs/``).

A name on the command line is looked up here; a path is used as it is.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from ..registry import did_you_mean

__all__ = ["data_dir", "bundled", "resolve"]

_ROOT = Path(__file__).resolve().parents[2]


def data_dir(kind: str) -> Path:
    """``models`` or ``hw_configs``, next to the package (the repository layout)."""
    return _ROOT / kind


def bundled(kind: str) -> dict[str, Path]:
    """Name -> path of every bundled YAML file of ``kind``."""
    folder = data_dir(kind)
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve(ref: str | Path, kind: str, suffixes: tuple[str, ...]) -> Path:
    """A path to an existing file, or a bundled name.

    Raises:
        SpecError: neither a file nor a bundled name (with the closest names).
    """
    path = Path(ref)
    if path.suffix.lower() in suffixes or path.exists() or "/" in str(ref):
        if not path.exists():
            raise SpecError("file not found", file=str(ref))
        return path
    names = bundled(kind)
    if str(ref) in names:
        return names[str(ref)]
    what = "model" if kind == "models" else "hardware"
    raise SpecError(f"no such file, and no bundled {what} of that name; "
                    f"{did_you_mean(str(ref), list(names) or ['(none)'])}", file=str(ref))
