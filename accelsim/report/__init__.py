"""Renderings of an ``Estimate`` for people and for other tools.

``table`` prints the per-layer table, CSV and the mapping listing (no third-party
dependencies); ``html`` writes the ``--report DIR`` folder of PNG plots and an
``index.html``; ``scalesim`` writes SCALE-Sim's three CSV report files for a systolic
machine. Import the module you need: this package imports none of them, so loading it never
loads matplotlib (only ``html``'s plotting functions do, when they run).
"""

__all__: list[str] = []
