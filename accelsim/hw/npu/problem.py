"""The loop nest and operand tensors of one layer, in Timeloop's terms.

Timeloop describes a layer as *dimensions* (loop bounds) and *data spaces* (operand tensors),
each rank of a data space being a sum of ``coefficient x dimension`` terms (``P*stride +
R*dilation`` for a convolution's input rows). The nest analysis needs exactly that and
nothing of the accelsim IR, so conv and GEMM workloads are translated here once.

The dimension order and the rank order of each data space follow Timeloop's built-in
``cnn_layer`` shape (``problem-shapes/cnn_layer.yaml``): the order decides which dimension a
level's placeholder loop uses and how a set difference is cut into boxes, so keeping it the
same keeps the analysis identical to Timeloop's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import MappingError
from ...ir import Workload
from ...registry import did_you_mean

__all__ = ["DataSpace", "Problem", "problem_for", "conv_problem", "gemm_problem", "MAPPABLE_KINDS",
           "conv_names"]

MAPPABLE_KINDS = ("conv", "gemm")


@dataclass(frozen=True)
class DataSpace:
    """One operand tensor. ``ranks[k]`` lists the ``(coefficient, dimension index)`` terms
    whose sum indexes rank ``k``; ``read_write`` marks the partial-sum (output) tensor."""

    name: str
    ranks: tuple[tuple[tuple[int, int], ...], ...]
    read_write: bool = False

    def dims(self) -> frozenset[int]:
        """Dimensions this tensor depends on (a loop over any other one reuses it)."""
        return frozenset(d for rank in self.ranks for _, d in rank)


@dataclass(frozen=True)
class Problem:
    """Named loop bounds plus operand tensors. ``aliases`` maps other spellings a mapping
    file may use (Timeloop's ``M`` for output channels) to a dimension name."""

    name: str
    dims: tuple[str, ...]
    bounds: tuple[int, ...]
    dataspaces: tuple[DataSpace, ...]
    aliases: tuple[tuple[str, str], ...] = ()

    @property
    def macs(self) -> int:
        return math.prod(self.bounds)

    def dim_index(self, name: str) -> int:
        """Index of dimension ``name`` (or of its alias).

        Raises:
            KeyError: with the valid names.
        """
        name = dict(self.aliases).get(name, name)
        try:
            return self.dims.index(name)
        except ValueError:
            raise KeyError(f"unknown dimension {name!r}; {did_you_mean(name, list(self.dims))}") from None

    def dataspace_index(self, name: str) -> int:
        """Index of data space ``name``.

        Raises:
            KeyError: with the valid names.
        """
        names = [ds.name for ds in self.dataspaces]
        try:
            return names.index(name)
        except ValueError:
            raise KeyError(f"unknown data space {name!r}; {did_you_mean(name, names)}") from None

    def tensor_size(self, index: int) -> int:
        """Words of data space ``index`` as Timeloop counts them (the bounding box)."""
        return math.prod(sum(c * (self.bounds[d] - 1) for c, d in rank) + 1
                         for rank in self.dataspaces[index].ranks)


# Timeloop's cnn_layer dimension order, then G (groups; not in Timeloop, 1 unless grouped).
_CONV_DIMS = ("R", "S", "P", "Q", "C", "K", "N", "G")


def conv_problem(w: Workload, name: str = "conv") -> Problem:
    """A convolution as Timeloop's ``cnn_layer``: Weights[C,K,R,S], Inputs[N, C, R*dil +
    P*stride, S*dil + Q*stride], Outputs[N,K,Q,P], plus G as a last rank of each."""
    d = {n: i for i, n in enumerate(_CONV_DIMS)}
    (sp, sq), (dp, dq) = w.strides, w.dilation
    weights = (((1, d["C"]),), ((1, d["K"]),), ((1, d["R"]),), ((1, d["S"]),), ((1, d["G"]),))
    inputs = (((1, d["N"]),), ((1, d["C"]),), ((dp, d["R"]), (sp, d["P"])),
              ((dq, d["S"]), (sq, d["Q"])), ((1, d["G"]),))
    outputs = (((1, d["N"]),), ((1, d["K"]),), ((1, d["Q"]),), ((1, d["P"]),), ((1, d["G"]),))
    return Problem(
        name=name, dims=_CONV_DIMS, bounds=tuple(w.dim(n) for n in _CONV_DIMS),
        dataspaces=(DataSpace("Weights", weights), DataSpace("Inputs", inputs),
                    DataSpace("Outputs", outputs, read_write=True)),
        aliases=(("M", "K"),),
    )


_GEMM_DIMS = ("M", "N", "K", "B")


def gemm_problem(w: Workload, name: str = "gemm") -> Problem:
    """A (batched) matrix product ``Outputs[B,M,N] += Inputs[B,M,K] * Weights[B,K,N]``
    (Timeloop's ``gemm_ABZ`` with the operands named like a layer's)."""
    d = {n: i for i, n in enumerate(_GEMM_DIMS)}
    return Problem(
        name=name, dims=_GEMM_DIMS, bounds=tuple(w.dim(n) for n in _GEMM_DIMS),
        dataspaces=(
            DataSpace("Weights", (((1, d["K"]),), ((1, d["N"]),), ((1, d["B"]),))),
            DataSpace("Inputs", (((1, d["M"]),), ((1, d["K"]),), ((1, d["B"]),))),
            DataSpace("Outputs", (((1, d["M"]),), ((1, d["N"]),), ((1, d["B"]),)), read_write=True),
        ),
    )


# A GEMM dimension's convolution counterparts: rows of the output (M) are output pixels or
# images, N is the output channels, K the reduced input channels, B the groups or images.
_GEMM_AS_CONV = {"M": ("P", "Q", "N"), "N": ("K",), "K": ("C",), "B": ("G", "N")}


def conv_names(problem: Problem, dim: int) -> tuple[str, ...]:
    """The convolution dimension names that stand for dimension ``dim`` of ``problem``:
    hardware describes its array wiring in convolution terms (``unroll: {x: [C]}``), and a
    GEMM mapped onto it uses the matching dimension."""
    name = problem.dims[dim]
    if problem.dims == _GEMM_DIMS:
        return _GEMM_AS_CONV[name]
    return (name,)


def problem_for(w: Workload, name: str) -> Problem:
    """The Timeloop problem of a conv or GEMM workload.

    Raises:
        MappingError: the workload is of another kind (elementwise, pooling, ...).
    """
    if w.kind == "conv":
        return conv_problem(w, name)
    if w.kind == "gemm":
        return gemm_problem(w, name)
    raise MappingError(f"layer {name!r} is a {w.kind} workload; only {', '.join(MAPPABLE_KINDS)} "
                       "layers are mapped onto the array")
