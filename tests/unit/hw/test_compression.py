"""What a machine exploits of a compressed layer (``hw.compression``): the spec section, the
plan for each pattern, and the imbalance of zero skipping against the cycle-level kernel."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.errors import SpecError
from accelsim.frontend import load_model
from accelsim.hw import load_hardware
from accelsim.hw.compression import plan, skip_imbalance
from accelsim.hw.support import CompressionSupport, SparseSupport
from accelsim.ir import Graph, Quant, Sparsity
from accelsim.kernels.sparse import sparse_gemm_cycles
from accelsim.estimation import estimate


def _linear(k: int = 64, n: int = 32, *annotations) -> Graph:
    g = Graph("one_linear")
    g.add("x", "input", (), {"shape": [1, k], "dtype": "int8"})
    g.add("fc", "linear", ("x",), {"out_features": n, "bias": False}, annotations=annotations)
    g.set_outputs(["fc"])
    return g


def _workload(*annotations):
    return next(l for l in _linear(64, 32, *annotations).layers() if l.name == "fc").workload


TWO_FOUR = CompressionSupport(sparse=SparseSupport("skip", ("n:m",), ((2, 4),), ("weights",), "nm"))


def test_two_four_halves_the_reduction_where_supported_and_runs_dense_elsewhere() -> None:
    w = _workload(Sparsity(0.5, structure="n:m", n=2, m=4))
    p = plan(w, TWO_FOUR)
    assert (p.time_fraction, p.mac_fraction) == (0.5, 0.5)
    # 64 x 32 int8 weights: half kept (1,024 B) plus a 2-bit position per kept value (256 B).
    assert p.weight_bytes == 1024 + 1024 * 2 / 8
    dense = plan(w, CompressionSupport())
    assert (dense.time_fraction, dense.mac_fraction, dense.weight_bytes) == (1.0, 1.0, w.weight_bytes)
    assert dense.ignored and not dense.exploited
    # 1:4 is not among the patterns this datapath knows
    assert plan(_workload(Sparsity(0.25, structure="n:m", n=1, m=4)), TWO_FOUR).time_fraction == 1.0


def test_gating_saves_energy_not_time() -> None:
    gate = CompressionSupport(sparse=SparseSupport("gate", ("unstructured",), (), ("weights",), "bitmask"))
    p = plan(_workload(Sparsity(0.25)), gate)
    assert (p.time_fraction, p.mac_fraction) == (1.0, 0.25)


def test_packed_widths() -> None:
    support = CompressionSupport(precisions=((4, 2), (8, 1)))
    assert support.pack(4) == (4, 2) and support.pack(8) == (8, 1) and support.pack(2) == (4, 2)
    assert plan(_workload(Quant(4, 4)), support).pack == 2
    assert plan(_workload(Quant(8, 8)), support).pack == 1


def test_imbalance_is_the_busiest_filter_of_each_group() -> None:
    # four filters side by side, non-zeros 4, 1, 1, 2 then 3, 3, 3, 3: groups wait 4 and 3
    counts = [4, 1, 1, 2, 3, 3, 3, 3]
    assert skip_imbalance(counts, 4) == pytest.approx((4 + 3) * 4 / sum(counts))
    assert skip_imbalance([5] * 8, 4) == 1.0


def test_imbalance_agrees_with_the_cycle_level_kernel() -> None:
    """The output-stationary kernel walks every PE: with dense activations, a tile of
    ``rows`` filters by ``cols`` pixels takes its densest filter's non-zeros in cycles."""
    rng = np.random.default_rng(3)
    w_mask = rng.random((24, 40)) < 0.3
    x_mask = np.ones((40, 8), bool)
    rows, cols = 4, 8
    kernel = sparse_gemm_cycles(w_mask, x_mask, rows, cols, mode="skip")
    nnz = w_mask.sum(axis=1)
    assert skip_imbalance(nnz, rows) * nnz.sum() / rows == pytest.approx(kernel.cycles, rel=1e-12)


def test_the_spec_section_is_read_strictly(tmp_path) -> None:
    spec = load_hardware("edge_systolic_2of4")
    assert spec.compression.sparse.nm == ((2, 4),) and spec.compression.pack(4) == (4, 2)
    assert load_hardware("edge_systolic").compression == CompressionSupport()
    text = (tmp_path / "bad.yaml")
    base = open(load_hardware("edge_systolic").source).read()
    text.write_text(base + "compression:\n  sparsity: {mode: skip, structures: [\"n:m\"]}\n")
    with pytest.raises(SpecError) as info:
        load_hardware(str(text))
    assert info.value.line is not None and "nm" in str(info.value)
    text.write_text(base + "compression:\n  precisions: {fp16: 1}\n")
    with pytest.raises(SpecError, match="not an integer precision"):
        load_hardware(str(text))


def test_two_four_costs_what_half_the_reduction_costs_on_the_systolic_array() -> None:
    """On a 2:4 datapath a 2:4 layer with reduction 64 runs as the dense layer with reduction
    32 (an independent dense model), plus the positions' bytes from DRAM."""
    sparse = estimate(_linear(64, 32, Sparsity(0.5, structure="n:m", n=2, m=4)), "edge_systolic_2of4")
    half = estimate(_linear(32, 32), "edge_systolic_2of4")
    full = estimate(_linear(64, 32), "edge_systolic_2of4")
    fc_sparse, fc_half, fc_full = (next(c for c in e.layers if c.name == "fc") for e in (sparse, half, full))
    assert fc_sparse.cycles == fc_half.cycles < fc_full.cycles
    assert fc_sparse.details["compression"]["exploited"] == ["2:4 weights (skip)"]
    dense_machine = estimate(_linear(64, 32, Sparsity(0.5, structure="n:m", n=2, m=4)), "edge_systolic")
    assert next(c for c in dense_machine.layers if c.name == "fc").cycles == fc_full.cycles


def test_a_narrower_width_runs_at_the_array_width_without_packing() -> None:
    g = load_model("digits_mlp")
    from accelsim.passes import run_passes
    q4 = run_passes(g, ["quantize:int4:a4"])
    plain = estimate(run_passes(g, ["quantize:int8"]), "edge_systolic")
    narrow = estimate(q4, "edge_systolic")
    packed = estimate(q4, "edge_systolic_2of4")
    assert narrow.totals.cycles == plain.totals.cycles
    assert narrow.totals.energy_by_component_j[0][1] < plain.totals.energy_by_component_j[0][1]
    assert packed.totals.cycles < plain.totals.cycles
