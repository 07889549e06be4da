"""Datasets, epochs and the published limits of large-batch training.

Time to train is epochs x iterations per epoch x time per iteration, with iterations per
epoch the dataset over the global batch. The zoo's ImageNet models default to 90 epochs of
ImageNet-1k's 1,281,167 training images (Goyal et al. 2017; Russakovsky et al., IJCV 2015).

A global batch past what a published recipe trained without losing accuracy is flagged,
naming the recipe: linear learning-rate scaling with a 5-epoch warm-up holds ResNet-50's
accuracy up to 8K (Goyal et al., arXiv:1706.02677); layer-wise adaptive rate scaling (LARS)
to 32K (You, Gitman and Ginsburg, arXiv:1708.03888); LARS with mixed precision to 64K
(Jia et al., arXiv:1807.11205). These are ImageNet CNN results; other models differ.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGENET_TRAIN_IMAGES", "IMAGENET_MODELS", "Recipe", "RECIPES", "default_epochs", "dataset_size",
           "batch_recipe"]

IMAGENET_TRAIN_IMAGES = 1_281_167
IMAGENET_MODELS = ("alexnet", "vgg16", "nin", "googlenet", "inception_v3", "resnet18", "resnet50", "resnet101",
                   "mobilenet_v1", "mobilenet_v2", "squeezenet1_1")


@dataclass(frozen=True)
class Recipe:
    name: str
    max_batch: int
    source: str


RECIPES = (
    Recipe("linear scaling with warm-up", 8_192, "Goyal et al., arXiv:1706.02677 (2017)"),
    Recipe("LARS", 32_768, "You, Gitman and Ginsburg, arXiv:1708.03888 (2017)"),
    Recipe("LARS with mixed precision", 65_536, "Jia et al., arXiv:1807.11205 (2018)"),
)


def _imagenet(model: str) -> bool:
    return model in IMAGENET_MODELS


def default_epochs(model: str) -> int | None:
    return 90 if _imagenet(model) else None


def dataset_size(model: str) -> int | None:
    return IMAGENET_TRAIN_IMAGES if _imagenet(model) else None


def batch_recipe(global_batch: int) -> dict[str, object]:
    """The first published recipe reported to hold accuracy at ``global_batch``, or a flag."""
    for r in RECIPES:
        if global_batch <= r.max_batch:
            return {"global_batch": global_batch, "within_published_range": True, "recipe": r.name,
                    "up_to": r.max_batch, "source": r.source}
    last = RECIPES[-1]
    return {"global_batch": global_batch, "within_published_range": False, "recipe": None, "up_to": last.max_batch,
            "source": last.source,
            "warning": f"global batch {global_batch:,} is past {last.max_batch:,}, the largest at which a published "
                       f"recipe ({last.name}, {last.source}) held ImageNet accuracy"}
