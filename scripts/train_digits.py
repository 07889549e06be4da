"""Train the zoo's two digit classifiers and write their weights beside their YAML.

    pip install scikit-learn        # only this script needs it; accelsim never does
    python scripts/train_digits.py  # with accelsim installed (pip install -e .)

1. Data: scikit-learn's ``load_digits`` (UCI optical digits, Alpaydin & Kaynak 1998,
   CC BY 4.0; see ``accelsim.datasets``). A plain permutation from
   ``numpy.random.default_rng(SEED)`` (not stratified) puts the first 360 images in the test
   set and the other 1,437 in the training set; ``models/digits_data.npz`` keeps the uint8
   images and labels of both and the seed (``numpy.savez`` writes the same bytes for the
   same arrays, so a rerun leaves the file as it was). Without scikit-learn the bundled file
   is used as it is.
2. Training: ``accelsim.passes.trainer.train`` (SGD with momentum, He-uniform
   initialisation), each model with its fixed seeds below, on pixels scaled to [0, 1].
3. ``models/digits_mlp.npz`` and ``models/digits_cnn.npz`` get the weights as float32
   (keys ``layer/weight``, ``layer/bias``); the test accuracy printed is that of the written
   float32 weights, loaded back through the model YAML's ``weights:`` line when it has one.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from accelsim.datasets import DIGITS_FILE, load_digits_split
from accelsim.frontend import load_model
from accelsim.passes.trainer import accuracy, train
from accelsim.resources import data_dir

SEED = 0         # the train/test split
N_TEST = 360     # of 1,797 images: 1,437 train
# model -> training settings; seed draws the mini-batches, init_seed the initial weights
SETTINGS = {
    "digits_mlp": dict(epochs=60, lr=0.05, batch_size=32, seed=0, init_seed=0),
    "digits_cnn": dict(epochs=30, lr=0.05, batch_size=32, seed=0, init_seed=0),
}
TARGET = {"digits_mlp": 0.95, "digits_cnn": 0.97}


def write_data(models: Path) -> None:
    """Draw the split from scikit-learn's copy and write it (without scikit-learn: keep the
    bundled file)."""
    path = models / DIGITS_FILE
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        if path.exists():
            print(f"scikit-learn is not installed: using the bundled {path.name}")
            return
        sys.exit("scikit-learn is needed to build the data set: pip install scikit-learn")
    digits = load_digits()
    images = np.asarray(digits.images)
    if images.shape != (1797, 8, 8) or images.min() < 0 or images.max() > 16:
        sys.exit(f"unexpected load_digits images: shape {images.shape}, range {images.min()}..{images.max()}")
    images = images.astype(np.uint8)
    labels = np.asarray(digits.target).astype(np.uint8)
    order = np.random.default_rng(SEED).permutation(len(images))
    test, train_ = order[:N_TEST], order[N_TEST:]
    arrays = {"x_train": images[train_], "y_train": labels[train_], "x_test": images[test],
              "y_test": labels[test], "seed": np.int64(SEED)}
    np.savez_compressed(path, **arrays)
    print(f"{path.name}: {len(train_)} train, {len(test)} test images, seed {SEED}")


def write_weights(graph, path: Path) -> None:
    arrays = {f"{layer}/{key}": np.asarray(a, dtype=np.float32)
              for layer in (n.name for n in graph.nodes())
              for key, a in graph.weights(layer).items()}
    np.savez_compressed(path, **arrays)


def main() -> int:
    models = data_dir("models")
    write_data(models)
    split = load_digits_split()
    failed = False
    for name, settings in SETTINGS.items():
        yaml_path = models / f"{name}.yaml"
        bare = load_model(yaml_path)
        for node in bare.nodes():  # train from scratch even where weights are bundled
            bare.set_weights(node.name, {})
        start = time.perf_counter()
        trained = train(bare, split.x_train, split.y_train, **settings)
        seconds = time.perf_counter() - start
        write_weights(trained, models / f"{name}.npz")
        loaded = load_model(yaml_path)
        if not loaded.has_weights:  # the YAML does not name the file yet: read it here
            with np.load(models / f"{name}.npz") as data:
                for key in data.files:
                    layer, _, weight = key.rpartition("/")
                    loaded.set_weights(layer, {**loaded.weights(layer), weight: data[key]})
        acc = accuracy(loaded, split.x_test, split.y_test)
        train_acc = accuracy(loaded, split.x_train, split.y_train)
        print(f"{name}: test accuracy {acc:.4f} ({round(acc * len(split.y_test))}/{len(split.y_test)}), "
              f"train {train_acc:.4f}, trained in {seconds:.1f} s; settings {settings}")
        if acc < TARGET[name]:
            print(f"{name}: below the target of {TARGET[name]}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
