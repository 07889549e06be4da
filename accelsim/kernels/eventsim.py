"""Distributed data-parallel training as discrete events: how much a consistency model's
waiting costs when some workers are slower than others.

A closed form covers only the synchronous case (every round lasts as long as its slowest
worker). Asynchronous (ASP) and stale-synchronous (SSP) training let fast workers run ahead,
which hides stragglers, but the gaps they open up (staleness), the time they still spend
blocked, and the queue that forms at a parameter server that takes one update at a time only
show up when the run is played out event by event. ``simulate`` does that for a matrix of
per-iteration compute times; ``straggler_times`` samples such a matrix from a short spec.

Semantics (``staleness`` s: 0 = BSP, s > 0 = SSP with bound s, negative = ASP):

* A worker's *clock* is the number of iterations it has completed; ``min_clock`` is the
  smallest clock over all workers. A worker may START iteration k (its clock is k) only when
  ``k - min_clock <= s`` (ASP never blocks). Each start records its gap ``k - min_clock`` in
  the staleness histogram (always 0 under BSP, at most s under SSP).
* An iteration computes for ``compute_s[w, k]``; its update then reaches the parameter server
  at ``t_a``. The server serves updates one at a time in arrival order (FIFO, simultaneous
  arrivals by worker index), each for ``server_s`` seconds, starting at
  ``max(t_a, server_free)``; the wait ``start - t_a`` is queue time. After service the worker
  spends ``comm_s`` more (its own push/pull over its link) and the iteration ends at
  ``service start + server_s + comm_s``. ``server_s = 0``: no server queue.
* When an iteration ends the worker's clock increments; if it may start the next iteration it
  starts at once, otherwise it blocks until ``min_clock`` rises far enough and then starts at
  the time of the event that released it. A worker past its last iteration waits the same
  way, as if it were to start iteration ``iterations``: under BSP that is the final barrier
  (so idle time is the barrier model's), under ASP it never waits. Idle time = blocked time +
  queue time; a worker's finish time is the end of its last iteration, before that wait.
* Events at the same time are taken iteration ends first, then server arrivals, each kind in
  worker order. The order of simultaneous ends fixes the gaps recorded at ties, never a time:
  start times obey ``start[w, k] = max(end[w, k-1], max_v end[v, k-s-1])`` whatever it is.
* With s = 0 and no server this is the barrier model exactly: each round lasts
  ``max_w compute_s[w, k] + comm_s`` and worker w idles ``round - compute_s[w, k] - comm_s``
  in it.
* ``events`` counts one per iteration end plus one per release of a blocked worker (server
  arrivals are steps of the loop but not counted).

The kernel is an event loop over a binary heap kept in arrays (key: time, then kind and
worker), with one pending event per worker; a handled event is usually followed by its
worker's next one, which replaces it at the root in a single sift. ``min_clock`` is tracked
through a count of workers at each clock (amortised O(1) per event), and blocked workers wait
in one linked list per clock value, released when ``min_clock`` reaches it. Server arrivals
are heap events of their own, so the server sees updates in arrival order rather than in the
order their iterations started.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .jit import njit

__all__ = ["SimResult", "simulate", "straggler_times", "STRAGGLER_FORMS"]

STRAGGLER_FORMS = ("none (every iteration takes the base time); lognormal:SIGMA (each worker-iteration "
                   "independently base x exp(N(0, SIGMA) - SIGMA^2/2), mean base); slow:FRACTIONxFACTOR, e.g. "
                   "slow:0.01x4 (a fixed, seeded FRACTION of the workers, at least one, FACTOR times slower in "
                   "every iteration); combine with '+', e.g. lognormal:0.1+slow:0.01x4")

# Event kinds (the smaller is taken first at equal times).
_END, _ARRIVE = 0, 1


@dataclass(frozen=True)
class SimResult:
    """The outcome of ``simulate`` (times in seconds)."""

    workers: int
    iterations: int            # per worker
    makespan_s: float          # when the last worker finished its last iteration
    idle_s: np.ndarray         # per worker: blocked by the staleness bound plus queued at the server
    queue_s: np.ndarray        # per worker: the part of idle_s spent queued at the server
    staleness: np.ndarray      # staleness[g] = iteration starts at clock gap g
    events: int                # one per iteration end, plus one per release of a blocked worker
    finish_s: np.ndarray       # per worker: when it finished its last iteration

    @property
    def updates_per_s(self) -> float:
        """Updates (worker-iterations) per second over the whole run."""
        return self.workers * self.iterations / self.makespan_s if self.makespan_s > 0 else 0.0

    @property
    def concurrent_updates_per_s(self) -> float:
        """Each worker's own rate (its iterations over its finish time), summed: the rate while
        all of them run. Under ASP a fast worker is not held back by a slow one, which only
        finishes its equal share of iterations later; the makespan would count that tail as
        everyone's time."""
        finish = np.asarray(self.finish_s)
        if finish.size == 0 or not (finish > 0).all():
            return self.updates_per_s
        return float((self.iterations / finish).sum())

    @property
    def mean_staleness(self) -> float:
        """Mean clock gap at an iteration start."""
        starts = int(self.staleness.sum())
        return float(np.arange(self.staleness.size) @ self.staleness) / starts if starts else 0.0

    @property
    def max_staleness(self) -> int:
        """Largest clock gap at any iteration start."""
        used = np.flatnonzero(self.staleness)
        return int(used[-1]) if used.size else 0


@njit(cache=True, inline="always")
def _before(t1, k1, t2, k2):
    """Event (``t1``, ``k1``) comes before (``t2``, ``k2``): time, then kind-and-worker key."""
    return t1 < t2 or (t1 == t2 and k1 < k2)


@njit(cache=True, inline="always")
def _sift_up(ht, hk, i, t, key):
    """Put event (``t``, ``key``) in the hole at ``i`` and move it up to its place."""
    while i > 0:
        parent = (i - 1) >> 1
        if not _before(t, key, ht[parent], hk[parent]):
            break
        ht[i] = ht[parent]
        hk[i] = hk[parent]
        i = parent
    ht[i] = t
    hk[i] = key


@njit(cache=True, inline="always")
def _sift_down(ht, hk, n, t, key):
    """Put event (``t``, ``key``) in the hole at the root of ``n`` entries and move it down."""
    i = 0
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _before(ht[child + 1], hk[child + 1], ht[child], hk[child]):
            child += 1
        if not _before(ht[child], hk[child], t, key):
            break
        ht[i] = ht[child]
        hk[i] = hk[child]
        i = child
    ht[i] = t
    hk[i] = key


@njit(cache=True, inline="always")
def _push(ht, hk, n, t, key):
    """Add event (``t``, ``key``) to the heap of ``n`` entries; returns the new size."""
    _sift_up(ht, hk, n, t, key)
    return n + 1


@njit(cache=True, inline="always")
def _pop(ht, hk, n):
    """Remove the first of ``n`` entries; returns the new size."""
    n -= 1
    if n > 0:
        _sift_down(ht, hk, n, ht[n], hk[n])
    return n


@njit(cache=True, inline="always")
def _replace(ht, hk, n, t, key):
    """Replace the first of ``n`` entries by (``t``, ``key``): a pop and a push in one sift."""
    _sift_down(ht, hk, n, t, key)


@njit(cache=True, inline="always")
def _next(by_iter, w, k, t, comm_s, queued):
    """The event that follows worker ``w`` starting iteration ``k`` at ``t``: its arrival at
    the server, or (no server) its end, as (time, key)."""
    if queued:
        return t + by_iter[k, w], _ARRIVE * by_iter.shape[1] + w
    return t + by_iter[k, w] + comm_s, _END * by_iter.shape[1] + w


@njit(cache=True)
def _run(by_iter, comm_s, server_s, bound):
    """The event loop over compute times ``by_iter[iteration, worker]`` (that layout keeps the
    few iterations in flight together in cache); ``bound`` < 0: no staleness bound. Returns
    (makespan, idle, queue, histogram, events, finish).

    The event being handled stays at the heap's root until the worker's own next event (if
    any) replaces it in one sift; events for released workers are pushed after that."""
    ni = by_iter.shape[0]
    nw = by_iter.shape[1]
    idle = np.zeros(nw, np.float64)
    queue = np.zeros(nw, np.float64)
    finish = np.zeros(nw, np.float64)
    hist = np.zeros(max(1, min(ni, bound + 1) if bound >= 0 else ni), np.int64)
    if nw == 0 or ni == 0:
        return 0.0, idle, queue, hist, 0, finish
    clock = np.zeros(nw, np.int64)
    at_clock = np.zeros(ni + 1, np.int64)      # workers at each clock value
    at_clock[0] = nw
    head = -np.ones(ni + 1, np.int64)          # blocked workers waiting for min_clock == c
    nxt = -np.ones(nw, np.int64)
    since = np.zeros(nw, np.float64)           # when a blocked worker blocked
    ht = np.zeros(nw, np.float64)              # the heap: at most one pending event per worker
    hk = np.zeros(nw, np.int64)                # kind * nw + worker
    n = 0
    queued = server_s > 0.0
    for w in range(nw):  # every worker starts iteration 0 at time 0, gap 0
        t1, k1 = _next(by_iter, w, 0, 0.0, comm_s, queued)
        n = _push(ht, hk, n, t1, k1)
    hist[0] += nw
    min_clock = 0
    server_free = 0.0
    events = 0
    makespan = 0.0
    while n > 0:
        t = ht[0]
        key = hk[0]
        w = key % nw
        if key >= nw:  # an update reaches the server, which serves in arrival order
            begin = max(t, server_free)
            queue[w] += begin - t
            server_free = begin + server_s
            _replace(ht, hk, n, server_free + comm_s, _END * nw + w)
            continue
        # an iteration ends: the clock moves, min_clock may rise and release blocked workers;
        # a worker past its last iteration waits like one that would start iteration ``ni``
        events += 1
        k = clock[w] + 1
        clock[w] = k
        at_clock[k - 1] -= 1
        at_clock[k] += 1
        if k == ni:
            finish[w] = t
            makespan = max(makespan, t)
        old = min_clock
        while min_clock < ni and at_clock[min_clock] == 0:
            min_clock += 1
        if bound >= 0 and k - min_clock > bound:  # wait until min_clock reaches k - bound
            need = k - bound
            nxt[w] = head[need]
            head[need] = w
            since[w] = t
            n = _pop(ht, hk, n)
        elif k == ni:
            n = _pop(ht, hk, n)
        else:
            hist[k - min_clock] += 1
            t1, k1 = _next(by_iter, w, k, t, comm_s, queued)
            _replace(ht, hk, n, t1, k1)
        for m in range(old + 1, min_clock + 1):
            v = head[m]
            head[m] = -1
            while v >= 0:
                after = nxt[v]
                nxt[v] = -1
                idle[v] += t - since[v]
                events += 1
                if clock[v] < ni:
                    hist[clock[v] - min_clock] += 1
                    t1, k1 = _next(by_iter, v, clock[v], t, comm_s, queued)
                    n = _push(ht, hk, n, t1, k1)
                v = after
    for w in range(nw):
        idle[w] += queue[w]
    return makespan, idle, queue, hist, events, finish


def simulate(compute_s: np.ndarray, *, comm_s: float = 0.0, server_s: float = 0.0,
             staleness: int = 0) -> SimResult:
    """Play out ``compute_s[w, k]`` (seconds, workers x iterations) under BSP (``staleness``
    0), SSP with bound ``staleness`` (> 0) or ASP (negative); ``comm_s`` per iteration on each
    worker's link, ``server_s`` per update at a FIFO parameter server (0: none). The module
    docstring gives the semantics; ``SimResult.finish_s`` adds, beyond the totals, when each
    worker ended its last iteration. Raises ``ValueError`` on a bad input."""
    compute = np.asarray(compute_s, dtype=np.float64)
    if compute.ndim != 2:
        raise ValueError(f"compute_s must be a 2-D array [workers, iterations], got shape {compute.shape}")
    if compute.size and not (np.isfinite(compute).all() and (compute >= 0).all()):
        raise ValueError("compute_s must hold finite, non-negative times")
    for name, value in (("comm_s", comm_s), ("server_s", server_s)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite, non-negative time, got {value!r}")
    if isinstance(staleness, bool) or int(staleness) != staleness:
        raise ValueError(f"staleness must be an integer, got {staleness!r}")
    bound = max(min(int(staleness), compute.shape[1]), -1)  # a bound past the run is no bound
    by_iter = np.ascontiguousarray(compute.T)
    makespan, idle, queue, hist, events, finish = _run(by_iter, float(comm_s), float(server_s), bound)
    return SimResult(workers=compute.shape[0], iterations=compute.shape[1], makespan_s=float(makespan),
                     idle_s=idle, queue_s=queue, staleness=hist, events=int(events), finish_s=finish)


def _spec_error(spec: str, why: str) -> ValueError:
    return ValueError(f"bad straggler spec {spec!r}: {why}; expected none, lognormal:SIGMA, "
                      f"slow:FRACTIONxFACTOR (e.g. slow:0.01x4) or a '+' of the last two")


def _number(text: str, spec: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _spec_error(spec, f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _spec_error(spec, f"{what} {text!r} is not finite")
    return value


def _parse(spec: str) -> tuple[float | None, tuple[float, float] | None]:
    """(SIGMA or None, (FRACTION, FACTOR) or None) of a straggler spec."""
    text = spec.strip().lower()
    if text == "none":
        return None, None
    sigma: float | None = None
    slow: tuple[float, float] | None = None
    for part in text.split("+"):
        form, colon, arg = part.strip().partition(":")
        if not colon or not arg.strip():
            raise _spec_error(spec, f"{part.strip()!r} has no ':VALUE'")
        arg = arg.strip()
        if form == "lognormal" and sigma is None:
            sigma = _number(arg, spec, "SIGMA")
            if sigma < 0:
                raise _spec_error(spec, "SIGMA must be >= 0")
        elif form == "slow" and slow is None:
            fraction, x, factor = arg.partition("x")
            if not x:
                raise _spec_error(spec, f"{arg!r} is not FRACTIONxFACTOR")
            slow = (_number(fraction, spec, "FRACTION"), _number(factor, spec, "FACTOR"))
            if not 0 <= slow[0] <= 1:
                raise _spec_error(spec, "FRACTION must be between 0 and 1")
            if slow[1] <= 0:
                raise _spec_error(spec, "FACTOR must be > 0")
        elif form in ("lognormal", "slow"):
            raise _spec_error(spec, f"{form} given twice")
        else:
            raise _spec_error(spec, f"unknown form {form!r}")
    return sigma, slow


def straggler_times(base_s: float, workers: int, iterations: int, spec: str, seed: int) -> np.ndarray:
    """Compute times [workers, iterations] (seconds) around ``base_s`` with the stragglers of
    ``spec`` (see ``STRAGGLER_FORMS``), drawn from ``numpy.random.default_rng(seed)``.

    The slow workers are drawn first and the lognormal noise after, so a spec's slow set does
    not depend on whether noise is combined with it, nor the noise on the slow set. Raises
    ``ValueError`` (one line) on a bad spec or size."""
    if not (math.isfinite(base_s) and base_s >= 0):
        raise ValueError(f"base time must be a finite, non-negative number of seconds, got {base_s!r}")
    if workers < 0 or iterations < 0:
        raise ValueError(f"workers and iterations must be >= 0, got {workers} and {iterations}")
    sigma, slow = _parse(spec)
    rng = np.random.default_rng(seed)
    order = rng.permutation(workers)
    times = np.full((workers, iterations), float(base_s))
    if slow is not None and slow[0] > 0 and workers:
        count = max(1, round(slow[0] * workers))
        times[order[:count]] *= slow[1]
    if sigma is not None:
        times *= np.exp(rng.normal(0.0, sigma, size=(workers, iterations)) - sigma * sigma / 2)
    return times
