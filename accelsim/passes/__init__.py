"""Graph passes: pure ``Graph -> Graph`` transformations, one module each, run by a small
pass manager that checks their declared order and verifies the graph after each.

Importing the package registers the built-in passes in ``PASSES``; third-party packages add
theirs through the ``accelsim.passes`` entry-point group.
"""

from ..errors import PassError
from .fuse import FUSE
from .manager import PASSES, Pass, PassManager, run_passes

PASSES.add(FUSE.name, FUSE)

__all__ = ["PASSES", "Pass", "PassManager", "PassError", "run_passes"]
