"""Speed of the event-driven training simulation (``accelsim.kernels.eventsim``), as events
per second and as a ratio to a plain-Python ``heapq`` implementation of the same semantics.

SSP with staleness bound 3, lognormal:0.1 stragglers around 0.1 s of compute, 10 ms of
communication per iteration and a parameter server taking 50 us per update (about half
loaded at 1,024 workers). The kernel runs once on a tiny case first so that compilation (or
loading numba's cache) is not timed; each figure is the median of several runs. The baseline,
``_heapq_simulate`` below, runs a smaller case, and the kernel runs that case too; the
baseline's results are checked against the kernel's.

    python benchmarks/eventsim_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import heapq

import numpy as np

from accelsim.kernels.eventsim import simulate, straggler_times
from whole_process import median_wall

BASE_S, COMM_S, SERVER_S, STALENESS, SPEC, SEED = 0.1, 0.01, 5e-5, 3, "lognormal:0.1", 0
BIG, SMALL = (1024, 1000), (128, 100)


def _heapq_simulate(compute: np.ndarray, comm_s: float, server_s: float, s: int) -> tuple[float, list, int]:
    """(makespan, idle per worker, events): the kernel's semantics with ``heapq`` and lists."""
    workers, n = compute.shape
    rows = compute.tolist()
    clock = [0] * workers
    at_clock = [0] * (n + 1)
    at_clock[0] = workers
    blocked: dict[int, list[tuple[int, float]]] = {}   # min_clock needed -> [(worker, since)]
    idle = [0.0] * workers
    heap: list[tuple[float, int, int]] = []            # (time, kind: 0 end / 1 arrival, worker)
    min_clock, server_free, events, makespan = 0, 0.0, 0, 0.0

    def start(w: int, t: float) -> None:
        if server_s > 0:
            heapq.heappush(heap, (t + rows[w][clock[w]], 1, w))
        else:
            heapq.heappush(heap, (t + rows[w][clock[w]] + comm_s, 0, w))

    for w in range(workers):
        start(w, 0.0)
    while heap:
        t, kind, w = heapq.heappop(heap)
        if kind == 1:
            begin = max(t, server_free)
            idle[w] += begin - t
            server_free = begin + server_s
            heapq.heappush(heap, (server_free + comm_s, 0, w))
            continue
        events += 1
        at_clock[clock[w]] -= 1
        clock[w] += 1
        at_clock[clock[w]] += 1
        makespan = max(makespan, t)
        old = min_clock
        while min_clock < n and at_clock[min_clock] == 0:
            min_clock += 1
        if s >= 0 and clock[w] - min_clock > s:
            blocked.setdefault(clock[w] - s, []).append((w, t))
        elif clock[w] < n:
            start(w, t)
        for m in range(old + 1, min_clock + 1):
            for v, since in blocked.pop(m, []):
                idle[v] += t - since
                events += 1
                if clock[v] < n:
                    start(v, t)
    return makespan, idle, events




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    kw = {"comm_s": COMM_S, "server_s": SERVER_S, "staleness": STALENESS}
    big = straggler_times(BASE_S, *BIG, SPEC, SEED)
    small = straggler_times(BASE_S, *SMALL, SPEC, SEED)
    simulate(big[:4, :4], **kw)  # warm-up: compile, or load numba's cache

    ref_makespan, ref_idle, ref_events = _heapq_simulate(small, COMM_S, SERVER_S, STALENESS)
    check = simulate(small, **kw)
    assert check.makespan_s == ref_makespan and check.events == ref_events, "baseline disagrees with the kernel"
    np.testing.assert_allclose(check.idle_s, ref_idle, rtol=1e-9, atol=1e-12)

    rows = []
    wall = median_wall(lambda: _heapq_simulate(small, COMM_S, SERVER_S, STALENESS), repeats)
    rows.append((f"heapq, pure Python, {SMALL[0]} x {SMALL[1]} (baseline)", ref_events, wall))
    wall = median_wall(lambda: simulate(small, **kw), repeats)
    rows.append((f"simulate(), {SMALL[0]} x {SMALL[1]}", check.events, wall))
    result = simulate(big, **kw)
    wall = median_wall(lambda: simulate(big, **kw), repeats)
    rows.append((f"simulate(), {BIG[0]} x {BIG[1]}", result.events, wall))

    base = rows[0][1] / rows[0][2]
    print(f"SSP s={STALENESS}, {SPEC} around {BASE_S} s, comm {COMM_S} s, server {SERVER_S} s per update; "
          f"median of {repeats} runs\n")
    print("| case | events | wall (s) | events/s | x baseline |\n|---|---|---|---|---|")
    for label, events, wall in rows:
        rate = events / wall
        print(f"| {label} | {events:,} | {wall:.4f} | {rate:,.0f} | {rate / base:.1f} |")
    print(f"\n{BIG[0]} x {BIG[1]}: makespan {result.makespan_s:.2f} s, {result.updates_per_s:,.0f} updates/s, "
          f"mean staleness {result.mean_staleness:.2f}, max {result.max_staleness}, "
          f"mean queue {result.queue_s.mean():.3f} s, mean idle {result.idle_s.mean():.3f} s per worker")


if __name__ == "__main__":
    main()
