"""Where each device of a data x tensor x pipeline product sits, and so which links its
groups cross.

Ranks are laid out tensor-innermost, then data, then pipeline (Megatron-LM's order:
Narayanan et al., SC 2021), node by node: tensor-parallel groups stay inside a node where
they fit, because they talk at every layer; data-parallel groups talk once a step; pipeline
stages only at their boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError
from .cluster import ClusterSpec
from .collectives import Group

__all__ = ["Parallelism", "group_of"]


@dataclass(frozen=True)
class Parallelism:
    data: int = 1
    tensor: int = 1
    pipeline: int = 1

    @property
    def devices(self) -> int:
        return self.data * self.tensor * self.pipeline

    def check(self, cluster: ClusterSpec) -> None:
        if self.devices > cluster.devices:
            raise SpecError(f"data {self.data} x tensor {self.tensor} x pipeline {self.pipeline} = "
                            f"{self.devices} devices, but {cluster.name} has {cluster.devices} "
                            f"({cluster.nodes} nodes of {cluster.devices_per_node})", field="data")

    def _groups(self) -> tuple[tuple[str, int, int], ...]:
        return (("tensor", 1, self.tensor), ("data", self.tensor, self.data),
                ("pipeline", self.tensor * self.data, self.pipeline))


def group_of(cluster: ClusterSpec, parallel: Parallelism, kind: str) -> Group:
    """The ``kind`` (tensor, data, pipeline) group of ``parallel`` on ``cluster``: how many
    members share a node, how many nodes it spans, and how many such groups each node holds."""
    stride, size = {name: (s, n) for name, s, n in parallel._groups()}[kind]
    g = cluster.devices_per_node
    used_per_node = min(g, parallel.devices)
    if stride >= g:
        per_node = 1
    else:
        per_node = max(1, min(size, g // stride))
    nodes = max(1, -(-size // per_node))
    sharing = max(1, used_per_node // per_node)
    return Group(per_node, nodes, sharing)
