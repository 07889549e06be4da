"""The ``cluster`` spec: devices, the links inside a node, the network between nodes.

A cluster file (``kind: cluster``) names one device (a bundled hardware name, or a file
beside the cluster file) and says how many nodes hold how many of them, how fast and how
far apart they are (``intra_node``: NVLink or PCIe per device; ``network``: the NICs of a
node) and how the network is wired (``topology``). Parameter-server nodes are optional;
without them, parameter-server shards live on worker nodes and share their NICs.

Bandwidths are one direction of a full-duplex link, as datasheets quote Ethernet and
InfiniBand ("100 Gbit/s") and as NVIDIA quotes NVLink per direction (docs/distributed.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import SpecError
from ..hw import HardwareSpec, load_hardware
from ..hw.spec import SpecReader
from ..resources import resolve
from ..yamlread import LineDict, read_yaml

__all__ = ["Link", "Topology", "ClusterSpec", "load_cluster", "is_cluster", "TOPOLOGIES"]

TOPOLOGIES = ("flat", "fat-tree", "ring", "torus2d")


@dataclass(frozen=True)
class Link:
    """One class of link: bytes per second in one direction, and the latency of a message."""

    type: str
    bandwidth_bps: float
    latency_s: float


@dataclass(frozen=True)
class Topology:
    """How nodes are wired. ``fat-tree``: ``nodes_per_switch`` nodes under each leaf switch,
    whose uplinks carry ``1/oversubscription`` of what its nodes can send. ``torus2d``:
    nodes on a ``dims[0] x dims[1]`` wrap-around grid, four links per node."""

    type: str = "flat"
    oversubscription: float = 1.0
    nodes_per_switch: int = 0
    dims: tuple[int, int] | None = None


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster. ``network.bandwidth_bps`` is a node's whole injection bandwidth (all its
    NICs together); ``nics_per_node`` says how many flows it can carry at full NIC speed."""

    name: str
    device: HardwareSpec
    nodes: int
    devices_per_node: int
    intra_node: Link
    network: Link
    nics_per_node: int
    topology: Topology
    ps_nodes: int = 0
    ps_bandwidth_bps: float = 0.0
    description: str = ""
    source: str | None = None

    @property
    def devices(self) -> int:
        return self.nodes * self.devices_per_node

    @property
    def nic_bps(self) -> float:
        return self.network.bandwidth_bps / self.nics_per_node


def is_cluster(ref: str | Path) -> bool:
    """Whether ``ref`` (a file or bundled name) is a cluster file; False where it is not a
    readable YAML mapping (the hardware loader then reports the problem)."""
    try:
        path = resolve(ref, "hw_configs", (".yaml", ".yml"))
    except SpecError:
        return False
    if path.suffix.lower() not in (".yaml", ".yml"):
        return False
    try:
        doc = read_yaml(path)
    except SpecError:
        return False
    return isinstance(doc, dict) and doc.get("kind") == "cluster"


def _link(r: SpecReader, key: str, types: tuple[str, ...]) -> tuple[Link, SpecReader]:
    link = r.child(key)
    kind = link.string("type", types[0], types)
    return Link(kind, link.quantity("bandwidth", "bandwidth"), link.quantity("latency", "time")), link


def _topology(r: SpecReader, nodes: int) -> Topology:
    if not r.has("topology"):
        r.used.add("topology")
        return Topology()
    value = r.mapping["topology"]
    if isinstance(value, str):
        r.string("topology", choices=TOPOLOGIES)
        if value in ("fat-tree", "torus2d"):
            raise r.error("topology", f"topology {value} needs its parameters, e.g. "
                          + ("{type: fat-tree, oversubscription: 2, nodes_per_switch: 16}" if value == "fat-tree"
                             else "{type: torus2d, dims: [8, 8]}"))
        return Topology(value)
    t = r.child("topology")
    kind = t.string("type", choices=TOPOLOGIES)
    over, per_switch, dims = 1.0, 0, None
    if kind == "fat-tree":
        over = t.get("oversubscription", _ratio, 1.0)
        per_switch = t.integer("nodes_per_switch", min(nodes, 16))
    if kind == "torus2d":
        dims = t.get("dims", _pair)
        if dims[0] * dims[1] != nodes:
            raise t.error("dims", f"a {dims[0]}x{dims[1]} torus holds {dims[0] * dims[1]} nodes, "
                                  f"but the cluster has {nodes}")
    t.finish()
    return Topology(kind, over, per_switch, dims)


def _ratio(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 1 <= v <= 1000:
        raise ValueError(f"expected a number from 1 to 1000 (1 = none), got {v!r}")
    return float(v)


def _pair(v: object) -> tuple[int, int]:
    if (not isinstance(v, list) or len(v) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v)):
        raise ValueError(f"expected two positive integers, e.g. [8, 8], got {v!r}")
    return int(v[0]), int(v[1])


def load_cluster(ref: str | Path) -> ClusterSpec:
    """Read a cluster file or bundled cluster name (``dgx_a100_ib``).

    Raises:
        SpecError: not a cluster file; a missing, unknown or malformed field (file, line,
            field); a device that cannot be read.
    """
    path = resolve(ref, "hw_configs", (".yaml", ".yml"))
    doc = read_yaml(path)
    if not isinstance(doc, LineDict):
        raise SpecError("a cluster file must be a mapping with 'kind: cluster'", file=str(path), line=1)
    r = SpecReader(str(path), doc)
    kind = r.string("kind")
    if kind != "cluster":
        raise r.error("kind", f"{path.name} is {kind!r} hardware, not a cluster; name a cluster "
                              f"(kind: cluster) to train on several devices")
    r.get("version", lambda v: v, 1)
    name = r.string("name", path.stem)
    description = r.string("description", "")
    r.string("source", "")
    device_ref = r.string("device")
    beside = path.parent / device_ref
    try:
        device = load_hardware(beside if beside.is_file() else device_ref)
    except SpecError as exc:
        raise r.error("device", f"cannot read device {device_ref!r}: {exc}") from None
    nodes = r.integer("nodes", maximum=1 << 20)
    per_node = r.integer("devices_per_node", maximum=1 << 12)
    intra, ir = _link(r, "intra_node", ("nvlink", "nvswitch", "pcie"))
    ir.finish()
    net = r.child("network")
    net_type = net.string("type", "ethernet", ("ethernet", "roce", "infiniband"))
    per = net.string("per", "node", ("node", "device"))
    bandwidth = net.quantity("bandwidth", "bandwidth")
    latency = net.quantity("latency", "time")
    nics = net.integer("nics_per_node", per_node if per == "device" else 1, maximum=1 << 12)
    net.finish()
    network = Link(net_type, bandwidth * (per_node if per == "device" else 1), latency)
    topology = _topology(r, nodes)
    ps = r.child("parameter_servers", None)
    ps_nodes = ps.integer("nodes", 0, minimum=0, maximum=1 << 20)
    ps_bw = ps.quantity("bandwidth", "bandwidth", network.bandwidth_bps)
    ps.finish()
    r.finish()
    return ClusterSpec(name=name, device=device, nodes=nodes, devices_per_node=per_node, intra_node=intra,
                       network=network, nics_per_node=nics, topology=topology, ps_nodes=ps_nodes,
                       ps_bandwidth_bps=ps_bw, description=description, source=str(path))

