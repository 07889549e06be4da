"""Hardware: spec loading and one cost model per family, chosen by the spec's ``kind:``."""

from __future__ import annotations

from pathlib import Path

from dataclasses import fields, is_dataclass
from typing import Any, Mapping

from ..errors import SpecError
from ..formats import FORMATS, find_format, suffixes
from ..registry import did_you_mean
from ..yamlread import LineDict, read_yaml
from ..frontend.zoo import bundled, resolve
from .cost import FAMILIES, CostContext, CostModel, Family, Flag, LayerCost, NoOptions, Schedule, Serial
from .spec import HardwareSpec, SpecReader
from . import gpu as _gpu, null as _null, npu as _npu, roofline as _roofline, systolic as _systolic  # noqa: F401  (register the families)

__all__ = ["load_hardware", "load_hardware_yaml", "cost_model", "family_options", "HardwareSpec", "LayerCost",
           "CostModel", "CostContext", "FAMILIES", "Family", "Flag", "NoOptions", "Schedule", "Serial",
           "bundled_hardware", "hardware_catalog", "SPEC_VERSION"]

SPEC_VERSION = 1


def bundled_hardware() -> dict[str, Path]:
    return bundled("hw_configs")


def hardware_catalog() -> list[tuple[str, str, str]]:
    """(name, kind, description) of every bundled machine, from its YAML's fields."""
    out = []
    for name, path in bundled_hardware().items():
        doc = read_yaml(path)
        fields_ = doc if isinstance(doc, dict) else {}
        out.append((name, str(fields_.get("kind", "")), str(fields_.get("description", ""))))
    return out


def load_hardware(ref: str | Path, *, ert: str | Path | None = None) -> HardwareSpec:
    """Read a hardware spec from a file or a bundled name (``tpu_v1``), in any format of
    ``accelsim.formats`` for hardware: accelsim hardware YAML (``kind:``); a Timeloop v0.4
    architecture YAML (top-level ``architecture:``), with per-action energies from an
    Accelergy ERT file when ``ert`` is given; a SCALE-Sim ``.cfg``.

    Raises:
        SpecError: unknown file type, kind or field, bad unit or value (with file, line, field);
            ``ert`` for a format that takes none.
    """
    path = resolve(ref, "hw_configs", suffixes("hardware"))
    fmt = find_format(path, "hardware")
    given = {"ert": ert}
    for option, value in given.items():
        if value is not None and option not in fmt.options:
            takers = [FORMATS.get(n).title for n in FORMATS.names() if option in FORMATS.get(n).options]
            raise SpecError(f"--{option} applies to {' and '.join(takers) or 'no'} files only", file=str(value))
    return fmt.load(path, **{k: v for k, v in given.items() if k in fmt.options})


def load_hardware_yaml(path: Path) -> HardwareSpec:
    """Read an accelsim hardware YAML: ``kind:`` picks the family whose loader reads the rest."""
    doc = read_yaml(path)
    if not isinstance(doc, LineDict):
        raise SpecError("a hardware file must be a mapping with a 'kind' field", file=str(path), line=1)
    reader = SpecReader(str(path), doc)
    if "kind" in doc and doc["kind"] is None:  # YAML reads a bare `kind: null` as no value
        doc["kind"] = "null"
    kind = reader.string("kind")
    if kind == "cluster":
        raise reader.error("kind", f"{path.name} is a cluster of devices: 'accelsim train' runs on clusters; "
                                   "to estimate one device, name the cluster's 'device'")
    if kind not in FAMILIES:
        raise reader.error("kind", f"unknown hardware kind {kind!r}; {did_you_mean(kind, FAMILIES.names())}")
    version = reader.get("version", lambda v: v, SPEC_VERSION)
    if version != SPEC_VERSION:
        raise reader.error("version", f"unsupported spec version {version!r}; this accelsim reads {SPEC_VERSION}")
    name = reader.string("name", path.stem)
    reader.string("description", "")
    reader.string("source", "")
    spec = FAMILIES.get(kind).load(reader, name)
    reader.finish()
    return spec


def family_options(kind: str, given: Any = None) -> Any:
    """The options of ``kind``'s family from ``given``: None (defaults), that family's options
    dataclass, or a mapping of field names (None values count as not given).

    Raises:
        SpecError: an option the family does not take.
    """
    family = FAMILIES.get(kind)
    cls = family.options
    if given is None or isinstance(given, cls):
        return given if given is not None else cls()
    if is_dataclass(given):
        raise SpecError(f"{type(given).__name__} does not apply to {kind} hardware; it takes {cls.__name__}")
    names = [f.name for f in fields(cls)]
    paths = {flag.field for flag in family.flags if flag.path}
    values: dict[str, Any] = {}
    for key, value in dict(given).items():
        if value is None:
            continue
        if key not in names:
            takes = ("it takes " + ", ".join(names)) if names else f"{kind} hardware has none"
            raise SpecError(f"option {key!r} does not apply to {kind} hardware; {takes}",
                            file=str(value) if key in _path_options() else None, field=key)
        values[key] = Path(value) if key in paths else value
    return cls(**values)


def _path_options() -> set[str]:
    return {flag.field for name in FAMILIES.names() for flag in FAMILIES.get(name).flags if flag.path}


def cost_model(spec: HardwareSpec, options: Any = None, context: CostContext = CostContext()) -> CostModel:
    """The cost model of ``spec``'s family, with ``options`` as :func:`family_options` reads them."""
    return FAMILIES.get(spec.kind).cost_model(spec, family_options(spec.kind, options), context)
