"""Numeric kernels of the post-processing layer: pure functions on numpy arrays.

Every kernel is compiled with numba through ``euroqci._jit.njit`` and runs as plain Python
when ``NUMBA_DISABLE_JIT=1``. Integer constants are typed ``np.uint64`` so that numba never
promotes a mix of signed and unsigned integers to float.
"""

from __future__ import annotations

import numpy as np

from euroqci._jit import accelerated, njit


def _helper(fn):
    """Compile a helper that other kernels call (a numba dispatcher, callable from numba).

    ``euroqci._jit.njit`` wraps kernels in a Python function that numba cannot call, so the
    helpers used inside kernels are compiled here; numba is imported when this private module
    is, i.e. only once post-processing is used.
    """
    if accelerated():
        import numba

        return numba.njit(cache=True, nogil=True)(fn)
    return fn


MERSENNE61 = np.uint64((1 << 61) - 1)
_MASK31 = np.uint64((1 << 31) - 1)
_MASK30 = np.uint64((1 << 30) - 1)
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_S61 = np.uint64(61)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S27 = np.uint64(27)
_S31b = np.uint64(31)
_S30b = np.uint64(30)
_S11 = np.uint64(11)
_S29 = np.uint64(29)
_S32 = np.uint64(32)
_MASK29 = np.uint64((1 << 29) - 1)
_MASK32 = np.uint64((1 << 32) - 1)


# --------------------------------------------------------------------------------------------
# Arithmetic modulo the Mersenne prime p = 2^61 - 1 (universal hashing).
# --------------------------------------------------------------------------------------------
@_helper
def mulmod61(a, b):
    """``a * b mod (2^61 - 1)`` for ``a, b < 2^61`` without 128-bit integers.

    Split ``a = a1 2^31 + a0``; then ``2^62 = 2`` and ``2^61 = 1`` modulo p, so every partial
    product fits in 64 bits (the sum stays below 2^64).
    """
    a0 = a & _MASK31
    a1 = a >> _S31
    b0 = b & _MASK31
    b1 = b >> _S31
    mid = a1 * b0 + a0 * b1
    s = _U2 * (a1 * b1) + (mid >> _S30) + ((mid & _MASK30) << _S31) + a0 * b0
    r = (s & MERSENNE61) + (s >> _S61)
    r = (r & MERSENNE61) + (r >> _S61)
    if r >= MERSENNE61:
        r -= MERSENNE61
    return r


@_helper
def poly_hash61(words, key):
    """Polynomial hash ``sum_i w_i k^(L-i) mod p`` of 32-bit ``words`` (uint64 array) at ``key``.

    Two messages of at most L words collide with probability at most ``L / p`` over a uniform
    key (Carter and Wegman, J. Comput. Syst. Sci. 22, 265 (1981); the length word appended by
    the callers makes messages of different lengths distinct polynomials).
    """
    h = np.uint64(0)
    for i in range(words.shape[0]):
        h = mulmod61(h, key) + words[i]
        if h >= MERSENNE61:
            h -= MERSENNE61
    return h


@_helper
def _fold61(v):
    """A value congruent to ``v`` modulo p and below ``2^61 + 8`` (one folding step)."""
    return (v & MERSENNE61) + (v >> _S61)


@_helper
def _mul32mod61(w, k):
    """``w * k`` modulo p up to one fold (below ``2^61 + 8``), for ``w < 2^32``, ``k < 2^61``.

    Two 64-bit products instead of :func:`mulmod61`'s four: with ``k = kh 2^32 + kl``,
    ``w kl < 2^64`` and ``x = w kh < 2^61``, whose ``x 2^32`` folds as
    ``(x mod 2^29) 2^32 + x >> 29`` because ``2^61 = 1`` modulo p.
    """
    x = w * (k >> _S32)
    return _fold61(w * (k & _MASK32)) + ((x & _MASK29) << _S32) + (x >> _S29)


@njit(cache=True, nogil=True)
def poly_absorb61(state, bulk, last, has_last, n_bytes, keys):
    """Continue the polynomial hash ``state[t]`` (Horner, key ``keys[t]``) over one message.

    The message's words are ``bulk`` (its whole 32-bit words, uint32, read in place: no copy
    of a large message), then ``last`` (its zero-padded partial word) if ``has_last``, then
    its length ``n_bytes``. Updates ``state`` (uint64, one entry per key) in place, so that a
    transcript of many messages is hashed as one word sequence without concatenating it.
    Horner's rule runs four words per step with ``k^2, k^3, k^4``, so the four products of a
    step are independent (the sequential chain has one multiplication per four words instead
    of four): the same polynomial at about three times the throughput.
    """
    n_bulk = bulk.shape[0]
    n_quad = n_bulk - n_bulk % 4
    for t in range(keys.shape[0]):
        key = keys[t]
        k2 = mulmod61(key, key)
        k3 = mulmod61(k2, key)
        k4 = mulmod61(k3, key)
        h = state[t]
        for i in range(0, n_quad, 4):
            # Five terms each below 2^61 + 8 (or 2^61, 2^32): the sum stays below 2^64.
            s = (
                mulmod61(h, k4)
                + _fold61(_mul32mod61(np.uint64(bulk[i]), k3))
                + _fold61(_mul32mod61(np.uint64(bulk[i + 1]), k2))
                + _fold61(_mul32mod61(np.uint64(bulk[i + 2]), key))
                + np.uint64(bulk[i + 3])
            )
            h = _fold61(s)
            if h >= MERSENNE61:
                h -= MERSENNE61
        for i in range(n_quad, n_bulk):
            h = mulmod61(h, key) + np.uint64(bulk[i])
            if h >= MERSENNE61:
                h -= MERSENNE61
        if has_last:
            h = mulmod61(h, key) + np.uint64(last)
            if h >= MERSENNE61:
                h -= MERSENNE61
        h = mulmod61(h, key) + np.uint64(n_bytes)
        if h >= MERSENNE61:
            h -= MERSENNE61
        state[t] = h


@njit(cache=True, nogil=True)
def wegman_carter_finish(state, keys, pads):
    """``(k h + pad) mod p`` per key: the tag of the word sequence hashed into ``state``.

    The last multiplication by ``k`` leaves no word as a constant term, so that the hash of
    two different sequences differs by a non-constant polynomial of ``k``: the family is then
    almost-XOR (here: almost-difference) universal, which one-time-padded tags need
    (Wegman and Carter 1981; Stinson, Des. Codes Cryptogr. 4, 369 (1994), Sec. 2).
    """
    out = np.zeros(keys.shape[0], dtype=np.uint64)
    for t in range(keys.shape[0]):
        h = mulmod61(state[t], keys[t]) + pads[t]
        if h >= MERSENNE61:
            h -= MERSENNE61
        out[t] = h
    return out


@njit(cache=True, nogil=True)
def frame_hashes61(words, keys):
    """Hash every row of ``words`` (frames x L, uint64) with each key in ``keys`` (uint64).

    Returns an array (frames, len(keys)) of uint64; the row length is appended as last word.
    """
    n_frames, n_words = words.shape
    out = np.zeros((n_frames, keys.shape[0]), dtype=np.uint64)
    for f in range(n_frames):
        for t in range(keys.shape[0]):
            h = poly_hash61(words[f], keys[t])
            h = mulmod61(h, keys[t]) + np.uint64(n_words)
            if h >= MERSENNE61:
                h -= MERSENNE61
            out[f, t] = h
    return out


# --------------------------------------------------------------------------------------------
# Public pseudo-random permutations (both parties derive them from a public seed).
# --------------------------------------------------------------------------------------------
def _splitmix_step_u64(state):
    """One splitmix64 step (Steele, Lea, Flood, OOPSLA 2014) on uint64 (wrapping)."""
    state = state + _GOLDEN
    z = state
    z = (z ^ (z >> _S30b)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return state, z ^ (z >> _S31b)


_M64 = (1 << 64) - 1


def _splitmix_step_int(state):
    """The same step on Python integers (the pure path: numpy scalars warn on wrap-around)."""
    state = (int(state) + 0x9E3779B97F4A7C15) & _M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return state, z ^ (z >> 31)


_splitmix_step = _helper(_splitmix_step_u64) if accelerated() else _splitmix_step_int


@njit(cache=True, nogil=True)
def splitmix_permutation(n, seed):
    """Fisher-Yates permutation of ``range(n)`` driven by splitmix64 from ``seed`` (uint64).

    Written by hand (not ``Generator.permutation``) so that the permutation is fixed by this
    code alone and two parties on different numpy versions agree on it. The index in
    ``[0, i]`` is the multiply-shift ``(z_hi (i + 1)) >> 32`` of the upper 32 bits of each draw
    (Lemire, ACM TOMACS 29, 3 (2019)), not a 64-bit division: bias at most ``n / 2^32``,
    irrelevant for a public shuffle; ``n < 2^31``.
    """
    perm = np.arange(n).astype(np.int32)
    state = seed
    for i in range(n - 1, 0, -1):
        state, z = _splitmix_step(state)
        j = np.int64(((z >> _S32) * np.uint64(i + 1)) >> _S32)
        tmp = perm[i]
        perm[i] = perm[j]
        perm[j] = tmp
    return perm


# --------------------------------------------------------------------------------------------
# Cascade (Brassard and Salvail, EUROCRYPT '93; Martinez-Mateo et al., QIC 15, 453 (2015)).
#
# Each pass j lays the frame, permuted, into a complete binary tree of V_j leaves; blocks of
# size k_j sit at one depth, each padded to K_j = 2^ceil(log2 k_j) with virtual zero bits that
# both parties know (so the original, non-power-of-two block sizes fit the same tree). Node v
# has children 2v and 2v+1; the leaves are V_j .. 2 V_j - 1. Alice holds the parity of every
# node (bit-packed); Bob the parities of his own bits and Alice's where known (``state``).
# --------------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def cascade_layout(sizes, padded, leaves, seeds, leaf_of, bit_of):
    """Lay each pass's permuted frame into its tree: ``leaf_of`` (passes, n) and ``bit_of``.

    Bit ``x = perm_j[i]`` goes to block ``i // k_j`` at offset ``i % k_j``, i.e. to leaf
    ``V_j + (i // k_j) K_j + i % k_j``; ``bit_of`` rows must be -1 (padding) on entry.
    """
    n = leaf_of.shape[1]
    for j in range(sizes.shape[0]):
        perm = splitmix_permutation(n, seeds[j])
        k = sizes[j]
        for i in range(n):
            offset = (i // k) * padded[j] + i % k
            leaf_of[j, perm[i]] = leaves[j] + offset
            bit_of[j, offset] = perm[i]


@_helper
def _fill_tree(t, key, bits_at, n_leaves):
    """Parities of every node of one pass's tree: leaves gathered in pass order, then upwards."""
    for i in range(n_leaves):
        x = bits_at[i]
        t[n_leaves + i] = key[x] if x >= 0 else 0
    for v in range(n_leaves - 1, 0, -1):
        t[v] = t[2 * v] ^ t[2 * v + 1]


@njit(cache=True, nogil=True)
def cascade_alice_trees(keys, bit_of, n_leaves, packed):
    """Fill ``packed`` (frames, passes, 2 Vmax / 8) with the parity of every node, bit-packed.

    Node ``v`` of pass ``j`` is bit ``v`` of row ``packed[f, j]``, most significant bit first
    (the order of ``np.packbits``). One byte per node would be eight times the memory.
    """
    scratch = np.zeros(packed.shape[2] * 8, dtype=np.uint8)
    for f in range(keys.shape[0]):
        for j in range(bit_of.shape[0]):
            V = n_leaves[j]
            _fill_tree(scratch, keys[f], bit_of[j], V)
            scratch[2 * V :] = 0
            row = packed[f, j]
            n_bytes = (2 * V + 7) // 8
            for b in range(n_bytes):
                acc = np.uint8(0)
                for k in range(8):
                    acc = (acc << np.uint8(1)) | scratch[8 * b + k]
                row[b] = acc
            row[n_bytes:] = 0


@njit(cache=True, nogil=True)
def cascade_alice_answer(packed, index, out):
    """Gather the bits ``index`` of the flat bit array ``packed`` into ``out``, packed."""
    out[:] = 0
    for i in range(index.shape[0]):
        x = np.int64(index[i])
        if (packed[x >> 3] >> (7 - (x & 7))) & 1:
            out[i >> 3] |= np.uint8(128 >> (i & 7))


# Bob's knowledge of one node is one byte of ``state``: bit 0 his own parity (``_BOB``), bit 1
# set when Alice's parity is known (``_KNOWN``), bit 2 Alice's parity (``_ALICE``). One byte
# instead of two arrays halves Bob's memory, and a flip reads and writes one cache line.
_BOB = 1
_KNOWN = 2
_KEEP = 6  # the bits about Alice


@_helper
def _is_known(s):
    return (s & 2) != 0


@_helper
def _alice_bit(s):
    return (s >> 2) & 1


@_helper
def _is_odd(s):
    """Alice's parity is known and differs from Bob's."""
    return (s & 2) != 0 and ((s ^ (s >> 2)) & 1) != 0


@_helper
def _known_byte(s, value):
    """``s`` with Alice's parity ``value`` recorded."""
    return (s & 1) | 2 | (value << 2)


@_helper
def _fill_bob(t, key, bits_at, n_leaves):
    """Bob's parities (bit 0) of every node of one pass's tree; Alice's bits are kept."""
    for i in range(n_leaves):
        x = bits_at[i]
        b = key[x] if x >= 0 else 0
        t[n_leaves + i] = (t[n_leaves + i] & _KEEP) | b
    for v in range(n_leaves - 1, 0, -1):
        t[v] = (t[v] & _KEEP) | ((t[2 * v] ^ t[2 * v + 1]) & _BOB)


@_helper
def _mark_known(st, n_leaves, node, value, stack):
    """Record Alice's parity ``value`` of ``node`` and everything it implies in one pass's tree.

    With a parent and one child known the other child is known, and with both children known
    the parent is; this is the block-parity inference of Martinez-Mateo et al. (2015), Sec. 4.
    """
    stack[0, 0] = node
    stack[0, 1] = value
    top = 1
    while top > 0:
        top -= 1
        v = stack[top, 0]
        val = stack[top, 1]
        if _is_known(st[v]):
            continue
        st[v] = _known_byte(st[v], val)
        if v > 1:
            s = v ^ 1
            p = v >> 1
            if _is_known(st[s]) and not _is_known(st[p]):
                stack[top, 0] = p
                stack[top, 1] = val ^ _alice_bit(st[s])
                top += 1
            elif _is_known(st[p]) and not _is_known(st[s]):
                stack[top, 0] = s
                stack[top, 1] = val ^ _alice_bit(st[p])
                top += 1
        if v < n_leaves:
            left = 2 * v
            right = left + 1
            if _is_known(st[left]) and not _is_known(st[right]):
                stack[top, 0] = right
                stack[top, 1] = val ^ _alice_bit(st[left])
                top += 1
            elif _is_known(st[right]) and not _is_known(st[left]):
                stack[top, 0] = left
                stack[top, 1] = val ^ _alice_bit(st[right])
                top += 1


@njit(cache=True, nogil=True)
def cascade_bob_init(keys, bit_of, n_leaves, pad_pass, pad_leaf, state):
    """Build Bob's parity tree of pass 0 and mark the virtual (padding) nodes as known zeros.

    ``state`` must be zeros (``np.zeros``: the memory of a pass is then first touched when the
    pass starts). The trees of later passes are built when their pass becomes active
    (``_select_phase``): until then no flip needs to update them, which saves most of the tree
    walks of ``_flip``.
    """
    stack = np.zeros((256, 2), dtype=np.int64)
    for f in range(keys.shape[0]):
        _fill_bob(state[f, 0], keys[f], bit_of[0], n_leaves[0])
        for p in range(pad_pass.shape[0]):
            j = pad_pass[p]
            V = n_leaves[j]
            _mark_known(state[f, j], V, V + pad_leaf[p], 0, stack)


@_helper
def _push_candidate(c_pass, c_node, c_count, f, q, node, state):
    n = c_count[f]
    if n >= c_pass.shape[1]:
        # Full: drop entries that are no longer odd (cheap, and rare with the default capacity).
        m = 0
        for i in range(n):
            qq = c_pass[f, i]
            vv = c_node[f, i]
            if _is_odd(state[f, qq, vv]):
                c_pass[f, m] = qq
                c_node[f, m] = vv
                m += 1
        n = m
        if n >= c_pass.shape[1]:
            c_count[f] = n
            return
    c_pass[f, n] = q
    c_node[f, n] = node
    c_count[f] = n + 1


@_helper
def _flip(
    f,
    j,
    leaf,
    keys,
    leaf_of,
    bit_of,
    n_leaves,
    state,
    cur,
    reuse,
    block_start,
    c_pass,
    c_node,
    c_count,
    flips,
):
    """Correct Bob's bit at ``leaf`` of pass ``j`` and propagate the parity change to all passes.

    In every active pass the deepest known node that turns odd becomes a candidate for a new
    binary search: this is the cascade effect (Brassard and Salvail 1993), extended to known
    sub-blocks when ``reuse`` is set (Martinez-Mateo et al. 2015, Sec. 4, sub-block reuse).
    """
    x = bit_of[j, leaf - n_leaves[j]]
    keys[f, x] ^= 1
    flips[f] += 1
    for q in range(cur[f] + 1):  # later passes' trees are built when they become active
        t = state[f, q]
        node = leaf_of[q, x]
        deepest = -1
        limit = 2 * block_start[q] if reuse == 0 else 2 * n_leaves[q]
        while node >= 1:
            s = t[node] ^ _BOB
            t[node] = s
            if deepest < 0 and node < limit and _is_odd(s):
                deepest = node
            node >>= 1
        if deepest >= 0:
            _push_candidate(c_pass, c_node, c_count, f, q, deepest, state)


@_helper
def _select_phase(
    f,
    keys,
    bit_of,
    n_leaves,
    state,
    n_blocks,
    block_start,
    cur,
    c_pass,
    c_node,
    c_count,
    s_pass,
    s_node,
    s_count,
    anc,
    stamp,
):
    """Pick the next set of disjoint odd nodes of one pass to search in parallel.

    Smallest blocks first: the lowest active pass that has an odd known node. Within it the
    deepest nodes are taken first and a node is skipped when it contains one already taken,
    so that the parallel searches touch disjoint bits. Returns False when the frame is done.
    """
    n_passes = block_start.shape[0]
    while True:
        m = 0
        jmin = n_passes
        for i in range(c_count[f]):
            q = c_pass[f, i]
            v = c_node[f, i]
            if q <= cur[f] and _is_odd(state[f, q, v]):
                c_pass[f, m] = q
                c_node[f, m] = v
                m += 1
                if q < jmin:
                    jmin = q
        c_count[f] = m
        if m > 0:
            break
        cur[f] += 1
        if cur[f] >= n_passes:
            return False
        q = cur[f]
        _fill_bob(state[f, q], keys[f], bit_of[q], n_leaves[q])
        for b in range(n_blocks[q]):
            v = block_start[q] + b
            if _is_odd(state[f, q, v]):
                _push_candidate(c_pass, c_node, c_count, f, q, v, state)
    nodes = np.empty(c_count[f], dtype=np.int64)
    k = 0
    rest = 0
    for i in range(c_count[f]):
        if c_pass[f, i] == jmin:
            nodes[k] = c_node[f, i]
            k += 1
        else:
            c_pass[f, rest] = c_pass[f, i]
            c_node[f, rest] = c_node[f, i]
            rest += 1
    c_count[f] = rest
    nodes = np.sort(nodes[:k])
    stamp[0] += 1
    s = stamp[0]
    n_sel = 0
    for i in range(k - 1, -1, -1):
        v = nodes[i]
        if anc[v] == s:
            continue  # v contains (or is) a node already selected
        s_node[f, n_sel] = v
        n_sel += 1
        u = v
        while u >= 1 and anc[u] != s:
            anc[u] = s
            u >>= 1
    s_pass[f] = jmin
    s_count[f] = n_sel
    return True


@njit(cache=True, nogil=True)
def cascade_bob_round(
    keys,
    leaf_of,
    bit_of,
    n_leaves,
    n_blocks,
    block_start,
    reuse,
    state,
    stage,
    cur,
    s_pass,
    s_node,
    s_count,
    c_pass,
    c_node,
    c_count,
    anc,
    stamp,
    flips,
    rq_f,
    rq_j,
    rq_node,
    replies,
    n_replies,
    out_f,
    out_j,
    out_node,
    out_index,
):
    """One round of Bob's side of batched Cascade: absorb Alice's replies, emit new requests.

    Every frame advances independently; all parity requests of all frames go out in one
    message, so one round trip serves every frame. Returns the number of requests written to
    ``out_*`` (frame, pass, node, and the flat index ``(f P + j) S + node`` into trees of
    ``S`` nodes that goes on the wire); 0 means every frame is done.

    Stages per frame: 0 ask the block parities of pass 0; 1 propagate the frame parity to every
    pass and ask the block parities of the other passes (minus those it implies); 2 correct by
    binary searches; 3 done. Long by nature: a state machine is clearer in one piece.
    """
    n_frames = keys.shape[0]
    n_passes = leaf_of.shape[0]
    stack = np.zeros((256, 2), dtype=np.int64)
    for r in range(n_replies):
        f = rq_f[r]
        j = rq_j[r]
        _mark_known(state[f, j], n_leaves[j], rq_node[r], np.int64(replies[r]), stack)
    n_out = 0
    for f in range(n_frames):
        if stage[f] == 0:
            for b in range(n_blocks[0]):
                v = block_start[0] + b
                if not _is_known(state[f, 0, v]):
                    out_f[n_out] = f
                    out_j[n_out] = 0
                    out_node[n_out] = v
                    n_out += 1
            stage[f] = 1
            continue
        if stage[f] == 1:
            root = np.int64(_alice_bit(state[f, 0, 1]))
            start = n_out
            for j in range(1, n_passes):
                _mark_known(state[f, j], n_leaves[j], 1, root, stack)
                for b in range(n_blocks[j]):
                    v = block_start[j] + b
                    if not _is_known(state[f, j, v]):
                        out_f[n_out] = f
                        out_j[n_out] = j
                        out_node[n_out] = v
                        n_out += 1
            # Drop, per pass, the last requested block: the frame parity implies it (it is
            # marked known when the reply to the others arrives).
            m = start
            i = start
            while i < n_out:
                e = i
                while e + 1 < n_out and out_j[e + 1] == out_j[i]:
                    e += 1
                for t in range(i, e):
                    out_f[m] = out_f[t]
                    out_j[m] = out_j[t]
                    out_node[m] = out_node[t]
                    m += 1
                i = e + 1
            n_out = m
            stage[f] = 2
            cur[f] = 0
            for b in range(n_blocks[0]):
                v = block_start[0] + b
                if _is_odd(state[f, 0, v]):
                    _push_candidate(c_pass, c_node, c_count, f, 0, v, state)
            if n_out > start:
                continue
        frame_start = n_out
        while stage[f] == 2:
            if s_count[f] == 0:
                if not _select_phase(
                    f,
                    keys,
                    bit_of,
                    n_leaves,
                    state,
                    n_blocks,
                    block_start,
                    cur,
                    c_pass,
                    c_node,
                    c_count,
                    s_pass,
                    s_node,
                    s_count,
                    anc,
                    stamp,
                ):
                    stage[f] = 3
                    break
            j = s_pass[f]
            V = n_leaves[j]
            t = state[f, j]
            remaining = 0
            for i in range(s_count[f]):
                v = s_node[f, i]
                asked = False
                while v < V:
                    left = 2 * v
                    right = left + 1
                    if _is_known(t[left]):
                        v = left if _is_odd(t[left]) else right
                    elif _is_known(t[right]):
                        v = right if _is_odd(t[right]) else left
                    else:
                        out_f[n_out] = f
                        out_j[n_out] = j
                        out_node[n_out] = left
                        n_out += 1
                        asked = True
                        break
                if asked:
                    s_node[f, remaining] = v
                    remaining += 1
                else:
                    _flip(
                        f,
                        j,
                        v,
                        keys,
                        leaf_of,
                        bit_of,
                        n_leaves,
                        state,
                        cur,
                        reuse,
                        block_start,
                        c_pass,
                        c_node,
                        c_count,
                        flips,
                    )
            s_count[f] = remaining
            if flips[f] > keys.shape[1]:
                # More flips than bits: only replies that contradict each other (a forged
                # transcript, which fails authentication) do this. Stop the frame for good.
                n_out = frame_start
                s_count[f] = 0
                c_count[f] = 0
                stage[f] = 3
                break
            if remaining > 0:
                break
    size = state.shape[2]
    for r in range(n_out):
        out_index[r] = (out_f[r] * n_passes + out_j[r]) * size + out_node[r]
    return n_out
