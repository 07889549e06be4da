"""Graph -> model YAML (docs/model-format.md), with weights in an ``.npz`` next to it.

This is what ``accelsim convert`` writes: a flat ``layers:`` list, one flow mapping per layer,
that ``load_model`` reads back to the same graph, annotations included. Only attributes that differ from the op's
defaults are written, and ``in:`` only where a layer does not simply follow the previous one,
so the file stays readable and diffable.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import SpecError
from ..fileio import write_atomic
from ..ir import ANNOTATIONS, Graph, Node
from ..ir.opdef import REQUIRED
from .model_yaml import FORMAT_VERSION

__all__ = ["write_model_yaml", "render_model_yaml"]

_LAYER_KEYS = ("name", "op", "in", "if", "repeat", "block", "args")


def _plain(value: Any) -> Any:
    """Tuples -> lists and numpy scalars -> Python, so safe_dump writes plain YAML."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _flow(value: Any) -> str:
    """One value in YAML flow style on a single line."""
    return yaml.safe_dump(_plain(value), default_flow_style=True, sort_keys=False,
                          width=float("inf")).strip().removesuffix("...").strip()


def _entry(key: Any, value: Any) -> str:
    """``key: value`` with both sides quoted where YAML needs it."""
    return _flow({key: value})[1:-1]


def _check_name(name: str) -> None:
    if "$" in name:  # the YAML reader would substitute it as a block parameter
        raise SpecError(f"layer name {name!r} contains '$', which model YAML cannot express")


def _layer(node: Node, previous: str | None) -> dict[str, Any]:
    _check_name(node.name)
    entry: dict[str, Any] = {"name": node.name, "op": node.op}
    if list(node.inputs) != ([previous] if previous is not None else None):
        entry["in"] = list(node.inputs)
    for key, spec in node.opdef.attrs.items():
        if key in _LAYER_KEYS or key in ANNOTATIONS:
            raise SpecError(f"attribute {key!r} of op {node.op!r} clashes with a layer key")
        value = node.attrs[key]
        if spec.default is REQUIRED or value != spec.default:
            entry[key] = value
    for kind, ann in node.annotations.items():
        entry[kind] = ann.to_yaml()
    return entry


def _chain_order(graph: Graph, first: str) -> list[Node]:
    """A topological order that follows chains where it can, so few layers need ``in:``.

    Among the layers whose inputs are all placed, one fed by the layer just written wins;
    ties keep the graph's own order.
    """
    order = {n.name: i for i, n in enumerate(graph.nodes())}
    waiting = {n.name: len(set(n.inputs)) for n in graph.nodes()}
    placed = set(graph.inputs)
    for name in placed:
        for user in graph.consumers(name):
            waiting[user] -= 1
    ready = {n for n, count in waiting.items() if count == 0 and n not in placed}
    out, previous = [], first
    while ready:
        chained = [n for n in ready if graph.node(n).inputs == (previous,)]
        name = min(chained or ready, key=order.__getitem__)
        ready.discard(name)
        out.append(graph.node(name))
        previous = name
        for user in graph.consumers(name):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.add(user)
    return out


def render_model_yaml(graph: Graph, weights_file: str | None = None) -> str:
    """The model YAML text of ``graph`` (``weights_file``: the .npz path, relative to the YAML)."""
    inputs = graph.inputs
    if not inputs:
        raise SpecError("the model has no inputs; model YAML needs at least one")
    lines = [_entry("name", graph.name), f"version: {FORMAT_VERSION}", "inputs:"]
    for name in inputs:
        _check_name(name)
        attrs = graph.node(name).attrs
        lines.append("  " + _entry(name, {"shape": attrs["shape"], "dtype": attrs["dtype"]}))
    lines.append("layers:")
    layers = _chain_order(graph, inputs[0])
    if not layers:
        raise SpecError("the model has no layers besides its inputs; model YAML needs at least one")
    previous: str | None = inputs[0]
    for node in layers:
        lines.append("  - " + _flow(_layer(node, previous)))
        previous = node.name
    lines.append(_entry("outputs", graph.outputs))
    if weights_file is not None:
        lines.append(_entry("weights", weights_file))
    return "\n".join(lines) + "\n"


def _all_weights(graph: Graph) -> dict[str, np.ndarray]:
    out = {}
    for node in graph.nodes():
        for key, arr in graph.weights(node.name).items():
            out[f"{node.name}/{key}"] = np.asarray(arr)
    return out


def write_model_yaml(graph: Graph, path: str | Path) -> list[Path]:
    """Write ``graph`` as model YAML (and ``<stem>.npz`` if it has weights); return the paths.

    Each file is written to a temporary name and renamed into place (``write_atomic``), the
    weights first and the YAML last, so a failure leaves no partial file and no YAML that
    names weights which were not written.

    Raises:
        SpecError: the graph cannot be expressed in YAML, or a file cannot be written.
    """
    path = Path(path)
    weights = _all_weights(graph)
    npz = path.with_suffix(".npz") if weights else None
    if npz is not None and npz == path:
        raise SpecError("the model file must not end in .npz (the weights go there)", file=str(path))
    text = render_model_yaml(graph, npz.name if npz else None)
    try:
        if npz is not None:
            buffer = io.BytesIO()
            np.savez(buffer, **weights)
            write_atomic(npz, buffer.getvalue())
        write_atomic(path, text)
    except OSError as exc:
        raise SpecError(f"cannot write model: {exc}", file=str(path)) from None
    return [path] + ([npz] if npz is not None else [])
