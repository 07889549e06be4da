"""Timeloop architecture files (v0.4 node trees; v0.3 subtree chains) -> an ``npu`` spec.

The tree of ``!Container``, ``!Component``, ``!Parallel`` (and ``!Hierarchical``,
``!Pipelined``, ``!Nothing``) nodes is flattened the way timeloopfe flattens it for
Timeloop (``version_transpilers/v4_to_v3.py``):

* storage components become levels, outermost first; the compute component at the end
  becomes the MAC array;
* a container's ``spatial: {meshX, meshY}`` multiplies the instances of everything inside
  it; Timeloop puts that fanout on a placeholder level ``inter_<container>_spatial`` that
  keeps nothing (a component with its own ``spatial`` gets one before it);
* ``!Parallel`` siblings become consecutive levels (one per operand buffer);
* container attributes (``technology``, ``global_cycle_seconds``, ...) apply to the
  components after them;
* a component's ``constraints.dataspace`` keep/bypass lists become the level's fixed
  choices; temporal and spatial constraints guide mappers and are not used by the model.

Storage attributes follow ``BufferLevel::ParseSpecs``: ``datawidth`` (or ``word_bits``),
``width`` with ``block_size``/``cluster_size``, ``depth`` (x block size), ``entries`` or
``sizeKB``, bandwidths in words per cycle, ``n_banks``, ``multiple_buffering``,
``reduction_supported``, ``network_fill_latency``/``network_drain_latency``. Other
attributes are Accelergy's and are ignored, as Timeloop ignores them. Values must be
numbers: timeloopfe's expressions are not evaluated.

Energies come from an Accelergy ERT when one is given (``--ert``, or an ``ERT:`` section
in the same file), else from accelsim's technology table. An ERT entry whose key states an
instance count (``Buffer[1..16]``) other than the component's here gets a warning.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ...errors import SpecError
from ...yamlread import LineDict, LineList, line_of
from ...registry import did_you_mean
from ...units import parse_quantity
from ...hw.npu.energy import (Ert, check_instances, default_level_energy, default_mac_energy,
                              level_energy_from_ert, mac_energy_from_ert, precision_for_bits, read_ert)
from ...hw.npu.spec import ArithmeticLevel, NpuSpec, StorageLevel
from ...hw.spec import MAX_COUNT
from ...hw.technology import Technology, energy_scale

__all__ = ["load_timeloop_arch"]

_STORAGE = ("DRAM", "SRAM", "regfile", "smartbuffer", "storage")
_COMPUTE = ("mac", "intmac", "fpmac", "compute")
_NETWORK = ("XY_NoC", "Legacy", "ReductionTree", "SimpleMulticast")
_NODE_KEYS = {
    "Container": {"name", "attributes", "spatial", "constraints", "networks", "sparse_optimizations",
                  "enabled"},
    "Component": {"name", "class", "subclass", "attributes", "spatial", "constraints", "required_actions",
                  "area_scale", "energy_scale", "enabled", "sparse_optimizations"},
    "Parallel": {"name", "nodes"}, "Hierarchical": {"name", "nodes"}, "Pipelined": {"name", "nodes"},
    "Nothing": {"name", "class", "attributes", "constraints", "spatial"},
}
# Other sections a combined Timeloop input file may hold; they do not describe the machine.
_TOP_KEYS = {"architecture", "variables", "components", "compound_components", "globals", "ERT", "ART",
             "problem", "mapping", "mapper", "mapspace", "architecture_constraints", "mapspace_constraints",
             "sparse_optimizations", "dumped_by_timeloop_front_end"}
_DEFAULT_WORD_BITS = 16  # Timeloop's kDefaultWordBits


class _Reader:
    """Walks the node tree and collects levels; errors carry the file, line and field."""

    def __init__(self, path: str, ert: Ert | None) -> None:
        self.path = path
        self.ert = ert
        self.levels: list[StorageLevel] = []
        self.arithmetic: ArithmeticLevel | None = None
        self.attrs: dict[str, Any] = {}  # running container attributes (timeloopfe's arch_attrs)
        self.mesh = (1, 1)
        self.names: set[str] = set()

    def error(self, node: Any, key: Any, field: str, message: str) -> SpecError:
        line = line_of(node, key) if key is not None else getattr(node, "line", None)
        return SpecError(message, file=self.path, line=line, field=field)

    # -------------------------------------------------------------- scalars

    def number(self, attrs: dict, key: str, field: str, *, integer: bool = True, minimum: float = 0,
               positive: bool = False) -> Any:
        value = attrs[key]
        if isinstance(value, str):
            try:
                value = float(value) if not integer else int(value)
            except ValueError:
                raise self.error(attrs, key, f"{field}.{key}", f"expected a number, got {value!r} "
                                 "(timeloopfe expressions are not evaluated)") from None
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or (integer and value != int(value))):
            raise self.error(attrs, key, f"{field}.{key}", f"expected {'an integer' if integer else 'a number'}, "
                             f"got {value!r}")
        if value < minimum or (positive and value <= 0):
            what = "positive" if positive else f"at least {minimum}"
            raise self.error(attrs, key, f"{field}.{key}", f"must be {what}, got {value!r}")
        if abs(value) > MAX_COUNT:
            raise self.error(attrs, key, f"{field}.{key}", f"must be at most {MAX_COUNT:,}, got {value:g}")
        return int(value) if integer else float(value)

    def flag(self, attrs: dict, key: str, field: str, default: bool) -> bool:
        if key not in attrs:
            return default
        value = attrs[key]
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.error(attrs, key, f"{field}.{key}", f"expected true or false, got {value!r}")

    def first(self, attrs: dict, keys: tuple[str, ...], field: str, default: Any = None, **kw: Any) -> Any:
        for key in keys:
            if key in attrs and attrs[key] is not None:
                return self.number(attrs, key, field, **kw)
        return default

    def technology(self, attrs: dict, field: str) -> Technology:
        """The process node of ``technology: 40nm`` (a bare number is nm). Anything that is
        no length ("SET ME", -1 in front-end output) is ignored, as Timeloop ignores it, and
        the table's 45 nm used; a length outside the table's range is an error."""
        value = attrs.get("technology")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return Technology()
        try:
            node_m = parse_quantity(value, "length") if isinstance(value, str) else float(value) * 1e-9
        except ValueError:
            return Technology()
        if node_m <= 0:
            return Technology()
        tech = Technology(node_m)
        try:
            energy_scale(tech)
        except ValueError as exc:
            raise self.error(attrs, "technology", f"{field}.technology",
                             f"cannot use technology {value!r}: {exc}") from None
        return tech

    # -------------------------------------------------------------- nodes

    def walk(self, nodes: Any, field: str, group: str | None) -> None:
        if not isinstance(nodes, list):
            raise SpecError("expected a list of nodes", file=self.path, line=getattr(nodes, "line", None), field=field)
        for i, node in enumerate(nodes):
            where = f"{field}[{i}]"
            if not isinstance(node, LineDict) or node.tag is None:
                raise SpecError("expected a tagged node (!Container, !Component, !Parallel, ...)", file=self.path,
                                line=line_of(nodes, i) if isinstance(nodes, LineList) else None, field=where)
            if self.arithmetic is not None:
                raise SpecError(f"nothing may follow the compute component {self.arithmetic.name!r}",
                                file=self.path, line=node.line, field=where)
            for key in node:
                if key not in _NODE_KEYS[node.tag]:
                    raise self.error(node, key, f"{where}.{key}", f"unknown key for !{node.tag}; "
                                     + did_you_mean(str(key), sorted(_NODE_KEYS[node.tag])))
            if node.get("enabled", True) is False:
                continue
            if node.tag == "Nothing":
                continue
            if node.tag in ("Parallel", "Hierarchical", "Pipelined"):
                if node.tag == "Parallel" and group is not None:
                    raise self.error(node, None, where, "a !Parallel inside a !Parallel is not supported")
                inner = str(node.get("name", f"parallel{len(self.levels)}")) if node.tag == "Parallel" else group
                self.walk(node.get("nodes", []), f"{where}.nodes", inner)
            elif node.tag == "Container":
                if group is not None:
                    raise self.error(node, None, where, "containers under a !Parallel are not supported")
                self.container(node, where)
            elif node.tag == "Component":
                self.component(node, where, group)

    def name(self, node: LineDict, field: str) -> str:
        name = node.get("name")
        if not isinstance(name, str) or not name:
            raise self.error(node, "name" if "name" in node else None, f"{field}.name", "every node needs a name")
        return name

    def fanout(self, node: LineDict, field: str) -> tuple[int, int]:
        spatial = node.get("spatial") or {}
        if not isinstance(spatial, dict):
            raise self.error(node, "spatial", f"{field}.spatial", "expected {meshX: N, meshY: M}")
        for key in spatial:
            if key not in ("meshX", "meshY"):
                raise self.error(spatial, key, f"{field}.spatial.{key}", "unknown key; expected meshX or meshY")
        return (self.first(spatial, ("meshX",), f"{field}.spatial", 1, minimum=1),
                self.first(spatial, ("meshY",), f"{field}.spatial", 1, minimum=1))

    def placeholder(self, name: str) -> StorageLevel:
        """Timeloop's placeholder level (1 word) that carries a fanout and keeps nothing."""
        return StorageLevel(name=name, cls="dummy", word_bits=1, size_words=1, mesh_x=self.mesh[0],
                            mesh_y=self.mesh[1], energy_source="none", dummy=True)

    def dummy(self, name: str, field: str, node: LineDict) -> None:
        self.add(self.placeholder(f"inter_{name}_spatial"), node, field)

    def container(self, node: LineDict, field: str) -> None:
        name = self.name(node, field)
        attrs = node.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise self.error(node, "attributes", f"{field}.attributes", "expected a mapping")
        if attrs.get("technology") is not None:
            self.technology(attrs, f"{field}.attributes")  # report it here, where it is written
        self.attrs.update(attrs)
        fx, fy = self.fanout(node, field)
        self.constraints(node, field)
        if fx * fy != 1:
            self.dummy(name, field, node)
            self.mesh = (self.mesh[0] * fx, self.mesh[1] * fy)

    def constraints(self, node: LineDict, field: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        c = node.get("constraints") or {}
        if not isinstance(c, dict):
            raise self.error(node, "constraints", f"{field}.constraints", "expected a mapping")
        for key in c:
            if key not in ("dataspace", "temporal", "spatial", "max_overbooked_proportion"):
                raise self.error(c, key, f"{field}.constraints.{key}", "unknown constraint; "
                                 + did_you_mean(str(key), ["dataspace", "temporal", "spatial"]))
        ds = c.get("dataspace") or {}
        if not isinstance(ds, dict):
            raise self.error(c, "dataspace", f"{field}.constraints.dataspace", "expected {keep: [...], bypass: [...]}")
        lists = []
        for key in ("keep", "bypass"):
            value = ds.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.error(ds, key, f"{field}.constraints.dataspace.{key}", "expected a list of data space names")
            lists.append(tuple(value))
        for key in ds:
            if key not in ("keep", "bypass", "no_coalesce"):
                raise self.error(ds, key, f"{field}.constraints.dataspace.{key}", "unknown key; expected keep or bypass")
        return lists[0], lists[1]

    def tree(self, node: LineDict, field: str) -> None:
        """A v0.3 architecture: a chain of ``subtree`` nodes, each with ``local`` components
        listed outermost first; ``Name[0..N-1]`` replicates a subtree or a component N times
        and a component's ``meshX`` lays its instances out (``Topology::ParseTreeSpecs``)."""
        replication = 1
        while "subtree" in node:
            subtrees = node["subtree"]
            if not isinstance(subtrees, list) or len(subtrees) != 1 or not isinstance(subtrees[0], dict):
                raise self.error(node, "subtree", f"{field}.subtree", "expected a list of one subtree (Timeloop "
                                 "reads one per level)")
            node, field = subtrees[0], f"{field}.subtree[0]"
            for key in node:
                if key not in ("name", "attributes", "local", "subtree"):
                    raise self.error(node, key, f"{field}.{key}", "unknown key; "
                                     + did_you_mean(str(key), ["name", "attributes", "local", "subtree"]))
            replication *= self.count(node, field)[1]
            attrs = node.get("attributes") or {}
            if attrs.get("technology") is not None:
                self.technology(attrs, f"{field}.attributes")
            self.attrs.update(attrs)
            local = node.get("local") or []
            if not isinstance(local, list):
                raise self.error(node, "local", f"{field}.local", "expected a list of components")
            for c, comp in enumerate(local):
                where = f"{field}.local[{c}]"
                if not isinstance(comp, dict):
                    raise self.error(local, c, where, "expected a component {name, class, attributes}")
                for key in comp:
                    if key not in _NODE_KEYS["Component"]:
                        raise self.error(comp, key, f"{where}.{key}", "unknown key; "
                                         + did_you_mean(str(key), sorted(_NODE_KEYS["Component"])))
                name, count = self.count(comp, where)
                instances = replication * count
                attrs = comp.get("attributes") or {}
                mesh_x = self.first(attrs, ("meshX",), f"{where}.attributes", instances, minimum=1)
                if instances % mesh_x:
                    raise self.error(attrs, "meshX", f"{where}.attributes.meshX", f"meshX {mesh_x} does not divide "
                                     f"the {instances} instances")
                self.mesh = (mesh_x, instances // mesh_x)
                if self.arithmetic is not None:
                    raise self.error(comp, None, where, f"nothing may follow the compute component "
                                     f"{self.arithmetic.name!r}")
                self.component(comp, where, None, name)

    def count(self, node: LineDict, field: str) -> tuple[str, int]:
        """(name, instances) of a v0.3 name such as ``PE[0..15]``."""
        name = self.name(node, field)
        m = re.fullmatch(r"(.+)\[(\d+)\.\.(\d+)\]", name)
        if m is None:
            return name, 1
        low, high = int(m.group(2)), int(m.group(3))
        if high < low:
            raise self.error(node, "name", f"{field}.name", f"empty range in {name!r}")
        return m.group(1), high - low + 1

    def component(self, node: LineDict, field: str, group: str | None, name: str | None = None) -> None:
        name = name or self.name(node, field)
        cls = node.get("class")
        if not isinstance(cls, str):
            raise self.error(node, "class" if "class" in node else None, f"{field}.class", "every component needs a class")
        attrs = node.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise self.error(node, "attributes", f"{field}.attributes", "expected a mapping")
        merged = LineDict({**{k: v for k, v in self.attrs.items() if k not in attrs}, **attrs})
        merged.key_lines = dict(getattr(attrs, "key_lines", {}))
        merged.line = getattr(attrs, "line", node.line)
        merged.duplicates = []
        fx, fy = self.fanout(node, field)
        keep, bypass = self.constraints(node, field)
        afield = f"{field}.attributes"
        if any(c in cls for c in _COMPUTE):
            if fx * fy != 1:
                raise self.error(node, "spatial", f"{field}.spatial", "give the MAC array's fanout on a container")
            bits = self.first(merged, ("word_bits", "word_width", "datawidth"), afield, _DEFAULT_WORD_BITS, minimum=1)
            tech = self.technology(merged, afield)
            energy, source = default_mac_energy(bits, tech), "technology"
            if self.ert is not None and name in self.ert.actions:
                found = mac_energy_from_ert(self.ert.actions[name])
                if found is not None:
                    energy, source = found, "ERT"
                    check_instances(self.ert, name, self.mesh[0] * self.mesh[1], self.path)
            self.arithmetic = ArithmeticLevel(name=name, word_bits=bits, mesh_x=self.mesh[0], mesh_y=self.mesh[1],
                                              energy_j=energy, energy_source=source)
            return
        if any(c in cls for c in _NETWORK) or cls == "nothing":
            return  # networks: Timeloop's default network costs nothing; not modelled
        if cls == "dummy_storage":  # a placeholder written out by Timeloop's front end
            self.add(self.placeholder(name), node, field)
            return
        if not any(c in cls for c in _STORAGE):
            raise self.error(node, "class", f"{field}.class", f"unknown component class {cls!r}; a storage class "
                             f"contains one of {', '.join(_STORAGE)}, a compute class one of {', '.join(_COMPUTE)}")
        if group is not None and fx * fy != 1:
            raise self.error(node, "spatial", f"{field}.spatial", "components with a fanout under a !Parallel are "
                             "not supported")
        if fx * fy != 1:
            self.dummy(name, field, node)
            self.mesh = (self.mesh[0] * fx, self.mesh[1] * fy)
        self.add(self.storage(name, cls, merged, afield, keep, bypass, group), node, field)

    def storage(self, name: str, cls: str, a: LineDict, field: str, keep: tuple[str, ...],
                bypass: tuple[str, ...], group: str | None) -> StorageLevel:
        dram = "DRAM" in cls or a.get("technology") == "DRAM"
        word_bits = self.first(a, ("word_bits", "word_width", "datawidth"), field, _DEFAULT_WORD_BITS, minimum=1)
        block = self.first(a, ("block_size", "n_words"), field, None, minimum=1)
        cluster = self.first(a, ("cluster_size",), field, None, minimum=1)
        width = self.first(a, ("width", "memory_width", "data_storage_width"), field, None, minimum=1)
        if width is not None:
            key = next(k for k in ("width", "memory_width", "data_storage_width") if a.get(k) is not None)
            b = block or 1
            if width % (word_bits * b):
                raise self.error(a, key, f"{field}.{key}", f"width {width} is not a multiple of datawidth "
                                 f"{word_bits} x block size {b}")
            if block is not None and cluster is not None and block * word_bits * cluster != width:
                raise self.error(a, key, f"{field}.{key}", "block_size x datawidth x cluster_size must equal width")
            if cluster is not None and block is None:
                block = width // cluster // word_bits
            elif block is not None and cluster is None:
                cluster = width // (word_bits * block)
            elif block is None:
                block, cluster = width // word_bits, 1
        block, cluster = block or 1, cluster or 1
        size = self.first(a, ("entries",), field, None, minimum=1)
        if size is None:
            depth = self.first(a, ("depth", "memory_depth", "data_storage_depth"), field, None, minimum=1)
            size = depth * block if depth is not None else None
        if size is None and a.get("sizeKB") is not None:
            size = self.number(a, "sizeKB", field, minimum=1) * 1024 * 8 // word_bits
        if size is None and not dram:
            raise self.error(a, None, field, f"storage {name!r} needs depth, entries or sizeKB")
        read_bw = self.first(a, ("read_bandwidth",), field, None, integer=False, positive=True)
        write_bw = self.first(a, ("write_bandwidth",), field, None, integer=False, positive=True)
        if a.get("bandwidth") is not None:  # deprecated: split between reads and writes
            bw = self.number(a, "bandwidth", field, integer=False, positive=True)
            read_bw, write_bw = bw / 2, bw / 2
        latency = (self.first(a, ("network_fill_latency",), field, 0)
                   + self.first(a, ("network_drain_latency",), field, 0))
        level_cls = "dram" if dram else ("regfile" if "regfile" in cls or "RF" in cls else "sram")
        tech = self.technology(a, field)
        energy = default_level_energy(level_cls, size, word_bits, block, tech, str(a.get("type", "dram")).lower())
        source = "technology"
        if self.ert is not None and name in self.ert.actions:
            energy, source = level_energy_from_ert(self.ert.actions[name]), "ERT"
            check_instances(self.ert, name, self.mesh[0] * self.mesh[1], self.path)
        return StorageLevel(
            name=name, cls=level_cls, word_bits=word_bits, size_words=size, block_size=block, cluster_size=cluster,
            mesh_x=self.mesh[0], mesh_y=self.mesh[1], read_bandwidth=read_bw, write_bandwidth=write_bw,
            shared_bandwidth=self.first(a, ("shared_bandwidth",), field, None, integer=False, positive=True),
            banks=self.first(a, ("n_banks", "num_banks"), field, 2, minimum=1),
            multiple_buffering=self.first(a, ("multiple_buffering",), field, 1.0, integer=False, minimum=1),
            keep=keep, bypass=bypass, energy=energy, energy_source=source,
            reduction=self.flag(a, "reduction_supported", field, not dram), network_latency_cycles=latency,
            group=group)

    def add(self, level: StorageLevel, node: LineDict, field: str) -> None:
        if level.name in self.names:
            raise self.error(node, "name", f"{field}.name", f"two levels are called {level.name!r}")
        self.names.add(level.name)
        self.levels.append(level)


def _cycle_seconds(attrs: dict, path: str) -> float:
    value = attrs.get("global_cycle_seconds", 1e-9)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"expected a number of seconds, got {value!r}", file=path,
                        line=line_of(attrs, "global_cycle_seconds"), field="global_cycle_seconds") from None
    if not seconds > 0:
        raise SpecError(f"must be positive, got {value!r}", file=path, line=line_of(attrs, "global_cycle_seconds"),
                        field="global_cycle_seconds")
    return seconds


def load_timeloop_arch(path: str | Path, doc: LineDict, ert: str | Path | None = None) -> NpuSpec:
    """Read a Timeloop architecture (already parsed from ``path``) as an ``npu`` spec: v0.4
    (``nodes``) or v0.3 (``subtree``/``local``, as Timeloop's front end also writes it).

    Raises:
        SpecError: unknown node tag or key, missing size or class, bad number, a node after
            the compute component, no compute component (with file, line and field).

    Warns:
        UserWarning: an ERT entry's instance count differs from the architecture's.
    """
    path = str(path)
    for key in doc:
        if key not in _TOP_KEYS:
            raise SpecError(f"unknown top-level key; {did_you_mean(str(key), sorted(_TOP_KEYS))}", file=path,
                            line=line_of(doc, key), field=str(key))
    arch = doc["architecture"]
    if not isinstance(arch, dict):
        raise SpecError("expected a mapping", file=path, line=line_of(doc, "architecture"), field="architecture")
    tree = "subtree" in arch
    allowed = ("version", "subtree") if tree else ("version", "nodes")
    for key in arch:
        if key not in allowed:
            raise SpecError(f"unknown key; {did_you_mean(str(key), list(allowed))}", file=path,
                            line=line_of(arch, key), field=f"architecture.{key}")
    if str(arch.get("version", "0.4")) not in ("0.3", "0.4"):
        raise SpecError(f"unsupported version {arch.get('version')!r}; accelsim reads 0.3 and 0.4", file=path,
                        line=line_of(arch, "version"), field="architecture.version")
    if ert is not None:
        table: Ert | None = read_ert(ert)
    elif "ERT" in doc:
        table = read_ert(path)
    else:
        table = None
    reader = _Reader(path, table)
    if tree:
        reader.tree(arch, "architecture")
    else:
        reader.walk(arch.get("nodes"), "architecture.nodes", None)
    if reader.arithmetic is None:
        raise SpecError("the last node must be a compute component (class intmac, fpmac, mac or compute)",
                        file=path, line=arch.line, field="architecture.nodes")
    if not reader.levels or all(level.dummy for level in reader.levels):
        raise SpecError("the architecture has no storage component", file=path, line=arch.line,
                        field="architecture.nodes")
    variables = doc.get("variables") if isinstance(doc.get("variables"), dict) else {}
    seconds = _cycle_seconds({**variables, **reader.attrs}, path)
    levels = tuple(reader.levels)
    real = [level for level in levels if not level.dummy]
    return NpuSpec(
        name=Path(path).stem.replace(".arch", ""), kind="npu", frequency_hz=float(f"{1.0 / seconds:.12g}"),
        technology=reader.technology(reader.attrs, "architecture"), source=path, levels=levels,
        arithmetic=reader.arithmetic, default_precision=precision_for_bits(real[-1].word_bits),
    )
