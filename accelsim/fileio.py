"""Atomic writes: a failed run leaves no partial output file or report folder.

Temporary files and folders are named ``.NAME.accelsim-PID-XXXX`` beside their target, so
they are recognisable; a run that is killed outright (SIGKILL, a power cut) cannot remove
its own, so every write first removes those of processes that no longer exist.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["write_atomic", "atomic_dir", "remove_stale"]

_TAG = ".accelsim-"


def _prefix(path: Path) -> str:
    return f".{path.name}{_TAG}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale(path: Path) -> None:
    """Remove temporaries of ``path`` left by processes that are gone."""
    try:
        entries = list(path.parent.glob(f".{glob.escape(path.name)}{_TAG}*"))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(path.name) + 1 + len(_TAG):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _umask() -> int:
    """The process umask. Linux shows it in /proc; elsewhere it can only be read by setting
    it, so it is set to the strictest value for the instant before it is put back."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    The file gets the permissions ``open()`` would give a new file (0666 less the umask),
    not the owner-only ones of the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(path), dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a scratch folder; on success its files move into ``path``, on failure it vanishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    scratch = Path(tempfile.mkdtemp(prefix=_prefix(path), dir=path.parent))
    created = not path.exists()
    try:
        yield scratch
        path.mkdir(exist_ok=True)
        for item in scratch.iterdir():
            os.replace(item, path / item.name)
    except BaseException:
        if created:  # a folder this run made holds nothing that was there before
            shutil.rmtree(path, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
