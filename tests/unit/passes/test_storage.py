"""Storage accounting: hand counts for every format on tiny cases, the relative-index
encoder against a plain loop that writes the entries out, the expected-filler formula against
the geometric distribution's definition and a seeded Monte-Carlo mean, and model totals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.errors import SpecError
from accelsim.frontend import load_model
from accelsim.ir import Graph, Quant, Sharing, Sparsity
from accelsim.passes.storage import (expected_fillers_per_nonzero, layer_storage, model_storage,
                                     nm_index_bits, nonzero_params, relative_index_entries)


def encode(mask: np.ndarray, index_bits: int) -> list[tuple[str, int]]:
    """Deep Compression's relative index written out entry by entry: a gap longer than the
    index spans is bridged by a filler zero placed span positions after the last entry."""
    span, last, out = 2**index_bits, -1, []
    for i, kept in enumerate(mask.ravel()):
        if kept:
            while i - last > span:
                last += span
                out.append(("filler", last))
            out.append(("value", i))
            last = i
    return out


def mask_at(size: int, positions: list[int]) -> np.ndarray:
    m = np.zeros(size, dtype=bool)
    m[positions] = True
    return m


# --------------------------------------------------------------------------- dense and csr


def test_dense_by_hand():
    s = layer_storage(100, value_bits=8)
    assert (s.format, s.values_bytes, s.index_bytes, s.codebook_bytes, s.total_bytes) == ("dense", 100, 0, 0, 100)
    assert layer_storage(10).total_bytes == 40  # fp32 by default


def test_one_filler_by_hand():
    # 20 weights, non-zeros at 2 and 14: gaps 3 and 12; a 3-bit index spans gaps up to 8, so
    # the gap of 12 needs one filler (at position 10): 3 entries of 8 + 3 bits.
    m = mask_at(20, [2, 14])
    assert relative_index_entries(m, 3) == 3
    assert encode(m, 3) == [("value", 2), ("filler", 10), ("value", 14)]
    s = layer_storage(20, value_bits=8, index_bits=3, mask=m)
    assert (s.format, s.stored_entries, s.nonzeros, s.index_bits) == ("csr", 3, 2, 3)
    assert s.values_bytes == 3 and s.index_bytes == 3 * 3 / 8 and s.total_bytes == 33 / 8


def test_long_gap_by_hand():
    # gaps 3 and 17 at a span of 8: ceil(17 / 8) - 1 = 2 fillers; at a span of 32 none
    m = mask_at(20, [2, 19])
    assert relative_index_entries(m, 3) == 4 and relative_index_entries(m, 5) == 2
    assert relative_index_entries(mask_at(8, [7]), 3) == 1  # a gap of exactly 8 fits
    assert relative_index_entries(mask_at(9, [8]), 3) == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("density", [0.03, 0.2, 0.7])
def test_exact_count_matches_an_encoder(seed, density):
    mask = np.random.default_rng(seed).random(3000) < density
    for bits in (1, 2, 3, 4, 6):
        assert relative_index_entries(mask, bits) == len(encode(mask, bits))


def test_coded_index_bits_change_bytes_not_fillers():
    m = mask_at(20, [2, 14])  # 3 entries at 3-bit indices (above)
    s = layer_storage(20, value_bits=5, index_bits=3, index_coded_bits=1.5, mask=m)
    assert s.stored_entries == 3 and s.index_bytes == 3 * 1.5 / 8 and s.values_bytes == 3 * 5 / 8


def test_auto_index_width_by_hand():
    # density 9% with 5-bit values: bits per non-zero (5 + b) / (1 - 0.91**(2**b)):
    # b = 4: 9 / 0.7789 = 11.55; b = 5: 10 / 0.9511 = 10.51; b = 6: 11 / 0.9976 = 11.03
    s = layer_storage(1_000_000, density=0.09, value_bits=5)
    assert s.index_bits == 5
    assert s.total_bytes == pytest.approx(90_000 * 10 / (1 - 0.91**32) / 8, rel=1e-12)
    assert 0.91**32 == pytest.approx(0.04890, abs=1e-5)
    given = layer_storage(1_000_000, density=0.09, value_bits=5, index_bits=4)
    assert given.index_bits == 4 and given.total_bytes == pytest.approx(90_000 * 9 / (1 - 0.91**16) / 8)


def test_all_kept_weights_are_dense():
    s = layer_storage(16, density=0.5, value_bits=8, mask=np.ones(16))
    assert s.format == "dense" and s.total_bytes == 16


# --------------------------------------------------------------------------- expected fillers


@pytest.mark.parametrize("density", [0.01, 0.09, 0.35, 0.84])
@pytest.mark.parametrize("bits", [2, 3, 4, 5])
def test_expected_fillers_from_the_geometric_law(density, bits):
    # E[ceil(g / S) - 1] with P(g = k) = (1 - d)**(k - 1) d, summed term by term
    span = 2**bits
    k = np.arange(1, 200_000, dtype=np.float64)
    pk = (1 - density) ** (k - 1) * density
    direct = float((pk * (np.ceil(k / span) - 1)).sum())
    assert expected_fillers_per_nonzero(density, bits) == pytest.approx(direct, rel=1e-9)


@pytest.mark.parametrize("density,bits", [(0.05, 3), (0.1, 3), (0.09, 4), (0.3, 2)])
def test_expected_fillers_against_monte_carlo(density, bits):
    rng = np.random.default_rng(1234)
    means = []
    for _ in range(5):
        mask = rng.random(100_000) < density
        means.append((len(encode_fast(mask, bits)) - mask.sum()) / mask.sum())
    # statistical: about 5,000+ gaps per mask, five masks; 4% is several standard errors
    assert np.mean(means) == pytest.approx(expected_fillers_per_nonzero(density, bits), rel=0.04)


def encode_fast(mask: np.ndarray, bits: int) -> np.ndarray:
    """The entries' positions, built gap by gap with numpy (fillers repeat every span)."""
    pos = np.flatnonzero(mask)
    prev = np.concatenate([[-1], pos[:-1]])
    span = 2**bits
    parts = [np.arange(p + span, q, span) for p, q in zip(prev, pos) if q - p > span]
    return np.concatenate([pos] + parts)


def test_no_fillers_when_dense():
    assert expected_fillers_per_nonzero(1.0, 3) == 0
    assert layer_storage(50, density=1.0, value_bits=8).format == "dense"


# --------------------------------------------------------------------------- structured


def test_nm_by_hand():
    assert [nm_index_bits(1, 2), nm_index_bits(1, 4), nm_index_bits(2, 4), nm_index_bits(4, 8)] == [1, 2, 3, 7]
    # 2:4 on 16 weights at 8 bits: 4 groups, 8 values (8 B), 4 x 3 index bits (1.5 B)
    s = layer_storage(16, structure="n:m", n=2, m=4, value_bits=8)
    assert (s.format, s.values_bytes, s.index_bytes, s.stored_entries) == ("n:m", 8, 1.5, 8)
    # 10 weights are 3 groups (the last padded): 6 values, 9 index bits
    s = layer_storage(10, structure="n:m", n=2, m=4, value_bits=8)
    assert (s.values_bytes, s.index_bytes) == (6, 9 / 8)


def test_nm_mask_is_checked():
    good = np.array([1, 0, 1, 0, 0, 0, 0, 1], dtype=bool)  # a group may keep fewer than n
    s = layer_storage(8, structure="n:m", n=2, m=4, value_bits=8, mask=good)
    assert s.nonzeros == 3 and s.stored_entries == 4
    with pytest.raises(SpecError, match="not 2:4"):
        layer_storage(8, structure="n:m", n=2, m=4, mask=np.array([1, 1, 1, 0, 0, 0, 0, 0]))


def test_block_by_hand():
    # 64 weights in blocks of 16, blocks 0 and 2 kept: 4 presence bits, 32 values at 8 bits
    m = np.zeros(64, dtype=bool)
    m[[3, 40, 47]] = True
    s = layer_storage(64, structure="block", value_bits=8, mask=m, block_size=16)
    assert (s.format, s.index_bytes, s.values_bytes, s.nonzeros) == ("block", 0.5, 32, 3)
    s = layer_storage(64, density=0.5, structure="block", value_bits=8, block_size=16)
    assert (s.index_bytes, s.values_bytes) == (0.5, 32)
    s = layer_storage(20, structure="block", value_bits=8, mask=mask_at(20, [17]), block_size=16)
    assert s.values_bytes == 4  # the short last block holds 4 weights


def test_channel_by_hand():
    s = layer_storage(100, density=0.25, structure="channel", value_bits=8)
    assert (s.format, s.values_bytes, s.index_bytes) == ("channel", 25, 0)
    # filter 1 of 4 and input channel 2 of 3 pruned: a 3 x 2 x 2 x 2 slab stays
    m = np.ones((4, 3, 2, 2), dtype=bool)
    m[1] = False
    m[:, 2] = False
    m[0, 0, 0, 0] = False  # an incidental zero inside the slab is still stored
    s = layer_storage(48, structure="channel", value_bits=8, mask=m)
    assert s.stored_entries == 24 and s.values_bytes == 24 and s.nonzeros == 23


def test_codebook_by_hand():
    s = layer_storage(1000, value_bits=4, codebook_entries=16)
    assert (s.values_bytes, s.codebook_bytes, s.total_bytes) == (500, 64, 564)


@pytest.mark.parametrize("kwargs,field", [
    (dict(density=0.0), "density"), (dict(density=1.5), "density"), (dict(value_bits=0), "value_bits"),
    (dict(structure="diagonal"), "structure"), (dict(index_coded_bits=2.0, density=0.5), "index_coded_bits"),
    (dict(index_bits=0, density=0.5), "index_bits"), (dict(mask=np.ones(3)), "mask"),
    (dict(structure="n:m", n=2), "m"), (dict(structure="n:m", n=4, m=4), "n"),
    (dict(structure="block", index_bits=3), "index_bits"),
])
def test_bad_arguments(kwargs, field):
    with pytest.raises(SpecError) as exc:
        layer_storage(16, **kwargs)
    assert exc.value.field == field


# --------------------------------------------------------------------------- a model


def tiny(weights: bool) -> Graph:
    g = Graph("tiny")
    g.add("x", "input", (), {"shape": [1, 8]})
    g.add("fc", "linear", ("x",), {"out_features": 4})
    if weights:
        w = np.zeros((4, 8))
        w.ravel()[[0, 9, 18, 31]] = [0.5, -1.0, 2.0, 0.25]
        g.set_weights("fc", {"weight": w, "bias": np.ones(4)})
    g.verify()
    return g


def test_unannotated_model_is_dense_fp32():
    g = load_model("alexnet")
    s = model_storage(g)
    assert s.total_bytes == s.dense_fp32_bytes == g.params() * 4 and s.ratio == 1
    assert {v.format for v in s.by_layer.values()} == {"dense"}
    assert nonzero_params(g) == g.params()


def test_model_with_weights_by_hand():
    g = tiny(weights=True)
    g.annotate("fc", Sparsity(weight_density=0.125))
    g.annotate("fc", Sharing(2, codebook=4))
    s = model_storage(g, index_bits=3)
    # non-zeros at 0, 9, 18, 31: gaps 1, 9, 9, 13 at span 8 -> 3 fillers, 7 entries;
    # 7 x 2 bits values, 7 x 3 bits indices, 4 fp32 centroids, 4 fp32 biases
    layer = s.by_layer["fc"]
    assert (layer.stored_entries, layer.nonzeros) == (7, 4)
    assert (layer.values_bytes, layer.index_bytes, layer.codebook_bytes, layer.other_bytes) == (1.75, 2.625, 16, 16)
    assert s.total_bytes == 36.375 and s.dense_fp32_bytes == 36 * 4
    assert nonzero_params(g) == 4 + 4


def test_real_weights_refine_the_annotation():
    g = tiny(weights=True)
    g.annotate("fc", Sparsity(weight_density=0.5))  # the weights say 4 of 32
    assert model_storage(g).by_layer["fc"].nonzeros == 4
    d = tiny(weights=True)  # no sparsity annotation: stored dense, zeros and all
    assert model_storage(d).by_layer["fc"].format == "dense"


def test_weightless_model_uses_the_density():
    g = tiny(weights=False)
    g.annotate("fc", Sparsity(weight_density=0.25))
    g.annotate("fc", Quant(weight_bits=8, act_bits=8))
    layer = model_storage(g).by_layer["fc"]
    assert layer.format == "csr" and layer.nonzeros == 8
    assert nonzero_params(g) == 8 + 4
    g.annotate("fc", Sparsity(weight_density=0.5, structure="n:m", n=1, m=2))
    layer = model_storage(g).by_layer["fc"]
    assert (layer.values_bytes, layer.index_bytes, layer.other_bytes) == (16, 2, 16)  # 16 groups x 1 bit


def test_quant_width_and_huffman_coded_sharing():
    g = tiny(weights=False)
    g.annotate("fc", Quant(weight_bits=8, act_bits=8))
    assert model_storage(g).total_bytes == 32 + 16  # int8 weights, fp32 biases
    g.annotate("fc", Sharing(4, codebook=10, coded_bits=2.5))
    assert model_storage(g).total_bytes == 32 * 2.5 / 8 + 10 * 4 + 16


def test_accounting_is_consistent_at_scale():
    # the formula and the exact count agree on a large random mask within sampling error
    mask = np.random.default_rng(7).random(400_000) < 0.09
    exact = layer_storage(mask.size, value_bits=5, index_bits=4, mask=mask)
    expected = layer_storage(mask.size, density=float(mask.mean()), value_bits=5, index_bits=4)
    assert exact.total_bytes == pytest.approx(expected.total_bytes, rel=0.01)
    assert math.isclose(exact.nonzeros, mask.sum())
