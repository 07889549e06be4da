"""Exporter patterns fused into single nodes before conversion.

Two multi-node idioms are rewritten so the IR sees the op they stand for: MatMul followed by
a bias Add of a (N,) constant becomes one MatMul with a third (bias) input, which converts to
a ``linear`` with bias; the Erf formulation x * 0.5 * (1 + erf(x / sqrt 2)), in its exporter
variants, becomes one ``Gelu``. Each fused node takes the place of the last node it replaces.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import SpecError
from .reader import Op, constant_value, scalar_value


class _Net:
    """Producer and consumer indices of an ONNX node list, for pattern matching."""

    def __init__(self, ops: list[Op], consts: dict[str, np.ndarray], outputs: set[str]) -> None:
        self.ops = ops
        self.consts = dict(consts)
        for op in ops:
            if op.type == "Constant" and op.node.output:
                try:
                    self.consts[op.node.output[0]] = constant_value(op.attrs)
                except (SpecError, ValueError):
                    pass
        self.producer = {t: k for k, op in enumerate(ops) for t in op.node.output if t}
        self.consumers: dict[str, list[int]] = {}
        for k, op in enumerate(ops):
            for t in op.node.input:
                self.consumers.setdefault(t, []).append(k)
        self.outputs = outputs

    def sole_user(self, tensor: str, op_type: str) -> int | None:
        """The one node reading ``tensor`` if it has type ``op_type`` and nothing else reads it."""
        users = self.consumers.get(tensor, [])
        if len(users) != 1 or tensor in self.outputs or self.ops[users[0]].type != op_type:
            return None
        return users[0]

    def other(self, k: int, tensor: str) -> str | None:
        """The second operand of binary node ``k`` next to ``tensor``."""
        ins = list(self.ops[k].node.input)
        if len(ins) != 2 or tensor not in ins:
            return None
        return ins[1] if ins[0] == tensor else ins[0]

    def is_const(self, tensor: str | None, value: float) -> bool:
        got = scalar_value(self.consts.get(tensor)) if tensor else None
        return got is not None and math.isclose(got, value, rel_tol=1e-3)


def _match_erf_gelu(net: _Net, e: int) -> tuple[list[int], str, str] | None:
    """x * 0.5 * (1 + erf(x / sqrt 2)) in its exporter variants -> (nodes, x, y)."""
    erf = net.ops[e].node
    p = net.producer.get(erf.input[0])
    if p is None or net.sole_user(erf.input[0], "Erf") != e:
        return None
    pre = net.ops[p]
    if pre.type == "Div" and net.is_const(pre.input(1), math.sqrt(2)):
        x = pre.input(0)
    elif pre.type == "Mul" and net.is_const(pre.input(1), 1 / math.sqrt(2)):
        x = pre.input(0)
    elif pre.type == "Mul" and net.is_const(pre.input(0), 1 / math.sqrt(2)):
        x = pre.input(1)
    else:
        return None
    a = net.sole_user(erf.output[0], "Add")
    if a is None or not net.is_const(net.other(a, erf.output[0]), 1.0):
        return None
    w = net.ops[a].node.output[0]
    m = net.sole_user(w, "Mul")
    if m is None:
        return None
    other, y = net.other(m, w), net.ops[m].node.output[0]
    if other == x or net.is_const(other, 0.5):        # (x * w) * 0.5 or (w * 0.5) * x
        f = net.sole_user(y, "Mul")
        last = net.other(f, y) if f is not None else None
        if f is None or not (net.is_const(last, 0.5) if other == x else last == x):
            return None
        return [p, e, a, m, f], x, net.ops[f].node.output[0]
    h = net.producer.get(other or "")                  # (x * 0.5) * w
    if h is None or net.sole_user(other, "Mul") != m or not net.is_const(net.other(h, x), 0.5):
        return None
    return [p, e, a, h, m], x, y


def _match_linear_bias(net: _Net, k: int) -> tuple[list[int], str, str] | None:
    """MatMul(x, W const 2-D) whose only user adds a (N,) constant -> (nodes, bias, y)."""
    mm = net.ops[k].node
    w = net.consts.get(mm.input[1]) if len(mm.input) == 2 else None
    if w is None or w.ndim != 2 or mm.input[0] in net.consts:
        return None
    a = net.sole_user(mm.output[0], "Add")
    bias = net.other(a, mm.output[0]) if a is not None else None
    b = net.consts.get(bias) if bias else None
    if b is None or b.shape != (w.shape[1],):
        return None
    return [k, a], bias, net.ops[a].node.output[0]


def fuse(ops: list[Op], consts: dict[str, np.ndarray], outputs: set[str]) -> list[Op]:
    """Rewrite exporter patterns into single nodes, each placed where its last node was."""
    from onnx import helper

    net = _Net(ops, consts, outputs)
    taken: set[int] = set()
    placed: dict[int, Op] = {}
    for k, op in enumerate(ops):
        if op.type == "Erf":
            match = _match_erf_gelu(net, k)
            if match and not taken.intersection(match[0]):
                nodes, x, y = match
                fused = helper.make_node("Gelu", [x], [y], name=op.raw_name)
                taken.update(nodes)
                placed[max(nodes)] = Op(k, fused, {})
    for k, op in enumerate(ops):
        if op.type == "MatMul" and k not in taken:
            match = _match_linear_bias(net, k)
            if match and not taken.intersection(match[0]):
                nodes, bias, y = match
                fused = helper.make_node("MatMul", [*op.node.input, bias], [y], name=op.raw_name)
                taken.update(nodes)
                placed[max(nodes)] = Op(k, fused, {})
    return [placed[k] if k in placed else op for k, op in enumerate(ops)
            if k in placed or k not in taken]
