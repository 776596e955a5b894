"""Numeric kernels of LDPC reconciliation on quasi-cyclic codes: construction, syndromes, decoding.

Pure functions on numpy arrays, compiled with numba through ``euroqci._jit.njit`` (plain Python
under ``NUMBA_DISABLE_JIT=1``).

A quasi-cyclic (QC) code is a base matrix of ``mb`` rows and ``nb`` columns whose non-zero
entries are ``Z x Z`` circulant permutations, listed as base edges sorted by row:
row ``r`` holds edges ``row_ptr[r] : row_ptr[r + 1]``, edge ``e`` joins base column
``cols[e]`` with shift ``shifts[e]``. Lifted check ``r * Z + z`` covers variable
``cols[e] * Z + (z + shifts[e]) % Z`` for each edge ``e`` of row ``r``. The ``Z`` checks of a
base row touch every variable of a block column at most once, so they are updated together:
each edge is a rotated contiguous vector of length ``Z``, which the compiler vectorises.
Check-to-variable messages are kept as ``c2v[e * Z + z]`` (edge-major).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from euroqci._jit import accelerated, njit

#: Check-node rules of :func:`qc_decode`.
RULE_SUM_PRODUCT = 0
RULE_SUM_PRODUCT_TABLE = 1
RULE_MIN_SUM = 2
RULE_SUM_PRODUCT_FAST = 3
RULE_BOX_PLUS = 4
#: The table of phi(x) = -ln tanh(x / 2) samples bins of this width, up to PHI_TABLE_MAX.
PHI_STEP = 1.0 / 512.0
PHI_TABLE_MAX = 16.0


@njit(cache=True, nogil=True)
def _bfs_levels(
    j,
    n_b,
    m_b,
    z_size,
    col_edges,
    col_deg,
    row_edges,
    row_deg,
    e_col,
    e_shift,
    e_row,
    level_c,
    seen_v,
    frontier,
    nxt,
):
    """Breadth-first search in the lifted graph from variable ``(j, 0)``.

    Writes ``level_c[check]``: the depth (1, 2, ...) at which each lifted check is first
    reached, or 0 if it is not reached. Returns the deepest level reached.
    """
    level_c[:] = 0
    seen_v[:] = 0
    seen_v[j * z_size] = 1
    frontier[0] = j * z_size
    nf = 1
    depth = 0
    while nf > 0:
        depth += 1
        nn = 0
        for t in range(nf):
            v = frontier[t]
            jb = v // z_size
            tv = v - jb * z_size
            for k in range(col_deg[jb]):
                e = col_edges[jb, k]
                r = e_row[e]
                zc = tv - e_shift[e]
                if zc < 0:
                    zc += z_size
                c = r * z_size + zc
                if level_c[c] != 0:
                    continue
                level_c[c] = depth
                for q in range(row_deg[r]):
                    f = row_edges[r, q]
                    zv = zc + e_shift[f]
                    if zv >= z_size:
                        zv -= z_size
                    u = e_col[f] * z_size + zv
                    if seen_v[u] == 0:
                        seen_v[u] = 1
                        nxt[nn] = u
                        nn += 1
        for t in range(nn):
            frontier[t] = nxt[t]
        nf = nn
    last = 0
    for c in range(m_b * z_size):
        last = max(last, level_c[c])
    return last


@njit(cache=True, nogil=True)
def qc_peg(col_degrees, m_b, z_size, max_row_degree, row_ties, shift_starts):
    """Quasi-cyclic progressive edge growth (Li and Kim, "Efficient progressive edge-growth
    algorithm based on Chinese remainder theorem" / QC-PEG, IEEE GLOBECOM 2004; Hu, Eleftheriou,
    Arnold, IEEE TIT 51, 386 (2005), Alg. 1, applied to circulant blocks).

    Columns are taken in the given order (non-decreasing degree, as in PEG). Each new base edge
    of column ``j`` is a circulant: a row ``r`` and a shift ``s``. A breadth-first search of the
    lifted graph from variable ``(j, 0)`` finds the lifted checks farthest from it (not reached
    at all, or else reached last); among them the edge takes the row of lowest degree (ties by
    ``row_ties``) that column ``j`` does not use yet, and the shift that joins ``(j, 0)`` to one
    of that row's farthest checks (the first found scanning from ``shift_starts[edge]``). The
    lifted graph is invariant under the cyclic shift of each block, so every variable of the
    column gets the local girth of ``(j, 0)``.

    Returns ``(rows, cols, shifts)`` of the base edges in the order they were placed.
    """
    n_b = col_degrees.shape[0]
    total = 0
    dmax = 0
    for j in range(n_b):
        total += col_degrees[j]
        dmax = max(dmax, col_degrees[j])
    e_row = np.empty(total, dtype=np.int64)
    e_col = np.empty(total, dtype=np.int64)
    e_shift = np.empty(total, dtype=np.int64)
    col_edges = np.empty((n_b, dmax), dtype=np.int64)
    col_deg = np.zeros(n_b, dtype=np.int64)
    row_edges = np.empty((m_b, max_row_degree), dtype=np.int64)
    row_deg = np.zeros(m_b, dtype=np.int64)
    level_c = np.zeros(m_b * z_size, dtype=np.int64)
    seen_v = np.zeros(n_b * z_size, dtype=np.uint8)
    frontier = np.empty(n_b * z_size, dtype=np.int64)
    nxt = np.empty(n_b * z_size, dtype=np.int64)
    used = np.zeros(m_b, dtype=np.uint8)
    e = 0
    for j in range(n_b):
        used[:] = 0
        for k in range(col_degrees[j]):
            target = 0  # level the edge should reach: 0 = an unreached check
            if k > 0:
                deepest = _bfs_levels(
                    j,
                    n_b,
                    m_b,
                    z_size,
                    col_edges,
                    col_deg,
                    row_edges,
                    row_deg,
                    e_col,
                    e_shift,
                    e_row,
                    level_c,
                    seen_v,
                    frontier,
                    nxt,
                )
                unreached = False
                for c in range(m_b * z_size):
                    if level_c[c] == 0 and used[c // z_size] == 0:
                        unreached = True
                        break
                if not unreached:
                    target = deepest
            best = -1
            best_z = -1
            for r in range(m_b):
                if used[r] or row_deg[r] >= max_row_degree:
                    continue
                if best >= 0 and (
                    row_deg[r] > row_deg[best]
                    or (row_deg[r] == row_deg[best] and row_ties[r] >= row_ties[best])
                ):
                    continue
                # A check of row r at the target level, scanning from a random start.
                found = -1
                for q in range(z_size):
                    zc = (shift_starts[e] + q) % z_size
                    if k == 0 or level_c[r * z_size + zc] == target:
                        found = zc
                        break
                if found >= 0:
                    best = r
                    best_z = found
            if best < 0:
                # No row offers a check at the target level: the least loaded unused row,
                # joined to its farthest check.
                for r in range(m_b):
                    if (
                        used[r] == 0
                        and row_deg[r] < max_row_degree
                        and (best < 0 or row_deg[r] < row_deg[best])
                    ):
                        best = r
                far = -1
                for q in range(z_size):
                    zc = (shift_starts[e] + q) % z_size
                    lv = level_c[best * z_size + zc]
                    score = 1 << 40 if lv == 0 else lv
                    if score > far:
                        far = score
                        best_z = zc
            # Check (best, z) joins variable (j, (z + s) % Z) = (j, 0).
            s = (z_size - best_z) % z_size
            e_row[e] = best
            e_col[e] = j
            e_shift[e] = s
            col_edges[j, col_deg[j]] = e
            col_deg[j] += 1
            row_edges[best, row_deg[best]] = e
            row_deg[best] += 1
            used[best] = 1
            e += 1
    return e_row, e_col, e_shift


@njit(cache=True, nogil=True)
def qc_expand(row_ptr, cols, shifts, z_size):
    """The lifted parity-check matrix in CSR form by checks: ``(chk_ptr, chk_var)``."""
    m_b = row_ptr.shape[0] - 1
    chk_ptr = np.zeros(m_b * z_size + 1, dtype=np.int64)
    chk_var = np.empty(row_ptr[m_b] * z_size, dtype=np.int64)
    k = 0
    for r in range(m_b):
        for z in range(z_size):
            for e in range(row_ptr[r], row_ptr[r + 1]):
                chk_var[k] = cols[e] * z_size + (z + shifts[e]) % z_size
                k += 1
            chk_ptr[r * z_size + z + 1] = k
    return chk_ptr, chk_var


@njit(cache=True, nogil=True)
def qc_syndromes(words, row_ptr, cols, shifts, z_size):
    """Syndrome of each word (F, n) uint8 -> (F, m) uint8."""
    n_frames = words.shape[0]
    m_b = row_ptr.shape[0] - 1
    out = np.zeros((n_frames, m_b * z_size), dtype=np.uint8)
    for f in range(n_frames):
        w = words[f]
        o = out[f]
        for r in range(m_b):
            c0 = r * z_size
            for e in range(row_ptr[r], row_ptr[r + 1]):
                base = cols[e] * z_size
                s = shifts[e]
                head = o[c0 : c0 + z_size - s]
                tail = o[c0 + z_size - s : c0 + z_size]
                src_head = w[base + s : base + z_size]
                src_tail = w[base : base + s]
                for z in range(z_size - s):
                    head[z] ^= src_head[z]
                for z in range(s):
                    tail[z] ^= src_tail[z]
    return out


@njit(cache=True, nogil=True)
def phi_table():
    """phi(x) = -ln tanh(x / 2) at the middle of each bin of width PHI_STEP (float32).

    phi is its own inverse on x > 0 and turns the sum-product check rule into a sum
    (Gallager, Low-Density Parity-Check Codes (1963), ch. 4; Richardson and Urbanke,
    Modern Coding Theory (2008)): the message out of a check on edge ``i`` is
    ``phi(sum_j phi(|x_j|) - phi(|x_i|))`` with the product of the other signs.
    """
    size = int(PHI_TABLE_MAX / PHI_STEP)
    out = np.empty(size, dtype=np.float32)
    for i in range(size):
        x = (i + 0.5) * PHI_STEP
        out[i] = -np.log(np.tanh(0.5 * x))
    return out


#: Polynomial coefficients of the float32 ``exp`` and ``log`` in :func:`_phi` (Cephes
#: ``expf.c`` and ``logf.c``, S. L. Moshier, Cephes Math Library Release 2.x: relative error
#: about 1e-7 on the reduced ranges).
_LOG2E = 1.44269504088896341
_LN2_HI = 0.693359375
_LN2_LO = -2.12194440e-4
_EXP_P = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
          5.0000001201e-1)  # fmt: skip
_LOG_P = (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
          1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
          3.3333331174e-1)  # fmt: skip
#: Bit pattern of float32 sqrt(1/2): ``log`` reduces the mantissa to [sqrt(1/2), sqrt(2)).
_SQRT_HALF_BITS = 0x3F3504F3
#: |LLR| inputs of the tanh-domain rule are clamped to 87 (e^-87 is still a normal float32).
FAST_MAX_INPUT = 87.0
#: Largest magnitude of a message out of a check in the tanh-domain rule: the saturation of the
#: phi-table rule (phi of the middle of its first bin, 7.62). Measured on the shipped codes at
#: QBER 5 % (4 x 128 frames): with this clamp 12 frames met the syndrome with a wrong word
#: (table rule: 11); with float32's own limit (16.6) 15, at the same f within 0.002.
FAST_MAX_MESSAGE = float(-np.log(np.tanh(0.25 * PHI_STEP)))


def _bitcast(source: str, target: str) -> Any:
    """A function that reinterprets the bits of a ``source`` scalar as a ``target`` scalar
    (int32 <-> float32). Compiled: a numba intrinsic that emits an LLVM bitcast (no memory
    round trip, so the loops that use it still vectorise); numba has no scalar bitcast of its
    own. Under ``NUMBA_DISABLE_JIT``: a numpy view."""
    if not accelerated():

        def view(value: Any) -> Any:
            return np.array(value, dtype=source).view(target)[()]

        return view
    from numba import types
    from numba.extending import intrinsic

    def typer(typingctx: Any, value: Any) -> Any:
        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], context.get_value_type(getattr(types, target)))

        return getattr(types, target)(getattr(types, source)), codegen

    return intrinsic(typer)


_f32_from_bits = _bitcast("int32", "float32")
_bits_from_f32 = _bitcast("float32", "int32")


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
def _exp_neg(x):
    """``e^-x`` in float32 for ``0 <= x <= 87`` (Cephes ``expf``: ``2^n e^r``, ``|r| <= ln 2 / 2``,
    ``2^n`` built from its bits, ``e^r`` by a polynomial).

    Written out because numba has no vector ``exp`` here (SVML is not usable with this llvmlite
    build) and a table read per lane compiles to a slow gather; these multiply-adds and a bitcast
    vectorise across the ``Z`` lanes.
    """
    y = -x
    n = np.floor(y * np.float32(_LOG2E) + np.float32(0.5))
    r = y - n * np.float32(_LN2_HI) - n * np.float32(_LN2_LO)
    p = np.float32(_EXP_P[0]) * r + np.float32(_EXP_P[1])
    p = p * r + np.float32(_EXP_P[2])
    p = p * r + np.float32(_EXP_P[3])
    p = p * r + np.float32(_EXP_P[4])
    p = p * r + np.float32(_EXP_P[5])
    scale = _f32_from_bits((np.int32(n) + np.int32(127)) << np.int32(23))
    return (p * r * r + r + np.float32(1.0)) * scale


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy", inline="always")
def _log(v):
    """``ln v`` in float32 for a normal ``v > 0`` (Cephes ``logf``: ``v = 2^k m`` with ``m`` in
    ``[sqrt(1/2), sqrt(2))`` from the bits, ``ln m`` by a polynomial in ``m - 1``); written out
    for the same reason as :func:`_exp_neg`."""
    one = np.float32(1.0)
    bits = _bits_from_f32(v)
    k = (bits - np.int32(_SQRT_HALF_BITS)) >> np.int32(23)
    u = _f32_from_bits(bits - (k << np.int32(23))) - one
    kf = np.float32(k)
    uu = u * u
    q = np.float32(_LOG_P[0]) * u + np.float32(_LOG_P[1])
    q = q * u + np.float32(_LOG_P[2])
    q = q * u + np.float32(_LOG_P[3])
    q = q * u + np.float32(_LOG_P[4])
    q = q * u + np.float32(_LOG_P[5])
    q = q * u + np.float32(_LOG_P[6])
    q = q * u + np.float32(_LOG_P[7])
    q = (q * u + np.float32(_LOG_P[8])) * u * uu
    return u + (q + kf * np.float32(_LN2_LO) - np.float32(0.5) * uu) + kf * np.float32(_LN2_HI)


#: ``ln(1 + e^-x)`` on x >= 0 as the largest of 0 and these lines ``(c0, c1)``: ``c0 + c1 x``
#: (the function is convex, so a maximum of lines fits it; tangent points and a common offset
#: chosen to minimise the largest error, with scipy's Nelder-Mead on a grid of [0, 20]).
#: Measured on the shipped codes (`benchmarks/postprocessing.py --ldpc-fer 64`): two lines
#: (largest error 0.026) gave f within 0.003 of sum-product at 1.25 ns per edge, three lines
#: (0.014) within 0.001 at 1.45 ns, the single line ``max(0, ln 2 - x / 4)`` of Hu et al.
#: (0.13) cost 0.006-0.038 in f.
BOX_PLUS_LINES = ((0.667014, -0.339768), (0.313688, -0.083633))
#: Largest error of that fit of ``ln(1 + e^-x)``; one box-plus errs by at most twice this.
BOX_PLUS_FIT_ERROR = 0.0262


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _log1p_exp_neg(x):
    """``ln(1 + e^-x)`` for ``x >= 0``, piecewise linear (``BOX_PLUS_LINES``): a few
    multiply-adds and maxima that vectorise, where ``log``/``exp`` would not (no SVML here)."""
    y = max(
        np.float32(0.0), np.float32(BOX_PLUS_LINES[0][0]) + np.float32(BOX_PLUS_LINES[0][1]) * x
    )
    return max(y, np.float32(BOX_PLUS_LINES[1][0]) + np.float32(BOX_PLUS_LINES[1][1]) * x)


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _box_plus(a, b):
    """``a [+] b = 2 atanh(tanh(a/2) tanh(b/2)) = sign(a) sign(b) min(|a|, |b|)
    + ln(1 + e^-|a+b|) - ln(1 + e^-|a-b|)`` (Hu, Eleftheriou, Arnold, Dholakia, GLOBECOM 2001),
    the two corrections piecewise linear (:func:`_log1p_exp_neg`)."""
    m = min(abs(a), abs(b))
    m = -m if (a < 0) ^ (b < 0) else m
    return m + _log1p_exp_neg(abs(a + b)) - _log1p_exp_neg(abs(a - b))


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _box_plus_magnitude(p, q):
    """``|a [+] b|`` from ``p = |a|``, ``q = |b|``: ``min(p, q) + ln(1 + e^-(p+q))
    - ln(1 + e^-|p-q|)`` (the sign of ``a [+] b`` is that of ``a b``, tracked apart as a
    parity), with the corrections of :func:`_box_plus`."""
    lo = min(p, q)
    return lo + _log1p_exp_neg(p + q) - _log1p_exp_neg(max(p, q) - lo)


@njit(cache=True, nogil=True, inline="always")
def _count_ones(bits, count):
    """Number of nonzero entries among the first ``count`` of a uint8 array."""
    total = np.int64(0)
    for z in range(count):
        total += np.int64(bits[z])
    return total


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _box_plus_gather(src, me, pi, acc, par, hard, count):
    """Gather of the box-plus rule on ``count`` lanes: ``x = total - message`` read straight
    from the (rotated) totals; ``pi`` gets the magnitude of the forward box-plus sum before
    each edge, ``par`` the parity of the signs of the inputs (on top of the syndrome),
    ``hard`` that of the totals' hard decisions (the check's syndrome test)."""
    for z in range(count):
        t = src[z]
        v = t - me[z]
        pi[z] = acc[z]
        par[z] ^= np.uint8(v < 0)
        hard[z] ^= np.uint8(t < 0)
        acc[z] = _box_plus_magnitude(acc[z], abs(v))


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _box_plus_scatter(dst, me, pi, back, par, count, max_msg):
    """Scatter of the box-plus rule on ``count`` lanes: the message's magnitude from the
    forward sum ``pi`` and the backward sum ``back``, its sign from the row's sign parity
    ``par`` without the edge's own input, written with the new total straight into the
    (rotated) totals ``dst``."""
    for z in range(count):
        v = dst[z] - me[z]
        o = min(_box_plus_magnitude(pi[z], back[z]), max_msg)
        back[z] = _box_plus_magnitude(back[z], abs(v))
        new = -o if par[z] ^ np.uint8(v < 0) else o
        me[z] = new
        dst[z] = v + new


@njit(cache=True, nogil=True, inline="always")
def _rotate_in(out, block, s, z_size):
    """``out[z] = block[(z + s) % Z]``, as two contiguous copies (slices keep the indices
    provably non-negative, so numba emits no wrap-around test and the loops vectorise)."""
    head = out[: z_size - s]
    tail = out[z_size - s :]
    src_head = block[s:]
    src_tail = block[:s]
    for z in range(z_size - s):
        head[z] = src_head[z]
    for z in range(s):
        tail[z] = src_tail[z]


@njit(cache=True, nogil=True, inline="always")
def _rotate_out(block, vec, s, z_size):
    """``block[(z + s) % Z] = vec[z]``, the inverse of :func:`_rotate_in`."""
    head = vec[: z_size - s]
    tail = vec[z_size - s :]
    dst_head = block[s:]
    dst_tail = block[:s]
    for z in range(z_size - s):
        dst_head[z] = head[z]
    for z in range(s):
        dst_tail[z] = tail[z]


@njit(cache=True, nogil=True)
def _syndrome_met(tot, syn, row_ptr, cols, shifts, z_size, par):
    """True when the hard decision of ``tot`` meets ``syn`` (stops at the first bad row)."""
    m_b = row_ptr.shape[0] - 1
    for r in range(m_b):
        c0 = r * z_size
        for z in range(z_size):
            par[z] = syn[c0 + z]
        for e in range(row_ptr[r], row_ptr[r + 1]):
            base = cols[e] * z_size
            s = shifts[e]
            head = par[: z_size - s]
            tail = par[z_size - s :]
            src_head = tot[base + s : base + z_size]
            src_tail = tot[base : base + s]
            for z in range(z_size - s):
                head[z] ^= np.uint8(src_head[z] < 0)
            for z in range(s):
                tail[z] ^= np.uint8(src_tail[z] < 0)
        bad = np.uint8(0)
        for z in range(z_size):
            bad |= par[z]
        if bad:
            return False
    return True


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def qc_decode(
    totals,
    c2v,
    syndromes,
    frame_index,
    row_ptr,
    cols,
    shifts,
    z_size,
    max_iterations,
    rule,
    scale,
    patience=0,
):
    """Layered belief propagation towards a syndrome on a QC code, resumable.

    Layered schedule by base rows: the ``Z`` checks of a base row share no variable, so they
    are updated at once as vectors of length ``Z``, each reading the current totals (a check
    sees the messages of the rows before it in the same sweep: about half the sweeps of the
    flooding schedule, Hocevar, IEEE SiPS 2004). Check rules: ``RULE_SUM_PRODUCT``, the exact
    rule in the phi domain (``phi(x) = -ln tanh(x/2)`` evaluated with ``log``/``tanh``);
    ``RULE_SUM_PRODUCT_TABLE``, the same with phi read from a table of bins ``PHI_STEP`` wide
    (the protocol's rule before); ``RULE_SUM_PRODUCT_FAST``, the same rule in the tanh domain,
    ``2 atanh(prod_{j != i} tanh(|x_j| / 2))`` with the product of the other signs (Gallager
    1963; Richardson and Urbanke 2008, the check-node update of BP), the products of the others
    built forwards and backwards along the row's edges (no division, so a zero input is fine)
    and ``exp``/``log`` as vectorisable float32 polynomials (:func:`_exp_neg`, :func:`_log`):
    no table reads, messages saturated at ``FAST_MAX_MESSAGE``; ``RULE_BOX_PLUS``, the
    box-plus operator ``a [+] b = 2 atanh(tanh(a/2) tanh(b/2))`` in its exact form
    ``sign(a) sign(b) min(|a|, |b|) + ln(1 + e^-|a+b|) - ln(1 + e^-|a-b|)`` with both
    corrections piecewise linear (Hu, Eleftheriou, Arnold, Dholakia, "Efficient
    implementations of the sum-product algorithm for decoding LDPC codes", IEEE GLOBECOM 2001),
    the message of each edge from forward and backward box-plus sums along the row
    (``3 (d - 2)`` operations per row), saturated like the others (what the protocol uses);
    ``RULE_MIN_SUM``, normalised min-sum (Chen and Fossorier, IEEE Commun. Lett. 6, 208
    (2002)) with factor ``scale``.

    Parameters
    ----------
    totals : (F, n) float32
        Per frame, the a-posteriori LLR of each variable, ``prior + sum of c2v`` (positive means
        bit 0). Start with the priors; updated in place.
    c2v : (F, E * Z) float32
        Check-to-variable messages (edge-major); start with zeros; updated in place. Keeping
        ``totals`` and ``c2v`` lets a caller change some priors (add the change to ``totals``)
        and resume where the last call stopped.
    syndromes : (F, m) uint8
        The syndrome each frame must meet.
    frame_index : (K,) int64
        The frames to decode in this call.
    row_ptr, cols, shifts : int64
        The base matrix (edges sorted by row) and circulant shifts.
    z_size : int
        Lifting size ``Z``.
    max_iterations : int
        Sweeps over all rows before giving up on a frame.
    rule : int
        One of the ``RULE_*`` constants.
    scale : float
        Min-sum normalisation in (0, 1] (``RULE_MIN_SUM`` only).
    patience : int
        Give up on a frame after this many sweeps without a new low of its count of unmet
        checks (each check's hard-decision parity, counted as the sweep reaches its row);
        0 never gives up early. Near-threshold frames converge slowly (30-100 sweeps) while
        their count keeps falling; a frame that will fail stalls at thousands of unmet
        checks, and stopping it early leaves the sweeps to frames that still decode.

    Returns
    -------
    (K,) uint8
        1 where the hard decision of ``totals`` meets the syndrome (the decoder stops there),
        0 where it does not after ``max_iterations`` (a failure, reported, never hidden).
    """
    m_b = row_ptr.shape[0] - 1
    dmax = 0
    for r in range(m_b):
        dmax = max(dmax, row_ptr[r + 1] - row_ptr[r])
    x = np.empty((dmax, z_size), dtype=np.float32)
    a = np.empty((dmax, z_size), dtype=np.float32)
    acc = np.empty(z_size, dtype=np.float32)
    min2 = np.empty(z_size, dtype=np.float32)
    arg = np.empty(z_size, dtype=np.int32)
    par = np.empty(z_size, dtype=np.uint8)
    hard = np.empty(z_size, dtype=np.uint8)
    table = phi_table()
    last = np.uint32(table.shape[0] - 1)
    inv_step = np.float32(1.0 / PHI_STEP)
    sc = np.float32(scale)
    zero = np.float32(0.0)
    half = np.float32(0.5)
    tiny = np.float32(1e-6)
    huge = np.float32(3.0e38)
    phi_max = np.float32(-np.log(np.tanh(0.5 * 1e-6)))
    max_in = np.float32(FAST_MAX_INPUT)
    max_prod = np.float32(np.tanh(0.5 * FAST_MAX_MESSAGE))
    max_msg = np.float32(FAST_MAX_MESSAGE)
    one = np.float32(1.0)
    pre = np.empty((dmax, z_size), dtype=np.float32)
    ok = np.zeros(frame_index.shape[0], dtype=np.uint8)
    for k in range(frame_index.shape[0]):
        f = frame_index[k]
        tot = totals[f]
        msg = c2v[f]
        syn = syndromes[f]
        best = np.iinfo(np.int64).max
        since = 0
        for it in range(max_iterations + 1):
            # Stop as soon as the hard decision meets the syndrome (checked before each
            # sweep, so a resumed frame that already decodes costs one pass).
            if _syndrome_met(tot, syn, row_ptr, cols, shifts, z_size, par):
                ok[k] = 1
                break
            if it == max_iterations:
                break
            weight = 0
            for r in range(m_b):
                c0 = r * z_size
                start = row_ptr[r]
                deg = row_ptr[r + 1] - start
                if rule == RULE_BOX_PLUS:
                    for z in range(z_size):
                        acc[z] = np.float32(1e30)
                        min2[z] = np.float32(1e30)
                        par[z] = syn[c0 + z]
                        hard[z] = syn[c0 + z]
                    # Gather and scatter read and write the totals in place, each edge's
                    # block as its two rotated runs: no copy into check order and back.
                    # Magnitudes and signs apart: the sums carry magnitudes only and the
                    # signs one parity per check (fewer operations per box-plus).
                    for i in range(deg):
                        e = start + i
                        base = cols[e] * z_size
                        h = z_size - shifts[e]
                        me = msg[e * z_size : (e + 1) * z_size]
                        blk = tot[base : base + z_size]
                        pi = pre[i]
                        _box_plus_gather(blk[z_size - h :], me, pi, acc, par, hard, h)
                        _box_plus_gather(
                            blk[: z_size - h], me[h:], pi[h:], acc[h:], par[h:], hard[h:],
                            z_size - h,
                        )  # fmt: skip
                    weight += _count_ones(hard, z_size)
                    for j in range(deg):
                        i = deg - 1 - j
                        e = start + i
                        base = cols[e] * z_size
                        h = z_size - shifts[e]
                        me = msg[e * z_size : (e + 1) * z_size]
                        blk = tot[base : base + z_size]
                        pi = pre[i]
                        _box_plus_scatter(blk[z_size - h :], me, pi, min2, par, h, max_msg)
                        _box_plus_scatter(
                            blk[: z_size - h], me[h:], pi[h:], min2[h:], par[h:], z_size - h,
                            max_msg,
                        )  # fmt: skip
                    continue
                for z in range(z_size):
                    par[z] = syn[c0 + z]
                    hard[z] = syn[c0 + z]
                    acc[z] = zero
                    min2[z] = huge
                    arg[z] = 0
                if rule == RULE_MIN_SUM:
                    acc[:] = huge
                elif rule == RULE_SUM_PRODUCT_FAST:
                    # Prefix products of tanh(|x| / 2) in acc, suffix products in min2.
                    acc[:] = one
                    min2[:] = one
                # Gather: x = total - message, rotated into check order.
                for i in range(deg):
                    e = start + i
                    base = cols[e] * z_size
                    s = shifts[e]
                    xi = x[i]
                    _rotate_in(xi, tot[base : base + z_size], s, z_size)
                    me = msg[e * z_size : (e + 1) * z_size]
                    if rule == RULE_SUM_PRODUCT_TABLE:
                        ai = a[i]
                        for z in range(z_size):
                            hard[z] ^= np.uint8(xi[z] < zero)
                            v = xi[z] - me[z]
                            xi[z] = v
                            par[z] ^= np.uint8(v < zero)
                            p = table[min(np.uint32(abs(v) * inv_step), last)]
                            ai[z] = p
                            acc[z] += p
                    elif rule == RULE_SUM_PRODUCT_FAST:
                        ai = a[i]
                        pi = pre[i]
                        for z in range(z_size):
                            hard[z] ^= np.uint8(xi[z] < zero)
                            v = xi[z] - me[z]
                            xi[z] = v
                            par[z] ^= np.uint8(v < zero)
                            t = _exp_neg(min(abs(v), max_in))
                            th = (one - t) / (one + t)
                            ai[z] = th
                            pi[z] = acc[z]
                            acc[z] *= th
                    elif rule == RULE_MIN_SUM:
                        for z in range(z_size):
                            hard[z] ^= np.uint8(xi[z] < zero)
                            v = xi[z] - me[z]
                            xi[z] = v
                            par[z] ^= np.uint8(v < zero)
                            av = abs(v)
                            m1 = acc[z]
                            if av < m1:
                                min2[z] = m1
                                acc[z] = av
                                arg[z] = i
                            elif av < min2[z]:
                                min2[z] = av
                    else:
                        ai = a[i]
                        for z in range(z_size):
                            hard[z] ^= np.uint8(xi[z] < zero)
                            v = xi[z] - me[z]
                            xi[z] = v
                            par[z] ^= np.uint8(v < zero)
                            p = min(-np.log(np.tanh(half * max(abs(v), tiny))), phi_max)
                            ai[z] = p
                            acc[z] += p
                weight += _count_ones(hard, z_size)
                # Scatter: new messages and totals, rotated back into variable order (the
                # tanh-domain rule walks the edges backwards, building the suffix products).
                for j in range(deg):
                    i = deg - 1 - j if rule >= RULE_SUM_PRODUCT_FAST else j
                    e = start + i
                    me = msg[e * z_size : (e + 1) * z_size]
                    xi = x[i]
                    ai = a[i]
                    if rule == RULE_SUM_PRODUCT_TABLE:
                        for z in range(z_size):
                            v = xi[z]
                            rest = max(acc[z] - ai[z], zero)
                            mag = table[min(np.uint32(rest * inv_step), last)]
                            new = -mag if par[z] ^ np.uint8(v < zero) else mag
                            me[z] = new
                            xi[z] = v + new
                    elif rule == RULE_SUM_PRODUCT_FAST:
                        pi = pre[i]
                        for z in range(z_size):
                            v = xi[z]
                            o = min(pi[z] * min2[z], max_prod)
                            min2[z] *= ai[z]
                            mag = _log((one + o) / (one - o))
                            new = -mag if par[z] ^ np.uint8(v < zero) else mag
                            me[z] = new
                            xi[z] = v + new
                    elif rule == RULE_MIN_SUM:
                        for z in range(z_size):
                            v = xi[z]
                            mag = sc * (min2[z] if arg[z] == i else acc[z])
                            new = -mag if par[z] ^ np.uint8(v < zero) else mag
                            me[z] = new
                            xi[z] = v + new
                    else:
                        for z in range(z_size):
                            v = xi[z]
                            rest = max(acc[z] - ai[z], tiny)
                            mag = min(-np.log(np.tanh(half * rest)), phi_max)
                            new = -mag if par[z] ^ np.uint8(v < zero) else mag
                            me[z] = new
                            xi[z] = v + new
                    base = cols[e] * z_size
                    _rotate_out(tot[base : base + z_size], xi, shifts[e], z_size)
            # Give up on a frame whose count of unmet checks has not reached a new low for
            # ``patience`` sweeps: it has stalled and will almost surely fail.
            if weight < best:
                best = weight
                since = 0
            else:
                since += 1
                if patience > 0 and since >= patience:
                    # The last sweep may have met the syndrome: report what the word is.
                    if _syndrome_met(tot, syn, row_ptr, cols, shifts, z_size, par):
                        ok[k] = 1
                    break
    return ok


@njit(cache=True, nogil=True)
def untainted_puncturing(chk_ptr, chk_var, var_ptr, var_chk, var_degree, count, tie_breaks):
    """Choose up to ``count`` variables to puncture, each recoverable in one step.

    Untainted puncturing (Elkouss, Martinez-Mateo, Martin, IEEE Wireless Commun. Lett. 1, 585
    (2012), Algorithm 1): repeatedly take, among the untainted variables (no check neighbour
    shared with a punctured variable), one of least degree (ties by ``tie_breaks``), puncture it
    and taint every variable that shares a check with it. Returns the chosen variables in order.
    ``var_ptr``/``var_chk`` is the CSR of the matrix by variables.
    """
    n = var_degree.shape[0]
    tainted = np.zeros(n, dtype=np.uint8)
    order = np.argsort(var_degree * 2.0 + tie_breaks)
    out = np.empty(count, dtype=np.int64)
    k = 0
    for j in range(n):
        if k == count:
            break
        v = order[j]
        if tainted[v]:
            continue
        out[k] = v
        k += 1
        for a in range(var_ptr[v], var_ptr[v + 1]):
            c = var_chk[a]
            for e in range(chk_ptr[c], chk_ptr[c + 1]):
                tainted[chk_var[e]] = 1
    return out[:k]


@njit(cache=True)
def de_box_plus_table(levels, step):
    """Quantised check rule of discretised density evolution on magnitudes ``0..levels``.

    ``table[i, j] = Q(2 atanh(tanh(i step / 2) tanh(j step / 2)))``, ``Q`` rounding to the
    nearest multiple of ``step`` (Chung, Forney, Richardson, Urbanke, IEEE Commun. Lett. 5, 58
    (2001), eq. (5)); the sign of the output is the product of the input signs.
    """
    tanh_half = np.empty(levels + 1)
    for i in range(levels + 1):
        tanh_half[i] = np.tanh(0.5 * i * step)
    table = np.empty((levels + 1, levels + 1), dtype=np.int64)
    for i in range(levels + 1):
        for j in range(i + 1):
            t = tanh_half[i] * tanh_half[j]
            k = 0
            if t > 0.0:
                k = int(np.floor(2.0 * np.arctanh(min(t, 1.0 - 1e-16)) / step + 0.5))
            k = min(k, j)  # |a [+] b| <= min(|a|, |b|); guards rounding at the top
            table[i, j] = k
            table[j, i] = k
    return table


@njit(cache=True)
def de_box_plus(a, b, table):
    """Density of ``x [+] y`` for independent quantised LLRs ``x ~ a``, ``y ~ b``.

    ``a``, ``b``: probability masses on the grid ``(-L..L) * step`` (length ``2 L + 1``, the
    middle entry is LLR 0). Pairwise quantised check rule of Chung et al. (2001), eq. (5): the
    box-plus is associative, so a check of degree ``d`` applies it to ``d - 1`` densities.
    """
    levels = (a.size - 1) // 2
    out = np.zeros(a.size)
    for i in range(levels + 1):
        ap = a[levels + i]
        am = a[levels - i] if i > 0 else 0.0
        if ap == 0.0 and am == 0.0:
            continue
        for j in range(levels + 1):
            bp = b[levels + j]
            bm = b[levels - j] if j > 0 else 0.0
            if bp == 0.0 and bm == 0.0:
                continue
            k = table[i, j]
            out[levels + k] += ap * bp + am * bm
            out[levels - k] += ap * bm + am * bp
    return out
