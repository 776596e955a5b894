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


@njit(cache=True, nogil=True)
def wegman_carter_tag(bulk, tail, keys, pads):
    """``(h_k(bulk, tail) + pad) mod p`` for each pair of hash key and pad (uint64 arrays).

    ``bulk`` holds the message's whole 32-bit words (uint32, read in place: no copy of a large
    message), ``tail`` the zero-padded last partial word (if any) and the length (uint64).
    """
    out = np.zeros(keys.shape[0], dtype=np.uint64)
    for t in range(keys.shape[0]):
        key = keys[t]
        h = np.uint64(0)
        for i in range(bulk.shape[0]):
            h = mulmod61(h, key) + np.uint64(bulk[i])
            if h >= MERSENNE61:
                h -= MERSENNE61
        for i in range(tail.shape[0]):
            h = mulmod61(h, key) + tail[i]
            if h >= MERSENNE61:
                h -= MERSENNE61
        h = h + pads[t]
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
    code alone and two parties on different numpy versions agree on it.
    """
    perm = np.arange(n).astype(np.int32)
    state = seed
    for i in range(n - 1, 0, -1):
        state, z = _splitmix_step(state)
        j = np.int64(z % np.uint64(i + 1))
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
# has children 2v and 2v+1; the leaves are V_j .. 2 V_j - 1. Bob holds the parities of his own
# bits for every node (``bob``) and Alice's parity where it is known (``akn``: -1 unknown).
# --------------------------------------------------------------------------------------------
@_helper
def _fill_tree(t, key, bits_at, n_leaves):
    """Parities of every node of one pass's tree: leaves gathered in pass order, then upwards."""
    for i in range(n_leaves):
        x = bits_at[i]
        t[n_leaves + i] = key[x] if x >= 0 else 0
    for v in range(n_leaves - 1, 0, -1):
        t[v] = t[2 * v] ^ t[2 * v + 1]


@njit(cache=True, nogil=True)
def cascade_alice_trees(keys, bit_of, n_leaves, tree):
    """Fill ``tree`` (frames, passes, 2 Vmax) with the parity of every node of every pass."""
    for f in range(keys.shape[0]):
        for j in range(bit_of.shape[0]):
            _fill_tree(tree[f, j], keys[f], bit_of[j], n_leaves[j])


@_helper
def _mark_known(akn, n_leaves, node, value, stack):
    """Record Alice's parity ``value`` of ``node`` and everything it implies in one pass's tree.

    With a parent and one child known the other child is known, and with both children known
    the parent is; this is the block-parity inference of Martinez-Mateo et al. (2015), Sec. 4.
    """
    top = 0
    stack[0, 0] = node
    stack[0, 1] = value
    top = 1
    while top > 0:
        top -= 1
        v = stack[top, 0]
        val = stack[top, 1]
        if akn[v] >= 0:
            continue
        akn[v] = val
        if v > 1:
            s = v ^ 1
            p = v >> 1
            if akn[s] >= 0 and akn[p] < 0:
                stack[top, 0] = p
                stack[top, 1] = val ^ akn[s]
                top += 1
            elif akn[p] >= 0 and akn[s] < 0:
                stack[top, 0] = s
                stack[top, 1] = val ^ akn[p]
                top += 1
        if v < n_leaves:
            left = 2 * v
            right = left + 1
            if akn[left] >= 0 and akn[right] < 0:
                stack[top, 0] = right
                stack[top, 1] = val ^ akn[left]
                top += 1
            elif akn[right] >= 0 and akn[left] < 0:
                stack[top, 0] = left
                stack[top, 1] = val ^ akn[right]
                top += 1


@njit(cache=True, nogil=True)
def cascade_bob_init(keys, bit_of, n_leaves, bob, akn):
    """Build Bob's parity trees and mark the virtual (padding) nodes as known zeros."""
    stack = np.zeros((256, 2), dtype=np.int64)
    for f in range(keys.shape[0]):
        for j in range(bit_of.shape[0]):
            V = n_leaves[j]
            _fill_tree(bob[f, j], keys[f], bit_of[j], V)
            akn[f, j, :] = -1
            for i in range(V):
                if bit_of[j, i] < 0:
                    _mark_known(akn[f, j], V, V + i, 0, stack)


@_helper
def _push_candidate(c_pass, c_node, c_count, f, q, node, bob, akn):
    n = c_count[f]
    if n >= c_pass.shape[1]:
        # Full: drop entries that are no longer odd (cheap, and rare with the default capacity).
        m = 0
        for i in range(n):
            qq = c_pass[f, i]
            vv = c_node[f, i]
            if akn[f, qq, vv] >= 0 and akn[f, qq, vv] != bob[f, qq, vv]:
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
    bob,
    akn,
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
    for q in range(leaf_of.shape[0]):
        node = leaf_of[q, x]
        deepest = -1
        limit = 2 * block_start[q] if reuse == 0 else 2 * n_leaves[q]
        while node >= 1:
            bob[f, q, node] ^= 1
            if (
                deepest < 0
                and q <= cur[f]
                and node < limit
                and akn[f, q, node] >= 0
                and akn[f, q, node] != bob[f, q, node]
            ):
                deepest = node
            node >>= 1
        if deepest >= 0:
            _push_candidate(c_pass, c_node, c_count, f, q, deepest, bob, akn)


@_helper
def _select_phase(
    f,
    bob,
    akn,
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
            if q <= cur[f] and akn[f, q, v] >= 0 and akn[f, q, v] != bob[f, q, v]:
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
        for b in range(n_blocks[q]):
            v = block_start[q] + b
            if akn[f, q, v] >= 0 and akn[f, q, v] != bob[f, q, v]:
                _push_candidate(c_pass, c_node, c_count, f, q, v, bob, akn)
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
    bob,
    akn,
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
):
    """One round of Bob's side of batched Cascade: absorb Alice's replies, emit new requests.

    Every frame advances independently; all parity requests of all frames go out in one
    message, so one round trip serves every frame. Returns the number of requests written to
    ``out_*``; 0 means every frame is done.

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
        _mark_known(akn[f, j], n_leaves[j], rq_node[r], np.int64(replies[r]), stack)
    n_out = 0
    for f in range(n_frames):
        if stage[f] == 0:
            for b in range(n_blocks[0]):
                v = block_start[0] + b
                if akn[f, 0, v] < 0:
                    out_f[n_out] = f
                    out_j[n_out] = 0
                    out_node[n_out] = v
                    n_out += 1
            stage[f] = 1
            continue
        if stage[f] == 1:
            root = akn[f, 0, 1]
            start = n_out
            for j in range(1, n_passes):
                _mark_known(akn[f, j], n_leaves[j], 1, root, stack)
                for b in range(n_blocks[j]):
                    v = block_start[j] + b
                    if akn[f, j, v] < 0:
                        out_f[n_out] = f
                        out_j[n_out] = j
                        out_node[n_out] = v
                        n_out += 1
                        # Asked now, so mark implied parities only after the reply; but the
                        # last unknown block of a pass is implied by the others and the root.
            # Drop, per pass, the last requested block: the frame parity implies it.
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
                if akn[f, 0, v] >= 0 and akn[f, 0, v] != bob[f, 0, v]:
                    _push_candidate(c_pass, c_node, c_count, f, 0, v, bob, akn)
            if n_out > start:
                continue
        while stage[f] == 2:
            if s_count[f] == 0:
                if not _select_phase(
                    f,
                    bob,
                    akn,
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
            a = akn[f, j]
            t = bob[f, j]
            remaining = 0
            for i in range(s_count[f]):
                v = s_node[f, i]
                asked = False
                while v < V:
                    left = 2 * v
                    right = left + 1
                    if a[left] >= 0:
                        v = left if a[left] != t[left] else right
                    elif a[right] >= 0:
                        v = right if a[right] != t[right] else left
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
                        bob,
                        akn,
                        cur,
                        reuse,
                        block_start,
                        c_pass,
                        c_node,
                        c_count,
                        flips,
                    )
            s_count[f] = remaining
            if remaining > 0:
                break
    return n_out
