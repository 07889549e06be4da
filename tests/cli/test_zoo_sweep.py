"""Every bundled model on every bundled machine (slow: run with ``pytest -m slow``).

A sweep of the whole zoo: each pair either gives an estimate with finite, positive totals
whose per-layer figures add up, or stops with one of accelsim's own errors (an unmappable
layer, say), never a crash.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from accelsim import estimate
from accelsim.errors import AccelsimError

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted(p.stem for p in (ROOT / "models").glob("*.yaml"))
MACHINES = sorted(p.stem for p in (ROOT / "hw_configs").glob("*.yaml"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("model", MODELS)
def test_every_model_on_every_machine(model: str, machine: str) -> None:
    try:
        est = estimate(model, machine)
    except AccelsimError as exc:
        assert str(exc)  # a readable reason
        return
    totals = est.totals
    assert math.isfinite(totals.latency_s) and totals.latency_s > 0
    assert math.isfinite(totals.energy_j) and totals.energy_j > 0
    assert totals.macs == sum(layer.macs for layer in est.layers)
    assert totals.latency_s == pytest.approx(sum(layer.latency_s for layer in est.layers))
