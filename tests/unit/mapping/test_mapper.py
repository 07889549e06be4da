"""The mapper seam: options, executors, progress, the shape LRU and the on-disk cache.

What is checked is behaviour a caller sees: a cached answer is the searched one and costs
no search; what changes an answer (machine, constraints, objective, seed, version) misses;
what does not (names, file locations) hits; damage is survived; an executor changes
nothing but where searches run.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from accelsim.errors import MappingError
from accelsim.hw import load_hardware
from accelsim.hw.npu import NpuSpec, Problem
from accelsim.hw.npu.problem import conv_problem
from accelsim.ir import Workload
from accelsim.mapping import MapperOptions, local_executor, mapper_for
from accelsim.mapping.npu import search as npu_search
from accelsim.mapping.npu.search import NpuSearch, SearchOptions
from accelsim.mapping.npu.store import decode, encode

# Searches on the eyeriss machine with a small budget: real mapspaces, quick searches.
BUDGET = 3000


def conv(k: int, c: int, pq: int, rs: int, name: str = "layer") -> Problem:
    dims = (("N", 1), ("G", 1), ("K", k), ("C", c), ("P", pq), ("Q", pq), ("R", rs), ("S", rs))
    return conv_problem(Workload(kind="conv", dims=dims, macs=0, ops=0, input_bytes=0, weight_bytes=0,
                                 output_bytes=0), name)


LAYERS = [conv(64, 64, 14, 3, "a"), conv(128, 64, 7, 1, "b"), conv(64, 64, 14, 3, "c"), conv(32, 16, 28, 3, "d"),
          conv(256, 128, 7, 1, "e")]


@pytest.fixture(scope="module")
def eyeriss() -> NpuSpec:
    return load_hardware("eyeriss")  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A cache folder per test: what a test counts is its own searches."""
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the layers searched in this process."""
    calls: list[str] = []
    real = npu_search.find_mapping

    def counting(problem, spec, **kw):
        calls.append(problem.name)
        return real(problem, spec, **kw)

    monkeypatch.setattr(npu_search, "find_mapping", counting)
    return calls


def _mapper(**options) -> NpuSearch:
    mapper = mapper_for("npu", MapperOptions(budget=BUDGET, **options))
    assert isinstance(mapper, NpuSearch)
    return mapper


def test_a_cache_hit_is_the_searched_mapping_and_searches_nothing(eyeriss: NpuSpec, searches: list[str]) -> None:
    uncached = _mapper(cache=False).map_all(LAYERS, eyeriss, objective="edp")
    assert sorted(searches) == ["a", "b", "d", "e"]  # "c" is "a"'s shape
    first = _mapper().map_all(LAYERS, eyeriss, objective="edp")
    assert len(searches) == 8
    again = _mapper().map_all(LAYERS, eyeriss, objective="edp")  # a new mapper: only the disk remembers
    assert len(searches) == 8
    assert again == first == uncached


def test_names_and_file_locations_do_not_change_the_key(eyeriss: NpuSpec, searches: list[str],
                                                        tmp_path: Path) -> None:
    text = "mapspace_constraints:\n  targets:\n  - {target: DRAM, type: temporal, factors: R=1}\n"
    (tmp_path / "one.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "two.yaml").write_text("# the same directives, elsewhere\n" + text, encoding="utf-8")
    layer = LAYERS[1]
    first = _mapper()(layer, eyeriss, objective="energy", constraints=tmp_path / "one.yaml")
    assert len(searches) == 1
    renamed = replace(eyeriss, name="eyeriss-copy", source="elsewhere.yaml")
    again = _mapper()(replace(layer, name="other"), renamed, objective="energy", constraints=tmp_path / "two.yaml")
    assert again == first and len(searches) == 1


def test_what_changes_the_answer_changes_the_key(eyeriss: NpuSpec, searches: list[str], tmp_path: Path) -> None:
    layer = LAYERS[1]
    _mapper()(layer, eyeriss, objective="edp")
    assert len(searches) == 1
    _mapper()(layer, eyeriss, objective="latency")
    _mapper(seed=1)(layer, eyeriss, objective="edp")
    NpuSearch(MapperOptions(budget=BUDGET), search=SearchOptions(kicks=3))(layer, eyeriss, objective="edp")
    _mapper()(layer, replace(eyeriss, levels=(replace(eyeriss.levels[0], read_bandwidth=1.0), *eyeriss.levels[1:])),
              objective="edp")
    (tmp_path / "c.yaml").write_text("mapspace_constraints:\n  targets:\n"
                                     "  - {target: DRAM, type: temporal, factors: K=1}\n", encoding="utf-8")
    _mapper()(layer, eyeriss, objective="edp", constraints=tmp_path / "c.yaml")
    assert len(searches) == 6


def test_a_new_version_invalidates_the_cache(eyeriss: NpuSpec, searches: list[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import accelsim

    first = _mapper()(LAYERS[3], eyeriss, objective="edp")
    _mapper()(LAYERS[3], eyeriss, objective="edp")
    assert len(searches) == 1
    monkeypatch.setattr(accelsim, "__version__", accelsim.__version__ + ".dev1")
    assert _mapper()(LAYERS[3], eyeriss, objective="edp") == first
    assert len(searches) == 2


def test_a_corrupt_entry_is_ignored_and_rewritten(eyeriss: NpuSpec, searches: list[str], tmp_path: Path) -> None:
    first = _mapper()(LAYERS[0], eyeriss, objective="edp")
    (entry,) = [f for f in (tmp_path / "cache").rglob("*") if f.is_file()]
    good = entry.read_bytes()
    for damage in (b"{\"key\": {", good.replace(b'"level"', b'"levle"'), b"\x00" * 10):
        entry.write_bytes(damage)
        assert _mapper()(LAYERS[0], eyeriss, objective="edp") == first
        assert entry.read_bytes() == good
    assert len(searches) == 4


def test_no_cache_neither_reads_nor_writes(eyeriss: NpuSpec, searches: list[str], tmp_path: Path) -> None:
    _mapper(cache=False)(LAYERS[1], eyeriss, objective="edp")
    assert not (tmp_path / "cache").exists()
    _mapper()(LAYERS[1], eyeriss, objective="edp")
    _mapper(cache=False)(LAYERS[1], eyeriss, objective="edp")
    assert len(searches) == 3


def test_the_shape_memory_is_a_bounded_lru(eyeriss: NpuSpec, searches: list[str]) -> None:
    a, b, d = LAYERS[0], LAYERS[1], LAYERS[3]
    mapper = NpuSearch(MapperOptions(budget=BUDGET, cache=False), shapes=2)
    mapper.map_all([a, b], eyeriss, objective="edp")
    mapper(a, eyeriss, objective="edp")  # a is now the most recent
    mapper(d, eyeriss, objective="edp")  # evicts b
    assert searches == ["a", "b", "d"]
    mapper(a, eyeriss, objective="edp")
    mapper(d, eyeriss, objective="edp")
    assert searches == ["a", "b", "d"]
    mapper(b, eyeriss, objective="edp")
    assert searches == ["a", "b", "d", "b"]
    many = NpuSearch(MapperOptions(budget=BUDGET, cache=False), shapes=1)
    assert many.map_all(LAYERS, eyeriss, objective="edp") == mapper.map_all(LAYERS, eyeriss, objective="edp")


def test_an_executor_gives_the_same_mappings_as_searching_here(eyeriss: NpuSpec) -> None:
    serial = _mapper(cache=False).map_all(LAYERS, eyeriss, objective="edp")
    with local_executor(2) as pool:
        assert pool is not None
        parallel = _mapper(cache=False, executor=pool).map_all(LAYERS, eyeriss, objective="edp")
    with ThreadPoolExecutor(3) as threads:
        threaded = _mapper(cache=False, executor=threads).map_all(LAYERS, eyeriss, objective="edp")
    assert parallel == serial == threaded


def test_local_executor_is_none_for_one_worker() -> None:
    with local_executor(1) as pool:
        assert pool is None
    with local_executor(0) as pool:
        assert pool is None


def test_progress_counts_layers_as_searches_finish(eyeriss: NpuSpec) -> None:
    seen: list[tuple[int, int]] = []
    _mapper(cache=False).map_all(LAYERS, eyeriss, objective="edp", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (5, 5)
    assert all(t == 5 for _, t in seen) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == 4  # one report per distinct shape searched
    seen.clear()
    _mapper().map_all(LAYERS, eyeriss, objective="edp")
    _mapper().map_all(LAYERS, eyeriss, objective="edp", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(5, 5)]


def test_the_first_failing_layer_is_reported_with_or_without_an_executor() -> None:
    from accelsim.hw.npu.spec import ArithmeticLevel, StorageLevel
    from accelsim.hw.technology import Technology

    tiny = NpuSpec(name="tiny", kind="npu", frequency_hz=1e9, technology=Technology(),
                   levels=(StorageLevel(name="Buffer", cls="sram", word_bits=8, size_words=4),),
                   arithmetic=ArithmeticLevel())
    layers = [conv(4, 4, 2, 1, "small"), conv(8, 8, 4, 3, "large"), conv(2, 2, 2, 1, "smaller")]
    with pytest.raises(MappingError) as serial:
        _mapper(cache=False).map_all(layers, tiny, objective="edp")
    with ThreadPoolExecutor(3) as threads, pytest.raises(MappingError) as parallel:
        _mapper(cache=False, executor=threads).map_all(layers, tiny, objective="edp")
    assert str(parallel.value) == str(serial.value)
    assert "'large'" in str(serial.value)  # the largest search starts first


def test_a_mapping_survives_its_json_form(eyeriss: NpuSpec) -> None:
    mapping = _mapper(cache=False)(LAYERS[0], eyeriss, objective="edp")
    assert decode(encode(mapping)) == mapping
    for bad in (None, [{"level": "DRAM"}], [{"level": "DRAM", "temporal": [["K", 2, "Z"]], "spatial": []}]):
        with pytest.raises(ValueError):
            decode(bad)
