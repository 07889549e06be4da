"""Hardware: spec loading and one cost model per family, chosen by the spec's ``kind:``."""

from __future__ import annotations

from pathlib import Path

from ..errors import SpecError
from ..frontend.yamlread import LineDict, read_yaml
from ..frontend.zoo import bundled, resolve
from .cost import FAMILIES, CostModel, CostOptions, Family, LayerCost
from .spec import HardwareSpec, SpecReader
from . import null as _null, npu as _npu, roofline as _roofline, systolic as _systolic  # noqa: F401  (register the families)

__all__ = ["load_hardware", "cost_model", "HardwareSpec", "LayerCost", "CostModel", "CostOptions", "FAMILIES",
           "Family", "bundled_hardware", "SPEC_VERSION"]

SPEC_VERSION = 1
HW_SUFFIXES = (".yaml", ".yml", ".cfg")


def bundled_hardware() -> dict[str, Path]:
    return bundled("hw_configs")


def load_hardware(ref: str | Path, *, ert: str | Path | None = None) -> HardwareSpec:
    """Read a hardware spec from a file or a bundled name (``tpu_v1``).

    Formats: accelsim hardware YAML (``kind:``); a Timeloop v0.4 architecture YAML
    (top-level ``architecture:``), with per-action energies from an Accelergy ERT file when
    ``ert`` is given; a SCALE-Sim ``.cfg``.

    Raises:
        SpecError: unknown kind, unknown field, bad unit or value (with file, line, field).
    """
    path = resolve(ref, "hw_configs", HW_SUFFIXES)
    suffix = path.suffix.lower()
    if suffix not in HW_SUFFIXES:
        raise SpecError(f"unknown hardware file type {path.suffix!r}; expected one of "
                        + ", ".join(HW_SUFFIXES), file=str(path))
    if suffix == ".cfg":
        from .scalesim_cfg import load_scalesim_cfg
        return load_scalesim_cfg(path)
    doc = read_yaml(path)
    if isinstance(doc, LineDict) and "architecture" in doc and "kind" not in doc:
        from .timeloop_arch import load_timeloop_arch
        return load_timeloop_arch(path, doc, ert=ert)
    if ert is not None:
        raise SpecError("--ert applies to Timeloop architecture files only", file=str(ert))
    if not isinstance(doc, LineDict):
        raise SpecError("a hardware file must be a mapping with a 'kind' field", file=str(path), line=1)
    reader = SpecReader(str(path), doc)
    kind = reader.string("kind")
    if kind not in FAMILIES:
        import difflib
        close = difflib.get_close_matches(kind, list(FAMILIES.names()), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "expected one of " + ", ".join(FAMILIES.names())
        raise reader.error("kind", f"unknown hardware kind {kind!r}; {hint}")
    version = reader.get("version", lambda v: v, SPEC_VERSION)
    if version != SPEC_VERSION:
        raise reader.error("version", f"unsupported spec version {version!r}; this accelsim reads {SPEC_VERSION}")
    name = reader.string("name", path.stem)
    reader.used.update({"description", "source"})
    spec = FAMILIES.get(kind).load(reader, name)
    reader.finish()
    return spec


def cost_model(spec: HardwareSpec, options: CostOptions = CostOptions()) -> CostModel:
    return FAMILIES.get(spec.kind).cost_model(spec, options)
