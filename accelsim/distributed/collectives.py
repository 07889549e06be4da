"""Alpha-beta costs of the collectives that move gradients and activations.

A collective runs over a ``Group`` of devices: ``per_node`` of them in each of ``nodes``
nodes, with ``sharing`` groups of the same kind active on every node at once (the data-
parallel groups of the tensor-parallel ranks, say), which split the node's network
bandwidth between them (contention). Each algorithm's time is latency steps times the
link latency plus the bytes its busiest link carries over that link's bandwidth, as in
Thakur, Rabenseifner and Gropp, "Optimization of Collective Communication Operations in
MPICH" (IJHPCA 2005), and Patarasuk and Yuan, "Bandwidth optimal all-reduce algorithms
for clusters of workstations" (JPDC 2009):

* ``ring``: ``2(p-1)`` steps, each device sending ``2(p-1)/p * n`` bytes.
* ``tree``: NCCL's double binary tree: ``2 log2 p`` steps, ``2n`` bytes per device.
* ``hierarchical``: reduce-scatter inside each node, a ring across nodes on ``n/per_node``
  bytes per device, an all-gather inside each node (Horovod's hierarchical allreduce).
* ``torus2d``: the same three phases with the cross-node phase on a 2-D torus of nodes,
  half the bytes going rows-first and half columns-first at once on disjoint links
  (Mikami et al., arXiv:1811.05233).
* ``ps``: every device pushes its ``n`` bytes to ``shards`` server shards and pulls the
  update back; a shard's NIC carries ``workers * n / shards`` each way.

A collective stripes its bytes over all of a node's NICs (as NCCL's channels do). On a
switched network a node sends and receives at its full bandwidth; on a ``ring`` of nodes a
collective uses its two links, on a ``torus2d`` a ring uses two of its four and the 2-D
algorithm all four.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import SpecError
from .cluster import ClusterSpec

__all__ = ["Group", "Comm", "COMM_ALGORITHMS", "allreduce", "ps_exchange", "point_to_point", "best_algorithm"]

COMM_ALGORITHMS = ("ps", "ring", "tree", "hierarchical", "torus2d")


@dataclass(frozen=True)
class Group:
    """Devices that communicate together: ``per_node`` in each of ``nodes`` nodes, with
    ``sharing`` such groups active on each node at once."""

    per_node: int
    nodes: int
    sharing: int = 1

    @property
    def size(self) -> int:
        return self.per_node * self.nodes


@dataclass(frozen=True)
class Comm:
    """A collective's time and the bytes it puts on each class of link, all devices of the
    group together."""

    time_s: float = 0.0
    intra_node_bytes: float = 0.0
    inter_node_bytes: float = 0.0

    def __add__(self, other: "Comm") -> "Comm":
        return Comm(self.time_s + other.time_s, self.intra_node_bytes + other.intra_node_bytes,
                    self.inter_node_bytes + other.inter_node_bytes)

    def times(self, k: float) -> "Comm":
        return Comm(self.time_s * k, self.intra_node_bytes * k, self.inter_node_bytes * k)


def _inter_bps(c: ClusterSpec, group: Group, pattern: str = "neighbour", links: int = 2) -> float:
    """Network bandwidth one collective of ``group`` gets per node, one direction.

    ``neighbour`` traffic (rings) goes to the next node only: on a switched network at the
    node's full bandwidth, across a fat tree's uplinks once per leaf switch; on a ring or
    torus of nodes over ``links`` of the node's links. ``scattered`` traffic (trees,
    parameter servers) crosses a fat tree's oversubscribed core and, on a ring or torus,
    takes several hops, dividing each link among the flows that pass through it.
    """
    bw = c.network.bandwidth_bps
    t = c.topology
    if t.type in ("ring", "torus2d"):
        degree = 2 if t.type == "ring" else 4
        if pattern == "neighbour":
            bw *= min(links, degree) / degree
        else:
            dims = t.dims or (group.nodes, 1)
            bw /= max(1.0, sum(d / 4 for d in dims if d > 1))  # mean hops on a wrap-around ring
    elif t.type == "fat-tree" and group.nodes > t.nodes_per_switch:
        over = t.oversubscription
        bw /= over if pattern == "scattered" else max(1.0, over / t.nodes_per_switch)
    return bw / group.sharing


def _ring(p: int, n: float, bps: float, latency: float) -> float:
    return 2 * (p - 1) * latency + 2 * (p - 1) / p * n / bps if p > 1 else 0.0


def allreduce(c: ClusterSpec, group: Group, n: float, algorithm: str) -> Comm:
    """An allreduce of ``n`` bytes on every device of ``group``."""
    p, m, k = group.size, group.per_node, group.nodes
    if p <= 1 or n <= 0:
        return Comm()
    intra, net = c.intra_node, c.network
    if k == 1:
        algorithm = "ring" if algorithm != "tree" else "tree"
    if algorithm == "ring":
        bps = intra.bandwidth_bps if k == 1 else min(intra.bandwidth_bps, _inter_bps(c, group))
        latency = intra.latency_s if k == 1 else net.latency_s
        sent = 2 * (p - 1) / p * n * p  # every device sends this much
        inter = sent * (k / p if k > 1 else 0.0)
        return Comm(_ring(p, n, bps, latency), sent - inter, inter)
    if algorithm == "tree":
        bps = intra.bandwidth_bps if k == 1 else min(intra.bandwidth_bps, _inter_bps(c, group, "scattered"))
        latency = intra.latency_s if k == 1 else net.latency_s
        time = 2 * math.ceil(math.log2(p)) * latency + 2 * n / bps
        inter = 2 * n * (k - 1) * 2 if k > 1 else 0.0  # two trees' edges between nodes, both ways
        return Comm(time, max(2 * n * p - inter, 0.0), inter)
    if algorithm in ("hierarchical", "torus2d"):
        rs = (m - 1) / m * n / intra.bandwidth_bps + (m - 1) * intra.latency_s if m > 1 else 0.0
        shard = n / m
        flows = Group(1, k, group.sharing * m)  # each local rank runs its own cross-node phase
        if algorithm == "torus2d":
            cross = _torus(c, flows, shard)
        else:
            cross = _ring(k, shard, _inter_bps(c, flows), net.latency_s)
        inter = 2 * (k - 1) / k * shard * p
        intra_bytes = 2 * (m - 1) / m * n * p
        return Comm(2 * rs + cross, intra_bytes, inter)
    if algorithm == "ps":
        raise ValueError("a parameter server is not an allreduce: use ps_exchange")
    raise SpecError(f"unknown communication algorithm {algorithm!r}; expected one of {', '.join(COMM_ALGORITHMS)}",
                    field="comm")


def _torus(c: ClusterSpec, flows: Group, n: float) -> float:
    """The cross-node phase of ``torus2d``: ``n`` bytes per node over an ``a x b`` torus."""
    k = flows.nodes
    dims = c.topology.dims if c.topology.type == "torus2d" and c.topology.dims and \
        c.topology.dims[0] * c.topology.dims[1] == k else _near_square(k)
    a, b = dims
    latency = c.network.latency_s
    if c.topology.type == "torus2d":
        # two halves at once, each on its own pair of links per dimension
        bps = _inter_bps(c, flows, links=2)
        half = n / 2
        return _ring(a, half, bps, latency) + _ring(b, half / a, bps, latency)
    bps = _inter_bps(c, flows)
    return _ring(a, n, bps, latency) + _ring(b, n / a, bps, latency)


def _near_square(k: int) -> tuple[int, int]:
    a = int(math.isqrt(k))
    while k % a:
        a -= 1
    return (k // a, a)


def ps_exchange(c: ClusterSpec, group: Group, n: float, shards: int) -> tuple[Comm, float, float]:
    """Push ``n`` bytes from every worker of ``group`` to ``shards`` server shards and pull
    the parameters back. Returns the synchronous exchange (all workers at once), the time
    one update occupies the busiest shard (``server_s``) and one worker's own push+pull
    time over its link (``worker_s``), which the asynchronous simulation queues."""
    if shards < 1:
        raise SpecError(f"--ps-shards must be at least 1, got {shards}", field="ps_shards")
    w = group.size
    net = c.network
    if c.ps_nodes:
        used = min(shards, c.ps_nodes)
        shard_bps = c.ps_bandwidth_bps * used / shards
    else:
        used = min(shards, c.nodes)
        shard_bps = net.bandwidth_bps * used / shards
    worker_bps = _inter_bps(c, group, "scattered") / group.per_node
    if c.topology.type == "fat-tree" and group.nodes > c.topology.nodes_per_switch:
        shard_bps /= c.topology.oversubscription
    server_s = 2 * (n / shards) / shard_bps + 2 * net.latency_s  # one worker's push and pull at one shard
    worker_s = 2 * n / worker_bps + 2 * net.latency_s
    # all workers at once: each phase lasts as long as the busier end
    phase = max(w * n / shards / shard_bps, n / worker_bps)
    sync = Comm(2 * phase + 2 * net.latency_s, 0.0, 2 * w * n)
    return sync, server_s, worker_s


def point_to_point(c: ClusterSpec, n: float, across_nodes: bool, sharing: int = 1) -> Comm:
    """One device sending ``n`` bytes to another (pipeline stage boundaries)."""
    if n <= 0:
        return Comm()
    if across_nodes:
        bps = min(c.intra_node.bandwidth_bps, c.network.bandwidth_bps / sharing)
        return Comm(c.network.latency_s + n / bps, 0.0, n)
    return Comm(c.intra_node.latency_s + n / c.intra_node.bandwidth_bps, n, 0.0)


def best_algorithm(c: ClusterSpec, group: Group, n: float) -> str:
    """The allreduce algorithm that is fastest for ``n`` bytes on ``group`` (what NCCL's
    tuner does by measuring; here by the same costs)."""
    candidates = ["ring", "tree", "hierarchical"] + (["torus2d"] if c.topology.type == "torus2d" else [])
    return min(candidates, key=lambda a: allreduce(c, group, n, a).time_s)
