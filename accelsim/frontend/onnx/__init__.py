"""ONNX -> Graph: map each ONNX node onto the accelsim op vocabulary.

``onnx`` is an optional extra, imported lazily: only when a file is loaded, never when this
package or ``accelsim.frontend`` is imported. Initializers become numpy weights on the nodes
that declare them. Constant subgraphs (the shape arithmetic that exporters emit around Reshape)
are folded with numpy, so only real work reaches the IR; two common exporter patterns are
fused first: MatMul + bias Add -> one ``linear`` with bias, and the Erf formulation of GELU ->
``gelu``.

Modules, in the order a file flows through them:

- ``reader``: the file, node views and decoded attributes, input types, dtype maps;
- ``patterns``: the MatMul + Add and Erf-GELU fusions;
- ``folding``: numpy evaluation of nodes whose inputs are all constant;
- ``converters``: one converter per ONNX op, and the dispatch table;
- ``importer``: the driver that ties them together, and ``load_onnx``.
"""

from __future__ import annotations

from .converters import SUPPORTED_OPS
from .importer import load_onnx

__all__ = ["load_onnx", "SUPPORTED_OPS"]
