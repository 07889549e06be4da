"""The test run's own result cache, and the ``numba`` marker: tests that need numba's compiled kernels to finish in reasonable time.

Every other test also runs, and passes, on the plain-Python fallbacks of
``accelsim.kernels.jit``. Where numba is not installed, a test marked ``numba`` is skipped, and
a module listed in ``NEEDS_NUMBA`` is not even collected (its module-level work is what takes
the time). A test carries the marker with ``@pytest.mark.numba`` or through ``NEEDS_NUMBA``,
which names the tests by node id with the reason; an entry that no longer names a test is an
error, so a rename cannot silently turn the exclusion into a long run.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

HAVE_NUMBA = importlib.util.find_spec("numba") is not None

ROOT = Path(__file__).resolve().parents[1]
_CACHE = tempfile.mkdtemp(prefix="accelsim-test-cache-")

# node id (a module, or module::test) -> why it needs compiled kernels
NEEDS_NUMBA = {
    "tests/validation/test_eyeriss.py":
        "searches mappings for five AlexNet layers at import (about 3 minutes in plain Python)",
    "tests/unit/mapping/test_npu_search.py::test_same_inputs_same_mapping":
        "two whole mapping searches of a ResNet layer (about 1.5 minutes in plain Python)",
    "tests/cli/test_result_cache.py::test_a_warm_run_gives_the_same_figures_without_numba[eyeriss]":
        "a cold mapping search of a whole network (about 40 s in plain Python)",
    "tests/unit/report/test_html.py::test_table_has_one_row_per_layer_with_its_figures":
        "maps digits_cnn onto eyeriss from scratch (about 40 s in plain Python)",
    "tests/unit/mapping/test_mapper.py::test_an_executor_gives_the_same_mappings_as_searching_here":
        "searches a network twice, once through an executor (about 16 s in plain Python)",
    "tests/unit/mapping/test_mapper.py::test_the_shape_memory_is_a_bounded_lru":
        "searches more layer shapes than the memory holds (about 16 s in plain Python)",
    "tests/unit/mapping/test_mapper.py::test_a_cache_hit_is_the_searched_mapping_and_searches_nothing":
        "a cold search before the cached one (about 13 s in plain Python)",
    "tests/unit/mapping/test_mapper.py::test_progress_counts_layers_as_searches_finish":
        "a whole-network search to count progress on (about 13 s in plain Python)",
    "tests/unit/mapping/test_mapper.py::test_what_changes_the_answer_changes_the_key":
        "several cold searches under changed inputs (about 9 s in plain Python)",
    "tests/unit/mapping/test_mapper.py::test_a_corrupt_entry_is_ignored_and_rewritten":
        "two cold searches around a damaged cache entry (about 7 s in plain Python)",
}


def _module(node_id: str) -> str:
    return node_id.split("::", 1)[0]


def pytest_configure(config: pytest.Config) -> None:
    missing = [n for n in NEEDS_NUMBA if not (ROOT / _module(n)).is_file()]
    if missing:
        raise pytest.UsageError(f"tests/conftest.py NEEDS_NUMBA names missing files: {', '.join(missing)}")


def pytest_report_header(config: pytest.Config) -> str | None:
    if HAVE_NUMBA:
        return None
    return "numba is not installed: tests marked 'numba' are skipped"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if not HAVE_NUMBA and collection_path.resolve().relative_to(ROOT).as_posix() in NEEDS_NUMBA:
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ids = {item.nodeid: item for item in items}
    collected = {_module(node_id) for node_id in ids}
    for node_id, reason in NEEDS_NUMBA.items():
        if "::" not in node_id:
            continue
        matches = [item for nid, item in ids.items() if nid == node_id or nid.startswith(node_id + "[")]
        if not matches and _module(node_id) in collected:
            raise pytest.UsageError(f"tests/conftest.py NEEDS_NUMBA names {node_id}, which is not a test")
        for item in matches:
            item.add_marker(pytest.mark.numba(reason=reason))
    if HAVE_NUMBA:
        return
    for item in items:
        marker = item.get_closest_marker("numba")
        if marker is not None:
            why = marker.kwargs.get("reason", "kernels too slow in plain Python")
            item.add_marker(pytest.mark.skip(reason=f"needs numba: {why}"))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Every test, and every module's import-time work, caches results in a folder of this
    run's own: never the user's cache, which would make a test's result depend on what ran
    before it on this machine."""
    os.environ["ACCELSIM_CACHE_DIR"] = _CACHE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_CACHE, ignore_errors=True)
