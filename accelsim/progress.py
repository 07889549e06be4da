"""A progress bar on stderr for runs that take more than about a second.

It draws only when stderr is a terminal and the run has lasted ``delay`` seconds, so quick
runs, pipes, logs and ``--json`` output never see it; it erases itself when done.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """``update(done, total)`` from any worker; a context manager that clears the line on exit.

    ``delay`` defaults to ``DELAY`` seconds."""

    DELAY = 1.0

    def __init__(self, *, enabled: bool = True, stream: IO[str] | None = None, delay: float | None = None,
                 width: int = 30, label: str = "layers") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay = self.DELAY if delay is None else delay
        self.width = width
        self.label = label
        self._start = time.monotonic()
        self._drawn = False

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0 or time.monotonic() - self._start < self.delay:
            return
        filled = self.width * done // total
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {self.label}")
        self.stream.flush()
        self._drawn = True

    def __enter__(self) -> "ProgressBar":
        self._start = time.monotonic()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * (self.width + 24 + len(self.label)) + "\r")
            self.stream.flush()
