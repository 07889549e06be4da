"""One exception family for everything a user can get wrong.

Only :mod:`accelsim.cli` turns these into exit status 2; the library raises, never exits.
Every error may carry the place it comes from (file, line, field path) so the one-line
message points the user at the culprit.
"""

from __future__ import annotations

__all__ = [
    "MAX_MESSAGE",
    "AccelsimError",
    "SpecError",
    "GraphError",
    "PassError",
    "MappingError",
    "UnsupportedOpError",
]


# A message quotes the user's values ("got ..."); one line stays readable whatever they hold.
MAX_MESSAGE = 600


def _bounded(text: str | None, limit: int = MAX_MESSAGE) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


class AccelsimError(Exception):
    """Base class: a problem with the user's input, reported as ``file:line: field: message``."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        message = _bounded(" ".join(str(message).splitlines()))  # one line, of bounded length
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = _bounded(field, 200)

    def located(self, *, file: str | None = None, line: int | None = None,
                field: str | None = None) -> "AccelsimError":
        """Fill in location parts that are still unknown (the deepest culprit wins)."""
        if self.file is None:
            self.file = file
        if self.line is None:
            self.line = line
        if self.field is None:
            self.field = field
        return self

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class SpecError(AccelsimError):
    """A model or hardware description is malformed: syntax, unknown key, wrong type or value."""


class GraphError(AccelsimError):
    """The graph is inconsistent: cycles, dangling inputs, shapes that do not agree."""


class PassError(AccelsimError):
    """A graph transformation failed; the message names the pass and the passes before it."""


class MappingError(AccelsimError):
    """A layer cannot be placed on the hardware (unsupported precision, does not fit, ...)."""


class UnsupportedOpError(SpecError):
    """An op name that is not in the op registry, or an ONNX op with no accelsim equivalent."""
