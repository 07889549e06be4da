"""Technology table: the 45 nm figures are Horowitz ISSCC 2014 Fig. 1.1.9 verbatim."""

import pytest

from accelsim.hw.technology import (Technology, add_energy_j, energy_scale, mac_energy_j,
                                    sram_energy_per_byte_j)

T45 = Technology(45e-9)


@pytest.mark.parametrize("dtype, mult_pj, add_pj", [
    ("fp32", 3.7, 0.9), ("fp16", 1.1, 0.4), ("int32", 3.1, 0.1), ("int8", 0.2, 0.03),
])
def test_horowitz_45nm(dtype, mult_pj, add_pj):
    assert mac_energy_j(dtype, T45) == pytest.approx((mult_pj + add_pj) * 1e-12)
    assert add_energy_j(dtype, T45) == pytest.approx(add_pj * 1e-12)


def test_sram_per_byte_at_the_measured_sizes():
    # 64-bit reads: 10 pJ at 8 KB, 20 pJ at 32 KB, 100 pJ at 1 MB.
    assert sram_energy_per_byte_j(8 * 1024, T45) == pytest.approx(10e-12 / 8)
    assert sram_energy_per_byte_j(32 * 1024, T45) == pytest.approx(20e-12 / 8)
    assert sram_energy_per_byte_j(1024 * 1024, T45) == pytest.approx(100e-12 / 8)
    # banked: no growth past the largest measured macro
    assert sram_energy_per_byte_j(24 * 1024 * 1024, T45) == pytest.approx(100e-12 / 8)


def test_node_scaling_follows_stillmaker_baas():
    # [SB17] fit at 45 nm / 0.9 V is the reference; at 7 nm / 0.7 V:
    ref = 1.103 * 0.81 - 0.362 * 0.9 + 0.2767
    at7 = 0.1776 * 0.49 - 0.09097 * 0.7 + 0.02447
    assert energy_scale(Technology(7e-9)) == pytest.approx(at7 / ref)
    assert energy_scale(T45) == pytest.approx(1.0)
    assert energy_scale(Technology(65e-9)) > 1 > energy_scale(Technology(28e-9))
    with pytest.raises(ValueError, match="outside"):
        energy_scale(Technology(3e-9))
