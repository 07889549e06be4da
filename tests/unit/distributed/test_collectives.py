"""Collective costs against hand-derived alpha-beta figures (accelsim.distributed.collectives).

Each expected value is worked out from the algorithm's definition: ring allreduce moves
2(p-1)/p of the message through every device (Patarasuk and Yuan, JPDC 2009); a parameter
server's NIC carries every worker's share of its shard, each way.
"""

from __future__ import annotations

import pytest

from accelsim.distributed.cluster import ClusterSpec, Link, Topology
from accelsim.distributed.collectives import Group, allreduce, best_algorithm, point_to_point, ps_exchange
from accelsim.hw import load_hardware

GB = 1e9


def cluster(nodes: int, per_node: int, *, net_bps: float = 1 * GB, intra_bps: float = 100 * GB,
            latency: float = 0.0, topology: Topology = Topology(), ps_nodes: int = 0) -> ClusterSpec:
    return ClusterSpec(name="toy", device=load_hardware("v100"), nodes=nodes, devices_per_node=per_node,
                       intra_node=Link("nvlink", intra_bps, latency), network=Link("ethernet", net_bps, latency),
                       nics_per_node=1, topology=topology, ps_nodes=ps_nodes, ps_bandwidth_bps=net_bps)


def test_ring_across_four_nodes_by_hand() -> None:
    c = cluster(4, 1, latency=1e-6)
    r = allreduce(c, Group(1, 4), 1 * GB, "ring")
    # 2(p-1) = 6 steps of 1 us, and 2 * 3/4 * 1 GB over 1 GB/s
    assert r.time_s == pytest.approx(1.5 + 6e-6)
    assert r.inter_node_bytes == pytest.approx(4 * 1.5 * GB)  # every device sends 1.5 GB, all across nodes
    assert r.intra_node_bytes == 0


def test_ring_inside_one_node_uses_the_intra_node_link() -> None:
    r = allreduce(cluster(1, 8), Group(8, 1), 1 * GB, "ring")
    assert r.time_s == pytest.approx(2 * 7 / 8 * 1 / 100)
    assert r.inter_node_bytes == 0


def test_hierarchical_by_hand() -> None:
    c = cluster(4, 8, net_bps=10 * GB)
    r = allreduce(c, Group(8, 4), 1 * GB, "hierarchical")
    scatter = 7 / 8 * 1 / 100                 # reduce-scatter inside the node; the all-gather is the same
    across = 2 * 3 / 4 * (1 / 8) / (10 / 8)   # each of 8 local ranks rings 1/8 GB over 1/8 of the NIC
    assert r.time_s == pytest.approx(2 * scatter + across)


def test_groups_sharing_a_nic_split_its_bandwidth() -> None:
    c = cluster(4, 8)
    alone = allreduce(c, Group(1, 4, sharing=1), 1 * GB, "ring").time_s
    shared = allreduce(c, Group(1, 4, sharing=8), 1 * GB, "ring").time_s
    assert shared == pytest.approx(8 * alone)


def test_parameter_server_one_shard_is_bound_by_its_nic() -> None:
    c = cluster(4, 1)
    sync, server_s, worker_s = ps_exchange(c, Group(1, 4), 1 * GB, shards=1)
    # the shard receives 4 workers x 1 GB, then sends them back: 4 s each way
    assert sync.time_s == pytest.approx(8.0)
    assert server_s == pytest.approx(2.0)   # one worker's push and pull at the shard
    assert worker_s == pytest.approx(2.0)   # and over its own NIC


def test_parameter_server_shards_spread_the_load() -> None:
    c = cluster(4, 1)
    one = ps_exchange(c, Group(1, 4), 1 * GB, shards=1)[0].time_s
    four = ps_exchange(c, Group(1, 4), 1 * GB, shards=4)[0].time_s
    assert four == pytest.approx(2.0)  # each shard takes 4 x 1/4 GB; each worker's NIC sends 1 GB
    assert one / four == pytest.approx(4.0)


def test_one_shard_saturates_while_ring_keeps_its_time() -> None:
    times = {w: (ps_exchange(cluster(w, 1), Group(1, w), 1 * GB, 1)[0].time_s,
                 allreduce(cluster(w, 1), Group(1, w), 1 * GB, "ring").time_s) for w in (2, 8, 32)}
    assert times[32][0] / times[2][0] == pytest.approx(16.0)       # grows with the workers
    assert times[32][1] / times[2][1] == pytest.approx((31 / 32) / (1 / 2))  # 2(p-1)/p tends to 2


def test_torus_2d_algorithm_uses_all_four_links() -> None:
    c = cluster(16, 1, topology=Topology("torus2d", dims=(4, 4)))
    ring = allreduce(c, Group(1, 16), 1 * GB, "ring").time_s
    torus = allreduce(c, Group(1, 16), 1 * GB, "torus2d").time_s
    # the ring uses two of four links (0.5 GB/s); the 2-D one runs two halves on disjoint links
    assert ring == pytest.approx(2 * 15 / 16 / 0.5)
    assert torus == pytest.approx(2 * 3 / 4 * 0.5 / 0.5 + 2 * 3 / 4 * 0.125 / 0.5)
    assert torus < ring


def test_fat_tree_oversubscription_slows_scattered_traffic_only() -> None:
    flat = cluster(64, 1)
    tree = cluster(64, 1, topology=Topology("fat-tree", oversubscription=4, nodes_per_switch=16))
    assert allreduce(tree, Group(1, 64), GB, "ring").time_s == pytest.approx(allreduce(flat, Group(1, 64), GB, "ring").time_s)
    assert allreduce(tree, Group(1, 64), GB, "tree").time_s > 3 * allreduce(flat, Group(1, 64), GB, "tree").time_s


def test_latency_decides_for_small_messages() -> None:
    c = cluster(64, 8, latency=10e-6, net_bps=10 * GB)
    assert best_algorithm(c, Group(8, 64), 1e3) in ("tree", "hierarchical")
    ring = allreduce(c, Group(8, 64), 1e3, "ring").time_s
    assert ring == pytest.approx(2 * 511 * 10e-6, rel=0.01)


def test_point_to_point() -> None:
    c = cluster(2, 1, latency=1e-6)
    assert point_to_point(c, 1 * GB, across_nodes=True).time_s == pytest.approx(1 + 1e-6)
    assert point_to_point(c, 1 * GB, across_nodes=False).time_s == pytest.approx(0.01 + 1e-6)


def test_unknown_algorithm() -> None:
    from accelsim.errors import SpecError

    with pytest.raises(SpecError, match="unknown communication algorithm"):
        allreduce(cluster(2, 1), Group(1, 2), GB, "butterfly")
