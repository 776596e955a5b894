"""LDPC syndrome reconciliation: a family of PEG codes, rate chosen from the estimated QBER.

The codes are built once by ``scripts/build_ldpc_codes.py`` with progressive edge growth
(Hu, Eleftheriou, Arnold, IEEE TIT 51, 386 (2005)) and shipped as ``codes/ldpc_codes.npz``,
each with the QBER up to which it decoded at least 95 % of the frames in the script's Monte
Carlo run (``qber_max``). Alice sends the syndrome of each frame; Bob decodes with layered
sum-product belief propagation; a frame whose syndrome is not met is reported failed.
One round trip serves every frame.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from euroqci.postprocessing import _kernels as kernels
from euroqci.postprocessing.cascade import CascadeResult
from euroqci.postprocessing.channel import ClassicalChannel

__all__ = ["LdpcCode", "choose_code", "ldpc_alice", "ldpc_bob", "load_codes"]

MAX_ITERATIONS = 60
#: 0 selects sum-product in the decoder kernel (better than min-sum at these check degrees).
MIN_SUM_SCALE = 0.0


@dataclass(frozen=True, repr=False)
class LdpcCode:
    """A parity-check matrix in CSR form: check ``c`` covers ``chk_var[ptr[c] : ptr[c + 1]]``."""

    index: int
    n: int
    chk_ptr: npt.NDArray[np.int64]
    chk_var: npt.NDArray[np.int64]
    qber_max: float

    @property
    def m(self) -> int:
        """Number of parity checks (syndrome bits disclosed per frame)."""
        return int(self.chk_ptr.size - 1)

    @property
    def rate(self) -> float:
        """Code rate ``1 - m / n``."""
        return 1.0 - self.m / self.n

    def __repr__(self) -> str:
        return f"LdpcCode(n={self.n}, rate={self.rate:.3f}, qber_max={self.qber_max:.4f})"


@functools.cache
def load_codes() -> tuple[LdpcCode, ...]:
    """The shipped family, from the highest rate to the lowest."""
    path = resources.files("euroqci.postprocessing") / "codes" / "ldpc_codes.npz"
    with resources.as_file(path) as p, np.load(p) as z:
        n = int(z["n"])
        count = int(z["count"])
        codes = [
            LdpcCode(
                index=i,
                n=n,
                chk_ptr=z[f"ptr_{i}"].astype(np.int64),
                chk_var=z[f"var_{i}"].astype(np.int64),
                qber_max=float(z["qber_max"][i]),
            )
            for i in range(count)
        ]
    return tuple(sorted(codes, key=lambda c: c.m))


def choose_code(qber: float) -> LdpcCode:
    """The highest-rate code whose measured ``qber_max`` covers ``qber`` (else the lowest rate).

    >>> choose_code(0.02).qber_max >= 0.02
    True
    """
    codes = load_codes()
    for code in codes:
        if code.qber_max >= qber:
            return code
    return codes[-1]


def _frames(bits: npt.NDArray[np.uint8], n: int) -> npt.NDArray[np.uint8]:
    n_frames = max(1, math.ceil(bits.size / n))
    out = np.zeros(n_frames * n, dtype=np.uint8)
    out[: bits.size] = bits
    return out.reshape(n_frames, n)


def _decode_parallel(
    frames: npt.NDArray[np.uint8],
    syndromes: npt.NDArray[np.uint8],
    code: LdpcCode,
    qber: float,
    workers: int,
) -> None:
    """Decode in ``workers`` threads (the kernel releases the GIL); failed frames are left for
    verification to catch and count."""
    from concurrent.futures import ThreadPoolExecutor

    parts = np.array_split(np.arange(frames.shape[0]), max(1, workers))

    def run(idx: npt.NDArray[np.int64]) -> None:
        if idx.size:
            sub = frames[idx[0] : idx[-1] + 1]
            kernels.ldpc_decode(
                sub, syndromes[idx[0] : idx[-1] + 1], code.chk_ptr, code.chk_var, qber,
                MAX_ITERATIONS, MIN_SUM_SCALE,
            )  # fmt: skip

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(run, parts))


def ldpc_bob(
    channel: ClassicalChannel, bits: npt.NDArray[np.uint8], *, qber: float, workers: int = 2
) -> CascadeResult:
    """Bob's side: choose the code, receive the syndromes, decode every frame."""
    code = choose_code(qber)
    frames = _frames(bits, code.n)
    channel.send("ldpc-start", code=code.index, n_frames=int(frames.shape[0]))
    msg = channel.recv("ldpc-syndromes")
    syndromes = np.unpackbits(msg["syndromes"], count=frames.shape[0] * code.m).reshape(
        frames.shape[0], code.m
    )
    original = frames.copy()
    _decode_parallel(frames, syndromes, code, max(qber, 1e-3), workers)
    flips = np.sum(frames != original, axis=1).astype(np.int64)
    return CascadeResult(frames, int(frames.shape[0] * code.m), 1, flips)


def ldpc_alice(channel: ClassicalChannel, bits: npt.NDArray[np.uint8]) -> CascadeResult:
    """Alice's side: send the syndrome of each frame under the code Bob chose."""
    start = channel.recv("ldpc-start")
    code = next(c for c in load_codes() if c.index == int(start["code"]))
    frames = _frames(bits, code.n)
    syndromes = kernels.ldpc_syndromes(frames, code.chk_ptr, code.chk_var)
    channel.send("ldpc-syndromes", syndromes=np.packbits(syndromes))
    return CascadeResult(frames, int(frames.shape[0] * code.m), 1, np.zeros(len(frames), np.int64))
