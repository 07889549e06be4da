"""SCALE-Sim's formats: topology CSV (conv or GEMM layers) and the ``.cfg`` of an array."""
