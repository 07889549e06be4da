"""Timeloop's nest analysis of many candidate loop nests at once: the hot loop of the npu
mapping search.

``accelsim.hw.npu.analysis.evaluate`` analyses one ``Mapping`` in CPython (about a
millisecond); a search wants tens of thousands per layer. This kernel computes the same
figures from plain arrays, for a whole batch of candidates, in one compiled call:

* a candidate is, per storage level (outermost first), a temporal factor and a loop order
  over the problem's dimensions, a spatial factor per dimension on each mesh axis, and which
  data spaces the level keeps (``accelsim.hw.npu.fast`` documents the layout);
* the machine and the problem are tables (capacities, energies, bandwidths, the data spaces'
  projection coefficients).

It follows ``analysis.evaluate`` step for step (tiles, the binary-counter sweep of
``visits.py``, multicast groups of ``spatial.py``, ``_collapse``, cycles, energy), including
its floating-point order, so that its counts and energies equal the reference's to the
bit. It leaves out what a search never sets (``no_multicast``, ``no_temporal_reuse``,
``rmw_first_update``) and Timeloop's link transfers between mesh neighbours; with links off
the two agree exactly (tests/unit/hw/test_npu_fast.py), and the search re-evaluates its
finalists with links on. ``evaluate_one`` analyses one candidate in a preallocated
``workspace``, remembering each fanout's last multicast grouping (a search's neighbours
mostly share it); ``analyse`` runs it over a batch.

The temporal sweep: a tile above ``k`` loops sees the positions of a binary counter (each
loop at index 0 and 1, the latter counted ``n - 1`` times). ``F_j(state)`` — the sum and the
final state over the positions that follow one of loop ``j``'s carries — obeys
``F_j = F_{j-1}, visit(loop j-1), F_{j-1}``, so a table over the (few) states gives the sum in
``O(k x states)`` instead of Timeloop's ``2**k`` walk.
"""

from __future__ import annotations

import numpy as np

from .jit import njit

__all__ = ["analyse", "evaluate_one", "workspace", "max_fanout", "OK", "BAD_FACTORS", "BAD_FANOUT",
           "BAD_CAPACITY", "NOT_KEPT"]

# Candidate status codes.
OK, BAD_FACTORS, BAD_FANOUT, BAD_CAPACITY, NOT_KEPT = 0, 1, 2, 3, 4


@njit(cache=True)
def _round(x: float) -> int:
    """C++ ``std::round``: half away from zero."""
    if x >= 0:
        return int(np.floor(x + 0.5))
    return -int(np.floor(-x + 0.5))


@njit(cache=True)
def _size(coef, nranks, p, span):
    """Words of data space ``p`` over a box of ``span`` (per dimension) in operation space."""
    total = 1
    for r in range(nranks[p]):
        e = 1
        for d in range(span.shape[0]):
            e += coef[p, r, d] * (span[d] - 1)
        total *= e
    return total


@njit(cache=True)
def _sweep(k, w, mv, nr, ext, full, legacy, ov, zero, canon, sid, fv, fs, gv, gs):
    """Words a tile of extent ``ext`` fetches over the simulated positions of ``k`` loops
    (``visits.temporal_delta_sum`` with reuse)."""
    # Canonical move of each digit (the first digit with the same vector) and its overlap.
    nstates = 1  # state 0: no previous move
    for j in range(k):
        zero[j] = True
        for r in range(nr):
            if mv[j, r] != 0:
                zero[j] = False
        canon[j] = j
        for i in range(j):
            same = True
            for r in range(nr):
                if mv[i, r] != mv[j, r]:
                    same = False
                    break
            if same:
                canon[j] = canon[i]
                break
        if canon[j] == j:
            sid[j] = nstates
            nstates += 1
        else:
            sid[j] = sid[canon[j]]
        o = 1
        for r in range(nr):
            m = mv[j, r]
            if m < 0:
                m = -m
            e = ext[r] - m
            if e <= 0:
                o = 0
                break
            o *= e
        ov[j] = o
    for s in range(nstates):
        fv[s] = 0
        fs[s] = s
    for j in range(1, k + 1):
        digit = j - 1
        state = sid[digit]
        for s in range(nstates):
            v1 = fv[s]
            s1 = fs[s]
            if not legacy and zero[digit]:
                d = 0
                s2 = s1
            elif s1 == 0 or s1 == state:
                d = full - ov[digit]
                s2 = state
            else:
                d = full
                s2 = 0
            gv[s] = v1 + w[digit] * (d + fv[s2])
            gs[s] = fs[s2]
        for s in range(nstates):
            fv[s] = gv[s]
            fs[s] = gs[s]
    return full + fv[0]


@njit(cache=True, inline="always")
def _advance(index, limits, n):
    """Step the mixed-radix counter ``index[:n]`` (digit ``i`` below ``limits[i]``, the last
    fastest); False once it wraps around."""
    i = n - 1
    while i >= 0:
        index[i] += 1
        if index[i] < limits[i]:
            return True
        index[i] = 0
        i -= 1
    return False


@njit(cache=True)
def _rank_values(n_loops, bounds, steps, vals, cnts, marks, index):
    """Distinct values (ascending) of sum(index_l x step_l) and how many index tuples give
    each; returns how many distinct values were written. ``marks`` (as long as the number
    of index tuples, at most the fanout) and ``index`` are scratch: the sums are sorted, so
    the work does not depend on how large they are."""
    if n_loops == 0:
        vals[0] = 0
        cnts[0] = 1
        return 1
    if n_loops == 1:
        for i in range(bounds[0]):
            vals[i] = i * steps[0]
            cnts[i] = 1
        return bounds[0]
    for l in range(n_loops):
        index[l] = 0
    count = 0
    while True:
        v = 0
        for l in range(n_loops):
            v += index[l] * steps[l]
        marks[count] = v
        count += 1
        if not _advance(index, bounds, n_loops):
            break
    ordered = np.sort(marks[:count])
    n = 0
    i = 0
    while i < count:
        j = i
        while j < count and ordered[j] == ordered[i]:
            j += 1
        vals[n] = ordered[i]
        cnts[n] = j - i
        n += 1
        i = j
    return n


@njit(cache=True)
def _groups(p, coef, nranks, first, nsp, ldim, lbound, lstride, hist_m, hist_n, vals, cnts, nvals,
            rb, rs, marks, index):
    """Multicast groups of a fanout for data space ``p``: ``hist_m[i]`` children share each
    of ``hist_n[i]`` reads, in the order ``spatial.Sharing`` builds them (groups sorted by
    translation, group sizes in first-seen order). Returns the number of entries."""
    nr = nranks[p]
    irrelevant = 1
    for r in range(nr):
        n = 0
        for l in range(first, first + nsp):
            c = coef[p, r, ldim[l]]
            if c != 0:
                rb[n] = lbound[l]
                rs[n] = c * lstride[l]
                n += 1
        nvals[r] = _rank_values(n, rb, rs, vals[r], cnts[r], marks, index)
    for l in range(first, first + nsp):
        used = False
        for r in range(nr):
            if coef[p, r, ldim[l]] != 0:
                used = True
        if not used:
            irrelevant *= lbound[l]
    uniform = True
    for r in range(nr):
        for i in range(1, nvals[r]):
            if cnts[r, i] != cnts[r, 0]:
                uniform = False
    if uniform:
        size = irrelevant
        groups = 1
        for r in range(nr):
            size *= cnts[r, 0]
            groups *= nvals[r]
        hist_m[0] = size
        hist_n[0] = groups
        return 1
    entries = 0
    for r in range(nr):
        index[r] = 0
    while True:
        size = irrelevant
        for r in range(nr):
            size *= cnts[r, index[r]]
        found = False
        for e in range(entries):
            if hist_m[e] == size:
                hist_n[e] += 1
                found = True
                break
        if not found:
            hist_m[entries] = size
            hist_n[entries] = 1
            entries += 1
        if not _advance(index, nvals, nr):
            break
    return entries


@njit(cache=True)
def workspace(nl, nd, npp, nrmax, fanmax):
    """Scratch arrays for ``evaluate_one`` (allocated once per batch or search); their sizes
    depend on the machine and the number of loops, never on the layer's bounds."""
    maxloops = nl * 3 * nd + 1
    maxhist = fanmax + 1
    ints = np.zeros((16, maxloops + 1), np.int64)
    lev = np.zeros((6, nl), np.int64)
    spans = np.ones((2, nl, nd), np.int64)
    sizes = np.ones(nd, np.int64)
    tiles = np.zeros((5, npp, nl), np.int64)
    none = np.zeros((npp, nl), np.bool_)
    zero = np.zeros(maxloops + 1, np.bool_)
    share = np.zeros((npp, nl), np.float64)
    acc_m = np.zeros((npp, nl, maxhist), np.int64)
    acc_a = np.zeros((npp, nl, maxhist), np.float64)
    out = np.zeros((npp, nl, 3), np.int64)
    mv = np.zeros((maxloops + 1, nrmax), np.int64)
    rk = np.zeros((3, nrmax), np.int64)
    hist = np.zeros((2, maxhist), np.int64)
    vals = np.zeros((2, nrmax, maxhist + 1), np.int64)
    marks = np.zeros(fanmax + 1, np.int64)
    index = np.zeros(maxloops + 1, np.int64)
    # the last multicast grouping of each (data space, level): key = its spatial loops
    gkey = -np.ones((npp, nl, 3 * maxloops + 1), np.int64)
    gres = np.zeros((npp, nl, 2, maxhist), np.int64)
    return (ints, lev, spans, sizes, tiles, none, zero, share, acc_m, acc_a, out, mv, rk, hist, vals, marks, index,
            gkey, gres)


@njit(cache=True)
def max_fanout(tab):
    """The largest fanout (children per instance) of the machine in ``tab``."""
    fan_x, fan_y = tab[19], tab[20]
    m = 1
    for l in range(fan_x.shape[0]):
        m = max(m, fan_x[l] * fan_y[l])
    return m


@njit(cache=True)
def evaluate_one(tab, temporal, order, spatial, keep, ws):
    """(status, cycles, energy) of one candidate (``temporal[level, dim]`` etc., see
    ``analyse``); leaves (reads, fills, updates) per data space and level, innermost level
    first, in ``ws[10]``. ``tab`` holds the machine and problem tables (see ``analyse``).

    One function on purpose: splitting it passes the two big tuples on every call and
    doubles the time per candidate."""
    (bounds, coef, nranks, read_write, sliding, capacity, block, e_read, e_fill, e_update, e_leak, bw_read,
     bw_write, bw_shared, multicast, spatial_reduction, network_energy, instances, cluster, fan_x, fan_y,
     mac_energy, extra_latency, legacy) = tab
    (ints, lev, spans, sizes, tiles, tnone, zero, tshare, acc_m, acc_a, out, mv, rk, hist, vals, marks, index,
     gkey, gres) = ws
    ldim, lbound, laxis, llevel, lstride = ints[0], ints[1], ints[2], ints[3], ints[4]
    digits, w, ov, canon, sid = ints[5], ints[6], ints[7], ints[8], ints[9]
    fv, fs, gv, gs, rb, rs = ints[10], ints[11], ints[12], ints[13], ints[14], ints[15]
    first, nsp, rep, xexp, yexp, level_cycles = lev[0], lev[1], lev[2], lev[3], lev[4], lev[5]
    tile_span, master_span = spans[0], spans[1]
    tsize, tmaster, tfan, tpart, acc_k = tiles[0], tiles[1], tiles[2], tiles[3], tiles[4]
    acc, ext, nvals = rk[0], rk[1], rk[2]
    hist_m, hist_n = hist[0], hist[1]
    vals_, cnts = vals[0], vals[1]
    nl = temporal.shape[0]
    nd = temporal.shape[1]
    npp = coef.shape[0]
    macs = 1
    for d in range(nd):
        macs *= bounds[d]

    # ---- the nest, innermost loop first (analysis._build_nest): per loop its dimension,
    # bound, axis (0 temporal, 1 X, 2 Y), level (innermost 0) and stride; per level its first
    # loop, its number of spatial loops, the spans of its tile and of its fanout
    n = 0
    for d in range(nd):
        sizes[d] = 1
    for i in range(nl):
        lv = nl - 1 - i
        first[i] = n
        for a in range(2):
            for d in range(nd):
                f = spatial[lv, a, d]
                if f > 1:
                    ldim[n] = d
                    lbound[n] = f
                    laxis[n] = a + 1
                    llevel[n] = i
                    lstride[n] = sizes[d]
                    sizes[d] *= f
                    n += 1
        nsp[i] = n - first[i]
        for d in range(nd):
            master_span[i, d] = sizes[d]
        for pos in range(nd):
            d = order[lv, pos]
            f = temporal[lv, d]
            if f > 1:
                ldim[n] = d
                lbound[n] = f
                laxis[n] = 0
                llevel[n] = i
                lstride[n] = sizes[d]
                sizes[d] *= f
                n += 1
        for d in range(nd):
            tile_span[i, d] = sizes[d]

    # ---- why it cannot run (analysis._validated)
    for d in range(nd):
        if sizes[d] != bounds[d]:
            return BAD_FACTORS, 0, 0.0
    for i in range(nl):
        lv = nl - 1 - i
        x = 1
        y = 1
        for l in range(first[i], first[i] + nsp[i]):
            if laxis[l] == 1:
                x *= lbound[l]
            else:
                y *= lbound[l]
        if x > fan_x[lv] or y > fan_y[lv]:
            return BAD_FANOUT, 0, 0.0
    for p in range(npp):
        kept = False
        for lv in range(nl):
            if keep[lv, p]:
                kept = True
        if not kept:
            return NOT_KEPT, 0, 0.0
    for i in range(nl):
        lv = nl - 1 - i
        if capacity[lv] < 0:
            continue
        words = 0
        for p in range(npp):
            if keep[lv, p]:
                words += _size(coef, nranks, p, tile_span[i])
        if words > capacity[lv]:
            return BAD_CAPACITY, 0, 0.0

    # ---- instances in use per level (all, along X, along Y) and compute cycles
    compute = 1
    for l in range(n):
        if laxis[l] == 0:
            compute *= lbound[l]
    for i in range(nl):
        r_ = 1
        x_ = 1
        y_ = 1
        for l in range(n):
            if laxis[l] != 0 and llevel[l] > i:
                r_ *= lbound[l]
                if laxis[l] == 1:
                    x_ *= lbound[l]
                else:
                    y_ *= lbound[l]
        rep[i] = r_
        xexp[i] = x_
        yexp[i] = y_

    for p in range(npp):
        # ---- accesses to each level from below, per multicast factor (analysis._level_accesses)
        nr = nranks[p]
        for i in range(nl):
            lv = nl - 1 - i
            tsize[p, i] = _size(coef, nranks, p, tile_span[i])
            tmaster[p, i] = _size(coef, nranks, p, master_span[i]) if nsp[i] else -1
            tfan[p, i] = 1
            tnone[p, i] = False
            tpart[p, i] = 0
            tshare[p, i] = 0.0
            acc_k[p, i] = 0
            if i > 0 and nsp[i] == 0 and not keep[lv + 1, p]:
                tnone[p, i] = True
                continue
            if nsp[i] == 0 and i == 0:
                acc_m[p, i, 0] = 1
                acc_a[p, i, 0] = float(compute)
                acc_k[p, i] = 1
                continue
            # temporal loops above the child (digits), innermost first
            k = 0
            for l in range(first[i], n):
                if laxis[l] == 0 and lbound[l] >= 2:
                    digits[k] = l
                    k += 1
            if i == 0:
                total = 1
                for j in range(k):
                    total *= lbound[digits[j]]
            else:
                full = 1
                for r in range(nr):
                    e = 1
                    for d in range(nd):
                        e += coef[p, r, d] * (tile_span[i - 1, d] - 1)
                    ext[r] = e
                    full *= e
                if sliding[p] or legacy:
                    for r in range(nr):
                        acc[r] = 0
                    for j in range(k):
                        l = digits[j]
                        w[j] = lbound[l] - 1
                        for r in range(nr):
                            step = coef[p, r, ldim[l]] * lstride[l]
                            mv[j, r] = step - acc[r]
                            acc[r] += step
                    total = _sweep(k, w, mv, nr, ext, full, legacy, ov, zero, canon, sid, fv, fs, gv, gs)
                else:  # no sliding windows: every move of the tile refetches all of it
                    total = full
                    moved = False
                    for j in range(k):
                        l = digits[j]
                        if not moved:
                            for r in range(nr):
                                if coef[p, r, ldim[l]] != 0:
                                    moved = True
                        if moved:
                            total *= lbound[l]
            if nsp[i] == 0:
                acc_m[p, i, 0] = 1
                acc_a[p, i, 0] = float(total)
                acc_k[p, i] = 1
                continue
            children = 1
            for l in range(first[i], first[i] + nsp[i]):
                children *= lbound[l]
            tfan[p, i] = children
            mc = multicast[lv] and not (read_write[p] and not spatial_reduction[lv])
            if total == 0:
                acc_k[p, i] = 0
            elif not mc:
                acc_m[p, i, 0] = 1
                acc_a[p, i, 0] = float(total * children)
                acc_k[p, i] = 1
            else:
                key = gkey[p, i]
                same = key[0] == nsp[i]
                for j in range(nsp[i]):
                    l = first[i] + j
                    if same and (key[1 + 3 * j] != ldim[l] or key[2 + 3 * j] != lbound[l]
                                 or key[3 + 3 * j] != lstride[l]):
                        same = False
                if not same:  # not the fanout's last grouping: compute and remember it
                    entries = _groups(p, coef, nranks, first[i], nsp[i], ldim, lbound, lstride, hist_m, hist_n,
                                      vals_, cnts, nvals, rb, rs, marks, index)
                    key[0] = nsp[i]
                    for j in range(nsp[i]):
                        l = first[i] + j
                        key[1 + 3 * j] = ldim[l]
                        key[2 + 3 * j] = lbound[l]
                        key[3 + 3 * j] = lstride[l]
                    key[3 * nsp[i] + 1] = entries
                    for e in range(entries):
                        gres[p, i, 0, e] = hist_m[e]
                        gres[p, i, 1, e] = hist_n[e]
                entries = key[3 * nsp[i] + 1]
                for e in range(entries):
                    acc_m[p, i, e] = gres[p, i, 0, e]
                    acc_a[p, i, e] = float(total * gres[p, i, 1, e])
                acc_k[p, i] = entries

        # ---- (reads, fills, updates) per level (analysis._collapse without link transfers)
        part = tsize[p, nl - 1]
        tpart[p, nl - 1] = part
        for i in range(nl - 2, -1, -1):
            denominator = tmaster[p, i + 1] if nsp[i + 1] else tsize[p, i]
            if denominator:
                part = part * tsize[p, i] // denominator
            tpart[p, i] = part
        for i in range(nl - 1):
            s = 0.0
            if not tnone[p, i + 1]:
                for e in range(acc_k[p, i + 1]):
                    s += acc_a[p, i + 1, e] * acc_m[p, i + 1, e] / tfan[p, i + 1]
            tshare[p, i] = s
        for cur in range(nl):
            lv = nl - 1 - cur
            if tsize[p, cur] == 0 or keep[lv, p]:
                continue
            if cur == nl - 1:
                tsize[p, cur] = 0
                tpart[p, cur] = 0
                acc_k[p, cur] = 0
                tnone[p, cur] = False
                tshare[p, cur] = 0.0
                break
            o = cur + 1
            content = 0.0
            for e in range(acc_k[p, cur]):
                content += acc_a[p, cur, e]
            if tnone[p, o]:
                acc_m[p, o, 0] = 1
                acc_a[p, o, 0] = content * tfan[p, o]
                acc_k[p, o] = 1
                tnone[p, o] = False
            else:
                weighted = 0.0
                for e in range(acc_k[p, o]):
                    weighted += acc_a[p, o, e] * acc_m[p, o, e]
                factor = content * tfan[p, o] / weighted if weighted else 0.0
                kk = 0
                for e in range(acc_k[p, o]):
                    if acc_a[p, o, e] != 0.0:
                        acc_m[p, o, kk] = acc_m[p, o, e]
                        acc_a[p, o, kk] = acc_a[p, o, e] * factor
                        kk += 1
                acc_k[p, o] = kk
            tsize[p, cur] = 0
            tpart[p, cur] = 0
            acc_k[p, cur] = 0
            tshare[p, cur] = 0.0
        for cur in range(nl - 1, -1, -1):
            lv = nl - 1 - cur
            if not keep[lv, p]:
                tsize[p, cur] = 0
                tpart[p, cur] = 0
                acc_k[p, cur] = 0
                tnone[p, cur] = False
                tshare[p, cur] = 0.0
                tmaster[p, cur] = -1
            else:
                tshare[p, cur] = 0.0
                break
        for cur in range(nl):
            if tsize[p, cur] == 0:
                out[p, cur, 0] = 0
                out[p, cur, 1] = 0
                out[p, cur, 2] = 0
                continue
            content = 0.0
            for e in range(acc_k[p, cur]):
                content += acc_a[p, cur, e]
            if read_write[p]:
                outermost = True
                for o in range(cur + 1, nl):
                    if tsize[p, o]:
                        outermost = False
                out[p, cur, 2] = _round(content)
                out[p, cur, 0] = _round(content + 0.0 - tpart[p, cur])
                out[p, cur, 1] = _round(tshare[p, cur] + 0.0 - (0 if outermost else tpart[p, cur]))
            else:
                out[p, cur, 0] = _round(content + 0.0)
                out[p, cur, 1] = int(tshare[p, cur] + 0.0)
                out[p, cur, 2] = 0

    # ---- cycles and energy (analysis.evaluate)
    busy = compute
    for i in range(nl):
        lv = nl - 1 - i
        reads = 0
        writes = 0
        for p in range(npp):
            reads += out[p, i, 0]
            writes += out[p, i, 1] + out[p, i, 2]
        slowdown = 1.0
        read_bw = reads / compute
        write_bw = writes / compute
        if bw_read[lv] >= 0 and bw_read[lv] < read_bw:
            slowdown = min(slowdown, bw_read[lv] / read_bw)
        if bw_write[lv] >= 0 and bw_write[lv] < write_bw:
            slowdown = min(slowdown, bw_write[lv] / write_bw)
        if bw_shared[lv] >= 0 and bw_shared[lv] < read_bw + write_bw:
            slowdown = min(slowdown, bw_shared[lv] / (read_bw + write_bw))
        level_cycles[i] = int(np.ceil(compute / slowdown))
        busy = max(busy, level_cycles[i])

    # ---- energy (analysis.evaluate)
    total_energy = 0.0
    for i in range(nl):
        lv = nl - 1 - i
        clusters = min(xexp[i] * yexp[i], max(instances[lv] // cluster[lv], 1))
        cluster_util = (xexp[i] * yexp[i]) / clusters
        access = 0.0
        network = 0.0
        for p in range(npp):
            vr = -(-out[p, i, 0] // block[lv])
            vf = -(-out[p, i, 1] // block[lv])
            vu = -(-out[p, i, 2] // block[lv])
            access += (vr * e_read[lv] + vf * e_fill[lv] + vu * e_update[lv]) / cluster_util * rep[i]
            content = 0.0
            if tsize[p, i]:
                for e in range(acc_k[p, i]):
                    content += acc_a[p, i, e]
            network += network_energy[lv] * content * rep[i]
        leak = e_leak[lv] * busy * max(1, rep[i])
        total_energy += access + leak + network
    return OK, busy + extra_latency, total_energy + macs * mac_energy


@njit(cache=True)
def analyse(tab, temporal, order, spatial, keep, status, cycles, energy, counts, detail):
    """Analyse every candidate ``b`` of ``temporal[b, level, dim]`` (factors), ``order[b,
    level, :]`` (dimensions, innermost first), ``spatial[b, level, axis, dim]`` (X = 0, Y = 1)
    and ``keep[b, level, dataspace]``, levels outermost first. Writes ``status[b]`` (``OK`` or
    why the candidate is invalid), ``cycles[b]``, ``energy[b]`` (joules) and, if ``detail``,
    ``counts[b, level, dataspace] = (reads, fills, updates)`` per instance.

    ``tab``: (bounds, coef[dataspace, rank, dim], nranks, read_write, sliding, then per
    level outermost first: capacity, block, e_read, e_fill, e_update, e_leak, bw_read,
    bw_write, bw_shared, multicast, spatial_reduction, network_energy, instances, cluster,
    fan_x, fan_y; then mac_energy, extra_latency, legacy). Bandwidths, capacities: negative
    = unbounded."""
    nl = temporal.shape[1]
    nd = temporal.shape[2]
    coef = tab[1]
    ws = workspace(nl, nd, coef.shape[0], coef.shape[1], max_fanout(tab))
    out = ws[10]
    for b in range(temporal.shape[0]):
        st, cy, en = evaluate_one(tab, temporal[b], order[b], spatial[b], keep[b], ws)
        status[b] = st
        cycles[b] = cy
        energy[b] = en
        if detail and st == OK:
            for i in range(nl):
                for p in range(coef.shape[0]):
                    for c in range(3):
                        counts[b, nl - 1 - i, p, c] = out[p, i, c]
