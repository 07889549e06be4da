"""Input formats: one registry of (sniff, load) pairs for model and hardware files.

Each format names the suffixes it accepts, a cheap ``sniff`` that tells it apart from other
formats with the same suffix (by the file's top-level YAML keys, say), and its loader as
``"module:function"``, imported on first use so that reading a model YAML never imports
ONNX. The first registered format whose suffix and sniff match a file reads it; a new
reader (NeuroSim, ZigZag, ...) is one more ``FORMATS.add`` line, with no if/elif to edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Literal

from .errors import SpecError
from .registry import Registry

__all__ = ["Format", "FORMATS", "find_format", "suffixes", "yaml_top_keys"]

Target = Literal["model", "hardware"]


def yaml_top_keys(path: Path) -> frozenset[str]:
    """The top-level keys of a YAML mapping, read cheaply (no parse) to tell formats apart."""
    keys = set()
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line[:1].isalpha() and ":" in line:
                    keys.add(line.split(":", 1)[0].strip())
    except (OSError, UnicodeDecodeError):
        pass
    return frozenset(keys)


def _anything(path: Path) -> bool:
    return True


@dataclass(frozen=True)
class Format:
    """One file format that accelsim reads.

    ``loader`` is ``"module:function"``; the function takes the path and the keyword
    ``options`` the format accepts (e.g. ``ert`` for a Timeloop architecture). ``title``
    names the format in messages.
    """

    name: str
    target: Target
    suffixes: tuple[str, ...]
    loader: str
    sniff: Callable[[Path], bool] = _anything
    options: tuple[str, ...] = ()
    title: str = ""

    def load(self, path: Path, **options: Any) -> Any:
        module, function = self.loader.split(":")
        return getattr(import_module(module), function)(path, **options)


FORMATS: Registry[Format] = Registry("file format", entry_point_group="accelsim.formats")


def suffixes(target: Target) -> tuple[str, ...]:
    """Every suffix some format of ``target`` accepts, in registration order."""
    out: list[str] = []
    for name in FORMATS.names():
        fmt = FORMATS.get(name)
        if fmt.target == target:
            out.extend(s for s in fmt.suffixes if s not in out)
    return tuple(out)


def find_format(path: Path, target: Target) -> Format:
    """The format that reads ``path``.

    Raises:
        SpecError: no format of ``target`` takes the file's suffix.
    """
    suffix = path.suffix.lower()
    for name in FORMATS.names():
        fmt = FORMATS.get(name)
        if fmt.target == target and suffix in fmt.suffixes and fmt.sniff(path):
            return fmt
    raise SpecError(f"unknown {target} file type {path.suffix!r}; expected one of "
                    + ", ".join(suffixes(target)), file=str(path))


def _is_timeloop_problem(path: Path) -> bool:
    return "problem" in yaml_top_keys(path)


def _is_timeloop_architecture(path: Path) -> bool:
    keys = yaml_top_keys(path)
    return "architecture" in keys and "kind" not in keys


_YAML = (".yaml", ".yml")
for _fmt in (
    # Models. Most specific first: a YAML with a top-level ``problem`` is Timeloop's.
    Format("timeloop-problem", "model", _YAML, "accelsim.interop.timeloop.problem:load_timeloop_problem",
           _is_timeloop_problem, title="Timeloop problem"),
    Format("model-yaml", "model", _YAML, "accelsim.frontend.model_yaml:load_model_yaml",
           title="accelsim model YAML"),
    Format("onnx", "model", (".onnx",), "accelsim.frontend.onnx:load_onnx", title="ONNX model"),
    Format("scalesim-topology", "model", (".csv",), "accelsim.interop.scalesim.topology:load_scalesim_topology",
           title="SCALE-Sim topology"),
    # Hardware.
    Format("timeloop-architecture", "hardware", _YAML, "accelsim.interop.timeloop:load_architecture",
           _is_timeloop_architecture, options=("ert",),
           title="Timeloop architecture"),
    Format("hardware-yaml", "hardware", _YAML, "accelsim.hw:load_hardware_yaml",
           title="accelsim hardware YAML"),
    Format("scalesim-cfg", "hardware", (".cfg",), "accelsim.interop.scalesim.cfg:load_scalesim_cfg",
           title="SCALE-Sim configuration"),
):
    FORMATS.add(_fmt.name, _fmt)
