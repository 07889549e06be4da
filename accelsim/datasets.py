"""Small bundled data sets, so that accuracy figures can be measured without a download.

``digits``: the UCI "Optical Recognition of Handwritten Digits" set as scikit-learn ships it
(``sklearn.datasets.load_digits``): 1,797 grey-scale 8x8 images, pixel values 0..16, labels
0..9. E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
Learning Repository, 1998, https://doi.org/10.24432/C50P49, licensed CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/). ``scripts/train_digits.py`` wrote the copy in
``models/digits_data.npz`` once, with a fixed split, so accelsim itself never needs
scikit-learn: the images and labels are stored unchanged as uint8; the split is a plain
(not stratified) permutation drawn with ``numpy.random.default_rng(seed)``, its first 360
images the test set and the other 1,437 the training set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import SpecError
from .resources import data_dir

if TYPE_CHECKING:
    import numpy as np

__all__ = ["MODELS_WITH_DATA", "DIGITS_FILE", "DIGITS_LEVELS", "DigitsSplit", "load_digits_split"]

DIGITS_FILE = "digits_data.npz"
# Zoo models trained on the bundled digits split: their quality is accuracy on its test half.
MODELS_WITH_DATA = ("digits_mlp", "digits_cnn")
DIGITS_LEVELS = 16  # pixel values run 0..16: each is a count of set bits in a 4x4 block
_KEYS = ("x_train", "y_train", "x_test", "y_test", "seed")


@dataclass(frozen=True, eq=False)
class DigitsSplit:
    """The digits train/test split: images (n, 1, 8, 8) float64 in [0, 1] (pixel / 16),
    labels (n,) int64. The arrays are read-only, so one split can be shared freely."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    seed: int


def load_digits_split() -> DigitsSplit:
    """The bundled digits split (see the module docstring for its source and licence).

    Raises:
        SpecError: the bundled file is missing, unreadable or lacks one of its arrays.
    """
    import numpy as np

    path = data_dir("models") / DIGITS_FILE
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in _KEYS}
    except (OSError, ValueError, KeyError) as exc:
        raise SpecError(f"cannot read the bundled digits data ({exc}); scripts/train_digits.py "
                        "writes it", file=str(path)) from None

    def images(a: np.ndarray) -> np.ndarray:
        x = (a.astype(np.float64) / DIGITS_LEVELS).reshape(len(a), 1, 8, 8)
        x.setflags(write=False)
        return x

    def labels(a: np.ndarray) -> np.ndarray:
        y = a.astype(np.int64)
        y.setflags(write=False)
        return y

    return DigitsSplit(images(arrays["x_train"]), labels(arrays["y_train"]),
                       images(arrays["x_test"]), labels(arrays["y_test"]), int(arrays["seed"]))
