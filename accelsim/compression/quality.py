"""What compression costs in quality: accuracy on a model's own test data, or output SNR.

The digits models ship with trained weights and the digits test split, so their quality is
accuracy. A zoo model without trained weights gets seeded weights (He-normal, batchnorm at
identity), and its quality is the signal-to-noise ratio of the compressed network's output
against the uncompressed one's on seeded inputs. Either way the compressed network runs on
the integer and sparse kernels (``execute.run_compressed``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..datasets import MODELS_WITH_DATA
from ..ir import Graph
from ..passes.reference import run_reference
from .execute import calibrate, run_compressed

__all__ = ["Quality", "Judge", "measurable", "seeded_weights", "DATASETS", "CALIBRATION_SAMPLES",
           "SNR_SAMPLES", "MAX_MEASURED_MACS"]

CALIBRATION_SAMPLES = 64  # training images whose activation ranges set the quantisation scales
SNR_SAMPLES = 2  # seeded inputs for the output SNR of a model without its own data
# Beyond this many MACs per sample the numpy reference takes minutes: quality is then not
# measured unless asked for (``measure="always"``).
MAX_MEASURED_MACS = 5 * 10**8


@dataclass(frozen=True)
class Quality:
    """``accuracy`` (a fraction) where the model has test data, else ``output_snr_db``;
    ``overflows``: accumulator overflows seen; ``note`` says what was measured on what."""

    accuracy: float | None = None
    output_snr_db: float | None = None
    overflows: int = 0
    note: str = ""
    integer_layers: int = 0
    sparse_layers: int = 0

    def as_dict(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {}
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy
        if self.output_snr_db is not None:
            out["output_snr_db"] = self.output_snr_db
        out["overflows"] = self.overflows
        out["integer_layers"] = self.integer_layers
        out["sparse_layers"] = self.sparse_layers
        return out


def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ..datasets import load_digits_split
    split = load_digits_split()
    return split.x_test, split.y_test, split.x_train[:CALIBRATION_SAMPLES]


# Models whose own test data ship with accelsim: name -> (test images, labels, calibration).
DATASETS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
    name: _digits for name in MODELS_WITH_DATA}


def seeded_weights(graph: Graph, seed: int = 0) -> Graph:
    """A copy of ``graph`` with seeded weights on every layer that takes them: He-normal
    weights, zero biases, batchnorm and layernorm at identity, normal embeddings."""
    rng = np.random.default_rng(seed)
    g = graph.copy()
    for node in g.nodes():
        shapes = node.opdef.weight_shapes([g.type_of(i) for i in node.inputs], node.attrs)
        if not shapes or g.weights(node.name):
            continue
        arrays = {}
        for key, shape in shapes.items():
            if key == "weight" and len(shape) >= 2:
                fan_in = math.prod(shape[1:])
                arrays[key] = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
            elif key == "scale":
                arrays[key] = np.ones(shape)
            elif key in ("bias",):
                arrays[key] = np.zeros(shape)
            else:
                arrays[key] = rng.standard_normal(shape)
        g.set_weights(node.name, arrays)
    return g


class Judge:
    """Measures the quality of compressed versions of one original graph."""

    def __init__(self, original: Graph, *, seed: int = 0) -> None:
        self.original = original
        self.seed = seed
        data = DATASETS.get(original.name)
        if data is not None and original.has_weights:
            self.x, self.y, samples = data()
            self.calibration_inputs = samples
            self.kind = "accuracy"
        else:
            rng = np.random.default_rng(seed)
            shape = original.type_of(original.inputs[0]).shape
            self.x = rng.standard_normal((SNR_SAMPLES,) + tuple(shape[1:]))
            self.y = None
            self.calibration_inputs = rng.standard_normal((SNR_SAMPLES,) + tuple(shape[1:]))
            self.kind = "output_snr_db"
            self.reference = self._run_float(original)

    def _feed(self, graph: Graph, x: np.ndarray) -> tuple[Graph, dict[str, np.ndarray]]:
        return graph.with_batch(len(x)), {graph.inputs[0]: x}

    def _run_float(self, graph: Graph) -> np.ndarray:
        g, feed = self._feed(graph, self.x)
        return run_reference(g, feed)[g.outputs[0]]

    def __call__(self, graph: Graph) -> Quality:
        cg, cfeed = self._feed(graph, self.calibration_inputs)
        ranges = calibrate(cg, cfeed)
        g, feed = self._feed(graph, self.x)
        run = run_compressed(g, feed, calibration=ranges)
        out = run.outputs[g.outputs[0]]
        ran = dict(overflows=run.overflows, integer_layers=run.integer_layers, sparse_layers=run.sparse_layers)
        if self.kind == "accuracy":
            acc = float(np.mean(np.argmax(out.reshape(len(self.x), -1), axis=1) == self.y))
            return Quality(accuracy=acc, note=f"accuracy on the {len(self.x)} images of the digits test split, "
                                              "compressed layers on the integer and sparse kernels", **ran)
        noise = float(np.sum((out - self.reference) ** 2))
        signal = float(np.sum(self.reference ** 2))
        snr = math.inf if noise == 0 else 10 * math.log10(signal / noise) if signal > 0 else -math.inf
        return Quality(output_snr_db=round(snr, 3) if math.isfinite(snr) else 999.0,
                       note=f"output SNR against the uncompressed model on {len(self.x)} seeded inputs with "
                            "seeded weights, compressed layers on the integer and sparse kernels", **ran)


def measurable(original: Graph, measure: str = "auto") -> bool:
    """Whether quality is measured: not with ``never``, nor with ``auto`` on a model above
    ``MAX_MEASURED_MACS`` per sample."""
    if measure == "never":
        return False
    batch = original.type_of(original.inputs[0]).shape[0] or 1
    return measure == "always" or original.macs() / batch <= MAX_MEASURED_MACS
