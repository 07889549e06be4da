"""The memory kernel's prefetch order and set lists on a matrix small enough to draw.

Operand: 3 lanes x 2 time steps, address ``lane + 10 * time``, lane blocks of 2, so the
stacked matrix (block b, time t -> row 2b + t) is, with -1 for the missing fourth lane:

    row 0: [ 0,  1]     row 1: [10, 11]     row 2: [ 2, -1]     row 3: [12, -1]
"""

import numpy as np

from accelsim.kernels.systolic_memory import build_sets, count_words, prefetch_sequence

LANES = np.arange(3, dtype=np.int64)
TIMES = np.arange(2, dtype=np.int64) * 10
Z3, Z2 = np.zeros(3, np.int64), np.zeros(2, np.int64)


def order(diagonal: bool) -> list[int]:
    return prefetch_sequence(LANES, Z3, Z3, TIMES, Z2, Z2, 1, 1, 3, 2, 2, diagonal).tolist()


def test_row_by_row():
    assert order(False) == [0, 1, 10, 11, 2, -1, 12, -1]


def test_along_anti_diagonals_bottom_left_first():
    # d=0: (0,0); d=1: (1,0) (0,1); d=2: (2,0) (1,1); d=3: (3,0) (2,1); d=4: (3,1)
    assert order(True) == [0, 10, 1, 2, 11, 12, -1, -1]


def test_sets_of_two_words():
    seq = np.array(order(True), np.int64)
    ptr, ids, n_sets = build_sets(seq, 2, 13, False)
    # words in order 0, 10 | 1, 2 | 11, 12 | (an empty fourth set, as in SCALE-Sim)
    assert n_sets == 4
    assert {a: ids[ptr[a]:ptr[a + 1]].tolist() for a in (0, 10, 1, 2, 11, 12)} == {
        0: [0], 10: [0], 1: [1], 2: [1], 11: [2], 12: [2]}
    _, direct, n = build_sets(seq, 2, 13, True)  # every address once: one id per address
    assert n == 4 and [direct[a] for a in (0, 10, 1, 2, 11, 12)] == [0, 0, 1, 1, 2, 2]


def test_repeated_addresses_list_every_set():
    seq = np.array([5, 6, 5, -1, 7, 5], np.int64)
    ptr, ids, n_sets = build_sets(seq, 2, 8, False)
    assert ids[ptr[5]:ptr[6]].tolist() == [0, 1, 2] and n_sets == 3


def test_count_words_skips_padding():
    # lanes at rows -1, 0, 1 of a 2-row image, time steps shifting them by 0 and 1 row:
    ly = np.array([-1, 0, 1], np.int64)
    ty = np.array([0, 1], np.int64)
    # y = ly + ty: [-1, 0], [0, 1], [1, 2] -> valid (0 <= y < 2): 1 + 2 + 1 = 4
    assert count_words(LANES, ly, Z3, TIMES, ty, Z2, 2, 1) == 4
