"""Model frontends: model YAML, ONNX and zoo names -> a verified Graph."""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from ..ir import Graph
from .zoo import bundled, resolve

__all__ = ["load_model", "MODEL_SUFFIXES", "bundled"]

MODEL_SUFFIXES = (".yaml", ".yml", ".onnx")


def load_model(ref: str | Path) -> Graph:
    """Load a model from a YAML or ONNX file, or by zoo name (``resnet50``).

    Raises:
        SpecError, GraphError, UnsupportedOpError: with file, line and field.
    """
    path = resolve(ref, "models", MODEL_SUFFIXES)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        from .model_yaml import load_model_yaml
        return load_model_yaml(path)
    if suffix == ".onnx":
        from .onnx import load_onnx
        return load_onnx(path)
    raise SpecError(f"unknown model file type {suffix!r}; expected one of {', '.join(MODEL_SUFFIXES)}",
                    file=str(ref))
