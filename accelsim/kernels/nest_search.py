"""Iterated local search over candidate loop nests, compiled: the npu mapper's inner loop.

A candidate is the four arrays of ``kernels.nest`` (temporal factors, loop orders, spatial
factors, kept data spaces; levels outermost first). ``search`` runs, from each start, a
steepest descent over single moves, scoring every neighbour with ``nest.evaluate_one``;
then ``kicks`` times it perturbs one of the best candidates so far by ``kick_moves``
random valid moves and descends again. It keeps the ``pool`` best distinct candidates it
scored. Moves (``_moves``):

* a prime factor of a dimension from one temporal level to another (where a loop is new
  at the destination: also placed innermost or outermost there);
* the same with a prime factor of another dimension coming back from the next temporal
  level in or out (an exchange);
* two loops of a level swapped, or one moved innermost;
* a free keep/bypass choice flipped;
* a prime factor between a fanout axis and a temporal level, and an exchange of primes
  between two dimensions on one fanout axis (the utilisation stays).

The space's rules are arrays: which levels hold temporal loops, fixed / upper / lower
bounds of each temporal factor, how many loops of each level's order are fixed innermost,
which keep bits are free, which dimensions each fanout axis may spread and fixed spatial
factors. Loop orders are kept canonical (fixed prefix, then the level's loops, then the
dimensions without a loop, ascending), so equal nests have equal arrays.

Objectives: 0 energy (then cycles), 1 cycles (then energy), 2 energy x cycles (then
energy). Random choices come from numba's generator seeded with ``seed``: the same inputs
give the same result.
"""

from __future__ import annotations

import numpy as np

from .jit import njit
from .nest import OK, _size, evaluate_one, max_fanout, workspace

__all__ = ["search", "greedy_seeds", "ENERGY", "LATENCY", "EDP"]

ENERGY, LATENCY, EDP = 0, 1, 2
_FACTOR, _EXCHANGE, _SWAP, _INNER, _FLIP, _GROW, _SHRINK, _SPATIAL_EXCHANGE = range(8)
_SAME, _TO_INNER, _TO_OUTER = 0, 1, 2


@njit(cache=True)
def _key(objective, cycles, energy):
    if objective == ENERGY:
        return energy, float(cycles)
    if objective == LATENCY:
        return float(cycles), energy
    return energy * cycles, energy


@njit(cache=True)
def _less(a0, a1, b0, b1):
    return a0 < b0 or (a0 == b0 and a1 < b1)


@njit(cache=True)
def _primes(n, out):
    """Distinct prime factors of ``n`` into ``out``; returns how many."""
    k = 0
    p = 2
    while p * p <= n:
        if n % p == 0:
            out[k] = p
            k += 1
            while n % p == 0:
                n //= p
        p += 1
    if n > 1:
        out[k] = n
        k += 1
    return k


@njit(cache=True)
def _movable(fixed, upper, lower, lv, d, f):
    return fixed[lv, d] == 0 and (upper[lv, d] == 0 or f <= upper[lv, d]) and f >= lower[lv, d]


@njit(cache=True)
def _adjacent(temporal_ok, a, b):
    """``b`` is the next temporal level inside ``a`` or outside it."""
    lo, hi = min(a, b), max(a, b)
    for lv in range(lo + 1, hi):
        if temporal_ok[lv]:
            return False
    return True


@njit(cache=True)
def _push(moves, n, a, b, c, d, e, f, g):
    if n < moves.shape[0]:
        moves[n, 0] = a
        moves[n, 1] = b
        moves[n, 2] = c
        moves[n, 3] = d
        moves[n, 4] = e
        moves[n, 5] = f
        moves[n, 6] = g
        return n + 1
    return n


@njit(cache=True)
def _moves(tf, order, sf, temporal_ok, fixed, upper, lower, prefix_len, free, axis_ok, sfixed, fan_x, fan_y,
           moves, pa, pb):
    """Every single move from a candidate, as rows of ``moves``; returns how many."""
    nl, nd = tf.shape
    n = 0
    for d in range(nd):
        for a in range(nl):
            if not temporal_ok[a] or tf[a, d] == 1:
                continue
            kp = _primes(tf[a, d], pa)
            for ip in range(kp):
                p = pa[ip]
                if not _movable(fixed, upper, lower, a, d, tf[a, d] // p):
                    continue
                for b in range(nl):
                    if b == a or not temporal_ok[b] or not _movable(fixed, upper, lower, b, d, tf[b, d] * p):
                        continue
                    n = _push(moves, n, _FACTOR, a, b, d, p, _SAME, 0)
                    if tf[b, d] == 1:
                        n = _push(moves, n, _FACTOR, a, b, d, p, _TO_INNER, 0)
                        n = _push(moves, n, _FACTOR, a, b, d, p, _TO_OUTER, 0)
                    if not _adjacent(temporal_ok, a, b):
                        continue
                    # exchanges with the next temporal level: a prime of another dimension back
                    for e in range(nd):
                        if e == d or tf[b, e] == 1:
                            continue
                        kq = _primes(tf[b, e], pb)
                        for iq in range(kq):
                            q = pb[iq]
                            if (_movable(fixed, upper, lower, b, e, tf[b, e] // q)
                                    and _movable(fixed, upper, lower, a, e, tf[a, e] * q)):
                                n = _push(moves, n, _EXCHANGE, a, b, d, p, e, q)
    for lv in range(nl):
        if not temporal_ok[lv]:
            continue
        for i in range(prefix_len[lv], nd):
            d1 = order[lv, i]
            if tf[lv, d1] == 1:
                continue
            if i > prefix_len[lv]:
                n = _push(moves, n, _INNER, lv, d1, 0, 0, 0, 0)
            for j in range(i + 1, nd):
                d2 = order[lv, j]
                if tf[lv, d2] > 1:
                    n = _push(moves, n, _SWAP, lv, d1, d2, 0, 0, 0)
    for lv in range(nl):
        for p in range(free.shape[1]):
            if free[lv, p]:
                n = _push(moves, n, _FLIP, lv, p, 0, 0, 0, 0)
    for lv in range(nl):
        for axis in range(2):
            room = fan_x[lv] if axis == 0 else fan_y[lv]
            if room == 1:
                continue
            used = 1
            for d in range(nd):
                used *= sf[lv, axis, d]
            for d in range(nd):
                if not axis_ok[lv, axis, d] or sfixed[lv, d]:
                    continue
                for b in range(nl):
                    if not temporal_ok[b]:
                        continue
                    if tf[b, d] > 1:
                        kp = _primes(tf[b, d], pa)
                        for ip in range(kp):
                            p = pa[ip]
                            if used * p <= room and _movable(fixed, upper, lower, b, d, tf[b, d] // p):
                                n = _push(moves, n, _GROW, lv, axis, d, b, p, 0)
                    if sf[lv, axis, d] > 1:
                        kp = _primes(sf[lv, axis, d], pa)
                        for ip in range(kp):
                            p = pa[ip]
                            if _movable(fixed, upper, lower, b, d, tf[b, d] * p):
                                n = _push(moves, n, _SHRINK, lv, axis, d, b, p, 0)
                                # exchange: p of d off the axis, a prime of another dim on
                                for e in range(nd):
                                    if e == d or not axis_ok[lv, axis, e] or sfixed[lv, e] or tf[b, e] == 1:
                                        continue
                                    kq = _primes(tf[b, e], pb)
                                    for iq in range(kq):
                                        q = pb[iq]
                                        if (used // p * q <= room
                                                and _movable(fixed, upper, lower, b, e, tf[b, e] // q)):
                                            n = _push(moves, n, _SPATIAL_EXCHANGE, lv, axis, d, b, p,
                                                      e * 1000003 + q)
    return n


@njit(cache=True)
def _place(order, lv, d, where, prefix):
    """Move dimension ``d`` of level ``lv`` innermost (after the fixed prefix) or outermost."""
    nd = order.shape[1]
    pos = 0
    for i in range(nd):
        if order[lv, i] == d:
            pos = i
    if where == _TO_INNER:
        for i in range(pos, prefix, -1):
            order[lv, i] = order[lv, i - 1]
        order[lv, prefix] = d
    else:
        for i in range(pos, nd - 1):
            order[lv, i] = order[lv, i + 1]
        order[lv, nd - 1] = d


@njit(cache=True)
def _apply(m, tf, order, sf, keep, prefix_len):
    kind = m[0]
    if kind == _FACTOR or kind == _EXCHANGE:
        a, b, d, p = m[1], m[2], m[3], m[4]
        tf[a, d] //= p
        tf[b, d] *= p
        if kind == _EXCHANGE:
            e, q = m[5], m[6]
            tf[b, e] //= q
            tf[a, e] *= q
        elif m[5] != _SAME:
            _place(order, b, d, m[5], prefix_len[b])
    elif kind == _SWAP:
        lv, d1, d2 = m[1], m[2], m[3]
        x = 0
        y = 0
        for i in range(order.shape[1]):
            if order[lv, i] == d1:
                x = i
            if order[lv, i] == d2:
                y = i
        order[lv, x] = d2
        order[lv, y] = d1
    elif kind == _INNER:
        _place(order, m[1], m[2], _TO_INNER, prefix_len[m[1]])
    elif kind == _FLIP:
        keep[m[1], m[2]] = not keep[m[1], m[2]]
    else:
        lv, axis, d, b, p = m[1], m[2], m[3], m[4], m[5]
        if kind == _GROW:
            tf[b, d] //= p
            sf[lv, axis, d] *= p
        else:
            tf[b, d] *= p
            sf[lv, axis, d] //= p
            if kind == _SPATIAL_EXCHANGE:
                e = m[6] // 1000003
                q = m[6] % 1000003
                tf[b, e] //= q
                sf[lv, axis, e] *= q


@njit(cache=True)
def _canonical(tf, order, prefix_len, scratch):
    nl, nd = tf.shape
    for lv in range(nl):
        k = prefix_len[lv]
        for i in range(prefix_len[lv], nd):
            d = order[lv, i]
            if tf[lv, d] > 1:
                scratch[k] = d
                k += 1
        for d in range(nd):
            present = tf[lv, d] > 1
            inprefix = False
            for i in range(prefix_len[lv]):
                if order[lv, i] == d:
                    inprefix = True
            if not present and not inprefix:
                scratch[k] = d
                k += 1
        for i in range(prefix_len[lv], nd):
            order[lv, i] = scratch[i]


@njit(cache=True)
def _equal(a, b):
    """Two arrays of one shape hold the same values (flat loop: cheap to compile)."""
    fa = a.ravel()
    fb = b.ravel()
    for i in range(fa.shape[0]):
        if fa[i] != fb[i]:
            return False
    return True


@njit(cache=True)
def _copy(dst, src):
    """``dst[...] = src`` for arrays of one shape (flat loop: cheap to compile)."""
    fd = dst.ravel()
    fs = src.ravel()
    for i in range(fd.shape[0]):
        fd[i] = fs[i]


@njit(cache=True)
def _copy4(t, o, s, k, st, so, ss, sk):
    """Copy a candidate (temporal, order, spatial, keep) onto another."""
    _copy(t, st)
    _copy(o, so)
    _copy(s, ss)
    _copy(k, sk)


@njit(cache=True)
def _same(pt, po, ps, pk, j, tf, order, sf, keep):
    return _equal(pt[j], tf) and _equal(po[j], order) and _equal(ps[j], sf) and _equal(pk[j], keep)


@njit(cache=True)
def _offer(pt, po, ps, pk, pkey, count, tf, order, sf, keep, k0, k1):
    """Insert a candidate into the pool (sorted by key, distinct); returns the new count."""
    size = pt.shape[0]
    n = count
    if n == size and not _less(k0, k1, pkey[n - 1, 0], pkey[n - 1, 1]):
        return n
    at = n
    for j in range(n):
        if pkey[j, 0] == k0 and pkey[j, 1] == k1 and _same(pt, po, ps, pk, j, tf, order, sf, keep):
            return n
        if _less(k0, k1, pkey[j, 0], pkey[j, 1]):
            at = j
            break
    for j in range(at + 1, n):  # a duplicate further down (equal key) is already there
        if pkey[j, 0] == k0 and pkey[j, 1] == k1 and _same(pt, po, ps, pk, j, tf, order, sf, keep):
            return n
    last = min(n, size - 1)
    for j in range(last, at, -1):
        _copy4(pt[j], po[j], ps[j], pk[j], pt[j - 1], po[j - 1], ps[j - 1], pk[j - 1])
        pkey[j, 0] = pkey[j - 1, 0]
        pkey[j, 1] = pkey[j - 1, 1]
    _copy4(pt[at], po[at], ps[at], pk[at], tf, order, sf, keep)
    pkey[at, 0] = k0
    pkey[at, 1] = k1
    return min(n + 1, size)


@njit(cache=True, inline="always")
def _neighbour(tab, ws, move, prefix_len, scratch, cur_t, cur_o, cur_s, cur_k, tf, order, sf, keep):
    """The current candidate with ``move`` applied, into ``tf, order, sf, keep`` (canonical),
    and its (status, cycles, energy)."""
    _copy4(tf, order, sf, keep, cur_t, cur_o, cur_s, cur_k)
    _apply(move, tf, order, sf, keep, prefix_len)
    _canonical(tf, order, prefix_len, scratch)
    return evaluate_one(tab, tf, order, sf, keep, ws)


@njit(cache=True)
def search(tab, temporal_ok, fixed, upper, lower, prefix_len, free, axis_ok, sfixed,
           st, so, ss, sk, objective, steps, kicks, kick_moves, seed, budget,
           pt, po, ps, pk, pkey):
    """Local search from each start ``st[i], so[i], ss[i], sk[i]``; fills the pool
    ``pt, po, ps, pk`` (its size is the pool's) with the best distinct candidates, keys in
    ``pkey`` (+inf where empty). ``budget`` caps the candidates scored. Returns (candidates
    scored, pool entries)."""
    np.random.seed(seed)
    nl, nd = st.shape[1], st.shape[2]
    coef = tab[1]
    fan_x, fan_y = tab[19], tab[20]
    ws = workspace(nl, nd, coef.shape[0], coef.shape[1], max_fanout(tab))
    moves = np.zeros((20000, 7), np.int64)
    pa = np.zeros(64, np.int64)
    pb = np.zeros(64, np.int64)
    scratch = np.zeros(nd, np.int64)
    cur_t = st[0].copy()
    cur_o = so[0].copy()
    cur_s = ss[0].copy()
    cur_k = sk[0].copy()
    tf = cur_t.copy()
    order = cur_o.copy()
    sf = cur_s.copy()
    keep = cur_k.copy()
    count = 0
    scored = 0
    runs = st.shape[0] + kicks
    for run in range(runs):
        if scored >= budget:
            break
        if run < st.shape[0]:
            _copy4(cur_t, cur_o, cur_s, cur_k, st[run], so[run], ss[run], sk[run])
        else:
            if count == 0:
                break
            j = np.random.randint(min(3, count))
            _copy4(cur_t, cur_o, cur_s, cur_k, pt[j], po[j], ps[j], pk[j])
            for _ in range(kick_moves):
                n = _moves(cur_t, cur_o, cur_s, temporal_ok, fixed, upper, lower, prefix_len, free, axis_ok, sfixed,
                           fan_x, fan_y, moves, pa, pb)
                if n == 0:
                    break
                for _try in range(16):  # a random move that keeps the candidate valid
                    status, cycles, energy = _neighbour(tab, ws, moves[np.random.randint(n)], prefix_len, scratch,
                                                        cur_t, cur_o, cur_s, cur_k, tf, order, sf, keep)
                    scored += 1
                    if status == OK:
                        _copy4(cur_t, cur_o, cur_s, cur_k, tf, order, sf, keep)
                        break
        status, cycles, energy = evaluate_one(tab, cur_t, cur_o, cur_s, cur_k, ws)
        scored += 1
        if status != OK:
            continue
        k0, k1 = _key(objective, cycles, energy)
        count = _offer(pt, po, ps, pk, pkey, count, cur_t, cur_o, cur_s, cur_k, k0, k1)
        for _ in range(steps):  # steepest descent
            n = _moves(cur_t, cur_o, cur_s, temporal_ok, fixed, upper, lower, prefix_len, free, axis_ok, sfixed,
                       fan_x, fan_y, moves, pa, pb)
            best = -1
            b0, b1 = k0, k1
            for m in range(n):
                status, cycles, energy = _neighbour(tab, ws, moves[m], prefix_len, scratch, cur_t, cur_o, cur_s,
                                                    cur_k, tf, order, sf, keep)
                scored += 1
                if status != OK:
                    continue
                c0, c1 = _key(objective, cycles, energy)
                count = _offer(pt, po, ps, pk, pkey, count, tf, order, sf, keep, c0, c1)
                if _less(c0, c1, b0, b1):
                    best, b0, b1 = m, c0, c1
            if best < 0 or scored >= budget:
                break
            _apply(moves[best], cur_t, cur_o, cur_s, cur_k, prefix_len)
            _canonical(cur_t, cur_o, prefix_len, scratch)
            k0, k1 = b0, b1
    return scored, count


@njit(cache=True)
def _fits(capacity, coef, nranks, factors, keep, level, span):
    """Every bounded level from ``level`` out holds its kept tiles, for per-level factors
    (temporal x spatial; levels outermost first) with nothing above yet."""
    nl, nd = factors.shape
    for d in range(nd):
        span[d] = 1
    for lv in range(nl - 1, -1, -1):
        for d in range(nd):
            span[d] *= factors[lv, d]
        if lv <= level and capacity[lv] >= 0:
            words = 0
            for p in range(coef.shape[0]):
                if keep[lv, p]:
                    words += _size(coef, nranks, p, span)
            if words > capacity[lv]:
                return False
    return True


@njit(cache=True)
def _greedy(tab, temporal_ok, fixed, upper, lower, rel, grid, keep, order, tight, tf, factors, span, bound_divs,
            divs, rem):
    """Temporal factors filled from the innermost level out, each dimension in loop order
    taking the largest allowed factor with which every buffer still fits; the outermost
    temporal level takes the rest. False when the fixed factors do not divide the layer.
    ``bound_divs[d]`` lists the divisors of dimension d's bound, ascending, 0-padded (what
    is left of a bound divides it, so its divisors are among them)."""
    bounds, coef, nranks, capacity = tab[0], tab[1], tab[2], tab[5]
    nl, nd = fixed.shape
    outer = -1
    for lv in range(nl):
        if temporal_ok[lv] and outer < 0:
            outer = lv
    for d in range(nd):
        used = 1
        for lv in range(nl):
            tf[lv, d] = fixed[lv, d] if fixed[lv, d] > 0 else 1
            factors[lv, d] = grid[lv, 0, d] * grid[lv, 1, d] * tf[lv, d]
            used *= factors[lv, d]
        if bounds[d] % used:
            return False
        rem[d] = bounds[d] // used
    for lv in range(nl - 1, -1, -1):
        if not temporal_ok[lv] or lv == outer:
            continue
        for pos in range(nd):
            d = order[lv, pos]
            if fixed[lv, d] or rem[d] == 1:
                continue
            if tight:
                mine = False
                for p in range(rel.shape[0]):
                    if keep[lv, p] and rel[p, d]:
                        mine = True
                if not mine:
                    continue
            n = 0
            for j in range(bound_divs.shape[1]):
                f = bound_divs[d, j]
                if f == 0 or f > rem[d]:
                    break
                if rem[d] % f == 0 and (upper[lv, d] == 0 or f <= upper[lv, d]) and f >= lower[lv, d]:
                    divs[n] = f
                    n += 1
            if n == 0:
                continue
            base = factors[lv, d]
            lo = 0
            hi = n - 1
            while lo < hi:  # fitting is monotone in the factor
                mid = (lo + hi + 1) // 2
                factors[lv, d] = base * divs[mid]
                if _fits(capacity, coef, nranks, factors, keep, lv, span):
                    lo = mid
                else:
                    hi = mid - 1
            factors[lv, d] = base * divs[lo]
            tf[lv, d] = divs[lo]
            rem[d] //= divs[lo]
    for d in range(nd):
        if fixed[outer, d] == 0:
            tf[outer, d] = rem[d]
    return True


@njit(cache=True)
def greedy_seeds(tab, temporal_ok, fixed, upper, lower, rel, grids, keeps, orders, bound_divs, out, ok):
    """``_greedy`` for every (fanout filling, keep choice, loop order, loose / tight)
    combination, in that nesting order: ``out[i]`` the factors, ``ok[i]`` whether valid."""
    nl, nd = fixed.shape
    factors = np.ones((nl, nd), np.int64)
    span = np.ones(nd, np.int64)
    rem = np.ones(nd, np.int64)
    divs = np.zeros(bound_divs.shape[1] + 1, np.int64)
    i = 0
    for g in range(grids.shape[0]):
        for k in range(keeps.shape[0]):
            for q in range(orders.shape[0]):
                for tight in range(2):
                    ok[i] = _greedy(tab, temporal_ok, fixed, upper, lower, rel, grids[g], keeps[k], orders[q],
                                    tight == 1, out[i], factors, span, bound_divs, divs, rem)
                    i += 1
