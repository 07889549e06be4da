"""What a built wheel carries, read from pyproject.toml, against the source tree; and where
:mod:`accelsim.resources` finds the bundled files in a checkout and in an installed layout.

The wheel itself is built, installed into a fresh environment and run from another folder
by ``.ci/run``.
"""

from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest

from accelsim import resources
from accelsim.resources import BUNDLED_KINDS, bundled, data_dir

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setuptools_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]


def data_packages() -> dict[str, str]:
    """package name -> the repository folder it carries."""
    return {f"accelsim.{folder}": kind for kind, folder in BUNDLED_KINDS.items()}


def test_every_source_package_is_listed(setuptools_config):
    source = {
        ".".join(d.relative_to(ROOT).parts)
        for d in [ROOT / "accelsim", *(ROOT / "accelsim").rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
    }
    listed = set(setuptools_config["packages"]) - set(data_packages())
    assert not source - listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(source - listed)}"
    assert not listed - source, f"listed in pyproject.toml but not in the tree: {sorted(listed - source)}"


def test_the_data_packages_carry_every_bundled_file(setuptools_config):
    assert set(data_packages()) <= set(setuptools_config["packages"])
    for package, kind in data_packages().items():
        assert setuptools_config["package-dir"][package] == kind
        globs = setuptools_config["package-data"][package]
        on_disk = sorted(p.name for p in (ROOT / kind).iterdir() if p.suffix == ".yaml")
        assert on_disk, f"{kind}/ holds no YAML files"
        assert [n for n in on_disk if any(fnmatch(n, g) for g in globs)] == on_disk


def test_a_checkout_finds_the_top_level_folders():
    # an editable install or a plain checkout: the package has no _models folder of its own
    if Path(resources.__file__).resolve().parents[1] != ROOT:
        pytest.skip("accelsim is imported from an installed copy, not from this checkout")
    assert data_dir("models") == ROOT / "models"
    assert data_dir("hw_configs") == ROOT / "hw_configs"
    assert set(bundled("models")) == {p.stem for p in (ROOT / "models").glob("*.yaml")}
    assert {"resnet50", "bert_base"} <= set(bundled("models"))
    assert {"tpu_v1", "eyeriss"} <= set(bundled("hw_configs"))


def test_an_installed_package_finds_its_package_data(tmp_path, monkeypatch):
    # site-packages/accelsim/_models as a wheel lays it out; a stray models/ next to the
    # package (another distribution's) must not be taken instead
    package = tmp_path / "site-packages" / "accelsim"
    (package / "_models").mkdir(parents=True)
    (package / "_models" / "tiny.yaml").write_text("layers: []\n")
    (package / "_hw_configs").mkdir()
    (package / "_hw_configs" / "toy.yaml").write_text("kind: null\n")
    (tmp_path / "site-packages" / "models").mkdir()
    (tmp_path / "site-packages" / "models" / "other.yaml").write_text("layers: []\n")
    monkeypatch.setattr(resources, "files", lambda name: package if name == "accelsim" else None)
    assert bundled("models") == {"tiny": package / "_models" / "tiny.yaml"}
    assert bundled("hw_configs") == {"toy": package / "_hw_configs" / "toy.yaml"}
    assert resources.resolve("tiny", "models", (".yaml",)) == package / "_models" / "tiny.yaml"


def test_unknown_kind():
    with pytest.raises(ValueError, match="did you mean 'models'"):
        data_dir("model")
