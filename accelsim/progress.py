"""A progress bar on stderr for runs that take more than about a second.

It draws only when stderr is a terminal and the run has lasted ``delay`` seconds, so quick
runs, pipes, logs and ``--json`` output never see it; it erases itself when done. A
heartbeat redraws it with the time spent every ``HEARTBEAT`` seconds, so a first run that
spends seconds on one layer (numba compiling its kernels, a mapping search of a large
layer) is not silent.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """``update(done, total)`` from any worker; a context manager that clears the line on exit.

    ``delay`` defaults to ``DELAY`` seconds."""

    DELAY = 1.0
    HEARTBEAT = 0.5

    def __init__(self, *, enabled: bool = True, stream: IO[str] | None = None, delay: float | None = None,
                 width: int = 30, label: str = "layers") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay = self.DELAY if delay is None else delay
        self.width = width
        self.label = label
        self._start = time.monotonic()
        self._drawn = 0  # length of the line on screen
        self._done, self._total = 0, 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _draw(self, suffix: str = "") -> None:
        filled = self.width * self._done // self._total if self._total else 0
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"[{bar}] {self._done}/{self._total or '?'} {self.label}{suffix}"
        self.stream.write("\r" + line + " " * max(0, self._drawn - len(line)))
        self.stream.flush()
        self._drawn = len(line)

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        with self._lock:
            self._done, self._total = done, total
            if time.monotonic() - self._start >= self.delay:
                self._draw()

    def heartbeat(self) -> None:
        """Redraw with the seconds spent so far (the heartbeat thread calls this)."""
        elapsed = time.monotonic() - self._start
        if not self.enabled or elapsed < self.delay:
            return
        with self._lock:
            self._draw(f" ({elapsed:.0f} s)")

    def _beat(self) -> None:
        while not self._stop.wait(self.HEARTBEAT):
            self.heartbeat()

    def __enter__(self) -> "ProgressBar":
        self._start = time.monotonic()
        if self.enabled:
            threading.Thread(target=self._beat, name="accelsim-progress", daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        with self._lock:
            if self._drawn:
                self.stream.write("\r" + " " * self._drawn + "\r")
                self.stream.flush()
                self._drawn = 0
