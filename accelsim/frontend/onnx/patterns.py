"""Exporter patterns fused into single nodes before conversion.

Multi-node idioms are rewritten so the IR sees the op they stand for: MatMul followed by
a bias Add of a (N,) constant becomes one MatMul with a third (bias) input, which converts to
a ``linear`` with bias; the Erf formulation x * 0.5 * (1 + erf(x / sqrt 2)), in its exporter
variants, becomes one ``Gelu``; LayerNorm spelled out in ReduceMean, Sub, Pow, Sqrt and Div
(torch before opset 17) becomes one ``LayerNormalization``; a zero Pad feeding a Conv becomes
that Conv's padding. Each fused node takes the place of the last node it replaces.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import SpecError
from .reader import Op, constant_value, int_list, node_attrs, scalar_value


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


def _reduce_axes(net: _Net, op: Op) -> list[int] | None:
    """The axes of a keepdims ReduceMean, from its attribute or its constant second input."""
    if not op.attrs.get("keepdims", 1):
        return None
    if "axes" in op.attrs:
        return [int(a) for a in op.attrs["axes"]]
    axes = net.consts.get(op.input(1)) if op.input(1) else None
    return None if axes is None else int_list(axes)


def _match_layernorm(net: _Net, k: int) -> tuple[list[int], list[str], float, int] | None:
    """LayerNorm as torch exports it before opset 17: ReduceMean -> Sub -> Pow 2 -> ReduceMean ->
    Add eps -> Sqrt -> Div, optionally then Mul by a (D,) scale and Add of a (D,) shift.
    -> (nodes, [x, scale or '', bias or ''], eps, axis)."""
    r1 = net.ops[k]
    axes = _reduce_axes(net, r1)
    if axes is None or len(axes) != 1:
        return None
    x, mean = r1.input(0), r1.node.output[0]
    s = net.sole_user(mean, "Sub")
    if s is None or list(net.ops[s].node.input) != [x, mean]:
        return None
    d = net.ops[s].node.output[0]
    users = sorted(net.consumers.get(d, []))
    kinds = sorted(net.ops[u].type for u in users)
    if kinds != ["Div", "Pow"] or d in net.outputs:
        return None
    pw = next(u for u in users if net.ops[u].type == "Pow")
    dv = next(u for u in users if net.ops[u].type == "Div")
    if net.ops[pw].input(0) != d or not net.is_const(net.ops[pw].input(1), 2.0):
        return None
    r2 = net.sole_user(net.ops[pw].node.output[0], "ReduceMean")
    if r2 is None or _reduce_axes(net, net.ops[r2]) != axes:
        return None
    a = net.sole_user(net.ops[r2].node.output[0], "Add")
    eps_name = net.other(a, net.ops[r2].node.output[0]) if a is not None else None
    eps = scalar_value(net.consts.get(eps_name)) if eps_name else None
    if eps is None:
        return None
    q = net.sole_user(net.ops[a].node.output[0], "Sqrt")
    if q is None or list(net.ops[dv].node.input) != [d, net.ops[q].node.output[0]] \
            or net.sole_user(net.ops[q].node.output[0], "Div") != dv:
        return None
    nodes, y, scale, bias = [k, s, pw, r2, a, q, dv], net.ops[dv].node.output[0], "", ""
    for op_type in ("Mul", "Add"):
        u = net.sole_user(y, op_type)
        c = net.other(u, y) if u is not None else None
        arr = net.consts.get(c) if c else None
        if arr is None or arr.ndim != 1:
            break
        if op_type == "Mul":
            scale = c
        else:
            bias = c
        nodes.append(u)
        y = net.ops[u].node.output[0]
    return nodes, [x, scale, bias, y], eps, axes[0]


def _match_pad_conv(net: _Net, k: int) -> tuple[list[int], Op] | None:
    """A zero constant Pad of the spatial axes whose only user is a Conv -> the Conv, padded."""
    from onnx import helper

    pad = net.ops[k]
    if pad.attrs.get("mode", "constant") != "constant" or pad.input(3):
        return None
    if "pads" in pad.attrs:
        pads = [int(v) for v in pad.attrs["pads"]]
        value = pad.attrs.get("value", 0.0)
    else:
        given = net.consts.get(pad.input(1))
        if given is None:
            return None
        pads = int_list(given)
        value = scalar_value(net.consts.get(pad.input(2))) if pad.input(2) else 0.0
    c = net.sole_user(pad.node.output[0], "Conv")
    if c is None or value != 0 or len(pads) % 2 or len(pads) < 6:
        return None
    conv = net.ops[c]
    rank = len(pads) // 2
    if conv.input(0) != pad.node.output[0] or any(pads[:2]) or any(pads[rank:rank + 2]) \
            or conv.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", ""):
        return None
    extra = pads[2:rank] + pads[rank + 2:]
    own = [int(v) for v in conv.attrs.get("pads", [0] * len(extra))]
    if len(own) != len(extra):
        return None
    fused = helper.make_node("Conv", [pad.input(0), *conv.node.input[1:]], list(conv.node.output),
                             name=conv.node.name)
    fused.attribute.extend(a for a in conv.node.attribute if a.name != "pads")
    fused.attribute.append(helper.make_attribute("pads", [p + q for p, q in zip(own, extra)]))
    return [k, c], Op(conv.index, fused, node_attrs(fused))


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
        if op.type == "ReduceMean" and k not in taken:
            ln = _match_layernorm(net, k)
            if ln and not taken.intersection(ln[0]):
                nodes, (x, scale, bias, y), eps, axis = ln
                scope = op.raw_name.rpartition("/")[0]  # '/ln/ReduceMean' -> 'ln'
                fused = helper.make_node("LayerNormalization", [x, scale, bias], [y], epsilon=eps,
                                         axis=axis, name=f"{scope}/LayerNormalization" if scope
                                         else op.raw_name)
                taken.update(nodes)
                placed[max(nodes)] = Op(ops[max(nodes)].index, fused, node_attrs(fused))
        elif op.type == "Pad" and k not in taken:
            pc = _match_pad_conv(net, k)
            if pc and not taken.intersection(pc[0]):
                taken.update(pc[0])
                placed[max(pc[0])] = pc[1]
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
