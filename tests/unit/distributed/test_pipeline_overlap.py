"""Pipeline schedules, stage cuts and gradient buckets against hand-worked cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from accelsim.distributed.collectives import Comm
from accelsim.distributed.overlap import gradient_timeline
from accelsim.distributed.pipeline import partition, schedule


def test_balanced_gpipe_by_hand() -> None:
    # 4 stages of one layer each, forward 1 s and backward 2 s per micro-batch, 8 micro-batches:
    # (m + p - 1) slots of 3 s, of which the slowest stage idles p - 1
    f, b = np.ones(4), 2 * np.ones(4)
    plan = schedule(f, b, (0, 1, 2, 3), 8, "gpipe")
    assert plan.total_s == pytest.approx(33.0)
    assert plan.bubble_s == pytest.approx(9.0)
    assert plan.in_flight == 8
    assert schedule(f, b, (0, 1, 2, 3), 8, "1f1b").in_flight == 4
    assert schedule(f, b, (0, 1, 2, 3), 8, "1f1b").total_s == plan.total_s


def test_one_stage_has_no_bubble() -> None:
    plan = schedule(np.array([1.0, 2.0]), np.array([2.0, 4.0]), (0,), 4, "1f1b")
    assert plan.total_s == pytest.approx(4 * 9.0)
    assert plan.bubble_s == pytest.approx(0.0)


def test_sends_between_stages_are_on_the_path() -> None:
    plain = schedule(np.ones(2), np.ones(2), (0, 1), 1, "gpipe").total_s
    sent = schedule(np.ones(2), np.ones(2), (0, 1), 1, "gpipe", send_s=(0.5,)).total_s
    assert sent == pytest.approx(plain + 1.0)  # once forward, once backward


@pytest.mark.parametrize("seed", range(5))
def test_partition_is_optimal(seed: int) -> None:
    cost = np.random.default_rng(seed).uniform(0.1, 5.0, size=7)
    for stages in (2, 3):
        cuts = partition(cost, stages)
        assert len(cuts) == stages and cuts[0] == 0

        def worst(c: tuple[int, ...]) -> float:
            ends = list(c[1:]) + [len(cost)]
            return max(cost[a:e].sum() for a, e in zip(c, ends))
        best = min(worst((0, *c)) for c in itertools.combinations(range(1, 7), stages - 1))
        assert worst(cuts) == pytest.approx(best, rel=1e-9)


def test_partition_of_equal_layers() -> None:
    assert partition(np.ones(4), 2) == (0, 2)
    assert partition(np.array([4.0, 1, 1, 1, 1]), 2) == (0, 1)


def _cost(n: float) -> Comm:
    return Comm(0.1 * n)


def test_last_layers_gradients_hide_behind_the_backward_pass() -> None:
    # backprop runs layer 3 first (1 s each): its 10-byte gradient is ready at 1 s, sent in 1 s
    tl = gradient_timeline(np.ones(4), np.array([0.0, 0.0, 0.0, 10.0]), 5, _cost, overlap=True)
    assert [(t.start_s, t.end_s) for t in tl.transfers] == [(1.0, 2.0)]
    assert tl.exposed_s == 0.0
    off = gradient_timeline(np.ones(4), np.array([0.0, 0.0, 0.0, 10.0]), 5, _cost, overlap=False)
    assert off.exposed_s == pytest.approx(1.0)


def test_first_layers_gradients_are_always_exposed() -> None:
    for overlap in (True, False):
        tl = gradient_timeline(np.ones(4), np.array([10.0, 0.0, 0.0, 0.0]), 5, _cost, overlap)
        assert tl.exposed_s == pytest.approx(1.0)


def test_buckets_queue_on_one_stream() -> None:
    # four 10-byte gradients, one per layer, one bucket each: sends of 1 s at 1, 2, 3, 4 s
    tl = gradient_timeline(np.ones(4), np.full(4, 10.0), 10, _cost, overlap=True)
    assert [t.start_s for t in tl.transfers] == [1.0, 2.0, 3.0, 4.0]
    assert tl.exposed_s == pytest.approx(1.0)
    one = gradient_timeline(np.ones(4), np.full(4, 10.0), 100, _cost, overlap=True)
    assert len(one.transfers) == 1 and one.exposed_s == pytest.approx(4.0)
