"""Compression that accelerates: run compression passes, measure quality on the integer and
sparse kernels, cost the result on a machine, and search per-layer policies for a target."""

from .run import Compressed, PassStep, Snapshot, compress

__all__ = ["compress", "Compressed", "PassStep", "Snapshot"]
