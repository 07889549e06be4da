"""Training on many devices: clusters, parallel schedules, collectives, consistency models.

``train_distributed(model, cluster, options=DistributedOptions(...))`` costs one iteration;
``docs/distributed.md`` describes the models and their sources.
"""

from __future__ import annotations

from .cluster import ClusterSpec, load_cluster, is_cluster
from .step import DistributedOptions, DistributedStep, scaling_curve, train_distributed

__all__ = ["ClusterSpec", "load_cluster", "is_cluster", "DistributedOptions", "DistributedStep", "train_distributed",
           "scaling_curve"]
