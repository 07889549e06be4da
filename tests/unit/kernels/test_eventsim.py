"""The event-driven BSP / SSP / ASP simulation against figures worked out by hand and against
the max-plus recursion its semantics imply.

Without a server, a worker starts iteration k when it has finished iteration k - 1 and every
worker has finished iteration k - s - 1 (min_clock >= k - s):
``start[w, k] = max(end[w, k-1], max_v end[v, k-s-1])``, ``end = start + compute + comm``;
after its last iteration a worker waits, idle, for ``max_v end[v, n-s-1]`` the same way.
Sizes stay small (<= 64 workers x 50 iterations): the suite also runs without numba.
"""

import numpy as np
import pytest

from accelsim.kernels.eventsim import STRAGGLER_FORMS, SimResult, simulate, straggler_times


def _const(*per_worker: float, iterations: int) -> np.ndarray:
    return np.repeat(np.array(per_worker, dtype=np.float64)[:, None], iterations, axis=1)


def _max_plus(compute: np.ndarray, comm_s: float, s: int) -> tuple[float, np.ndarray, np.ndarray]:
    """(makespan, finish, idle) of the recursion in the module docstring (no server)."""
    workers, n = compute.shape
    end = np.zeros((workers, n))
    idle = np.zeros(workers)
    prev = np.zeros(workers)
    for k in range(n):
        start = prev.copy()
        if s >= 0 and k - s - 1 >= 0:
            start = np.maximum(start, end[:, k - s - 1].max())
        idle += start - prev
        end[:, k] = start + compute[:, k] + comm_s
        prev = end[:, k]
    if s >= 0 and n - s - 1 >= 0:
        idle += np.maximum(prev, end[:, n - s - 1].max()) - prev
    return float(end.max()), end[:, -1], idle


# ---- two workers, constant compute 1 s and 2 s, 3 iterations, no communication

def test_bsp_two_workers_by_hand():
    # Rounds last max(1, 2) = 2 s: they end at 2, 4, 6. Worker 0 finishes each iteration 1 s
    # early and waits for the barrier, the last one included: idle 3 x 1 s. Its last
    # iteration ends at 4 + 1 = 5. Events: 6 iteration ends + 3 releases of worker 0.
    r = simulate(_const(1.0, 2.0, iterations=3), staleness=0)
    assert isinstance(r, SimResult)
    assert (r.workers, r.iterations) == (2, 3)
    assert r.makespan_s == 6.0
    np.testing.assert_array_equal(r.idle_s, [3.0, 0.0])
    np.testing.assert_array_equal(r.queue_s, [0.0, 0.0])
    np.testing.assert_array_equal(r.finish_s, [5.0, 6.0])
    np.testing.assert_array_equal(r.staleness, [6])
    assert r.events == 9
    assert r.updates_per_s == 1.0
    assert r.mean_staleness == 0.0 and r.max_staleness == 0


def test_asp_two_workers_by_hand():
    # Nobody waits: worker 0 runs 0-1, 1-2, 2-3 and is done at 3 s; worker 1 at 6 s.
    # Gaps (ties at t = 2 go in worker order, so worker 0 starts its iteration 2 while worker
    # 1 still has clock 0): worker 0 starts at gaps 0, 1, 2; worker 1 at 0, then at t = 2
    # (clocks 2 and 1) gap 0, at t = 4 (clocks 3 and 2) gap 0. No releases: 6 events.
    r = simulate(_const(1.0, 2.0, iterations=3), staleness=-1)
    assert r.makespan_s == 6.0
    np.testing.assert_array_equal(r.finish_s, [3.0, 6.0])
    np.testing.assert_array_equal(r.idle_s, [0.0, 0.0])
    np.testing.assert_array_equal(r.staleness, [4, 1, 1])
    assert r.events == 6
    assert r.max_staleness == 2
    assert r.mean_staleness == pytest.approx(3 / 6)


def test_ssp_bound_1_two_workers_by_hand():
    # s = 1, compute 1 s and 2 s, 3 iterations.
    #   t=0  both start (gap 0).
    #   t=1  w0 ends it. 0 (clock 1, min 0): gap 1 <= 1, starts it. 1.
    #   t=2  w0 ends it. 1 (clock 2, min 0): gap 2 > 1, blocks; w1 ends it. 0 (clock 1): min 1,
    #        w0 released at once (gap 1, blocked 0 s); w1 starts it. 1 (gap 0).
    #   t=3  w0 ends its last iteration (clock 3, min 1): 3 - 1 > 1, it waits for min 2.
    #   t=4  w1 ends it. 1: min 2, w0 released (waited 1 s); w1 starts it. 2 (gap 0).
    #   t=6  w1 done.
    r = simulate(_const(1.0, 2.0, iterations=3), staleness=1)
    assert r.makespan_s == 6.0
    np.testing.assert_array_equal(r.finish_s, [3.0, 6.0])
    np.testing.assert_array_equal(r.idle_s, [1.0, 0.0])
    np.testing.assert_array_equal(r.staleness, [4, 2])
    assert r.events == 6 + 2


def test_ssp_bound_1_blocks_mid_run_by_hand():
    # s = 1, compute 1 s and 3 s, 4 iterations. w1 ends at 3, 6, 9, 12 and never waits.
    #   w0: it. 0 at 0 (gap 0), it. 1 at 1 (gap 1); ends it. 1 at 2 with clock 2, min 0:
    #   blocked until w1's first end at 3 (1 s); it. 2 at 3 (gap 1), ends at 4, clock 3, min 1:
    #   blocked until 6 (2 s); it. 3 at 6 (gap 1), ends at 7 with clock 4, min 2: waits for
    #   min 3 at 9 (2 s). Idle 1 + 2 + 2 = 5 s. Gaps: w0 0, 1, 1, 1; w1 0 x 4.
    r = simulate(_const(1.0, 3.0, iterations=4), staleness=1)
    assert r.makespan_s == 12.0
    np.testing.assert_array_equal(r.finish_s, [7.0, 12.0])
    np.testing.assert_array_equal(r.idle_s, [5.0, 0.0])
    np.testing.assert_array_equal(r.staleness, [5, 3])
    assert r.events == 8 + 3
    # the same run under BSP: worker 0 idles 2 s in each of 4 rounds; under ASP not at all
    assert simulate(_const(1.0, 3.0, iterations=4), staleness=0).idle_s[0] == 8.0
    asp = simulate(_const(1.0, 3.0, iterations=4), staleness=-1)
    assert asp.idle_s[0] == 0.0 and asp.finish_s[0] == 4.0


# ---- the parameter server

def test_server_bound_bsp_by_hand():
    # 4 workers, no compute, the server takes 1 s per update, 5 iterations. Each round all
    # four updates arrive together at 4k and are served in worker order: worker w queues w s,
    # ends at 4k + w + 1 and waits 3 - w s for the round's end at 4k + 4.
    n = 5
    r = simulate(np.zeros((4, n)), server_s=1.0, staleness=0)
    assert r.makespan_s == 4.0 * n
    np.testing.assert_array_equal(r.queue_s, [0.0, n * 1.0, n * 2.0, n * 3.0])
    np.testing.assert_array_equal(r.idle_s, [3.0 * n] * 4)
    np.testing.assert_array_equal(r.finish_s, [4 * n - 3, 4 * n - 2, 4 * n - 1, 4 * n])
    assert r.updates_per_s == 4 * n / (4.0 * n)


def test_server_bound_asp_by_hand():
    # Same without a bound: the first round's updates queue 0, 1, 2, 3 s; after it every
    # worker's next update arrives when its last is served (at t) and finds three others ahead
    # (the server is busy until t + 3): it queues 3 s each time. Makespan still 4 n.
    n = 5
    r = simulate(np.zeros((4, n)), server_s=1.0, staleness=-1)
    assert r.makespan_s == 4.0 * n
    expected = np.array([w + 3.0 * (n - 1) for w in range(4)])
    np.testing.assert_array_equal(r.queue_s, expected)
    np.testing.assert_array_equal(r.idle_s, expected)  # all idle time is queueing
    assert r.events == 4 * n


def test_server_serves_in_arrival_order_not_start_order():
    # Both start at 0; worker 0 computes 3 s, worker 1 1 s; the server takes 2 s. Worker 1's
    # update arrives first (t=1) and is served 1-3; worker 0's arrives at 3 and is served
    # 3-5 without queueing. Served in start order instead, worker 1 would end at 7.
    r = simulate(np.array([[3.0], [1.0]]), server_s=2.0, comm_s=0.5, staleness=-1)
    np.testing.assert_array_equal(r.finish_s, [5.5, 3.5])
    np.testing.assert_array_equal(r.queue_s, [0.0, 0.0])
    assert r.makespan_s == 5.5


def test_simultaneous_arrivals_go_in_worker_order():
    # Both arrive at 1 s: worker 0 is served 1-3, worker 1 queues 2 s and is served 3-5.
    r = simulate(np.array([[1.0], [1.0]]), server_s=2.0, staleness=-1)
    np.testing.assert_array_equal(r.queue_s, [0.0, 2.0])
    np.testing.assert_array_equal(r.finish_s, [3.0, 5.0])


# ---- identities on random data

def test_bsp_is_the_barrier_model():
    rng = np.random.default_rng(7)
    compute = rng.uniform(0.5, 2.0, size=(16, 30))
    comm = 0.125
    r = simulate(compute, comm_s=comm, staleness=0)
    t = 0.0
    idle = np.zeros(16)
    for k in range(30):  # round k starts at t and lasts max_w compute + comm
        longest = compute[:, k].max()
        idle += longest - compute[:, k]
        last_start = t
        t = t + longest + comm
    assert r.makespan_s == t
    assert r.makespan_s == pytest.approx(compute.max(axis=0).sum() + 30 * comm, rel=1e-12)
    np.testing.assert_allclose(r.idle_s, idle, rtol=1e-12)
    np.testing.assert_array_equal(r.finish_s, last_start + compute[:, -1] + comm)
    np.testing.assert_array_equal(r.staleness, [16 * 30])


def test_bsp_with_a_server_accounts_for_every_second():
    # Under BSP every worker is released by the last round's end, so its busy time (compute,
    # service, link) plus its idle time (queued + blocked) is the whole run.
    rng = np.random.default_rng(5)
    compute = rng.uniform(0.0, 1.0, size=(10, 20))
    r = simulate(compute, comm_s=0.1, server_s=0.07, staleness=0)
    busy = compute.sum(axis=1) + 20 * (0.07 + 0.1)
    np.testing.assert_allclose(busy + r.idle_s, r.makespan_s, rtol=1e-12)
    assert (r.queue_s <= r.idle_s).all() and r.queue_s.sum() > 0


def test_a_bound_past_the_run_is_asp():
    compute = np.random.default_rng(8).exponential(1.0, size=(6, 10))
    a = simulate(compute, server_s=0.3, staleness=-1)
    b = simulate(compute, server_s=0.3, staleness=10**12)
    assert a.makespan_s == b.makespan_s and a.events == b.events
    np.testing.assert_array_equal(a.idle_s, b.idle_s)
    np.testing.assert_array_equal(a.staleness, b.staleness)


@pytest.mark.parametrize("s", [-1, 0, 1, 2, 5, 100])
def test_matches_the_max_plus_recursion(s):
    rng = np.random.default_rng(11 + s)
    compute = rng.exponential(1.0, size=(12, 25))
    r = simulate(compute, comm_s=0.25, staleness=s)
    makespan, finish, idle = _max_plus(compute, 0.25, s)
    assert r.makespan_s == makespan
    np.testing.assert_array_equal(r.finish_s, finish)
    np.testing.assert_allclose(r.idle_s, idle, rtol=1e-12, atol=1e-12)
    assert r.staleness.sum() == 12 * 25
    assert r.events >= 12 * 25


def test_staleness_histogram_bounded_by_s():
    compute = straggler_times(1.0, 32, 40, "lognormal:0.5", seed=3)
    for s in (0, 1, 2, 3):
        r = simulate(compute, comm_s=0.1, staleness=s)
        assert r.staleness.sum() == 32 * 40
        assert r.staleness.size <= s + 1
        assert r.max_staleness <= s
    bsp = simulate(compute, comm_s=0.1, staleness=0)
    assert bsp.staleness[0] == 32 * 40 and not bsp.staleness[1:].any()
    assert bsp.mean_staleness == 0.0


def test_asp_with_a_slow_worker_runs_far_ahead():
    # One worker 4x slower: under ASP the others finish all 40 iterations while it has done
    # about 10, so iterations start ~30 clocks ahead of it; the run lasts the slow worker's
    # own 4 x 40 s and it never waits.
    compute = straggler_times(1.0, 16, 40, "slow:0.05x4", seed=1)
    slow = int(np.flatnonzero(compute[:, 0] == 4.0)[0])
    asp = simulate(compute, staleness=-1)
    assert asp.max_staleness > 8
    assert asp.makespan_s == 160.0
    assert asp.idle_s[slow] == 0.0
    ssp = simulate(compute, staleness=8)
    assert ssp.max_staleness <= 8
    assert ssp.makespan_s == 160.0  # the slow worker still sets the pace


def test_concurrent_rate_counts_each_worker_at_its_own_pace():
    # ASP, workers of 1 s and 2 s for 3 iterations: they finish at 3 s and 6 s, so while both
    # run they make 1 + 0.5 = 1.5 updates/s; over the makespan it is 6 / 6 = 1. Under BSP
    # worker 0's last iteration ends at 5 s (it then waits at the final barrier).
    asp = simulate(_const(1.0, 2.0, iterations=3), staleness=-1)
    assert asp.updates_per_s == 1.0
    assert asp.concurrent_updates_per_s == 1.5
    bsp = simulate(_const(1.0, 2.0, iterations=3), staleness=0)
    assert bsp.concurrent_updates_per_s == pytest.approx(3 / 5 + 3 / 6)
    assert simulate(np.zeros((0, 0))).concurrent_updates_per_s == 0.0


def test_ssp_throughput_between_bsp_and_asp_and_grows_with_s():
    compute = straggler_times(1.0, 32, 40, "lognormal:0.3", seed=5)
    rate = {s: simulate(compute, comm_s=0.05, staleness=s).updates_per_s for s in (-1, 0, 1, 2, 4, 8)}
    ssp = [rate[s] for s in (0, 1, 2, 4, 8)]
    assert all(a <= b for a, b in zip(ssp, ssp[1:]))
    assert rate[0] <= min(ssp) and max(ssp) <= rate[-1]
    assert rate[0] < rate[-1]  # stragglers cost BSP something


def test_empty_runs():
    for shape in ((0, 5), (3, 0)):
        r = simulate(np.zeros(shape))
        assert r.makespan_s == 0.0 and r.events == 0 and r.updates_per_s == 0.0
        assert r.idle_s.shape == (shape[0],)


@pytest.mark.parametrize("kwargs", [
    {"compute_s": np.ones(4)},
    {"compute_s": -np.ones((2, 2))},
    {"compute_s": np.full((2, 2), np.nan)},
    {"compute_s": np.ones((2, 2)), "comm_s": -1.0},
    {"compute_s": np.ones((2, 2)), "server_s": float("inf")},
    {"compute_s": np.ones((2, 2)), "staleness": 1.5},
])
def test_bad_inputs_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        simulate(kwargs.pop("compute_s"), **kwargs)


# ---- straggler_times

def test_straggler_none_is_the_base_time():
    np.testing.assert_array_equal(straggler_times(0.5, 4, 3, "none", seed=0), np.full((4, 3), 0.5))


def test_straggler_lognormal_has_the_base_mean():
    t = straggler_times(2.0, 64, 50, "lognormal:0.2", seed=0)
    assert t.shape == (64, 50)
    assert t.mean() == pytest.approx(2.0, rel=0.02)  # std of the mean: 0.2 / sqrt(3200) = 0.35 %
    assert np.log(t).std() == pytest.approx(0.2, rel=0.05)
    assert (t > 0).all()


@pytest.mark.parametrize("spec, count", [("slow:0.1x4", 6), ("slow:0.25x2", 16), ("slow:0.001x3", 1),
                                         ("slow:0x5", 0), ("slow:1x2", 64)])
def test_straggler_slow_picks_the_right_count(spec, count):
    factor = float(spec.split("x")[1])
    t = straggler_times(1.0, 64, 10, spec, seed=2)
    slow_rows = np.flatnonzero(t[:, 0] != 1.0)
    assert slow_rows.size == count
    np.testing.assert_array_equal(t[slow_rows], factor)  # slow in every iteration
    assert (np.delete(t, slow_rows, axis=0) == 1.0).all()


def test_straggler_times_are_seeded():
    spec = "lognormal:0.1+slow:0.05x4"
    a = straggler_times(1.0, 40, 20, spec, seed=9)
    np.testing.assert_array_equal(a, straggler_times(1.0, 40, 20, spec, seed=9))
    assert not np.array_equal(a, straggler_times(1.0, 40, 20, spec, seed=10))


def test_straggler_forms_combine():
    # the combination is the slow set (as drawn alone) times the noise (as drawn alone)
    both = straggler_times(1.0, 40, 20, " Lognormal:0.1 + slow:0.05x4 ", seed=4)
    slow = straggler_times(1.0, 40, 20, "slow:0.05x4", seed=4)
    noise = straggler_times(1.0, 40, 20, "lognormal:0.1", seed=4)
    np.testing.assert_allclose(both, slow * noise, rtol=1e-15)
    assert np.count_nonzero(slow[:, 0] == 4.0) == 2


@pytest.mark.parametrize("spec", ["", "gauss:1", "lognormal", "lognormal:", "lognormal:abc", "lognormal:-1",
                                  "lognormal:nan", "slow:0.1", "slow:2x4", "slow:0.1x0", "slow:ax2",
                                  "lognormal:0.1+lognormal:0.2", "none+slow:0.1x2", "lognormal:0.1+"])
def test_bad_straggler_specs_raise_value_error(spec):
    with pytest.raises(ValueError) as info:
        straggler_times(1.0, 8, 4, spec, seed=0)
    message = str(info.value)
    assert "\n" not in message and "expected" in message


def test_straggler_forms_text_names_each_form():
    for form in ("none", "lognormal:SIGMA", "slow:", "+"):
        assert form in STRAGGLER_FORMS
