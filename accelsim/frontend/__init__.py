"""Model frontends: model YAML, ONNX and zoo names -> a verified Graph."""

from __future__ import annotations

from pathlib import Path

from ..formats import find_format, suffixes
from ..ir import Graph
from .zoo import bundled, resolve

__all__ = ["load_model", "bundled", "model_catalog"]


def load_model(ref: str | Path) -> Graph:
    """Load a model by file or zoo name (``resnet50``), in any model format of
    ``accelsim.formats``: model YAML; a Timeloop problem YAML (top-level key ``problem``);
    ONNX; a SCALE-Sim topology CSV (conv or GEMM form).

    Raises:
        SpecError, GraphError, UnsupportedOpError: with file, line and field.
    """
    path = resolve(ref, "models", suffixes("model"))
    return find_format(path, "model").load(path)


def model_catalog() -> list[tuple[str, str]]:
    """(name, description) of every zoo model, from its YAML's ``description``."""
    from ..yamlread import read_yaml

    out = []
    for name, path in bundled("models").items():
        doc = read_yaml(path)
        out.append((name, str(doc.get("description", "")) if isinstance(doc, dict) else ""))
    return out
