"""Mapping: searching how each layer is tiled, ordered and unrolled onto a machine.

A *mapper* (``Mapper``) maps a network's layers onto one machine of a hardware kind.
``MAPPERS`` holds one ``MapperFactory`` per kind; ``mapper_for(kind, options)`` builds a
fresh mapper for each ``estimate`` from ``MapperOptions`` (seed, budget, executor, disk
cache). There is no module-level mapper and no process pool of a mapper's own: a caller
that wants parallel searches passes an executor (``local_executor``'s process pool, a Dask
client's executor), so a sweep that already runs on workers does not nest pools. Hardware
code sits below this layer: a cost model receives its mapper as ``CostContext.mapper`` and
types it with its own protocol (``hw.npu.model.Mapper``).

Mappers remember results by layer shape in memory (a bounded LRU) and on disk
(``accelsim.cache``), keyed by shape, machine, objective, constraints and search options.

Families: ``npu`` (``mapping.npu``: ``search``, mapspace ``space``, ``candidates``,
Timeloop ``constraints``).
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from ..hw.cost import Objective
from ..registry import Registry

__all__ = ["Mapper", "MapperOptions", "MapperFactory", "MAPPERS", "mapper_for", "local_executor", "Progress"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class MapperOptions:
    """How a mapper searches. ``seed`` seeds every random choice; ``budget``: candidates
    scored per layer at most (None: the search's own default); ``executor`` runs the
    searches of distinct layers (None: one after another in this process); ``cache=False``
    neither reads nor writes the on-disk result cache."""

    seed: int = 0
    budget: int | None = None
    executor: Executor | None = None
    cache: bool = True


class Mapper(Protocol):
    """Maps layers of a kind's problem type onto one of its machines; ``constraints`` is a
    file that narrows the search. ``map_all`` gives the same answers as calling the mapper
    on each problem, in order, and calls ``progress(layers done, layers in all)`` as
    searches finish."""

    def __call__(self, problem: Any, spec: Any, *, objective: Objective, constraints: Path | None = None) -> Any: ...

    def map_all(self, problems: Sequence[Any], spec: Any, *, objective: Objective, constraints: Path | None = None,
                progress: Progress | None = None) -> list[Any]: ...


@dataclass(frozen=True)
class MapperFactory:
    """Builds one kind's mapper. ``warm``, if given, loads the mapper's compiled code into
    this process, so that worker processes forked afterwards share it instead of each
    loading it again."""

    build: Callable[[MapperOptions], Mapper]
    warm: Callable[[], None] | None = None


def _npu(options: MapperOptions) -> Mapper:
    from .npu.search import NpuSearch

    return NpuSearch(options)


def _npu_warm() -> None:
    from .npu.search import warm

    warm()


MAPPERS: Registry[MapperFactory] = Registry("mapper", entry_point_group="accelsim.mappers")
MAPPERS.add("npu", MapperFactory(build=_npu, warm=_npu_warm))


def mapper_for(kind: str, options: MapperOptions = MapperOptions()) -> Mapper | None:
    """A new mapper for hardware of ``kind``, or None if that kind has none."""
    if kind not in MAPPERS:
        return None
    return MAPPERS.get(kind).build(options)


def _warm_all() -> None:
    for kind in MAPPERS:
        warm = MAPPERS.get(kind).warm
        if warm is not None:
            warm()


class _SearchPool(ProcessPoolExecutor):
    """A process pool that forks its workers after the mappers' compiled code is loaded here.

    A forking ``ProcessPoolExecutor`` starts all its workers at the first ``submit``; warming
    just before that means the workers inherit the loaded kernels, and a run whose every
    layer is cached (nothing submitted) never loads them at all.
    """

    def __init__(self, workers: int, context: Any) -> None:
        super().__init__(max_workers=workers, mp_context=context)
        self._warmed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if not self._warmed:
            self._warmed = True
            _warm_all()
        return super().submit(fn, *args, **kwargs)


@contextmanager
def local_executor(workers: int | None) -> Iterator[Executor | None]:
    """A process pool of ``workers`` processes (None: one per CPU) for mapping searches, or
    None when that is at most one. Where processes cannot fork, each worker loads the
    kernels itself when it starts. On exit, searches not yet started are cancelled."""
    count = (os.cpu_count() or 1) if workers is None else workers
    if count <= 1:
        yield None
        return
    import multiprocessing

    try:
        pool: ProcessPoolExecutor = _SearchPool(count, multiprocessing.get_context("fork"))
    except ValueError:  # no fork on this platform
        pool = ProcessPoolExecutor(max_workers=count, initializer=_warm_all)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
