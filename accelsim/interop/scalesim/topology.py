"""SCALE-Sim topology CSV files as graphs: one independent layer per row.

Two forms, told apart by the header (the first line, which SCALE-Sim otherwise ignores):

* conv: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
  Num Filter, Strides,``. Each row becomes its own graph input (1 x C x H x W, int8) feeding
  a ``conv2d`` named after the layer; SCALE-Sim's layers do not chain, so neither do these.
  SCALE-Sim has no padding but sizes its output ``ceil((H - R + s) / s)`` per axis: when
  the stride does not divide ``H - R``, its last window hangs over the edge (those
  positions have no address and are never fetched). That is a conv with ``(-(H - R)) mod s``
  rows (columns) of padding at the bottom (right), which is what is built. A layer whose
  name contains ``DP`` is, as in SCALE-Sim, ``Channels`` separate one-channel layers named
  ``<name>Channel_<i>``, each with all ``Num Filter`` filters.
* GEMM: ``Layer, M, N, K,``: an input ``1 x M x K`` and a ``linear`` with ``N`` outputs
  and no bias, so the workload is the GEMM ``M x K @ K x N`` of SCALE-Sim's GEMM mode.

SCALE-Sim drops the last field of every row, so rows must end with a comma; an optional
``N:M`` sparsity field is accepted only as ``1:1`` (dense). Duplicate layer names get a
``#2``, ``#3`` suffix.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import SpecError
from ...ir import Graph, Source

__all__ = ["load_scalesim_topology", "CONV_COLUMNS", "GEMM_COLUMNS"]

CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                "Channels", "Num Filter", "Strides")
GEMM_COLUMNS = ("Layer", "M", "N", "K")
_DTYPE = "int8"  # SCALE-Sim's words are one byte


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def error(self, line: int | None, column: str | None, message: str) -> SpecError:
        return SpecError(message, file=self.path, line=line, field=column)

    def number(self, text: str, line: int, column: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise self.error(line, column, f"expected a positive integer, got {text.strip()!r}") from None
        if value < 1:
            raise self.error(line, column, f"must be at least 1, got {value}")
        return value


def _rows(reader: _Reader, text: str, columns: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    """(line, fields) of every layer row, the trailing comma's empty field dropped."""
    rows = []
    for number, raw in enumerate(text.splitlines()[1:], start=2):
        row = raw.strip()
        if not row:
            continue
        fields = row.split(",")
        if fields[-1].strip():
            raise reader.error(number, None, "a row must end with a comma (SCALE-Sim drops the "
                                             "last field of every row)")
        fields = [f.strip() for f in fields[:-1]]
        if len(fields) < len(columns):
            raise reader.error(number, columns[len(fields)] if fields else columns[0],
                               f"expected {len(columns)} fields ({', '.join(columns)}), got {len(fields)}")
        if len(fields) > len(columns) + 1:
            raise reader.error(number, None, f"expected {len(columns)} fields and an optional "
                                             f"N:M sparsity ratio, got {len(fields)}")
        if len(fields) == len(columns) + 1 and fields[-1].replace(" ", "") != "1:1":
            raise reader.error(number, "sparsity", f"sparsity ratio {fields[-1]!r} is not supported; "
                                                   "only dense layers (1:1)")
        if not fields[0]:
            raise reader.error(number, columns[0], "empty layer name")
        rows.append((number, fields[:len(columns)]))
    return rows


def load_scalesim_topology(path: str | Path) -> Graph:
    """Read a SCALE-Sim topology CSV (conv or GEMM form) into a verified graph.

    Raises:
        SpecError: unreadable file, no layers, a row without its trailing comma, a missing
            or non-positive number, a filter larger than the ifmap (file, line, column).
    """
    path = Path(path)
    reader = _Reader(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise reader.error(None, None, f"cannot read the file: {exc}") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise reader.error(1, None, "expected a header line (conv: " + ", ".join(CONV_COLUMNS)
                           + "; GEMM: " + ", ".join(GEMM_COLUMNS) + ")")
    header = [h.strip() for h in lines[0].split(",")]
    gemm = len(header) > 1 and header[1].upper() == "M"
    if len(header) > 1 and header[1].isdigit():
        raise reader.error(1, None, "the first line is a header (SCALE-Sim skips it) but this one "
                                    "looks like a layer")
    columns = GEMM_COLUMNS if gemm else CONV_COLUMNS
    graph = Graph(path.stem)
    seen: dict[str, int] = {}

    def unique(name: str) -> str:
        seen[name] = seen.get(name, 0) + 1
        return name if seen[name] == 1 else f"{name}#{seen[name]}"

    rows = _rows(reader, text, columns)
    if not rows:
        raise reader.error(None, None, "no layers (only a header)")
    for number, fields in rows:
        values = [reader.number(v, number, c) for v, c in zip(fields[1:], columns[1:])]
        where = Source(str(path), number, columns[0])
        if gemm:
            m, n, k = values
            name = unique(fields[0])
            graph.add(f"{name}.ifmap", "input", (), {"shape": [1, m, k], "dtype": _DTYPE}, source=where)
            graph.add(name, "linear", (f"{name}.ifmap",), {"out_features": n, "bias": False}, source=where)
            continue
        h, w, r, s, c, n, stride = values
        if r > h:
            raise reader.error(number, "Filter Height", f"filter height {r} exceeds the ifmap height {h}")
        if s > w:
            raise reader.error(number, "Filter Width", f"filter width {s} exceeds the ifmap width {w}")
        pads = (0, 0, (-(h - r)) % stride, (-(w - s)) % stride)
        depthwise = "DP" in fields[0]
        for i in range(c if depthwise else 1):
            name = unique(f"{fields[0]}Channel_{i}" if depthwise else fields[0])
            channels = 1 if depthwise else c
            graph.add(f"{name}.ifmap", "input", (), {"shape": [1, channels, h, w], "dtype": _DTYPE},
                      source=where)
            graph.add(name, "conv2d", (f"{name}.ifmap",),
                      {"out_channels": n, "kernel": [r, s], "stride": [stride, stride],
                       "padding": list(pads), "bias": False}, source=where)
    graph.verify()
    return graph
