"""Bundled files: the model zoo and the hardware configs, found through ``importlib.resources``.

The repository keeps them at its top level, ``models/`` and ``hw_configs/``. A built wheel
carries the same files as package data, ``accelsim/_models/`` and ``accelsim/_hw_configs/``
(``pyproject.toml`` maps the two folders there). A lookup takes the installed folder when the
package has one and the repository's otherwise, so an installed wheel, an editable install
and a plain checkout all find the same files.

A name on the command line is looked up here; a path is used as it is.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import SpecError
from .registry import did_you_mean

__all__ = ["BUNDLED_KINDS", "data_dir", "bundled", "resolve"]

# kind -> the package-data folder inside the installed package; the kind's name is the
# repository's folder.
BUNDLED_KINDS = {"models": "_models", "hw_configs": "_hw_configs"}


def data_dir(kind: str) -> Path:
    """The folder of the bundled files of ``kind``: ``models`` or ``hw_configs``.

    Raises:
        ValueError: any other kind.
    """
    if kind not in BUNDLED_KINDS:
        raise ValueError(f"unknown kind of bundled file {kind!r}; {did_you_mean(kind, list(BUNDLED_KINDS))}")
    # pip unpacks wheels, so the package is a folder on disk (a pathlib.Path here)
    package = Path(str(files(__package__)))
    installed = package / BUNDLED_KINDS[kind]
    return installed if installed.is_dir() else package.parent / kind


def bundled(kind: str) -> dict[str, Path]:
    """Name -> path of every bundled YAML file of ``kind``, sorted by name.

    Raises:
        ValueError: ``kind`` is neither ``models`` nor ``hw_configs``.
    """
    folder = data_dir(kind)
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve(ref: str | Path, kind: str, suffixes: tuple[str, ...]) -> Path:
    """A path to an existing file, or a bundled name.

    Raises:
        SpecError: neither a file nor a bundled name (with the closest names).
        ValueError: ``kind`` is neither ``models`` nor ``hw_configs``.
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
