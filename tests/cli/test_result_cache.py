"""Whole runs against the on-disk result cache: a warm run gives the cold run's figures, to the
last digit, without loading numba's kernels; ``--no-cache`` neither reads nor writes it.

Each run is a fresh process (a test process has numba loaded already), with its own cache
folder (``ACCELSIM_CACHE_DIR``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI and reports, after its JSON, whether numba was imported.
_PROBE = """
import sys
from accelsim.cli import main
status = main(sys.argv[1:])
print("numba" in sys.modules)
sys.exit(status)
"""


def _run(cache: Path, *args: str) -> tuple[dict, bool]:
    env = dict(os.environ, ACCELSIM_CACHE_DIR=str(cache))
    done = subprocess.run([sys.executable, "-c", _PROBE, "estimate", *args, "--json"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    text, _, loaded = done.stdout.rstrip().rpartition("\n")
    return json.loads(text), loaded == "True"


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.json")) if folder.exists() else []


SCALESIM = ("--hw", "tpu_v1", "--compat", "scalesim")  # the line-by-line model, cached


@pytest.mark.parametrize("args", [SCALESIM, ("--hw", "eyeriss")], ids=["tpu_v1-scalesim", "eyeriss"])
def test_a_warm_run_gives_the_same_figures_without_numba(tmp_path: Path, args: tuple[str, ...]) -> None:
    cold, _ = _run(tmp_path, "digits_cnn", *args)
    entries = _files(tmp_path)
    assert entries, "the cold run stored nothing"
    warm, loaded = _run(tmp_path, "digits_cnn", *args)
    assert warm == cold
    assert not loaded, "a run whose every result is cached imported numba"
    assert _files(tmp_path) == entries


def test_the_systolic_default_mode_is_a_closed_form_without_numba(tmp_path: Path) -> None:
    _, loaded = _run(tmp_path, "digits_cnn", "--hw", "tpu_v1")
    assert not loaded and not _files(tmp_path)


def test_the_cache_is_read_and_no_cache_bypasses_it(tmp_path: Path) -> None:
    cold, _ = _run(tmp_path, "digits_cnn", *SCALESIM)
    for entry in _files(tmp_path):  # a well-formed entry with other figures: only a read sees it
        data = json.loads(entry.read_text())
        data["value"]["cycles"] += 1000
        entry.write_text(json.dumps(data))
    tampered, _ = _run(tmp_path, "digits_cnn", *SCALESIM)
    array_layers = [a for a, b in zip(tampered["layers"], cold["layers"]) if a["cycles"] != b["cycles"]]
    assert array_layers and all(a["cycles"] - b["cycles"] == 1000 * b["details"]["gemm"]["repeats"]
                                for a, b in zip(tampered["layers"], cold["layers"]) if a in array_layers)
    bypassed, _ = _run(tmp_path, "digits_cnn", *SCALESIM, "--no-cache")
    assert bypassed == cold
    fresh = tmp_path / "unused"
    _run(fresh, "digits_cnn", *SCALESIM, "--no-cache")
    assert not _files(fresh)
