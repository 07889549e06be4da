"""Graph IR: tensor types, the op registry, node annotations, the graph and canonical workloads.

The IR knows no hardware. Importing it registers every built-in op and annotation kind.
"""

from .annotations import ANNOTATIONS, Annotation, Fused, Quant, Sharing, Sparsity
from .graph import Graph, Layer, Node, NodeSpec, Source
from .opdef import OPS, Attr, OpDef
from .types import DTYPES, DType, TensorType, dtype
from .workload import Workload
from . import ops as _ops  # noqa: F401  (registers the built-in ops)
from . import ops_more as _ops_more  # noqa: F401
from . import ops_training as _ops_training  # noqa: F401

__all__ = ["Graph", "Layer", "Node", "NodeSpec", "Source", "OPS", "Attr", "OpDef", "DTYPES", "DType",
           "TensorType", "dtype", "Workload", "ANNOTATIONS", "Annotation", "Quant", "Sparsity",
           "Sharing", "Fused"]
