"""Eyeriss v1 on AlexNet CONV1-5 against the JSSC 2017 measurements.

Source: Chen et al., IEEE JSSC 52(1), 2017, abstract (35 frames/s, 278 mW, 0.0029 DRAM
accesses per MAC at batch 4, 200 MHz; status V in ../shared/reference/published.md 2a) and
its per-layer table (status U, informational). The layers, the machine and the tolerances
(with the direction each error is expected to take) are defined once, in
accelsim/validation/eyeriss.py, so `accelsim validate` and this test check the same thing.
"""

import pytest

from accelsim.estimation import compile
from accelsim.validation import CASES
from accelsim.validation.eyeriss import LAYERS, alexnet_conv

CHECKS = CASES.get("eyeriss").run()


def test_the_layers_are_alexnets_as_eyeriss_ran_them():
    # JSSC table: 422, 896, 598, 449 and 299 M MACs for the batch of 4 (2663 M in all)
    layers = {layer.name: layer.macs for layer in compile(alexnet_conv()).layers() if layer.name in LAYERS}
    assert [round(m / 1e6) for m in layers.values()] == [422, 896, 598, 449, 299]


def test_every_figure_is_checked():
    assert {c.quantity.split(" ")[0] for c in CHECKS if c.case == "eyeriss.alexnet"} == {"frames/s", "power", "DRAM"}
    assert {c.case for c in CHECKS} == {"eyeriss.alexnet"} | {f"eyeriss.{name}" for name in LAYERS}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: f"{c.case}:{c.quantity.split(' ')[0]}")
def test_within_tolerance(check):
    assert check.ok, f"{check.case} {check.quantity}: predicted {check.predicted:.4g}, reference {check.reference}"
