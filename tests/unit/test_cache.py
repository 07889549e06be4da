"""The on-disk result store: hits, misses, versions, damage, concurrent writers."""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import pytest

from accelsim.cache import ResultCache, cache_dir, canonical, canonical_text


@dataclass(frozen=True)
class Shape:
    dims: tuple[str, ...]
    bounds: tuple[int, ...]
    scale: float = 1.0


KEY = {"shape": Shape(("K", "C"), (64, 3)), "objective": "edp", "path": Path("a/b")}


def _files(root: Path) -> list[Path]:
    return sorted(f for f in root.rglob("*") if f.is_file())


def test_a_value_comes_back_for_its_key_only(tmp_path: Path) -> None:
    store = ResultCache("test", schema=1, root=tmp_path)
    assert store.get(KEY) is None
    store.put(KEY, [{"level": "DRAM", "loops": [["K", 64, ""]]}])
    assert ResultCache("test", schema=1, root=tmp_path).get(KEY) == [{"level": "DRAM", "loops": [["K", 64, ""]]}]
    assert store.get({**KEY, "objective": "energy"}) is None
    assert store.get({**KEY, "shape": Shape(("K", "C"), (64, 3), scale=1.0000000000000002)}) is None


def test_versions_and_schemas_do_not_share_entries(tmp_path: Path) -> None:
    ResultCache("test", schema=1, root=tmp_path, version="1.0").put(KEY, 1)
    assert ResultCache("test", schema=1, root=tmp_path, version="1.1").get(KEY) is None
    assert ResultCache("test", schema=2, root=tmp_path, version="1.0").get(KEY) is None
    assert ResultCache("other", schema=1, root=tmp_path, version="1.0").get(KEY) is None
    assert ResultCache("test", schema=1, root=tmp_path, version="1.0").get(KEY) == 1


def test_the_default_version_is_accelsims(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import accelsim

    ResultCache("test", schema=1, root=tmp_path).put(KEY, 1)
    monkeypatch.setattr(accelsim, "__version__", accelsim.__version__ + ".post1")
    assert ResultCache("test", schema=1, root=tmp_path).get(KEY) is None


@pytest.mark.parametrize("damage", [b"", b"{\"key\": ", b"\xff\xfe", b"[1, 2]", b"{\"value\": 1}", b"{\"key\": 3, \"value\": 1}"])
def test_a_damaged_entry_is_a_miss_and_is_rewritten(tmp_path: Path, damage: bytes) -> None:
    store = ResultCache("test", schema=1, root=tmp_path)
    store.put(KEY, "good")
    (entry,) = _files(tmp_path)
    entry.write_bytes(damage)
    assert store.get(KEY) is None
    store.put(KEY, "good")
    assert store.get(KEY) == "good"
    assert _files(tmp_path) == [entry]  # rewritten in place, no stray temporary files


def test_an_unwritable_cache_is_skipped(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    store = ResultCache("test", schema=1, root=blocker)
    store.put(KEY, 1)  # no error: the cache only saves time
    assert store.get(KEY) is None


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("ACCELSIM_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "accelsim"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "accelsim"


def test_canonical_form() -> None:
    assert canonical_text({"b": (1, 2.5), "a": Path("x")}) == '{"a":"x","b":[1,2.5]}'
    assert canonical(Shape(("K",), (2,))) == {"__type__": "Shape", "dims": ["K"], "bounds": [2], "scale": 1.0}
    with pytest.raises(TypeError, match="cannot use a object in a cache key"):
        canonical({"x": object()})


def _hammer(root: str, worker: int) -> None:
    store = ResultCache("test", schema=1, root=Path(root))
    value = {"payload": list(range(2000))}
    for i in range(40):
        store.put({"n": i % 5}, value)
        got = store.get({"n": (i + worker) % 5})
        assert got is None or got == value, got


def test_concurrent_writers_and_readers_see_whole_entries(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_hammer, args=(str(tmp_path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = ResultCache("test", schema=1, root=tmp_path)
    assert all(store.get({"n": n}) == {"payload": list(range(2000))} for n in range(5))
    assert len(_files(tmp_path)) == 5
