"""A hardware family is its own module plus one registry line: a throwaway family, registered
here only, runs through ``estimate`` and the CLI with its own option flag, and its counts,
footprints and off-chip traffic reach the JSON contract without any edit to accelsim.

The toy machine takes ``ceil(macs / lanes)`` cycles per layer at 1 GHz, moves each layer's
operands once over an off-chip level ``ext`` and once through an on-chip ``buf``, keeps the
layer's weights resident in ``buf`` and counts one ``wakeups`` event per layer. Figures
for an FC layer of 16 -> 8 (int8, batch 1) worked out by hand:
  MACs 16*8 = 128; with --lanes 4: 32 cycles, 32 ns;
  bytes: input 16 + weights 128 + output 8 = 152 at each level; footprint: 128 B of weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from accelsim import estimate
from accelsim.cli import main
from accelsim.errors import SpecError
from accelsim.hw import FAMILIES, CostContext, Family, Flag, HardwareSpec, LayerCost
from accelsim.hw.spec import SpecReader


@dataclass(frozen=True)
class ToyOptions:
    lanes: int = 1


class ToyModel:
    def __init__(self, spec: HardwareSpec, options: ToyOptions, context: CostContext) -> None:
        self.spec, self.options = spec, options

    def layer_costs(self, graph):
        out = []
        for layer in graph.layers():
            w = layer.workload
            cycles = math.ceil(w.macs / self.options.lanes)
            moved = w.input_bytes + w.weight_bytes + w.output_bytes
            out.append(LayerCost(name=layer.name, op=layer.op, macs=w.macs, cycles=cycles,
                                 latency_s=cycles / self.spec.frequency_hz,
                                 bytes_by_level=(("ext", moved), ("buf", moved)), offchip=("ext",),
                                 footprint_by_level=(("buf", w.weight_bytes),), counts=(("wakeups", 1),)))
        return out

    def roof(self, precision):
        return None, ()


def _load(r: SpecReader, name: str) -> HardwareSpec:
    return HardwareSpec(name=name, kind="toy", frequency_hz=r.quantity("frequency", "frequency"),
                        technology=r.technology(), source=r.path, default_precision="int8")


TOY = Family(kind="toy", load=_load, cost_model=ToyModel, options=ToyOptions,
             flags=(Flag("lanes", "MACs per cycle of the toy machine", metavar="N", type=int),))

MODEL = """\
name: fc16
version: 1
inputs:
  x: {shape: [1, 16], dtype: int8}
layers:
  - {name: fc, op: linear, out_features: 8, bias: false}
"""


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    hw, model = tmp_path / "toy.yaml", tmp_path / "fc16.yaml"
    hw.write_text("kind: toy\nversion: 1\nname: toy\nfrequency: 1 GHz\n")
    model.write_text(MODEL)
    return model, hw


def test_estimate_runs_a_family_registered_from_outside(files: tuple[Path, Path]) -> None:
    model, hw = files
    with FAMILIES.temporarily("toy", TOY):
        est = estimate(model, hw, options={"lanes": 4})
    t = est.totals
    assert (t.macs, t.cycles, t.latency_s) == (128, 32, pytest.approx(32e-9))
    assert (t.bytes_dram, t.bytes_onchip) == (152, 152)
    assert dict(t.counts) == {"wakeups": 1} and dict(t.footprint_by_level) == {"buf": 128}
    assert "toy" not in FAMILIES


def test_cli_takes_the_family_flag(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    model, hw = files
    with FAMILIES.temporarily("toy", TOY):
        rc = main(["estimate", str(model), "--hw", str(hw), "--lanes", "4", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    data = json.loads(out)
    layer = data["layers"][0]
    assert (layer["cycles"], layer["bytes_dram"], layer["bytes_onchip"]) == (32, 152, 152)
    assert layer["counts"] == {"wakeups": 1} and layer["footprint_bytes_by_level"] == {"buf": 128}
    assert data["totals"]["bytes_by_level"] == {"ext": 152, "buf": 152} and data["schedule"] == "serial"


def test_an_option_of_another_family_is_refused(files: tuple[Path, Path]) -> None:
    model, hw = files
    with FAMILIES.temporarily("toy", TOY), pytest.raises(SpecError, match="'objective' does not apply to toy"):
        estimate(model, hw, options={"objective": "energy"})


def test_totals_combine_counts_by_sum_and_footprints_by_max() -> None:
    a = LayerCost("a", "x", footprint_by_level=(("buf", 10.0),), counts=(("spikes", 3.0),),
                  bytes_by_level=(("dram", 5.0), ("buf", 7.0)), offchip=("dram",))
    b = LayerCost("b", "x", footprint_by_level=(("buf", 4.0), ("rf", 2.0)), counts=(("spikes", 4.0),),
                  bytes_by_level=(("buf", 1.0),))
    t = a + b
    assert dict(t.footprint_by_level) == {"buf": 10.0, "rf": 2.0}
    assert dict(t.counts) == {"spikes": 7.0}
    assert (t.bytes_dram, t.bytes_onchip) == (5.0, 8.0)
