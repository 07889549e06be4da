"""The npu mapper: ``search`` (the mapper and one layer's search), ``space`` (a layer's
mapspace), ``candidates`` (greedy seeds and full enumeration), ``constraints`` (Timeloop
mapspace constraints files) and ``store`` (its entries in the on-disk result cache).

Submodules are imported where used, so that a run whose layers are all cached loads none
of the search.
"""
