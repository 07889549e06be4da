"""index.html in a real headless browser: clicking a column header sorts the per-layer table,
numbers by value (not as text), names alphabetically, a second click reverses.

Needs Playwright (``pip install playwright``) and a Chromium (Debian's ``chromium`` package,
or ``playwright install chromium``); skipped, with the reason, where either is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from accelsim.estimation import Estimate
from accelsim.hw import LayerCost
from accelsim.report.html import render_page

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

# name, cycles: text order of the cycle counts ("1,000" < "200" < "30") differs from value order
LAYERS = (("conv_b", 1000), ("relu_a", 200), ("conv_c", 30), ("add", 45000))


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


@pytest.fixture(scope="module")
def page():
    executable = _chromium()
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=executable) if executable else pw.chromium.launch()
        except Exception as exc:  # no browser binary on this machine
            pytest.skip(f"no Chromium to drive: {str(exc).splitlines()[0]}")
        yield browser.new_page()
        browser.close()


def _load(page, tmp_path: Path) -> None:
    costs = tuple(LayerCost(name=n, op="relu", ops=c, cycles=c, latency_s=c * 1e-9, bound="compute")
                  for n, c in LAYERS)
    est = Estimate(model="m", hardware="h", kind="null", batch=1, precision="int8", frequency_hz=1e9,
                   layers=costs, shapes=((1, 4),) * len(costs))
    path = tmp_path / "index.html"
    path.write_text(render_page(est), encoding="utf-8")
    page.goto(path.as_uri())


def _names(page) -> list[str]:
    return page.eval_on_selector_all("table.layers tbody tr", "rows => rows.map(r => r.cells[0].textContent)")


def _click(page, header: str) -> None:
    page.click(f"table.layers th:text-is('{header}')")


def test_headers_sort_numbers_by_value_and_names_by_text(page, tmp_path: Path) -> None:
    _load(page, tmp_path)
    assert _names(page) == [n for n, _ in LAYERS]  # graph order at first
    _click(page, "cycles")
    assert _names(page) == ["conv_c", "relu_a", "conv_b", "add"]
    _click(page, "cycles")
    assert _names(page) == ["add", "conv_b", "relu_a", "conv_c"]
    _click(page, "layer")
    assert _names(page) == ["add", "conv_b", "conv_c", "relu_a"]
