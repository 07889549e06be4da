"""TPU v1 as a roofline against the measured figures of Jouppi et al., ISCA 2017.

Source: N. P. Jouppi et al., "In-Datacenter Performance Analysis of a Tensor Processing
Unit", ISCA 2017, Table 1 (layers, weights, ops per weight byte, batch) and Table 3
(measured TeraOps/s per die); transcribed in ../shared/reference/published.md, section 2c.
The apps, the reduction to their weight reuse and the tolerances are defined once, in
accelsim/validation/tpu_v1.py, so `accelsim validate` and this test check the same thing.
"""

import pytest

from accelsim.validation import CASES
from accelsim.validation.tpu_v1 import APPS

CHECKS = CASES.get("tpu_v1").run()


def test_every_app_is_checked():
    assert {c.case.split(".")[1] for c in CHECKS} == set(APPS) | {"ridge"}
    assert len(CHECKS) == 6 + 4 + 1  # six bounds, four near-roof comparisons, the ridge


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: f"{c.case}:{c.kind}")
def test_within_tolerance(check):
    assert check.ok, f"{check.case} {check.quantity}: predicted {check.predicted:.3f}, reference {check.reference}"


def test_mlp0_by_hand():
    # MLP0: 5 layers of 2000x2000 int8 weights at batch 200 = 200 MACs per weight byte.
    # Roof = 200 MAC/B x 34 GB/s x 2 ops/MAC = 13.6 TOPS; activations (400 kB) stay in the
    # 24 MiB buffer, only the graph input and output (400 kB each) add DRAM traffic:
    # 20 MB weights + 0.8 MB -> 13.6 x 20 / 20.8 = 13.08 TOPS.
    (check,) = [c for c in CHECKS if c.case == "tpu_v1.MLP0" and c.kind == "approx"]
    assert check.predicted == pytest.approx(13.6 * 20 / 20.8, rel=1e-3)
