"""accelsim's SCALE-Sim mode against SCALE-Sim 3.0.0 itself, on a whole topology.

Installs SCALE-Sim into a scratch virtual environment (outside the repository; its code is
never copied here), builds a multi-layer topology from the ResNet-18 layers of
tests/data/scalesim, runs it on a USER-bandwidth machine (finite DRAM bandwidth, so reads
stall), and times:

* SCALE-Sim's command line, as its users run it (it always writes cycle-by-cycle traces:
  its ``-s`` flag is ignored);
* SCALE-Sim in process without traces (``single_layer_sim.run`` and its report getters,
  what ``simulator.run`` calls before writing files): its fastest path;
* accelsim in process (``estimate`` in scalesim mode, numba kernels loaded, result cache
  cleared) and accelsim's whole command line.

It also checks that both tools report the same figures for every layer, then prints the
times and the ratios.

    python benchmarks/scalesim_speed.py [--venv DIR] [--config NAME] [--layers LAYER ...]

``DIR`` defaults to a folder under the system temporary directory and is reused between
runs; ``NAME`` is a config of tests/data/scalesim/configs (default sa32_user_small_os).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "scalesim"
ALL_LAYERS = ["Conv1", "Conv2_1a", "Conv3_1a", "Conv3_s", "Conv4_1b", "Conv5_2a", "FC"]
# SCALE-Sim needs about 100 s for these in process on a 2-core machine (USER mode, OS); all
# seven take it well over ten minutes.
LAYERS = ["Conv2_1a", "Conv3_s", "Conv5_2a", "FC"]
HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
# SCALE-Sim insists on a layout file even when custom layouts are off; a header suffices.
LAYOUT = "Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor,\n"

# Runs inside the scratch environment: SCALE-Sim in process, no traces, report items as JSON.
IN_PROCESS = """
import contextlib, io, json, sys, time
from scalesim.scale_config import scale_config
from scalesim.topology_utils import topologies
from scalesim.layout_utils import layouts
from scalesim.single_layer_sim import single_layer_sim
start = time.perf_counter()
cfg = scale_config(); cfg.read_conf_file(sys.argv[1])
topo = topologies(); topo.load_arrays(topofile=sys.argv[2]); topo.topo_calc_hyperparams()
rows = []
for i in range(topo.get_num_layers()):
    sim = single_layer_sim()
    sim.set_params(layer_id=i, config_obj=cfg, topology_obj=topo, layout_obj=layouts(), verbose=False)
    with contextlib.redirect_stdout(io.StringIO()):
        sim.run()
    rows.append([float(x) for x in sim.get_compute_report_items() + sim.get_bandwidth_report_items()
                 + sim.get_detail_report_items()])
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows}))
"""


def scratch_env(folder: Path) -> Path:
    """A virtual environment with scalesim 3.0.0 (and numpy < 2.4, which it needs)."""
    python = folder / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "scalesim==3.0.0", "numpy<2.4"],
                       check=True)
    return python


def topology(folder: Path, layers: list[str]) -> Path:
    rows = [(DATA / "topologies" / f"resnet18_{name}.csv").read_text().splitlines()[1] for name in layers]
    path = folder / "resnet18_layers.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def accelsim_figures(topo: Path, cfg: Path) -> tuple[float, list[list[float]]]:
    from accelsim.estimation import estimate
    from accelsim.hw.systolic.memory import REPORT_FIELDS, run_gemm

    estimate(topo, cfg, cache=False)  # load the numba kernels (compiled on first use, then cached on disk)
    run_gemm.cache_clear()
    start = time.perf_counter()
    est = estimate(topo, cfg, cache=False)  # simulated, not read from the result cache
    seconds = time.perf_counter() - start
    return seconds, [[float(layer.details["scalesim"][k]) for k in REPORT_FIELDS] for layer in est.layers]


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "accelsim-scalesim-bench",
                        help="scratch virtual environment for SCALE-Sim (created if missing)")
    parser.add_argument("--config", default="sa32_user_small_os", help="a config of tests/data/scalesim/configs")
    parser.add_argument("--layers", nargs="+", default=LAYERS, choices=ALL_LAYERS, metavar="LAYER",
                        help=f"ResNet-18 layers to run (default: {' '.join(LAYERS)}; all: {' '.join(ALL_LAYERS)})")
    args = parser.parse_args()
    python = scratch_env(args.venv)
    cfg = DATA / "configs" / f"{args.config}.cfg"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        topo = topology(work, args.layers)
        (work / "layout.csv").write_text(LAYOUT)
        ss_cli = timed([str(python), "-m", "scalesim.scale", "-c", str(cfg), "-t", str(topo),
                        "-l", str(work / "layout.csv"), "-p", str(work / "out")], work)
        run = subprocess.run([str(python), "-c", IN_PROCESS, str(cfg), str(topo)], check=True,
                             capture_output=True, text=True)
        scalesim = json.loads(run.stdout)
        ours_s, ours = accelsim_figures(topo, cfg)
        accelsim = str(Path(sys.executable).with_name("accelsim"))
        ours_cli = timed([accelsim, "estimate", str(topo), "--hw", str(cfg), "--json", "--no-cache"], work)
    same = ours == scalesim["rows"]
    print(f"topology: {len(args.layers)} ResNet-18 layers ({', '.join(args.layers)}) on {args.config}")
    print(f"identical report figures, every layer: {'yes' if same else 'NO'}")
    print("| run | wall (s) | SCALE-Sim CLI / this | SCALE-Sim in process / this |")
    print("|---|---|---|---|")
    for name, seconds in [("SCALE-Sim 3.0.0 CLI (writes traces)", ss_cli),
                          ("SCALE-Sim 3.0.0 in process, no traces", scalesim["seconds"]),
                          ("accelsim estimate in process", ours_s),
                          ("accelsim estimate CLI (whole process)", ours_cli)]:
        print(f"| {name} | {seconds:.3f} | {ss_cli / seconds:.0f} | {scalesim['seconds'] / seconds:.0f} |")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
