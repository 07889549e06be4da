"""The CLI on SCALE-Sim inputs: JSON and SCALE-Sim reports against SCALE-Sim's own outputs,
and bad .cfg / topology files ending with one located line and exit status 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest


DATA = Path(__file__).resolve().parents[1] / "data" / "scalesim"
CFG = DATA / "configs"
TOPO = DATA / "topologies"


def reference(case: str) -> dict[str, str]:
    with open(DATA / "reference.csv", newline="") as f:
        return next(row for row in csv.DictReader(f) if row["case_id"] == case)


def test_json_carries_scalesim_figures(cli):
    rc, out, err = cli(["estimate", TOPO / "resnet18_Conv3_s.csv", "--hw", CFG / "sa32_user_small_ws.cfg",
                        "--json"])
    assert (rc, err) == (0, "")
    data = json.loads(out)
    ref = reference("sa32_user_small_ws__resnet18_Conv3_s")
    (layer,) = data["layers"]
    details = layer["details"]
    assert (layer["name"], details["mode"], details["dataflow"]) == ("Conv3_s", "scalesim", "ws")
    assert {k: float(v) for k, v in details["scalesim"].items()} == {k: float(ref[k]) for k in details["scalesim"]}
    assert data["totals"]["cycles"] == int(ref["total_cycles_incl_prefetch"])
    assert details["accesses"]["dram_reads"]["ifmap"] == int(ref["dram_ifmap_reads"])


COMPUTE_HEADER = ("LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %, "
                  "Mapping Efficiency %, Compute Util %,")


@pytest.mark.parametrize("cfg", ["sa32_calc_ws", "sa32_user_small_os"])
def test_scalesim_report_matches_scalesim(tmp_path, cli, cfg):
    out_dir = tmp_path / "reports"
    rc, out, err = cli(["estimate", TOPO / "multi_gemm_2layers.csv", "--hw", CFG / f"{cfg}.cfg",
                        "--scalesim-report", out_dir])
    assert (rc, err) == (0, "") and "multi_gemm_2layers" in out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "BANDWIDTH_REPORT.csv", "COMPUTE_REPORT.csv", "DETAILED_ACCESS_REPORT.csv"]
    compute = (out_dir / "COMPUTE_REPORT.csv").read_text().splitlines()
    detail = (out_dir / "DETAILED_ACCESS_REPORT.csv").read_text().splitlines()
    assert compute[0] == COMPUTE_HEADER
    assert detail[0].startswith("LayerID, SRAM IFMAP Start Cycle, SRAM IFMAP Stop Cycle, SRAM IFMAP Reads, ")
    assert detail[0].endswith("DRAM OFMAP Start Cycle, DRAM OFMAP Stop Cycle, DRAM OFMAP Writes,")
    columns = {
        "COMPUTE_REPORT.csv": ["total_cycles_incl_prefetch", "total_cycles", "stall_cycles",
                               "overall_util_pct", "mapping_efficiency_pct", "compute_util_pct"],
        "DETAILED_ACCESS_REPORT.csv": [f"{m}_{o}_{f}" for m in ("sram", "dram")
                                       for o in ("ifmap", "filter", "ofmap")
                                       for f in ("start_cycle", "stop_cycle",
                                                 "writes" if o == "ofmap" else "reads")],
    }
    for name, keys in columns.items():
        rows = (out_dir / name).read_text().splitlines()[1:]
        assert len(rows) == 2
        for layer_id, (row, layer) in enumerate(zip(rows, ("gemm_17x129x33", "gemm_33x17x129"))):
            ref = reference(f"{cfg}__gemm_{layer}")
            cells = [c.strip() for c in row.split(",")]
            assert cells[0] == str(layer_id) and cells[-1] == ""  # SCALE-Sim's trailing comma
            # the same text as SCALE-Sim writes (its reference.csv keeps it: "-66.0", "2805")
            assert cells[1:-1] == [ref[k] for k in keys]


def test_bundled_scalesim_32x32_equals_the_cfg(cli):
    rc, out, _ = cli(["estimate", TOPO / "yolo_tiny_Conv9.csv", "--hw", "scalesim_32x32", "--json"])
    ref = reference("sa32_calc_os__yolo_tiny_Conv9")
    figures = json.loads(out)["layers"][0]["details"]["scalesim"]
    assert rc == 0 and all(float(figures[k]) == float(ref[k]) for k in figures)


def test_compat_flag_on_a_default_spec(tmp_path, cli):
    spec = (Path(__file__).resolve().parents[2] / "hw_configs" / "scalesim_32x32.yaml").read_text()
    path = tmp_path / "sa.yaml"
    path.write_text(spec.replace("mode: scalesim", "mode: default"))
    rc, out, _ = cli(["estimate", TOPO / "gemm_7x5x3.csv", "--hw", path, "--json"])
    assert rc == 0 and json.loads(out)["layers"][0]["details"]["systolic"]["total_cycles"] == 2 * 32 + 32 + 3 - 2  # 2R+C+T-2, no -1
    rc, out, _ = cli(["estimate", TOPO / "gemm_7x5x3.csv", "--hw", path, "--json", "--compat", "scalesim"])
    assert rc == 0 and json.loads(out)["layers"][0]["details"]["scalesim"]["total_cycles"] == 3 + 32 + 32 - 2 - 1  # T+R+C-2, -1


def one_line_error(rc, out, err, *fragments):
    assert rc == 2 and out == ""
    assert err.startswith("accelsim: error: ") and err.count("\n") == 1 and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_bad_cfg_is_one_located_line(tmp_path, cli):
    bad = tmp_path / "bad.cfg"
    bad.write_text((CFG / "sa32_calc_os.cfg").read_text().replace("Dataflow : os", "Dataflow : rs"))
    report = tmp_path / "reports"
    rc, out, err = cli(["estimate", TOPO / "gemm_7x5x3.csv", "--hw", bad, "--scalesim-report", report])
    one_line_error(rc, out, err, f"{bad}:14: architecture_presets.Dataflow: unknown value 'rs'")
    assert not report.exists()


def test_bad_topology_is_one_located_line(tmp_path, cli):
    bad = tmp_path / "bad.csv"
    bad.write_text("Layer, M, N, K,\ng, 7, 5, -3,\n")
    rc, out, err = cli(["estimate", bad, "--hw", CFG / "sa32_calc_os.cfg"])
    one_line_error(rc, out, err, f"{bad}:2: K: must be at least 1")
    bad.write_text("Layer, M, N, K,\ng, 7, 5, 3\n")
    rc, out, err = cli(["estimate", bad, "--hw", CFG / "sa32_calc_os.cfg"])
    one_line_error(rc, out, err, f"{bad}:2: ", "comma")


def test_scalesim_report_needs_a_systolic_machine(tmp_path, cli):
    report = tmp_path / "reports"
    rc, out, err = cli(["estimate", TOPO / "gemm_7x5x3.csv", "--hw", "edge_npu", "--scalesim-report", report])
    one_line_error(rc, out, err, "SCALE-Sim reports need a systolic array", "roofline")
    assert not report.exists()
