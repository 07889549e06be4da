"""Kernels: pure functions over numpy arrays, numba-compiled where numba is installed.

They know nothing of the IR or of specs. Each has a closed-form twin in a cost model and a
test where the two agree.
"""
