"""Renderings of an ``Estimate`` for people and for other tools.

``table`` prints the per-layer table, CSV and the mapping listing (no third-party
dependencies); ``plots`` draws the charts as matplotlib figures; ``html`` writes the
``--report DIR`` folder of those plots as PNGs and an ``index.html`` with the per-layer
table; ``scalesim`` writes SCALE-Sim's three CSV report files for a systolic
machine. Import the module you need: this package imports none of them, so loading it never
loads matplotlib (only ``plots``' functions do, when they run).
"""

__all__: list[str] = []
