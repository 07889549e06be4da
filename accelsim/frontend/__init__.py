"""Model frontends: model YAML, ONNX and zoo names -> a verified Graph."""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from ..ir import Graph
from .zoo import bundled, resolve

__all__ = ["load_model", "MODEL_SUFFIXES", "bundled"]

MODEL_SUFFIXES = (".yaml", ".yml", ".onnx", ".csv")


def _yaml_top_key(path: Path) -> str | None:
    """The first top-level key of a YAML file, read cheaply, to tell formats apart."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line[:1].isalpha() and ":" in line:
                    return line.split(":", 1)[0].strip()
    except (OSError, UnicodeDecodeError):
        return None
    return None


def load_model(ref: str | Path) -> Graph:
    """Load a model by file or zoo name (``resnet50``).

    Formats: model YAML; a Timeloop problem YAML (top-level key ``problem``); ONNX; a
    SCALE-Sim topology CSV (conv or GEMM form).

    Raises:
        SpecError, GraphError, UnsupportedOpError: with file, line and field.
    """
    path = resolve(ref, "models", MODEL_SUFFIXES)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        if _yaml_top_key(path) == "problem":
            from .timeloop_problem import load_timeloop_problem
            return load_timeloop_problem(path)
        from .model_yaml import load_model_yaml
        return load_model_yaml(path)
    if suffix == ".onnx":
        from .onnx import load_onnx
        return load_onnx(path)
    if suffix == ".csv":
        from .scalesim_topology import load_scalesim_topology
        return load_scalesim_topology(path)
    raise SpecError(f"unknown model file type {suffix!r}; expected one of {', '.join(MODEL_SUFFIXES)}",
                    file=str(ref))
