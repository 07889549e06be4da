"""Graph IR: tensor types, the op registry, the graph and canonical workloads.

The IR knows no hardware. Importing it registers every built-in op.
"""

from .graph import Graph, Layer, Node, Source
from .opdef import OPS, Attr, OpDef
from .types import DTYPES, DType, TensorType, dtype
from .workload import Workload
from . import ops as _ops  # noqa: F401  (registers the built-in ops)

__all__ = ["Graph", "Layer", "Node", "Source", "OPS", "Attr", "OpDef", "DTYPES", "DType",
           "TensorType", "dtype", "Workload"]
