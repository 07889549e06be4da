"""Readers of other tools' formats (Timeloop, SCALE-Sim; NeuroSim and others later).

Each reader turns another tool's file into accelsim's own objects: a ``Graph`` for a
workload, a ``HardwareSpec`` for a machine. They are registered in ``accelsim.formats`` and
imported only when a file of their format is read.
"""
