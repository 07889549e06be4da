"""npu analysis on small layers whose counts are derived by hand in the comments.

Conventions: a 1-D convolution ``Outputs[k, p] += Weights[k, c, r] * Inputs[c, p + r]``;
loops are written outermost first; "reads/fills/updates" are per instance, as Timeloop
prints them.
"""

from __future__ import annotations

import pytest

from accelsim.errors import MappingError
from accelsim.hw.npu.analysis import evaluate, prepare
from accelsim.hw.npu.mapping import LevelMapping, Loop, Mapping
from accelsim.hw.npu.problem import DataSpace, Problem
from accelsim.hw.npu.spec import ActionEnergy, ArithmeticLevel, NpuSpec, StorageLevel
from accelsim.hw.technology import Technology

ALL = ("Weights", "Inputs", "Outputs")


def conv1d(k: int = 1, c: int = 1, r: int = 3, p: int = 4) -> Problem:
    dims = ("K", "C", "R", "P")
    return Problem("conv1d", dims, (k, c, r, p), (
        DataSpace("Weights", (((1, 0),), ((1, 1),), ((1, 2),))),
        DataSpace("Inputs", (((1, 1),), ((1, 2), (1, 3)))),
        DataSpace("Outputs", (((1, 0),), ((1, 3),)), read_write=True)))


def level(name: str, *, mesh: tuple[int, int] = (1, 1), words: int | None = None, block: int = 1,
          read_bw: float | None = None, energy: ActionEnergy = ActionEnergy()) -> StorageLevel:
    return StorageLevel(name=name, cls="sram" if words else "dram", word_bits=8, size_words=words,
                        block_size=block, mesh_x=mesh[0], mesh_y=mesh[1], read_bandwidth=read_bw, energy=energy)


def machine(*levels: StorageLevel, macs: tuple[int, int] = (1, 1), mac_energy: float = 0.0) -> NpuSpec:
    return NpuSpec(name="toy", kind="npu", frequency_hz=1e9, technology=Technology(), levels=levels,
                   arithmetic=ArithmeticLevel(mesh_x=macs[0], mesh_y=macs[1], energy_j=mac_energy))


def lm(name: str, *loops: str, spatial: tuple[str, ...] = (), keep: tuple[str, ...] = ALL) -> LevelMapping:
    """Loops as "P4" (temporal) or "P4X" (spatial), outermost first."""
    def parse(text: str) -> Loop:
        axis = text[-1] if text[-1] in "XY" else ""
        return Loop(text[0], int(text[1:len(text) - len(axis)]), axis)  # type: ignore[arg-type]
    return LevelMapping(name, tuple(parse(t) for t in loops), tuple(parse(t) for t in spatial), keep)


def counts(result, name: str) -> dict[str, tuple[int, int, int]]:
    (stats,) = [s for s in result.levels if s.name == name]
    return {ds: (s.reads, s.fills, s.updates) for ds, s in zip(ALL, stats.dataspaces) if s.kept}


def test_one_level_reads_each_operand_once_per_mac() -> None:
    # for P in [0:4) for R in [0:3): 12 MACs, each reads a weight and an input and updates
    # an output. The first update of each of the 4 outputs writes without reading: 12 - 4.
    spec = machine(level("Buffer", words=64))
    result = evaluate(prepare(conv1d(), spec), Mapping((lm("Buffer", "P4", "R3"),)))
    assert counts(result, "Buffer") == {"Weights": (12, 0, 0), "Inputs": (12, 0, 0), "Outputs": (8, 0, 12)}
    assert result.cycles == result.compute_cycles == 12


def test_sliding_window_fetches_only_the_new_input() -> None:
    # DRAM: for R in [0:3); Buffer: for P in [0:4). The buffer's input tile is 4 words; each
    # R step slides it by one, so it fetches 4 + 1 + 1 = 6 words (the whole input, once).
    # Its output tile (all 4 outputs) does not move with R: written back once (4 updates).
    spec = machine(level("DRAM"), level("Buffer", words=64))
    result = evaluate(prepare(conv1d(), spec), Mapping((lm("DRAM", "R3"), lm("Buffer", "P4"))))
    assert counts(result, "Buffer") == {"Weights": (12, 3, 0), "Inputs": (12, 6, 0), "Outputs": (8, 0, 12)}
    assert counts(result, "DRAM") == {"Weights": (3, 0, 0), "Inputs": (6, 0, 0), "Outputs": (0, 0, 4)}


def test_a_change_of_direction_refetches_the_whole_tile() -> None:
    # DRAM: for K in [0:2) for P in [0:4); Buffer: for R in [0:3). The input tile (3 words)
    # slides +1 with P (1 new word) and jumps back when K advances. Timeloop simulates P at
    # 0 and 1 (the second counted 3 times) and K likewise:
    #   (K0,P0) 3 words; (K0,P1) +1 -> 1 word, x3; (K1,P0) -1: new direction, whole tile 3;
    #   (K1,P1) +1 -> 1 word, x3.  3 + 3 + 3 + 3 = 12 = the input (6 words) once per K.
    spec = machine(level("DRAM"), level("Buffer", words=64))
    result = evaluate(prepare(conv1d(k=2), spec), Mapping((lm("DRAM", "K2", "P4"), lm("Buffer", "R3"))))
    assert counts(result, "Buffer")["Inputs"] == (24, 12, 0)


def test_standing_still_keeps_the_residue_except_in_legacy_timeloop() -> None:
    # DRAM: for P in [0:4) for K in [0:2); Buffer: for R in [0:3). K does not move the input
    # tile. Positions: (P0,K0) 3; (P0,K1) still: 0; (P1,K0) +1: 1 word, x3; (P1,K1) 0.
    # Current Timeloop: 3 + 3 = 6. Before its January 2025 fix the still step counted as a
    # move, so the next +1 looked like a change of direction: 3 + 3 x 3 = 12.
    spec = machine(level("DRAM"), level("Buffer", words=64))
    mapping = Mapping((lm("DRAM", "P4", "K2"), lm("Buffer", "R3")))
    assert counts(evaluate(prepare(conv1d(k=2), spec), mapping), "Buffer")["Inputs"][1] == 6
    assert counts(evaluate(prepare(conv1d(k=2), spec, legacy=True), mapping), "Buffer")["Inputs"][1] == 12


def test_multicast_to_a_k_partitioned_array() -> None:
    # GLB fans out to 4 RFs, one output channel each: RF: for R in [0:3) for P in [0:4).
    # All 4 RFs need the same 6 inputs: one multicast read of each -> GLB reads 6. Weights
    # differ per channel: 4 x 3 = 12 reads. Each RF sends its 4 outputs once: 16 updates.
    spec = machine(level("GLB", words=1024), level("RF", mesh=(4, 1), words=64), macs=(4, 1))
    result = evaluate(prepare(conv1d(k=4), spec),
                      Mapping((lm("GLB", spatial=("K4X",)), lm("RF", "R3", "P4"))))
    assert counts(result, "GLB") == {"Weights": (12, 0, 0), "Inputs": (6, 0, 0), "Outputs": (0, 0, 16)}
    assert counts(result, "RF") == {"Weights": (12, 3, 0), "Inputs": (12, 6, 0), "Outputs": (8, 0, 12)}
    assert [s.instances for s in result.levels] == [1, 4]


def test_spatial_reduction_of_a_c_partitioned_array() -> None:
    # The same array split over 4 input channels: the 4 RFs hold partial sums of the same 4
    # outputs, added on the way up: the GLB sees 4 updates (not 16) and reads none back.
    spec = machine(level("GLB", words=1024), level("RF", mesh=(4, 1), words=64), macs=(4, 1))
    result = evaluate(prepare(conv1d(c=4), spec),
                      Mapping((lm("GLB", spatial=("C4X",)), lm("RF", "R3", "P4"))))
    assert counts(result, "GLB")["Outputs"] == (0, 0, 4)
    assert counts(result, "GLB")["Inputs"] == (24, 0, 0)  # 4 channels x 6 inputs, one RF each


def test_systolic_forwarding_between_neighbour_macs() -> None:
    # One buffer feeding 4 MACs along X, one output each: Buffer: for R in [0:3) and the
    # spatial P4. At step r, MAC p needs input p + r, which its right neighbour used at step
    # r - 1: Timeloop forwards it over the mesh link. Step 0 reads 4 inputs; each later step
    # (simulated once, counted twice) reads only the new one: 4 + 2 x 1 = 6 reads. Weight r
    # is shared by all MACs (multicast): 3 reads. Outputs: 4 per step, 12, 4 first writes.
    spec = machine(level("Buffer", words=64), macs=(4, 1))
    result = evaluate(prepare(conv1d(), spec), Mapping((lm("Buffer", "R3", spatial=("P4X",)),)))
    assert counts(result, "Buffer") == {"Weights": (3, 0, 0), "Inputs": (6, 0, 0), "Outputs": (8, 0, 12)}
    assert result.cycles == 3


def test_bypassed_level_passes_its_children_to_the_next_level_out() -> None:
    # DRAM / GLB / RF with weights bypassing the RF: every MAC reads its weight from the GLB
    # (12 reads); the GLB's own weight traffic from DRAM is unchanged (3 fills).
    spec = machine(level("DRAM"), level("GLB", words=1024), level("RF", words=64))
    mapping = Mapping((lm("DRAM"), lm("GLB", "P4"), lm("RF", "R3", keep=("Inputs", "Outputs"))))
    result = evaluate(prepare(conv1d(), spec), mapping)
    assert counts(result, "GLB")["Weights"] == (12, 3, 0)
    assert "Weights" not in counts(result, "RF")


def test_energy_counts_vector_accesses_and_leakage() -> None:
    # Block of 4 words: 12 reads are 3 vector reads, 8 reads 2, 12 updates 3. Read 1 pJ,
    # update 2 pJ, leakage 0.5 pJ per cycle over 12 cycles; MAC 0.25 pJ x 12.
    pj = 1e-12
    e = ActionEnergy(read_j=1 * pj, fill_j=3 * pj, update_j=2 * pj, leak_j=0.5 * pj)
    spec = machine(level("Buffer", words=64, block=4, energy=e), mac_energy=0.25 * pj)
    result = evaluate(prepare(conv1d(), spec), Mapping((lm("Buffer", "P4", "R3"),)))
    buffer = result.levels[0]
    assert buffer.energy_j == pytest.approx((3 + 3 + 2) * pj + 3 * 2 * pj + 12 * 0.5 * pj)
    assert result.mac_energy_j == pytest.approx(12 * 0.25 * pj)
    assert result.energy_j == pytest.approx(buffer.energy_j + result.mac_energy_j)


def test_bandwidth_limited_level_stretches_the_cycles() -> None:
    # DRAM delivers 0.5 word/cycle; over the 12 compute cycles it must read 3 + 6 = 9 words
    # (0.75/cycle): 12 / (0.5 / 0.75) = 18 cycles, bound by DRAM.
    spec = machine(level("DRAM", read_bw=0.5), level("Buffer", words=64))
    result = evaluate(prepare(conv1d(), spec), Mapping((lm("DRAM", "R3"), lm("Buffer", "P4"))))
    assert (result.cycles, result.bound) == (18, "DRAM")


@pytest.mark.parametrize("mapping, message", [
    (Mapping((lm("DRAM", "R3"), lm("Buffer", "P2"))), "factors of P multiply to 2"),
    (Mapping((lm("DRAM"), lm("Buffer", "R3", "P4"))),
     "level 'Buffer': the tiles (Weights 3, Inputs 6, Outputs 4: 13 words) overflow its capacity of 8 words"),
    (Mapping((lm("DRAM", "R3", spatial=("P4X",)), lm("Buffer"))), "need a 4x1 fanout but the hardware has 1x1"),
    (Mapping((lm("DRAM", keep=("Weights", "Inputs")), lm("Buffer", "R3", "P4", keep=ALL[:2]))),
     "'Outputs' bypasses every level"),
])
def test_unmappable(mapping: Mapping, message: str) -> None:
    spec = machine(level("DRAM"), level("Buffer", words=8))
    with pytest.raises(MappingError) as exc:
        evaluate(prepare(conv1d(), spec), mapping)
    assert message in str(exc.value)
