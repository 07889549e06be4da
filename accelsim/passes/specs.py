"""Pass specs as users write them: ``prune:0.8``, ``prune:2:4``, ``quantize:int4:per-channel``.

A spec is a pass name and colon-separated arguments. Each configurable pass registers a
parser in ``PASS_SPECS`` that turns the arguments into a function ``Graph -> PassResult``;
``parse_pass`` gives the configured pass, and ``PassManager`` accepts spec text anywhere a
pass name is accepted, so ``--passes "fuse,prune:2:4"`` works for every command.

Forms (``[]`` optional)::

    fuse
    prune:S[:global]           unstructured, S = fraction of weights zeroed (0.8: 80% zeros)
    prune:N:M                  N of every M weights kept (2:4)
    prune:channel:S            S = fraction of filters removed
    prune:S:finetune           iterative prune and fine-tune (models with training data)
    prune:N:M:finetune
    prune:lasso:S              group-lasso training, then S of the filters removed
    prune:grow[:W]             start at W of each width (0.25), widen where the gradient is largest
    quantize:intB[:per-channel][:minmax|percentile|mse][:aA][:qat]   weights at B bits, activations at A
    share:B[:huffman]          2**B shared values per layer, B-bit indices (Huffman-coded)
    lowrank:E[:tucker2]        rank keeping energy E (0.9) of the singular values
    lowrank:Xx[:tucker2]       rank for an X-fold MAC reduction (2x)
    factorize[:3x3|asymmetric]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import PassError
from ..ir import Graph
from ..registry import Registry, did_you_mean
from .result import PassResult

__all__ = ["SpecParser", "ConfiguredPass", "PASS_SPECS", "parse_pass", "ORDER"]

Build = Callable[[Graph], PassResult]

# Passes that must come before others when both are in one list: folding batchnorm needs
# unannotated layers, sharing clusters the values that pruning and quantising leave.
ORDER: dict[str, tuple[str, ...]] = {
    "prune": ("fuse", "lowrank", "factorize"),
    "quantize": ("fuse", "prune", "lowrank", "factorize"),
    "share": ("fuse", "prune"),
    "lowrank": ("fuse",),
    "factorize": ("fuse",),
}


@dataclass(frozen=True)
class SpecParser:
    """``parse(args)`` builds the pass from its arguments; ``usage`` is shown on a mistake."""

    name: str
    parse: Callable[[list[str]], Build]
    usage: str


@dataclass(frozen=True)
class ConfiguredPass:
    """A pass with its arguments: ``text`` as written, ``run`` the configured function."""

    name: str
    text: str
    run: Build


PASS_SPECS: Registry[SpecParser] = Registry("pass spec", entry_point_group="accelsim.pass_specs")


def _fraction(text: str, what: str, *, closed: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PassError(f"{what} must be a number, got {text!r}") from None
    if not (0 <= value <= 1 if closed else 0 <= value < 1):
        raise PassError(f"{what} must be in [0, 1{']' if closed else ')'}, got {text!r}")
    return value


def _int(text: str, what: str) -> int:
    if not text.isdigit():
        raise PassError(f"{what} must be a whole number, got {text!r}")
    return int(text)


def _prune(args: list[str]) -> Build:
    from .prune import prune
    if not args:
        raise PassError("prune needs an argument")
    if args[0] in ("lasso", "grow"):
        from . import finetune
        if args[0] == "grow":
            if len(args) > 2:
                raise PassError("prune:grow takes at most the starting width, e.g. prune:grow:0.25")
            start = _fraction(args[1], "the starting width", closed=True) if len(args) == 2 else 0.25
            return lambda g: finetune.grow(g, start=start)
        if len(args) != 2:
            raise PassError("prune:lasso takes one fraction of filters removed")
        s = _fraction(args[1], "the fraction of filters removed")
        return lambda g: finetune.group_lasso(g, s)
    tune = args[-1] == "finetune"
    if tune:
        args = args[:-1]
        from .finetune import prune_finetune
        if len(args) == 2 and args[0].isdigit() and args[1].isdigit():
            n, m = int(args[0]), int(args[1])
            if not 0 < n < m:
                raise PassError(f"prune:N:M needs 0 < N < M, got {n}:{m}")
            return lambda g: prune_finetune(g, structure="n:m", n=n, m=m)
        if len(args) != 1:
            raise PassError("prune:S:finetune or prune:N:M:finetune")
        s = _fraction(args[0], "the fraction of weights zeroed")
        return lambda g: prune_finetune(g, s)
    if args[0] == "channel":
        if len(args) != 2:
            raise PassError("prune:channel takes one fraction")
        s = _fraction(args[1], "the fraction of filters removed")
        return lambda g: prune(g, s, structure="channel")
    if len(args) == 2 and args[0].isdigit() and args[1].isdigit():
        n, m = int(args[0]), int(args[1])
        if not 0 < n < m:
            raise PassError(f"prune:N:M needs 0 < N < M, got {n}:{m}")
        return lambda g: prune(g, structure="n:m", n=n, m=m)
    s = _fraction(args[0], "the fraction of weights zeroed")
    if args[1:] not in ([], ["global"]):
        raise PassError(f"unexpected {':'.join(args[1:])!r} after prune:{args[0]}")
    scope = "global" if args[1:] else "layer"
    return lambda g: prune(g, s, scope=scope)


def _quantize(args: list[str]) -> Build:
    from .quantize import BITS, quantize
    if not args or not (args[0].startswith("int") or args[0] == "binary"):
        raise PassError("quantize needs a width first: int8, int4, int2 or binary")
    bits = 1 if args[0] == "binary" else _int(args[0][3:], "the width")
    if bits not in BITS:
        raise PassError(f"quantize: no {args[0]}; expected int16, int8, int4, int2 or binary")
    per_channel, method, act, qat = False, "minmax", None, False
    for extra in args[1:]:
        if extra == "qat":
            qat = True
        elif extra == "per-channel":
            per_channel = True
        elif extra in ("minmax", "percentile", "mse"):
            method = extra
        elif extra.startswith("a") and extra[1:].isdigit():
            act = int(extra[1:])
        else:
            raise PassError(f"quantize: unknown option {extra!r}; expected per-channel, minmax, percentile, "
                            "mse or aB (activation bits)")
    if qat:
        from .finetune import quantize_aware
        chosen = method if method != "minmax" else "mse"  # min-max grids fall apart under training at 2 bits
        return lambda g: quantize_aware(g, bits, act_bits=act, per_channel=per_channel, method=chosen)
    return lambda g: quantize(g, bits, act_bits=act, per_channel=per_channel, method=method)


def _share(args: list[str]) -> Build:
    from .share import share
    if not args:
        raise PassError("share needs the bits per index, e.g. share:5")
    bits = _int(args[0], "the bits per index")
    if not 1 <= bits <= 16:
        raise PassError(f"share: bits per index must be 1 to 16, got {bits}")
    if args[1:] not in ([], ["huffman"]):
        raise PassError(f"share: unknown option {':'.join(args[1:])!r}; expected huffman")
    huffman = bool(args[1:])
    return lambda g: share(g, bits, huffman=huffman)


def _lowrank(args: list[str]) -> Build:
    from .lowrank import lowrank
    if not args:
        raise PassError("lowrank needs the energy kept (0.9) or a MAC reduction (2x)")
    method = "channel"
    if args[1:] == ["tucker2"]:
        method = "tucker2"
    elif args[1:]:
        raise PassError(f"lowrank: unknown option {':'.join(args[1:])!r}; expected tucker2")
    if args[0].endswith("x"):
        try:
            speedup = float(args[0][:-1])
        except ValueError:
            raise PassError(f"lowrank: a MAC reduction reads like 2x, got {args[0]!r}") from None
        if speedup <= 1:
            raise PassError(f"lowrank: a MAC reduction must exceed 1x, got {args[0]!r}")
        return lambda g: lowrank(g, speedup=speedup, method=method)
    energy = _fraction(args[0], "the energy kept", closed=True)
    if energy == 0:
        raise PassError("lowrank: the energy kept must be above 0")
    return lambda g: lowrank(g, energy=energy, method=method)


def _factorize(args: list[str]) -> Build:
    from .factorize import factorize
    if len(args) > 1 or (args and args[0] not in ("3x3", "asymmetric", "auto")):
        raise PassError("factorize takes no argument, 3x3 or asymmetric")
    mode = args[0] if args else "auto"
    return lambda g: factorize(g, mode=mode)


def _fuse(args: list[str]) -> Build:
    from .fuse import fuse
    if args:
        raise PassError("fuse takes no arguments")
    return lambda g: PassResult(fuse(g))


for _parser in (
    SpecParser("fuse", _fuse, "fuse"),
    SpecParser("prune", _prune, "prune:0.8 | prune:0.8:global | prune:2:4 | prune:channel:0.5 | prune:0.8:finetune | prune:lasso:0.5 | prune:grow"),
    SpecParser("quantize", _quantize, "quantize:int8 | quantize:int4:per-channel | quantize:int8:mse:a8 | quantize:int2:qat"),
    SpecParser("share", _share, "share:5 | share:5:huffman"),
    SpecParser("lowrank", _lowrank, "lowrank:0.9 | lowrank:2x | lowrank:0.9:tucker2"),
    SpecParser("factorize", _factorize, "factorize | factorize:3x3 | factorize:asymmetric"),
):
    PASS_SPECS.add(_parser.name, _parser)


def parse_pass(text: str) -> ConfiguredPass:
    """The configured pass of one spec.

    Raises:
        PassError: an unknown pass (with the closest names) or bad arguments (with the forms
            the pass takes).
    """
    name, *args = text.strip().split(":")
    if name not in PASS_SPECS:
        raise PassError(f"unknown pass {name!r} in {text!r}; {did_you_mean(name, list(PASS_SPECS.names()))}")
    parser = PASS_SPECS.get(name)
    try:
        build = parser.parse(args)
    except PassError as exc:
        raise PassError(f"{text!r}: {exc.message} (forms: {parser.usage})") from None
    return ConfiguredPass(name, text.strip(), build)
