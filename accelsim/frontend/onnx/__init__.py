"""ONNX -> Graph: map each ONNX node onto the accelsim op vocabulary.

``onnx`` is an optional extra, imported lazily: only when a file is loaded, never when this
package or ``accelsim.frontend`` is imported. Initializers become numpy weights on the nodes
that declare them. Constant subgraphs (the shape arithmetic that exporters emit around Reshape)
are folded with numpy, so only real work reaches the IR; common exporter patterns are fused
first: MatMul + bias Add -> one ``linear`` with bias, the Erf formulation of GELU -> ``gelu``,
torch's spelled-out LayerNorm -> ``layernorm``, and a zero Pad into the Conv it feeds. Weights
are optional: a model whose initializers have no data (shapes-only exports, a missing
external-data file) imports with one warning.

Modules, in the order a file flows through them:

- ``reader``: the file, its initializers, node views and decoded attributes, input types;
- ``patterns``: the MatMul + Add, Erf-GELU, LayerNorm and Pad + Conv fusions;
- ``folding``: numpy evaluation of nodes whose inputs are all constant;
- ``converters``: one converter per ONNX op, and the dispatch table;
- ``importer``: the driver that ties them together, and ``load_onnx``.
"""

from __future__ import annotations

from .converters import SUPPORTED_OPS
from .importer import load_onnx

__all__ = ["load_onnx", "SUPPORTED_OPS"]
