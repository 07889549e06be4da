"""The bundled digits split: its shapes and types, its class counts against the published
data set, and that no image is in both halves."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim import datasets
from accelsim.datasets import load_digits_split
from accelsim.errors import SpecError

# Images per class 0..9 in the UCI optical digits set as scikit-learn ships it (the
# load_digits documentation: 1,797 samples, about 180 per class).
CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


@pytest.fixture(scope="module")
def split():
    return load_digits_split()


def test_shapes_types_and_sizes(split):
    assert split.x_train.shape == (1437, 1, 8, 8) and split.x_test.shape == (360, 1, 8, 8)
    assert split.y_train.shape == (1437,) and split.y_test.shape == (360,)
    assert split.x_train.dtype == split.x_test.dtype == np.float64
    assert split.y_train.dtype == split.y_test.dtype == np.int64
    assert split.seed == 0
    for x in (split.x_train, split.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        assert np.array_equal(x * 16, np.round(x * 16))  # pixels are counts 0..16, divided by 16
    assert not split.x_train.flags.writeable and not split.y_test.flags.writeable


def test_class_counts_are_those_of_the_published_set(split):
    counts = np.bincount(np.concatenate([split.y_train, split.y_test]), minlength=10)
    assert counts.tolist() == CLASS_COUNTS and sum(CLASS_COUNTS) == 1797
    assert set(split.y_test.tolist()) == set(range(10))


def test_train_and_test_share_no_image(split):
    # the set has no duplicate images, so a shared image would be a sample in both halves
    def rows(x):
        return {r.tobytes() for r in (x * 16).astype(np.uint8).reshape(len(x), -1)}
    train, test = rows(split.x_train), rows(split.x_test)
    assert len(train) == 1437 and len(test) == 360
    assert not train & test


def test_the_split_is_the_documented_permutation_of_scikit_learns_copy(split):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    digits = sklearn_datasets.load_digits()
    order = np.random.default_rng(0).permutation(1797)
    np.testing.assert_array_equal(split.x_test[:, 0] * 16, digits.images[order[:360]])
    np.testing.assert_array_equal(split.y_train, digits.target[order[360:]])


def test_a_missing_file_is_a_spec_error(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "data_dir", lambda kind: tmp_path)
    with pytest.raises(SpecError, match="digits data") as info:
        load_digits_split()
    assert info.value.file == str(tmp_path / "digits_data.npz")
