"""The ``npu`` family: spatial accelerators (storage levels above a MAC array) analysed the
way Timeloop analyses them, for a given or searched mapping.

``problem`` (layers as Timeloop problems), ``spec`` (the machine), ``mapping`` (tiling,
order, unrolling, bypass), ``analysis`` (accesses, cycles, energy), ``fast`` (the same
analysis compiled, for many candidates at once: the mapping search's scorer), ``model``
(the cost model registered under ``kind: npu``); readers: ``native`` (accelsim YAML),
``mapping_file`` (Timeloop mapping YAML), ``energy`` (Accelergy ERT and defaults).
"""

from .analysis import Analysis, Context, DataSpaceStats, LevelStats, check, evaluate, prepare, tile_sizes
from .mapping import LevelMapping, Loop, Mapping, format_loop_nest
from .mapping_file import MappingFile, read_mapping
from .model import Mapper, NpuModel
from .problem import DataSpace, Problem, problem_for
from .spec import ActionEnergy, ArithmeticLevel, NpuSpec, StorageLevel

__all__ = ["Analysis", "Context", "DataSpaceStats", "LevelStats", "check", "evaluate", "prepare", "tile_sizes",
           "LevelMapping", "Loop", "Mapping", "format_loop_nest", "MappingFile", "read_mapping", "Mapper",
           "NpuModel", "DataSpace", "Problem", "problem_for", "ActionEnergy", "ArithmeticLevel", "NpuSpec",
           "StorageLevel"]
