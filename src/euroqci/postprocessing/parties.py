"""Alice and Bob: two parties, each with its own record, talking only over the channel.

Steps (Bob drives): sifting, estimation on the Z test bits, error correction of the X key,
verification, the finite-key length, privacy amplification, and replenishing the
authentication pool from the new key. Each party computes the public decisions (abort, key
length) from the same public data, so both reach them without trusting the other's verdict.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.devices.record import (
    AliceRecord,
    BobRecord,
    pack_intensity_index,
    unpack_intensity_index,
)
from euroqci.errors import ProtocolAbort
from euroqci.postprocessing import verification
from euroqci.postprocessing._sifting_kernels import count_kept, count_kept_errors
from euroqci.postprocessing.amplification import seed_bits, toeplitz_hash
from euroqci.postprocessing.bits import BitString
from euroqci.postprocessing.cascade import CascadeVariant, cascade_alice, cascade_bob
from euroqci.postprocessing.channel import ClassicalChannel
from euroqci.postprocessing.estimation import secret_key_length
from euroqci.postprocessing.ldpc import ldpc_alice, ldpc_bob
from euroqci.postprocessing.sifting import click_gaps, sift
from euroqci.protocols.finite_key import TailBound

__all__ = ["Alice", "Bob", "DistillSettings", "PartyResult", "ReconciliationMethod"]

log = logging.getLogger(__name__)


class ReconciliationMethod(Enum):
    """Error-correction method, chosen by name only at the CLI/config edge."""

    CASCADE = "cascade"
    CASCADE_ORIGINAL = "cascade-original"
    LDPC = "ldpc"


@dataclass(frozen=True)
class DistillSettings:
    """Public protocol parameters, identical at both parties.

    Defaults are finite-key safe: ``epsilon_sec = 1e-10``, ``epsilon_cor = 1e-15``, abort above
    11 % QBER (where BB84's asymptotic key vanishes; Shor and Preskill, PRL 85, 441 (2000)).
    """

    intensities: tuple[float, ...]
    intensity_probabilities: tuple[float, ...]
    method: ReconciliationMethod = ReconciliationMethod.CASCADE
    frame_bits: int = 2**17
    epsilon_sec: float = 1e-10
    epsilon_cor: float = 1e-15
    tail_bound: TailBound = TailBound.HOEFFDING
    qber_max: float = 0.11
    cascade_seed: int = 0x5EED


@dataclass
class PartyResult:
    """What one party ends with; ``key`` is its final secret key (never printed)."""

    key: BitString
    sifted_bits: int
    qber_estimate: float
    qber: float
    reconciliation_leak_bits: int
    verification_leak_bits: int
    frames: int
    frames_failed: int
    verification_passed: bool
    secret_bits: int
    phase_error: float
    authentication_key_used_bits: int
    authentication_key_replenished_bits: int
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"PartyResult(secret_bits={self.secret_bits}, frames={self.frames})"


class _Party:
    """Shared bookkeeping of both parties: stage timing and the public decisions."""

    def __init__(self, channel: ClassicalChannel, settings: DistillSettings) -> None:
        self.channel = channel
        self.settings = settings
        self.stage_seconds: dict[str, float] = {}
        self._t = time.perf_counter()

    def run(self) -> PartyResult:
        """Run this party's side to the end (Bob drives, Alice answers); on any error tell the
        peer why and raise (:class:`ProtocolAbort` when the protocol must stop)."""
        try:
            return self._run()
        except Exception as exc:
            self._tell_abort(exc)
            raise

    def _run(self) -> PartyResult:
        raise NotImplementedError

    def _lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + now - self._t
        self._t = now

    def _check_qber(self, n_z: npt.NDArray[np.int64], m_z: npt.NDArray[np.int64]) -> float:
        if int(n_z.sum()) == 0:
            raise ProtocolAbort(
                "no test (Z-basis) detections: cannot estimate the QBER; send more pulses",
                reason="no test bits",
            )
        qber = float(m_z.sum() / n_z.sum())
        if qber > self.settings.qber_max:
            raise ProtocolAbort(
                f"QBER {qber:.4f} in the test basis is above {self.settings.qber_max}: "
                "the channel is too noisy or eavesdropped",
                reason="qber too high",
            )
        return qber

    def _key_length(self, counts: dict[str, Any], leak_bits: int, verify_bits: int) -> Any:
        s = self.settings
        # Lim et al. already charge log2(2/eps_cor) for verification; charge any excess too.
        extra = max(0, verify_bits - math.ceil(math.log2(2.0 / s.epsilon_cor)))
        length = secret_key_length(
            n_x=counts["n_x"],
            n_z=counts["n_z"],
            m_x=counts["m_x"],
            m_z=counts["m_z"],
            intensities=s.intensities,
            intensity_probabilities=s.intensity_probabilities,
            leak_bits=leak_bits + extra,
            epsilon_sec=s.epsilon_sec,
            epsilon_cor=s.epsilon_cor,
            tail_bound=s.tail_bound,
        )
        if length.secret_bits <= 0:
            if length.phase_error >= 0.11:
                reason = "phase error too high"
                text = f"estimated phase error {length.phase_error:.4f} leaves no secret key"
            else:
                reason = "finite-key length is zero"
                text = (
                    f"the finite-key bound leaves no secret key (phase error "
                    f"{length.phase_error:.4f}, {int(counts['n_x'].sum())} key bits); "
                    "send more pulses"
                )
            raise ProtocolAbort(text, reason=reason)
        return length

    def _tell_abort(self, exc: Exception) -> None:
        """Tell the peer we stop (unless the peer told us), so that it does not wait for us."""
        if isinstance(exc, ProtocolAbort) and exc.reason.startswith("peer:"):
            return
        reason = exc.reason if isinstance(exc, ProtocolAbort) else "internal error"
        try:
            self.channel.send("abort", reason=reason)
        except Exception:  # the channel may be gone; the local abort stands
            log.debug("could not tell the peer about the abort")

    @staticmethod
    def _key_counts(
        key_intensity: npt.NDArray[Any],
        ok: npt.NDArray[np.bool_],
        frame_bits: int,
        n_z: npt.NDArray[np.int64],
        m_x: npt.NDArray[np.int64],
        m_z: npt.NDArray[np.int64],
    ) -> dict[str, Any]:
        """Per-intensity counts of the verified key bits, their errors and the test bits."""
        n_x = count_kept(key_intensity, ok, frame_bits, n_z.size)
        return {"n_x": n_x, "n_z": n_z, "m_x": m_x, "m_z": m_z}

    def _amplify(
        self,
        reconciled: BitString,
        seed: BitString,
        *,
        length: Any,
        counts: dict[str, Any],
        ok: npt.NDArray[np.bool_],
        sifted_bits: int,
        qber_estimate: float,
        reconciliation_leak_bits: int,
        verification_leak_bits: int,
    ) -> PartyResult:
        """Privacy amplification, pool replenishment and the party's result (both parties)."""
        if seed.n_bits != seed_bits(reconciled.n_bits, length.secret_bits):
            raise ProtocolAbort(
                "the hash seed does not match the key and output lengths", reason="protocol"
            )
        final = toeplitz_hash(reconciled, seed, output_bits=length.secret_bits)
        self._lap("amplification")
        out, replenished = self._replenish(final)
        return PartyResult(
            key=out,
            sifted_bits=sifted_bits,
            qber_estimate=qber_estimate,
            qber=float(counts["m_x"].sum() / max(1, counts["n_x"].sum())),
            reconciliation_leak_bits=reconciliation_leak_bits,
            verification_leak_bits=verification_leak_bits,
            frames=int(ok.size),
            frames_failed=int((~ok).sum()),
            verification_passed=bool(ok.all()),
            secret_bits=length.secret_bits,
            phase_error=length.phase_error,
            authentication_key_used_bits=self.channel.auth.pool.consumed_bits,
            authentication_key_replenished_bits=replenished,
            stage_seconds=self.stage_seconds,
        )

    def _replenish(self, key: BitString) -> tuple[BitString, int]:
        """Feed the authentication pool with as many bits as this session consumed."""
        pool = self.channel.auth.pool
        used = pool.consumed_bits - pool.replenished_bits
        take = min(used - used % 16, key.n_bits - key.n_bits % 16)
        if take <= 0:
            return key, 0
        bits = key.unpack()
        pool.replenish(np.packbits(bits[:take]).tobytes())
        return BitString.from_bits(bits[take:]), take


class Alice(_Party):
    """Alice: holds an :class:`AliceRecord` and her own random generator (for public seeds)."""

    def __init__(
        self,
        record: AliceRecord,
        channel: ClassicalChannel,
        *,
        settings: DistillSettings,
        rng: np.random.Generator,
    ) -> None:
        super().__init__(channel, settings)
        self._record = record
        self._rng = rng

    def __repr__(self) -> str:
        return f"Alice(n_pulses={self._record.n_pulses})"

    def _run(self) -> PartyResult:
        ch = self.channel
        msg = ch.recv("sift")
        gaps = msg["click_gaps"]
        try:
            bits, bases, idx = self._record.at_gaps(gaps)
        except IndexError as exc:
            text = f"Bob's sifting message: {exc}"
            raise ProtocolAbort(text, reason="malformed message") from exc
        bob_bases = np.unpackbits(msg["bases"], count=bits.size)
        if bob_bases.size != bits.size:
            raise ProtocolAbort(
                "Bob's sifting message: expected one basis per click", reason="malformed message"
            )
        ch.send("sift-reply", bases=np.packbits(bases), intensity_index=pack_intensity_index(idx))
        sifted = sift(bases, bob_bases, idx)
        _, n_z = sifted.counts(len(self.settings.intensities))
        self._lap("sifting")
        z_bob = np.unpackbits(ch.recv("test-bits")["bits"], count=sifted.test.size)
        wrong = z_bob != bits[sifted.test]
        m_z = np.bincount(sifted.test_intensity[wrong], minlength=n_z.size).astype(np.int64)
        ch.send("test-errors", m_z=m_z)
        qber_est = self._check_qber(n_z, m_z)
        self._lap("estimation")
        key = bits[sifted.key]
        if self.settings.method is ReconciliationMethod.LDPC:
            rec = ldpc_alice(ch, key, rng=self._rng)
        else:
            rec = cascade_alice(ch, key)
        self._lap("reconciliation")
        frames = rec.frames
        count = verification.hash_count(
            frame_bits=frames.shape[1],
            n_frames=frames.shape[0],
            epsilon_cor=self.settings.epsilon_cor,
        )
        hash_keys = self._rng.integers(0, (1 << 61) - 1, count, dtype=np.uint64)
        ch.send("verify", keys=hash_keys, tags=verification.frame_tags(frames, hash_keys))
        ok = ch.recv("verify-result")["ok"].astype(bool)
        self._lap("verification")
        m_x = ch.recv("key-errors")["m_x"]
        counts = self._key_counts(sifted.key_intensity, ok, frames.shape[1], n_z, m_x, m_z)
        verify_bits = verification.tag_bits(count) * frames.shape[0]
        length = self._key_length(counts, rec.disclosed_bits, verify_bits)
        reconciled = BitString.from_bits(_kept_bits(frames, ok, key.size))
        seed = BitString.random(seed_bits(reconciled.n_bits, length.secret_bits), self._rng)
        ch.send("pa-seed", seed=seed.data, n_bits=seed.n_bits, output_bits=length.secret_bits)
        return self._amplify(
            reconciled,
            seed,
            length=length,
            counts=counts,
            ok=ok,
            sifted_bits=int(key.size),
            qber_estimate=qber_est,
            reconciliation_leak_bits=rec.disclosed_bits,
            verification_leak_bits=verify_bits,
        )


def _kept_bits(
    frames: npt.NDArray[np.uint8], ok: npt.NDArray[np.bool_], n_real: int
) -> npt.NDArray[np.uint8]:
    """The real (unpadded) bits of the verified frames, in order (a view when all passed)."""
    flat = frames.reshape(-1)[:n_real]
    if ok.all():
        return flat
    return flat[np.repeat(ok, frames.shape[1])[:n_real]]


class Bob(_Party):
    """Bob: holds a :class:`BobRecord`; drives the protocol."""

    def __init__(
        self, record: BobRecord, channel: ClassicalChannel, *, settings: DistillSettings
    ) -> None:
        super().__init__(channel, settings)
        self._record = record

    def __repr__(self) -> str:
        return f"Bob(clicks={self._record.click_index.size})"

    def _run(self) -> PartyResult:
        ch = self.channel
        rec = self._record
        ch.send("sift", click_gaps=click_gaps(rec.click_index), bases=np.packbits(rec.bases))
        reply = ch.recv("sift-reply")
        alice_bases = np.unpackbits(reply["bases"], count=rec.click_index.size)
        try:
            idx = unpack_intensity_index(reply["intensity_index"], rec.click_index.size)
        except ValueError:
            idx = np.zeros(0, np.uint8)  # too short: refused just below
        if idx.size != rec.click_index.size or alice_bases.size != rec.click_index.size:
            raise ProtocolAbort(
                "Alice's sifting reply: expected one basis and intensity per click",
                reason="malformed message",
            )
        sifted = sift(alice_bases, rec.bases, idx)
        n_x, n_z = sifted.counts(len(self.settings.intensities))
        self._lap("sifting")
        ch.send("test-bits", bits=np.packbits(rec.results[sifted.test]))
        m_z = np.asarray(ch.recv("test-errors")["m_z"], dtype=np.int64)
        qber_est = self._check_qber(n_z, m_z)
        self._lap("estimation")
        raw = rec.results[sifted.key]
        if self.settings.method is ReconciliationMethod.LDPC:
            result = ldpc_bob(ch, raw, qber=max(qber_est, 1e-3))
        else:
            variant = (
                CascadeVariant.ORIGINAL
                if self.settings.method is ReconciliationMethod.CASCADE_ORIGINAL
                else CascadeVariant.OPTIMISED
            )
            result = cascade_bob(
                ch,
                raw,
                qber=max(qber_est, 1e-3),
                variant=variant,
                frame_bits=self.settings.frame_bits,
                seed=self.settings.cascade_seed,
            )
        self._lap("reconciliation")
        frames = result.frames
        msg = ch.recv("verify")
        mine = verification.frame_tags(frames, np.asarray(msg["keys"], dtype=np.uint64))
        ok = np.all(mine == msg["tags"], axis=1)
        ch.send("verify-result", ok=ok.astype(np.uint8))
        self._lap("verification")
        m_x = count_kept_errors(
            frames.reshape(-1), raw, sifted.key_intensity, ok, frames.shape[1], n_x.size
        )
        ch.send("key-errors", m_x=m_x)
        counts = self._key_counts(sifted.key_intensity, ok, frames.shape[1], n_z, m_x, m_z)
        corrected = _kept_bits(frames, ok, raw.size)
        count = int(msg["keys"].size)
        verify_bits = verification.tag_bits(count) * frames.shape[0]
        length = self._key_length(counts, result.disclosed_bits, verify_bits)
        pa = ch.recv("pa-seed")
        if int(pa["output_bits"]) != length.secret_bits:
            raise ProtocolAbort("the parties disagree on the key length", reason="protocol")
        try:
            seed = BitString(np.asarray(pa["seed"], dtype=np.uint8).copy(), int(pa["n_bits"]))
        except (TypeError, ValueError) as exc:
            raise ProtocolAbort(f"Alice's hash seed: {exc}", reason="malformed message") from exc
        return self._amplify(
            BitString.from_bits(corrected),
            seed,
            length=length,
            counts=counts,
            ok=ok,
            sifted_bits=int(raw.size),
            qber_estimate=qber_est,
            reconciliation_leak_bits=result.disclosed_bits,
            verification_leak_bits=verify_bits,
        )
