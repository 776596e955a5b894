"""Cascade error correction, batched over many frames.

Two variants, chosen by :class:`CascadeVariant`:

* ``ORIGINAL`` (Brassard and Salvail, EUROCRYPT '93): 4 passes, ``k1 = ceil(0.73 / QBER)``,
  ``k_i = 2 k_{i-1}``; the cascade effect only reopens top-level blocks.
* ``OPTIMISED``: the best variant of Martinez-Mateo, Pacher, Peev, Ciurana, Martin,
  "Demystifying the information reconciliation protocol Cascade", QIC 15, 453 (2015): 14 passes
  with power-of-two blocks ``k1 = 2^ceil(a)``, ``k2 = 2^ceil((a + 12) / 2)``, ``k3 = 4096``,
  ``k_i = N / 2`` after that, where ``a = log2(1 / QBER) - 1/2``; no BICONF; sub-block parities
  reused and block parities inferred from known ones (their Sec. 4 recommendations).

Bob drives: every round he sends, for all frames at once, the parities he needs; Alice answers
each from her own key only. Leakage is the number of parities Alice disclosed.

Authentication: the whole exchange runs inside
:meth:`~euroqci.postprocessing.channel.ClassicalChannel.deferred_authentication`, so that
its thousand-odd messages cost one Wegman-Carter tag (and one 128-bit pad) per direction
instead of one each. This is sound because nothing irreversible happens inside the block:

* Alice's replies are parities of her key that the eavesdropper reads anyway; she counts
  every parity she sends, whatever request (genuine or forged) it answers, and that count is
  the leak subtracted by privacy amplification. A forged request can only make her disclose
  more, which costs key length, never secrecy; indices outside her trees are refused.
* Bob's corrections are made on a copy of his key and feed nothing but the next request;
  forged replies can only make him correct wrongly (or, for contradictory ones, stop a frame:
  each frame flips at most as many bits as it has, the bound of an honest run).
* On leaving the block each party checks the tag over the peer's whole transcript; a single
  altered, dropped, reordered or injected message fails it, and the session aborts before
  verification, privacy amplification, or any use of the key.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.errors import ProtocolAbort
from euroqci.postprocessing import _kernels as kernels
from euroqci.postprocessing.channel import ClassicalChannel

__all__ = [
    "CascadeLayout",
    "CascadeResult",
    "CascadeVariant",
    "block_sizes",
    "cascade_alice",
    "cascade_bob",
]

log = logging.getLogger(__name__)

_MIN_QBER = 1e-4


class CascadeVariant(Enum):
    """Which Cascade: the 1993 original or the optimised variant of Martinez-Mateo et al."""

    ORIGINAL = "cascade-original"
    OPTIMISED = "cascade"


def block_sizes(variant: CascadeVariant, *, qber: float, frame_bits: int) -> tuple[int, ...]:
    """Top-level block size of each pass, capped at half the frame.

    >>> block_sizes(CascadeVariant.OPTIMISED, qber=0.02, frame_bits=2**16)[:4]
    (64, 512, 4096, 32768)
    >>> block_sizes(CascadeVariant.ORIGINAL, qber=0.02, frame_bits=2**16)
    (37, 74, 148, 296)
    """
    q = max(float(qber), _MIN_QBER)
    half = max(frame_bits // 2, 1)
    if variant is CascadeVariant.ORIGINAL:
        k1 = math.ceil(0.73 / q)
        return tuple(min(k1 * 2**i, half) for i in range(4))
    a = math.log2(1.0 / q) - 0.5
    sizes = [2 ** math.ceil(a), 2 ** math.ceil((a + 12.0) / 2.0), 4096] + [half] * 11
    return tuple(min(s, half) for s in sizes)


def _next_pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


@dataclass(frozen=True, repr=False)
class CascadeLayout:
    """The public structure both parties derive: per pass, the permutation and the tree.

    ``leaf_of[j, x]`` is the leaf of bit ``x`` in pass ``j``'s tree, ``bit_of[j, i]`` the bit
    at leaf ``V_j + i`` (or -1 for a padding leaf).
    """

    frame_bits: int
    sizes: tuple[int, ...]
    seed: int
    leaf_of: npt.NDArray[np.int32]
    bit_of: npt.NDArray[np.int32]
    n_leaves: npt.NDArray[np.int64]
    n_blocks: npt.NDArray[np.int64]
    block_start: npt.NDArray[np.int64]
    #: Pass and leaf offset of every padding leaf (a leaf that holds no bit).
    pad_pass: npt.NDArray[np.int64]
    pad_leaf: npt.NDArray[np.int64]

    def __repr__(self) -> str:
        return f"CascadeLayout(frame_bits={self.frame_bits}, sizes={self.sizes})"

    @classmethod
    def build(cls, *, frame_bits: int, sizes: tuple[int, ...], seed: int) -> CascadeLayout:
        """Derive the layout from public parameters (both parties call this).

        Layouts are cached (a few per process): a run of a device reconciles block after
        block with the same parameters, and building one costs 10-25 ms. Its arrays are
        shared and never written after the build.
        """
        return _cached_layout(int(frame_bits), tuple(int(k) for k in sizes), int(seed))

    @classmethod
    def _build(cls, frame_bits: int, sizes: tuple[int, ...], seed: int) -> CascadeLayout:
        n_passes = len(sizes)
        padded = [_next_pow2(k) for k in sizes]
        blocks = [math.ceil(frame_bits / k) for k in sizes]
        leaves = [_next_pow2(b * p) for b, p in zip(blocks, padded, strict=True)]
        vmax = max(leaves)
        leaf_of = np.empty((n_passes, frame_bits), dtype=np.int32)
        bit_of = np.full((n_passes, vmax), -1, dtype=np.int32)
        seeds = np.array([(seed + 7919 * j) % 2**64 for j in range(n_passes)], dtype=np.uint64)
        kernels.cascade_layout(
            np.array(sizes, dtype=np.int64),
            np.array(padded, dtype=np.int64),
            np.array(leaves, dtype=np.int64),
            seeds,
            leaf_of,
            bit_of,
        )
        is_pad = (bit_of < 0) & (np.arange(vmax)[None, :] < np.array(leaves)[:, None])
        pad_pass, pad_leaf = np.nonzero(is_pad)
        return cls(
            frame_bits=frame_bits,
            sizes=tuple(sizes),
            seed=seed,
            leaf_of=leaf_of,
            bit_of=bit_of,
            n_leaves=np.array(leaves, dtype=np.int64),
            n_blocks=np.array(blocks, dtype=np.int64),
            block_start=np.array([v // kp for v, kp in zip(leaves, padded, strict=True)]),
            pad_pass=pad_pass.astype(np.int64),
            pad_leaf=pad_leaf.astype(np.int64),
        )

    @property
    def tree_size(self) -> int:
        """Nodes per pass tree, including the unused index 0 (at least 8: whole bytes)."""
        return max(8, int(2 * self.n_leaves.max()))


@functools.lru_cache(maxsize=4)
def _cached_layout(frame_bits: int, sizes: tuple[int, ...], seed: int) -> CascadeLayout:
    return CascadeLayout._build(frame_bits, sizes, seed)


class _AliceState:
    """Alice's parities of every node (bit-packed); answers requests from her own key only."""

    def __init__(self, layout: CascadeLayout, frames: npt.NDArray[np.uint8]) -> None:
        self.layout = layout
        shape = (frames.shape[0], len(layout.sizes), layout.tree_size // 8)
        self.tree = np.empty(shape, np.uint8)
        kernels.cascade_alice_trees(frames, layout.bit_of, layout.n_leaves, self.tree)
        self.n_nodes = frames.shape[0] * len(layout.sizes) * layout.tree_size
        self.disclosed_bits = 0

    def answer(self, index: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
        """Alice's parities of the requested nodes, packed; a request outside the trees aborts."""
        if index.ndim != 1 or index.dtype.kind not in "iu":
            raise ProtocolAbort("malformed parity request", reason="protocol")
        if index.size and (int(index.min()) < 0 or int(index.max()) >= self.n_nodes):
            raise ProtocolAbort("parity request outside the Cascade trees", reason="protocol")
        self.disclosed_bits += int(index.size)
        out = np.empty((index.size + 7) // 8, np.uint8)
        kernels.cascade_alice_answer(self.tree.reshape(-1), index, out)
        return out


class _ZeroedBuffers:
    """Memory for Bob's node states, kept zeroed between Cascade runs.

    A batch's states take up to 235 MB (64 frames of 2^17 bits, 14 passes), touched pass by pass;
    fresh pages cost a fault each on first touch, which on virtual machines that back guest
    memory lazily (this project's development machine) doubled Cascade's time inside the
    distill pipeline. One released buffer is kept and handed to the next batch; it is zeroed
    on release, so no key-derived parity outlives its run.
    """

    def __init__(self, max_bytes: int = 1 << 28) -> None:
        self._lock = threading.Lock()
        self._free: npt.NDArray[np.uint8] | None = None
        self._max_bytes = max_bytes

    def take(self, shape: tuple[int, ...]) -> npt.NDArray[np.uint8]:
        """A zero-filled uint8 array of ``shape``."""
        n = math.prod(shape)
        with self._lock:
            if self._free is not None and self._free.size >= n:
                buffer, self._free = self._free, None
                return buffer[:n].reshape(shape)
        return np.zeros(shape, np.uint8)

    def give(self, array: npt.NDArray[np.uint8]) -> None:
        """Zero ``array`` (an array from :meth:`take`) and keep its memory for the next run."""
        whole = array.base if isinstance(array.base, np.ndarray) else array
        owner = whole.reshape(-1)  # a 1-d view of all the memory (contiguous)
        owner.fill(0)
        if owner.size > self._max_bytes:
            return
        with self._lock:
            if self._free is None or self._free.size < owner.size:
                self._free = owner


_STATE_BUFFERS = _ZeroedBuffers()


class _BobState:
    """Bob's side: his key, his parity trees, Alice's known parities, the search state."""

    def __init__(self, layout: CascadeLayout, frames: npt.NDArray[np.uint8], reuse: bool) -> None:
        self.layout = layout
        self.keys = frames
        n_frames = frames.shape[0]
        n_passes = len(layout.sizes)
        size = layout.tree_size
        self.reuse = 1 if reuse else 0
        self.state = _STATE_BUFFERS.take((n_frames, n_passes, size))
        kernels.cascade_bob_init(
            frames, layout.bit_of, layout.n_leaves, layout.pad_pass, layout.pad_leaf, self.state
        )
        cap = max(size // 2, 64)
        self.stage = np.zeros(n_frames, np.int64)
        self.cur = np.zeros(n_frames, np.int64)
        self.s_pass = np.zeros(n_frames, np.int64)
        self.s_node = np.zeros((n_frames, cap), np.int64)
        self.s_count = np.zeros(n_frames, np.int64)
        self.c_pass = np.zeros((n_frames, cap), np.int32)
        self.c_node = np.zeros((n_frames, cap), np.int64)
        self.c_count = np.zeros(n_frames, np.int64)
        self.anc = np.zeros(size, np.int64)
        self.stamp = np.zeros(1, np.int64)
        self.flips = np.zeros(n_frames, np.int64)
        out_cap = n_frames * (int(layout.n_blocks.sum()) + cap)
        # Two sets of request buffers, swapped each round: the last round's requests are read
        # (with their replies) while the new ones are written.
        self.out = [np.zeros(out_cap, np.int64) for _ in range(3)]
        self.prev = [np.zeros(out_cap, np.int64) for _ in range(3)]
        self.index = np.zeros(out_cap, np.int64)
        # Half the bytes on the wire (and to hash) when every node index fits in 32 bits.
        self.wire = np.uint32 if self.state.size <= 2**32 else np.int64

    def step(self, replies: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        """Absorb the replies to the last requests; the next requests (empty: done)."""
        lay = self.layout
        n = kernels.cascade_bob_round(
            self.keys, lay.leaf_of, lay.bit_of, lay.n_leaves, lay.n_blocks, lay.block_start,
            self.reuse, self.state, self.stage, self.cur, self.s_pass, self.s_node,
            self.s_count, self.c_pass, self.c_node, self.c_count, self.anc, self.stamp,
            self.flips, self.prev[0], self.prev[1], self.prev[2], replies, replies.size,
            self.out[0], self.out[1], self.out[2], self.index,
        )  # fmt: skip
        self.prev, self.out = self.out, self.prev
        return self.index[:n].astype(self.wire)


def _frames(bits: npt.NDArray[np.uint8], frame_bits: int) -> npt.NDArray[np.uint8]:
    """Cut a key into frames, the last one padded with zeros known to both parties."""
    n_frames = max(1, math.ceil(bits.size / frame_bits))
    out = np.zeros(n_frames * frame_bits, dtype=np.uint8)
    out[: bits.size] = bits
    return out.reshape(n_frames, frame_bits)


@dataclass(frozen=True)
class CascadeResult:
    """What one party knows after Cascade (Bob's ``corrected_bits`` is only known to Bob)."""

    frames: npt.NDArray[np.uint8]
    disclosed_bits: int
    rounds: int
    corrected_bits: npt.NDArray[np.int64]

    def __repr__(self) -> str:
        return f"CascadeResult(frames={self.frames.shape[0]}, disclosed_bits={self.disclosed_bits})"


def _cascade_bob(
    channel: ClassicalChannel,
    bits: npt.NDArray[np.uint8],
    *,
    qber: float,
    variant: CascadeVariant = CascadeVariant.OPTIMISED,
    frame_bits: int = 2**17,
    seed: int = 0,
    max_frames_per_batch: int = 64,
) -> CascadeResult:
    """The body of :func:`cascade_bob`, inside its deferred-authentication block."""
    frame_bits = min(frame_bits, _next_pow2(max(bits.size, 2)))
    sizes = block_sizes(variant, qber=qber, frame_bits=frame_bits)
    frames = _frames(bits, frame_bits)
    channel.send(
        "cascade-start",
        frame_bits=frame_bits,
        sizes=list(sizes),
        seed=int(seed),
        n_frames=int(frames.shape[0]),
        batch=int(max_frames_per_batch),
    )
    layout = CascadeLayout.build(frame_bits=frame_bits, sizes=sizes, seed=seed)
    reuse = variant is CascadeVariant.OPTIMISED
    disclosed = 0
    rounds = 0
    flips = []
    for start in range(0, frames.shape[0], max_frames_per_batch):
        batch = frames[start : start + max_frames_per_batch]
        bob = _BobState(layout, batch, reuse)
        try:
            replies = np.zeros(0, np.uint8)
            while True:
                request = bob.step(replies)
                channel.send("parity-request", index=request)
                rounds += 1
                if request.size == 0:
                    break
                parities = channel.recv("parity-reply")["parities"]
                if parities.dtype != np.uint8 or parities.size != (request.size + 7) // 8:
                    raise ProtocolAbort("malformed parity reply", reason="protocol")
                replies = np.unpackbits(parities, count=request.size)
                disclosed += request.size
        finally:
            _STATE_BUFFERS.give(bob.state)
        flips.append(bob.flips.copy())
    log.debug("cascade: %d frames, %d rounds, %d parities", frames.shape[0], rounds, disclosed)
    return CascadeResult(frames, disclosed, rounds, np.concatenate(flips))


_MAX_FRAME_BITS = 2**24
_MAX_BATCH = 4096


def _start_parameters(msg: Any) -> tuple[int, tuple[int, ...], int, int]:
    """Frame size, block sizes, seed and batch from Bob's ``cascade-start``, range-checked.

    The message is authenticated only with the transcript at the end, so its values are
    checked before Alice allocates anything from them.
    """
    try:
        frame_bits = int(msg["frame_bits"])
        sizes = tuple(int(s) for s in msg["sizes"])
        seed = int(msg["seed"])
        batch = int(msg["batch"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolAbort("malformed cascade-start message", reason="protocol") from exc
    if (
        not 2 <= frame_bits <= _MAX_FRAME_BITS
        or not 1 <= len(sizes) <= 64
        or not all(1 <= k <= frame_bits for k in sizes)
        or not 1 <= batch <= _MAX_BATCH
        or not 0 <= seed < 2**64
    ):
        raise ProtocolAbort("cascade-start parameters out of range", reason="protocol")
    return frame_bits, sizes, seed, batch


def _cascade_alice(channel: ClassicalChannel, bits: npt.NDArray[np.uint8]) -> CascadeResult:
    """The body of :func:`cascade_alice`, inside its deferred-authentication block."""
    frame_bits, sizes, seed, batch_size = _start_parameters(channel.recv("cascade-start"))
    layout = CascadeLayout.build(frame_bits=frame_bits, sizes=sizes, seed=seed)
    frames = _frames(bits, frame_bits)
    disclosed = 0
    rounds = 0
    for first in range(0, frames.shape[0], batch_size):
        alice = _AliceState(layout, frames[first : first + batch_size])
        while True:
            request = channel.recv("parity-request")["index"]
            rounds += 1
            if request.size == 0:
                break
            channel.send("parity-reply", parities=alice.answer(request))
        disclosed += alice.disclosed_bits
    return CascadeResult(frames, disclosed, rounds, np.zeros(frames.shape[0], np.int64))


def cascade_bob(
    channel: ClassicalChannel,
    bits: npt.NDArray[np.uint8],
    *,
    qber: float,
    variant: CascadeVariant = CascadeVariant.OPTIMISED,
    frame_bits: int = 2**17,
    seed: int = 0,
    max_frames_per_batch: int = 64,
) -> CascadeResult:
    """Bob's side: correct ``bits`` (0/1 uint8) towards Alice's, over ``channel``.

    Returns the corrected frames (F, frame_bits), the number of parities Alice disclosed, the
    number of round trips and the bits Bob flipped per frame. The exchange is authenticated
    as one transcript per direction (see the module notes); a tampered message raises
    :class:`~euroqci.errors.ProtocolAbort` at the end of the exchange, before the result is
    returned.
    """
    with channel.deferred_authentication():
        return _cascade_bob(
            channel,
            bits,
            qber=qber,
            variant=variant,
            frame_bits=frame_bits,
            seed=seed,
            max_frames_per_batch=max_frames_per_batch,
        )


def cascade_alice(channel: ClassicalChannel, bits: npt.NDArray[np.uint8]) -> CascadeResult:
    """Alice's side: answer Bob's parity requests from her own ``bits`` until he is done.

    Authenticated as one transcript per direction, like :func:`cascade_bob`.
    """
    with channel.deferred_authentication():
        return _cascade_alice(channel, bits)
