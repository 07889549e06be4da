"""The quantize pass and the pass specs that configure it and the others."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.compression.execute import weight_grid
from accelsim.errors import PassError
from accelsim.frontend import load_model
from accelsim.ir import Quant
from accelsim.passes import run_passes
from accelsim.passes.quantize import quantize
from accelsim.passes.specs import parse_pass


@pytest.mark.parametrize("bits", [8, 4, 2])
@pytest.mark.parametrize("per_channel", [False, True])
def test_weights_sit_on_their_grid_and_the_grid_is_recovered(bits: int, per_channel: bool) -> None:
    g = load_model("digits_cnn")
    out = quantize(g, bits, per_channel=per_channel).graph
    for name in ("block1.conv", "block2.conv", "fc"):
        w = np.asarray(out.weights(name)["weight"], dtype=np.float64)
        ann = out.node(name).annotations["quant"]
        assert (ann.weight_bits, ann.act_bits, ann.per_channel) == (bits, 8, per_channel)
        q, scale = weight_grid(w, ann)
        levels = 2 ** (bits - 1) - 1
        assert np.abs(q).max() <= levels
        per = scale.reshape((-1,) + (1,) * (w.ndim - 1)) if per_channel else scale
        np.testing.assert_allclose(q * per, w, rtol=0, atol=1e-6 * np.abs(w).max())
        # the largest magnitude is a full step count: min-max puts the largest weight there
        original = np.asarray(g.weights(name)["weight"], dtype=np.float64)
        rows = original.reshape(original.shape[0], -1) if per_channel else original.reshape(1, -1)
        np.testing.assert_allclose(scale, np.abs(rows).max(axis=1) / levels, rtol=1e-6)


def test_every_layer_is_annotated_and_mixed_widths() -> None:
    out = quantize(load_model("digits_mlp"), {"fc1": 4}).graph
    quants = {n.name: n.annotations.get("quant") for n in out.nodes() if n.op != "input"}
    assert all(isinstance(q, Quant) for q in quants.values())
    assert quants["fc1"].weight_bits == 4 and quants["fc2"].weight_bits == 8


def test_snr_falls_with_the_width() -> None:
    g = load_model("digits_mlp")
    snr = [quantize(g, b).by_layer["fc1"]["weight_snr_db"] for b in (8, 4, 2)]
    assert snr[0] > snr[1] > snr[2]
    assert snr[0] - snr[1] == pytest.approx(6.02 * 4, abs=4)  # about 6 dB per bit


@pytest.mark.parametrize("text, message", [
    ("quantize:int3", "no int3"),
    ("quantize", "needs a width"),
    ("quantize:int8:fast", "unknown option"),
    ("prune", "needs an argument"),
    ("prune:1.5", "must be in"),
    ("prune:4:2", "0 < N < M"),
    ("prune:0.5:local", "unexpected"),
    ("share:0", "1 to 16"),
    ("lowrank:0.5x", "must exceed 1x"),
    ("factorize:5x5", "takes no argument"),
    ("prun:0.5", "did you mean 'prune'"),
])
def test_bad_specs_say_what_the_pass_takes(text: str, message: str) -> None:
    with pytest.raises(PassError, match=message):
        parse_pass(text)


def test_specs_run_wherever_pass_names_do_and_keep_their_order() -> None:
    g = run_passes(load_model("digits_cnn"), ["fuse", "prune:2:4", "quantize:int4:per-channel:mse"])
    ann = g.node("block2.conv").annotations
    assert ann["sparsity"].structure == "n:m" and ann["quant"].weight_bits == 4 and ann["quant"].per_channel
    with pytest.raises(PassError, match="prune is not run before it"):
        run_passes(load_model("digits_cnn"), ["quantize:int8", "prune:0.5"])


def test_training_forms_are_refused_without_training_data() -> None:
    for text in ("prune:0.8:finetune", "prune:2:4:finetune", "prune:lasso:0.5", "prune:grow", "quantize:int4:qat"):
        with pytest.raises(PassError, match="training data"):
            parse_pass(text).run(load_model("resnet18"))
