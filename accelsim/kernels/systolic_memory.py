"""Line-by-line simulation of a systolic array's double-buffered SRAMs and their DRAM traffic.

This is the memory model of SCALE-Sim 3.0.0 (``memory/double_buffered_scratchpad_mem.py``,
``read_buffer.py``, ``read_buffer_estimate_bw.py``, ``write_buffer.py``), rewritten over
integer arrays so that it runs in time proportional to the number of operand accesses
rather than SCALE-Sim's per-address Python sets and matrix concatenations. Nothing here
knows the IR or the specs: the caller describes the operands as address tables and the
dataflow as a small descriptor table (see :func:`simulate_memory`).

The array consumes one *demand line* per cycle. Folds (array-sized tiles) run back to back,
column folds outer, row folds inner; each fold has ``fold_len`` lines. In every line each
operand touches a set of array lanes; lane ``c`` of an operand at line ``l`` of a fold
reads (or, for the output, writes) the element at time index ``t = l - prefix - c``
(skewed operands) or ``t = l - prefix`` (unskewed preloads), so the demand is never built as
a matrix. Line ``i`` is issued at cycle ``i + stalls so far``; each buffer returns the cycle
it served the line, and the line's stall is the largest excess over the hit latency (1 for
reads, 0 for writes).

Read buffers come in SCALE-Sim's two bandwidth modes:

* ``CALC`` (estimate): never stalls. It tracks which words must come from DRAM: the distinct
  addresses of the request stream are cut into *epochs* of ``sets * items_per_set`` new
  words (the active half of the buffer); within an epoch a word already fetched hits,
  across epochs everything is fetched again. DRAM reads are the words fetched.
* ``USER``: the operand is prefetched in a fixed order (see :func:`prefetch_sequence`),
  cut into ``n_sets`` sets of ``ceil(size / 100)`` words; the active window holds ``A``
  consecutive sets (cyclically). A miss slides the window by ``P`` sets and issues a refill
  of ``lines_p`` DRAM lines right after the previous refill; the requesting line waits for
  it. SCALE-Sim adds a positive wait twice and a negative one (refill already done) once,
  i.e. it *subtracts* it; ``double_count=False`` adds a positive wait once and ignores a
  negative one.

The write buffer collects output words into lines of ``BW`` words and drains ``drain``
words' worth of lines to DRAM whenever more than the drain half is occupied (one line per
cycle), stalling the array only when the buffer is full while a drain is in flight. A
partially filled line that is flushed before a drain is counted as a whole line when it is
not the last line of the drain (SCALE-Sim's accounting, kept as is). Only word counts matter
to it, so it advances a line's words in bulk, event to event.

Speed: per line, the work is a handful of operations per operand plus one per word that a
buffer must look up (CALC reads, and USER reads of an operand that does not fit); words are
labelled so that a line touches consecutive labels (see ``accelsim.hw.systolic.lowering``).
"""

from __future__ import annotations

import numpy as np

from .jit import njit

__all__ = ["simulate_memory", "prefetch_sequence", "build_sets", "count_words", "DESC_FIELDS",
           "RESULT_FIELDS", "CALC_FIELDS", "USER_FIELDS", "WRITE_FIELDS"]

# Columns of the per-operand descriptor table (rows: 0 = ifmap, 1 = filter, 2 = ofmap).
DESC_FIELDS = ("lane_by_col_fold", "lane_block", "time_blocked", "skew", "prefix", "time_len")
# Read-buffer constants per read operand, by mode.
CALC_FIELDS = ("first_epoch_words", "epoch_words", "items_per_set", "bandwidth", "prefetch_sets")
USER_FIELDS = ("n_sets", "active_sets", "prefetch_sets", "init_lines", "refill_lines", "bandwidth",
               "computed_sets", "lane_extent", "block", "time_len", "words_per_set")
# (a USER buffer with active_sets >= n_sets holds the whole operand: it never misses and
# needs no set lists)
WRITE_FIELDS = ("size", "active", "drain", "bandwidth")
# Entries of the result vector.
RESULT_FIELDS = (
    "last_ofmap_cycle", "stall_cycles", "lines",
    "sram_ifmap_start", "sram_ifmap_stop", "sram_filter_start", "sram_filter_stop",
    "sram_ofmap_start", "sram_ofmap_stop",
    "dram_ifmap_start", "dram_ifmap_stop", "dram_ifmap_reads",
    "dram_filter_start", "dram_filter_stop", "dram_filter_reads",
    "dram_ofmap_start", "dram_ofmap_stop", "dram_ofmap_writes",
    "error",
)


@njit(cache=True)
def _calc_read(buf, n, cycle, k, const, state, last_epoch, base):
    """CALC read buffer ``k``: record the fetches of one line; never stalls.

    state[k]: 0 epoch, 1 words in epoch, 2 words fetched, 3 first request cycle,
    4 seen a request, 5 epochs completed, 6 cycle of the last completion.
    ``last_epoch[base + a]``: the last epoch in which address ``a`` was fetched.
    """
    if n > 0 and state[k, 4] == 0:
        state[k, 3] = cycle
        state[k, 4] = 1
    epoch = state[k, 0]
    for i in range(n):
        a = base + buf[i]
        if last_epoch[a] == epoch:
            continue
        last_epoch[a] = epoch
        state[k, 1] += 1
        state[k, 2] += 1
        limit = const[k, 0] if state[k, 5] == 0 else const[k, 1]
        if state[k, 1] == limit:
            state[k, 5] += 1
            state[k, 6] = cycle
            epoch += 1
            state[k, 0] = epoch
            state[k, 1] = 0
    return cycle + 1


@njit(cache=True)
def _set_of(a, ids, const, k):
    """The set holding address ``a`` of a dense operand (distinct, unpadded words): listed in
    ``ids``, or computed when the operand is prefetched row by row (``const[k, 6]``): its
    addresses are lane-fastest (``a = time * lanes + lane``) and its lane blocks are full
    but the last, so the word's place in the prefetch order is a closed form."""
    if const[k, 6] == 0:
        return ids[a]
    extent = const[k, 7]
    block = const[k, 8]
    lane = a % extent
    b = lane // block
    width = min(block, extent - b * block)
    return (b * block * const[k, 9] + (a // extent) * width + lane - b * block) // const[k, 10]


@njit(cache=True)
def _user_read(buf, n, cycle, k, const, state, ptr, ids, dense, double_count):
    """USER read buffer ``k``: serve one line, sliding the window on misses; return the
    service cycle. state[k]: 0 window start set, 1 last refill cycle, 2 refills, 3 error.

    An address ``a`` hits when one of the sets holding it (``ids[ptr[a]:ptr[a + 1]]``,
    ascending; for a ``dense`` operand the one set of :func:`_set_of`) is among the
    ``active`` sets from the window start, cyclically over ``n_sets``.
    """
    n_sets = const[k, 0]
    active = const[k, 1]
    step = const[k, 2]
    refill = const[k, 4]
    offset = 1
    for i in range(n):
        a = buf[i]
        tries = 0
        while True:
            start = state[k, 0]
            if dense:
                d = _set_of(a, ids, const, k) - start
                if d < 0:
                    d += n_sets
                if d < active:
                    break
            else:
                # first set id >= start (binary search over the address's ascending ids)
                lo = ptr[a]
                hi = ptr[a + 1]
                left = lo
                right = hi
                while left < right:
                    mid = (left + right) // 2
                    if ids[mid] < start:
                        left = mid + 1
                    else:
                        right = mid
                end = start + active
                if (left < hi and ids[left] < end) or (end > n_sets and lo < hi and ids[lo] < end - n_sets):
                    break
            tries += 1
            if tries > n_sets + 1:  # the address is in no set: a caller bug, not a stall
                state[k, 3] = 1
                break
            state[k, 0] = (start + step) % n_sets
            state[k, 1] += refill + 1
            state[k, 2] += 1
            wait = state[k, 1] - (cycle + offset)
            if double_count:
                offset += wait
                if wait > 0:
                    offset += wait
            elif wait > 0:
                offset += wait
    return cycle + offset


@njit(cache=True)
def _run_hits(ids, const, k, first, last, start):
    """Whether every word of a demand line hits, for a dense operand. Such a line is a
    contiguous run of the prefetch order (a piece of one row, or of one anti-diagonal, of
    the stacked operand), so its set ids rise from the first word's to the last word's
    without gaps, and checking the two ends suffices."""
    n_sets = const[k, 0]
    f = _set_of(first, ids, const, k)
    g = _set_of(last, ids, const, k)
    lo = f - start
    hi = g - start
    if lo < 0:
        lo += n_sets
    if hi < 0:
        hi += n_sets
    return hi < const[k, 1] and hi - lo == g - f


@njit(cache=True)
def _drain(start, wst, wconst, part_idx, part_val):
    """Drain up to ``drain`` words' worth of lines from the write buffer, one line per cycle
    from ``start``; return the last cycle. wst: 0 free, 1 words in open line, 2 lines,
    3 first line not drained, 4 drain end, 5 writes, 6 first DRAM cycle, 7 last DRAM cycle,
    8 partial lines, 9 partial cursor, 10 drained at all."""
    bw = wconst[3]
    per_drain = (wconst[2] + bw - 1) // bw
    first = wst[3]
    end = min(first + per_drain, wst[2])
    lines = end - first
    last_valid = bw
    p = wst[9]
    while p < wst[8] and part_idx[p] < end - 1:
        p += 1
    wst[9] = p
    if p < wst[8] and part_idx[p] == end - 1:
        last_valid = part_val[p]
    words = lines * bw - (bw - last_valid)
    wst[5] += words
    wst[0] += words
    stop = start + lines - 1
    if wst[10] == 0 or start < wst[6]:
        wst[6] = start
    if wst[10] == 0 or stop > wst[7]:
        wst[7] = stop
    wst[10] = 1
    wst[3] = end
    return stop


@njit(cache=True)
def _flush(wst, part_idx, part_val):
    """Close the open line (if any) as a partial line; return the (maybe grown) arrays."""
    if wst[1] != 0:
        if wst[8] == part_idx.shape[0]:
            grown_idx = np.empty(2 * part_idx.shape[0], np.int64)
            grown_val = np.empty(2 * part_idx.shape[0], np.int64)
            grown_idx[:wst[8]] = part_idx[:wst[8]]
            grown_val[:wst[8]] = part_val[:wst[8]]
            part_idx = grown_idx
            part_val = grown_val
        part_idx[wst[8]] = wst[2]
        part_val[wst[8]] = wst[1]
        wst[8] += 1
        wst[2] += 1
        wst[1] = 0
    return part_idx, part_val


@njit(cache=True)
def simulate_memory(R, fold_len, rows_used, cols_used, desc, lane_off, time_off,
                    lb, ly, lx, tb, ty, tx, height, width, dense, n_addr,
                    user, rd_const, ptr0, ids0, ptr1, ids1, wconst, double_count):
    """Run every demand line of one GEMM through the three buffers.

    Args:
        R: array rows. ``fold_len``: demand lines per fold.
        rows_used, cols_used: lanes holding real work in each row fold / column fold.
        desc: int64[3, 6], per operand (ifmap, filter, ofmap) the fields of ``DESC_FIELDS``:
            whether its lanes are blocked by the column fold (else the row fold), the block
            width, whether its time index runs over the row fold's rows bottom-up (else over
            ``time_len``), whether lane ``c`` is delayed ``c`` lines, and the idle prefix.
        lane_off, time_off: where each operand's lane and time tables start in the
            concatenated tables ``lb, ly, lx`` (lane) and ``tb, ty, tx`` (time). Element
            (lane a, time b) has address ``lb[a] + tb[b]`` and exists when
            ``0 <= ly[a] + ty[b] < height`` and ``0 <= lx[a] + tx[b] < width``.
        dense: int64[3], 1 where every element of the operand exists (no padding) and has an
            address of its own; the output must be dense.
        n_addr: int64[3], the number of distinct addresses of each operand (addresses are
            0-based per operand).
        user: USER bandwidth mode (finite DRAM bandwidth); else CALC.
        rd_const: int64[2, 11], per read operand the fields of ``USER_FIELDS`` or
            ``CALC_FIELDS``.
        ptr0, ids0, ptr1, ids1: USER-mode set lists of ifmap and filter (CSR from
            :func:`build_sets`; for ``dense[k]`` operands one set id per address, ``ptr``
            unused, or nothing when ``computed_sets``). Unused in CALC mode and for an operand that
            fits.
        wconst: int64[4], the write buffer's ``WRITE_FIELDS``.
        double_count: add a positive USER-mode read wait twice and a negative one once
            (SCALE-Sim 3.0.0), else add positive waits once.

    Returns:
        int64 vector in the order of ``RESULT_FIELDS``.
    """
    n_rf = rows_used.shape[0]
    n_cf = cols_used.shape[0]
    buf = np.empty(max(desc[0, 1], desc[1, 1]), np.int64)
    rstate = np.zeros((2, 7), np.int64)
    last = np.full(1 if user else n_addr[0] + n_addr[1], -1, np.int64)
    fits = np.zeros(2, np.int64)
    if user:
        for k in range(2):
            rstate[k, 1] = -1  # the active half is prefetched to end at cycle -1
            fits[k] = rd_const[k, 1] >= rd_const[k, 0]  # never a miss: no lookups
    wst = np.zeros(11, np.int64)
    wst[0] = wconst[0]
    bw_out = wconst[3]
    part_idx = np.empty(16, np.int64)
    part_val = np.empty(16, np.int64)
    sram = np.full(6, -1, np.int64)
    seen = np.zeros(3, np.int64)
    stalls = 0
    line_id = 0
    ofmap_out = 0
    # The per-line work is written out here rather than in helpers: numba passes every
    # array argument of a call with reference counting, which costs more than the work.
    for fc in range(n_cf):
        for fr in range(n_rf):
            for line in range(fold_len):
                cycle = line_id + stalls
                worst = 0
                for k in range(3):
                    # the lanes this operand touches at this line: lane j of `count` reads
                    # lane-table entry ia + j and time-table entry ib + j * step
                    if desc[k, 0]:
                        used = cols_used[fc]
                        lane0 = fc * desc[k, 1]
                    else:
                        used = rows_used[fr]
                        lane0 = fr * desc[k, 1]
                    if desc[k, 2]:  # time runs over this row fold's R rows, bottom row first
                        t_len = R
                        t_min = R - rows_used[fr]
                    else:
                        t_len = desc[k, 5]
                        t_min = 0
                    s = line - desc[k, 4]
                    count = 0
                    ia = ib = step = 0
                    if desc[k, 3]:  # skewed: lane c runs c lines late
                        c_lo = max(0, s - t_len + 1)
                        c_hi = min(used - 1, s - t_min)
                        if c_hi >= c_lo:
                            count = c_hi - c_lo + 1
                            t = s - c_lo
                            step = -1
                    elif t_min <= s < t_len:
                        c_lo = 0
                        count = used
                        t = s
                    if count > 0:
                        ia = lane_off[k] + lane0 + c_lo
                        if desc[k, 2]:
                            ib = time_off[k] + fr * R + R - 1 - t
                            step = -step
                        else:
                            ib = time_off[k] + t
                    if k == 2:
                        # the output buffer: word by word SCALE-Sim stores a word, then
                        # waits for the drain in flight if the buffer is now full, or (no
                        # drain in flight) starts a drain once more than the drain half is
                        # used; between those events words only fill lines, so in bulk.
                        current = cycle
                        left = count
                        while left > 0:
                            if current < wst[4]:
                                j = max(wst[0], 1)  # the word that fills the buffer
                            else:
                                j = max(wst[0] - wconst[1] + 1, 1)  # the word that crosses into the drain half
                            take = min(j, left)
                            wst[0] -= take
                            wst[1] += take
                            wst[2] += wst[1] // bw_out
                            wst[1] = wst[1] % bw_out
                            left -= take
                            if take < j:
                                break
                            if current < wst[4]:
                                current = wst[4]
                            else:
                                part_idx, part_val = _flush(wst, part_idx, part_val)
                                wst[4] = _drain(current, wst, wconst, part_idx, part_val)
                        ofmap_out = current
                        served = count
                        out = current
                        worst = max(worst, current - cycle)
                    else:
                        served = 0
                        out = cycle + 1
                        if count > 0:
                            if fits[k] and dense[k]:
                                served = count
                            elif user and dense[k] and _run_hits(
                                    ids0 if k == 0 else ids1, rd_const, k, lb[ia] + tb[ib],
                                    lb[ia + count - 1] + tb[ib + (count - 1) * step], rstate[k, 0]):
                                served = count
                            else:  # the words of the span, padding skipped
                                h = height[k]
                                w = width[k]
                                for _ in range(count):
                                    y = ly[ia] + ty[ib]
                                    x = lx[ia] + tx[ib]
                                    if 0 <= y < h and 0 <= x < w:
                                        buf[served] = lb[ia] + tb[ib]
                                        served += 1
                                        if fits[k]:
                                            break  # only "any word?" matters
                                    ia += 1
                                    ib += step
                                if not fits[k]:
                                    if user and k == 0:
                                        out = _user_read(buf, served, cycle, 0, rd_const, rstate, ptr0, ids0,
                                                         dense[0], double_count)
                                    elif user:
                                        out = _user_read(buf, served, cycle, 1, rd_const, rstate, ptr1, ids1,
                                                         dense[1], double_count)
                                    else:
                                        out = _calc_read(buf, served, cycle, k, rd_const, rstate, last,
                                                         k * n_addr[0])
                        worst = max(worst, out - cycle - 1)
                    if served > 0:  # first and last cycle this operand was served a word
                        if seen[k] == 0:
                            sram[2 * k] = out
                            seen[k] = 1
                        sram[2 * k + 1] = out
                stalls += worst
                line_id += 1
    # drain whatever is left, line after line, from the last line's cycle
    part_idx, part_val = _flush(wst, part_idx, part_val)
    start = ofmap_out
    while wst[3] < wst[2]:
        wst[4] = _drain(start, wst, wconst, part_idx, part_val)
        start = wst[4] + 1
    res = np.zeros(len(RESULT_FIELDS), np.int64)
    res[0] = ofmap_out
    res[1] = stalls
    res[2] = line_id
    for i in range(6):
        res[3 + i] = sram[i]
    for k in range(2):
        base = 9 + 3 * k
        if user:
            res[base] = -rd_const[k, 3]
            res[base + 1] = rstate[k, 1]
            res[base + 2] = (rd_const[k, 3] + rstate[k, 2] * rd_const[k, 4]) * rd_const[k, 5]
            if rstate[k, 3]:
                res[18] = 1
        else:
            items = rd_const[k, 2]
            bw = rd_const[k, 3]
            if rstate[k, 5] == 0:  # the whole operand fitted in one epoch
                sets = (rstate[k, 2] + items - 1) // items
                res[base] = -((sets * items + bw - 1) // bw)
                res[base + 1] = -1
            else:
                res[base] = rstate[k, 3] - (rd_const[k, 4] * items + bw - 1) // bw
                res[base + 1] = rstate[k, 6] + 1
            res[base + 2] = rstate[k, 2]
    res[15] = wst[6]
    res[16] = wst[7]
    res[17] = wst[5]
    return res


@njit(cache=True)
def element_address(a, t, lb, ly, lx, tb, ty, tx, height, width):
    """Address of the operand element at (lane ``a``, time ``t``), or -1 where it is padding."""
    y = ly[a] + ty[t]
    x = lx[a] + tx[t]
    if 0 <= y < height and 0 <= x < width:
        return lb[a] + tb[t]
    return -1


@njit(cache=True)
def count_words(lb, ly, lx, tb, ty, tx, height, width):
    """How many (lane, time) elements of an operand exist (are not padding)."""
    n = 0
    for a in range(lb.shape[0]):
        for t in range(tb.shape[0]):
            if element_address(a, t, lb, ly, lx, tb, ty, tx, height, width) >= 0:
                n += 1
    return n


@njit(cache=True)
def prefetch_sequence(lb, ly, lx, tb, ty, tx, height, width, lane_extent, block, time_len, diagonal):
    """The order in which a USER-mode read buffer prefetches an operand (-1 = no word).

    The operand is cut into lane blocks of ``block`` lanes; the blocks are stacked into a
    ``(n_blocks * time_len) x block`` matrix (block ``b``, time ``t`` -> row
    ``b * time_len + t``), which is read row by row, or along anti-diagonals (diagonal
    ``d`` from its bottom-left element up) when ``diagonal``.
    """
    n_blocks = (lane_extent + block - 1) // block
    rows = n_blocks * time_len
    seq = np.empty(rows * block, np.int64)
    idx = 0
    # (the address computation is written out in both loops: numba does not optimise it
    # as well behind a call)
    if diagonal:
        for d in range(rows + block - 1):
            r = min(d, rows - 1)
            r_lo = max(0, d - block + 1)
            b = r // time_len
            t = r - b * time_len
            c = d - r
            while r >= r_lo:
                a = b * block + c
                value = -1
                if a < lane_extent:
                    value = element_address(a, t, lb, ly, lx, tb, ty, tx, height, width)
                seq[idx] = value
                idx += 1
                r -= 1
                c += 1
                t -= 1
                if t < 0:
                    t = time_len - 1
                    b -= 1
    else:
        for b in range(n_blocks):
            for t in range(time_len):
                for c in range(block):
                    a = b * block + c
                    value = -1
                    if a < lane_extent:
                        value = element_address(a, t, lb, ly, lx, tb, ty, tx, height, width)
                    seq[idx] = value
                    idx += 1
    return seq


@njit(cache=True)
def build_sets(seq, words_per_set, n_addr, unique):
    """Cut the valid words of ``seq`` into sets of ``words_per_set`` (in order) and list,
    for every address, the ascending ids of the sets holding it (CSR: ``ptr``, ``ids``).
    Returns ``(ptr, ids, n_sets)``; the last set may be empty, as in SCALE-Sim.

    ``unique``: every address occurs once in ``seq``; then ``ids[a]`` is address ``a``'s set
    (one pass) and ``ptr`` is left empty."""
    if unique:
        ids = np.empty(n_addr, np.int64)
        pos = 0
        set_id = 0
        for v in seq:
            if v >= 0:
                ids[v] = set_id
                pos += 1
                if pos == words_per_set:
                    set_id += 1
                    pos = 0
        return np.empty(0, np.int64), ids, set_id + 1
    counts = np.zeros(n_addr + 1, np.int64)
    valid = 0
    for v in seq:
        if v >= 0:
            counts[v + 1] += 1
            valid += 1
    ptr = np.cumsum(counts)
    ids = np.empty(valid, np.int64)
    fill = ptr[:-1].copy()
    set_id = 0
    in_set = 0
    for v in seq:
        if v >= 0:
            ids[fill[v]] = set_id
            fill[v] += 1
            in_set += 1
            if in_set == words_per_set:
                set_id += 1
                in_set = 0
    return ptr, ids, valid // words_per_set + 1
