"""Cluster files (accelsim.distributed.cluster): the bundled ones, and bad ones refused with
the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

import accelsim
from accelsim.distributed import is_cluster, load_cluster
from accelsim.errors import SpecError

BUNDLED = ("p100_50gbe", "p40_100gbe", "roce25_p100", "dgx_a100_ib", "dgx_h100_ib", "ethernet_10g")

GOOD = """\
kind: cluster
name: toy
device: v100
nodes: 4
devices_per_node: 2
intra_node: {type: nvlink, bandwidth: 25 GB/s, latency: 5 us}
network: {type: infiniband, bandwidth: 100 Gbit/s, per: device, latency: 2 us}
topology: {type: torus2d, dims: [2, 2]}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_clusters_load(name: str) -> None:
    c = load_cluster(name)
    assert is_cluster(name)
    assert c.devices == c.nodes * c.devices_per_node > 1
    assert c.network.bandwidth_bps > 0 and c.intra_node.bandwidth_bps > c.nic_bps


def test_the_bundled_figures_are_the_cited_setups() -> None:
    goyal = load_cluster("p100_50gbe")  # Goyal et al. 2017: 32 servers of 8 P100, 50 Gbit/s Ethernet
    assert (goyal.nodes, goyal.devices_per_node, goyal.device.name) == (32, 8, "p100")
    assert goyal.network.bandwidth_bps == pytest.approx(50e9 / 8)
    jia = load_cluster("p40_100gbe")  # Jia et al. 2018: 2,048 P40 in servers of 8, 100 Gbit/s
    assert jia.devices == 2048 and jia.network.bandwidth_bps == pytest.approx(100e9 / 8)
    dgx = load_cluster("dgx_h100_ib")  # 400 Gbit/s per GPU: a node injects 8 x 50 GB/s
    assert dgx.network.bandwidth_bps == pytest.approx(8 * 400e9 / 8) and dgx.nics_per_node == 8


def test_per_device_bandwidth_is_multiplied_and_the_torus_is_read(tmp_path: Path) -> None:
    c = load_cluster(_write(tmp_path, GOOD))
    assert c.network.bandwidth_bps == pytest.approx(2 * 100e9 / 8)
    assert c.nics_per_node == 2 and c.topology.dims == (2, 2)
    assert c.network.latency_s == pytest.approx(2e-6)


@pytest.mark.parametrize("edit, line, field", [
    (("nodes: 4", "nodse: 4"), 4, "nodse"),
    (("latency: 5 us}", "latency: 5 parsecs}"), 6, "intra_node.latency"),
    (("dims: [2, 2]", "dims: [2, 3]"), 8, "topology.dims"),
    (("per: device", "per: rack"), 7, "network.per"),
    (("device: v100", "device: v1000"), 3, "device"),
])
def test_bad_fields_name_file_line_and_field(tmp_path: Path, edit: tuple[str, str], line: int,
                                             field: str) -> None:
    path = _write(tmp_path, GOOD.replace(*edit))
    with pytest.raises(SpecError) as info:
        load_cluster(path)
    assert info.value.file == str(path) and info.value.line == line and info.value.field == field


def test_a_one_device_file_is_not_a_cluster() -> None:
    assert not is_cluster("v100") and not is_cluster("no_such_part")
    with pytest.raises(SpecError, match="not a cluster"):
        load_cluster("v100")


def test_estimate_on_a_cluster_says_to_train() -> None:
    with pytest.raises(SpecError) as info:
        accelsim.estimate("resnet50", "dgx_a100_ib")
    assert "cluster" in str(info.value) and info.value.file.endswith("dgx_a100_ib.yaml")
