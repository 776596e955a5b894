"""Monte Carlo emulation of a decoy-state BB84 link: the detection records of Alice and Bob.

Per pulse: Alice picks a bit, a basis (X with ``basis_probability_x``) and an intensity.
A photon reaches and fires Bob's detector pair with probability ``1 - exp(-eta mu)``
(``eta`` = channel transmittance times detector efficiency, Poisson photon number of a
phase-randomised coherent pulse; Lo, Ma, Chen, PRL 94, 230504 (2005)); it lands in the wrong
detector with probability ``misalignment_error`` when the bases match and with 1/2 when they
do not. Each detector also fires by a dark count with ``dark_count_probability`` per gate; a
double click gets a random bit (squashing; Lutkenhaus, PRA 59, 3301 (1999)). After a click, the
next gate fires with ``afterpulse_probability`` in a random detector. These events reproduce
``physics.detectors.click_probability`` and ``error_click_probability`` to first order in the
dark count and afterpulse probabilities (checked by the tests).

An intercept-resend eavesdropper measures a fraction of the pulses in a random basis and
resends what she found with the same intensity: on those pulses the QBER rises by 1/4.
Pulses are drawn in chunks so that 10^9 of them fit in memory (Alice's log is packed).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from euroqci.devices.record import AliceRecord, BobRecord, pack_intensity_index
from euroqci.errors import ConfigurationError
from euroqci.physics.channels import SlottedChannel
from euroqci.protocols.link_spec import LinkSpec

__all__ = ["LinkSettings", "emulate_link", "link_settings"]

log = logging.getLogger(__name__)

DEFAULT_CHUNK_PULSES = 1 << 22


@dataclass(frozen=True)
class LinkSettings:
    """What the emulator needs from a SPEC: one link, explicit intensities and probabilities."""

    transmittance: npt.NDArray[np.float64]  # scalar, or one value per time slot
    intensities: tuple[float, ...]
    intensity_probabilities: tuple[float, ...]
    basis_probability_x: float
    efficiency: float
    dark_count_probability: float
    afterpulse_probability: float
    misalignment_error: float
    repetition_rate_hz: float


def link_settings(spec: LinkSpec, *, pulses: float | None = None) -> LinkSettings:
    """Resolve a SPEC to one link; intensities not given are those the key-rate optimiser picks.

    With ``pulses`` (the length of the run) and a finite-key SPEC, the free intensities,
    probabilities and basis choice are optimised for the block that this many pulses give:
    the run is rated as a one-slot pass (counts of ``pulses`` pulses, bounds applied once),
    not for the SPEC's ``block_size``, which may be far larger than the run.
    """
    t = np.asarray(spec.channel.transmittance, dtype=np.float64)
    if not isinstance(spec.channel, SlottedChannel) and t.size != 1:
        raise ConfigurationError(
            "channel: expected one link (a single length_km or loss_db), not a sweep",
            field="channel",
        )
    if spec.protocol.value != "bb84-decoy":
        raise ConfigurationError(
            "protocol: the device emulator runs 'bb84-decoy' links", field="protocol"
        )
    mu = spec.intensities
    probs = spec.intensity_probabilities
    p_x = spec.basis_probability_x
    if mu is None or probs is None or p_x is None:
        from euroqci.protocols.evaluate import evaluate_link

        rated = spec
        if pulses is not None and spec.finite_key is not None and t.size == 1:
            rated = dataclasses.replace(
                spec,
                channel=SlottedChannel(
                    loss_db_per_slot=np.atleast_1d(spec.channel.loss_db).astype(np.float64),
                    slot_s=float(pulses) / spec.repetition_rate_hz,
                    optimise_window=False,
                ),
                finite_key=dataclasses.replace(spec.finite_key, block_size=None),
            )
        params = evaluate_link(rated).parameters
        mu = mu or tuple(float(x) for x in np.ravel(params["intensities"]))
        if probs is None:
            probs = tuple(float(x) for x in np.ravel(params.get("intensity_probabilities", [1.0])))
        p_x = p_x if p_x is not None else float(np.ravel(params["basis_probability_x"])[0])
    if len(mu) != len(probs) or len(mu) > 4:
        raise ConfigurationError(
            "source.intensity_probabilities: expected one probability per intensity (at most 4)",
            field="source.intensity_probabilities",
        )
    det = spec.detector
    return LinkSettings(
        transmittance=t.reshape(-1) if isinstance(spec.channel, SlottedChannel) else t.reshape(()),
        intensities=tuple(mu),
        intensity_probabilities=tuple(probs),
        basis_probability_x=float(p_x),
        efficiency=det.efficiency,
        dark_count_probability=det.dark_count_probability,
        afterpulse_probability=det.afterpulse_probability,
        misalignment_error=spec.misalignment_error,
        repetition_rate_hz=spec.repetition_rate_hz,
    )


def _chunk(
    link: LinkSettings,
    rng: np.random.Generator,
    n: int,
    transmittance: npt.NDArray[np.float64],
    eavesdrop_fraction: float,
    last_click: bool,
) -> tuple[dict[str, np.ndarray], bool]:
    """Draw ``n`` pulses; ``transmittance`` is per pulse (or a scalar array)."""
    mu = np.asarray(link.intensities)
    cum = np.cumsum(link.intensity_probabilities)
    cum[-1] = 1.0
    bits = rng.integers(0, 2, n, dtype=np.uint8)
    basis_a = (rng.random(n, dtype=np.float32) < link.basis_probability_x).astype(np.uint8)
    idx = np.searchsorted(cum, rng.random(n), side="right").astype(np.uint8)
    basis_b = (rng.random(n, dtype=np.float32) < link.basis_probability_x).astype(np.uint8)
    p_signal = -np.expm1(-transmittance * link.efficiency * mu[idx])
    signal = rng.random(n) < p_signal
    # The state that reaches Bob: Alice's, or the one an intercept-resend attacker prepared.
    state_basis = basis_a.copy()
    state_bit = bits.copy()
    if eavesdrop_fraction > 0:
        caught = rng.random(n) < eavesdrop_fraction
        eve_basis = rng.integers(0, 2, n, dtype=np.uint8)
        eve_bit = np.where(eve_basis == basis_a, bits, rng.integers(0, 2, n, dtype=np.uint8))
        state_basis = np.where(caught, eve_basis, state_basis).astype(np.uint8)
        state_bit = np.where(caught, eve_bit, state_bit).astype(np.uint8)
    s = np.flatnonzero(signal)
    same = basis_b[s] == state_basis[s]
    flip = np.where(same, rng.random(s.size) < link.misalignment_error, False)
    random_bit = rng.integers(0, 2, s.size, dtype=np.uint8)
    outcome = np.where(same, state_bit[s] ^ flip, random_bit).astype(np.uint8)
    det0 = np.zeros(n, dtype=bool)
    det1 = np.zeros(n, dtype=bool)
    det0[s[outcome == 0]] = True
    det1[s[outcome == 1]] = True
    p_dc = link.dark_count_probability
    if p_dc > 0:
        for det in (det0, det1):
            k = rng.binomial(n, p_dc)
            det[rng.choice(n, size=k, replace=False) if k < n // 4 else rng.random(n) < p_dc] = True
    click = det0 | det1
    double = det0 & det1
    result = det1.astype(np.uint8)
    result[double] = rng.integers(0, 2, int(double.sum()), dtype=np.uint8)
    p_ap = link.afterpulse_probability
    if p_ap > 0:
        prev = np.empty(n, dtype=bool)
        prev[0] = last_click
        prev[1:] = click[:-1]
        cand = np.flatnonzero(prev & ~click)
        ap = cand[rng.random(cand.size) < p_ap]
        click[ap] = True
        result[ap] = rng.integers(0, 2, ap.size, dtype=np.uint8)
    where = np.flatnonzero(click)
    out: dict[str, np.ndarray] = {
        "bits": bits,
        "bases": basis_a,
        "idx": idx,
        "click": where,
        "bob_bases": basis_b[where],
        "results": result[where],
        "double": double[where].astype(np.uint8),
    }
    return out, bool(click[-1]) if n else last_click


def emulate_link(
    link: LinkSettings,
    *,
    n_pulses: int,
    rng: np.random.Generator,
    eavesdrop_fraction: float = 0.0,
    chunk_pulses: int = DEFAULT_CHUNK_PULSES,
    progress: Callable[[int], None] | None = None,
) -> tuple[AliceRecord, BobRecord]:
    """Draw Alice's and Bob's detection records for ``n_pulses`` pulses.

    Parameters
    ----------
    link
        From :func:`link_settings`.
    n_pulses
        Number of pulses Alice sends, >= 1.
    rng
        The only source of randomness.
    eavesdrop_fraction
        Fraction of pulses an intercept-resend attacker measures, in [0, 1].
    chunk_pulses
        Pulses drawn at once (memory ~ 40 bytes per pulse of the chunk).
    progress
        Called with the number of pulses done after each chunk.

    Returns
    -------
    (AliceRecord, BobRecord)
    """
    if n_pulses < 1:
        raise ConfigurationError("pulses: expected a number of pulses >= 1", field="pulses")
    if not 0.0 <= eavesdrop_fraction <= 1.0:
        raise ConfigurationError("eavesdrop: expected a fraction in [0, 1]", field="eavesdrop")
    chunk_pulses = max(8, chunk_pulses - chunk_pulses % 8)
    t = np.asarray(link.transmittance, dtype=np.float64)
    bits = np.zeros(-(-n_pulses // 8), dtype=np.uint8)
    bases = np.zeros_like(bits)
    intensity = np.zeros(-(-n_pulses // 4), dtype=np.uint8)
    clicks, b_bases, results, doubles = [], [], [], []
    last = False
    for start in range(0, n_pulses, chunk_pulses):
        n = min(chunk_pulses, n_pulses - start)
        if t.ndim == 0:
            t_pulse = t
        else:  # a pass: the pulses spread evenly over the slots
            slot = (np.arange(start, start + n) * t.size) // n_pulses
            t_pulse = t[slot]
        c, last = _chunk(link, rng, n, t_pulse, eavesdrop_fraction, last)
        bits[start // 8 : start // 8 + -(-n // 8)] = np.packbits(c["bits"])
        bases[start // 8 : start // 8 + -(-n // 8)] = np.packbits(c["bases"])
        intensity[start // 4 : start // 4 + -(-n // 4)] = pack_intensity_index(c["idx"])
        clicks.append(c["click"].astype(np.int64) + start)
        b_bases.append(c["bob_bases"])
        results.append(c["results"])
        doubles.append(c["double"])
        if progress is not None:
            progress(start + n)
    alice = AliceRecord(
        n_pulses=n_pulses,
        intensities=link.intensities,
        repetition_rate_hz=link.repetition_rate_hz,
        bits=bits,
        bases=bases,
        intensity_index=intensity,
    )
    bob = BobRecord(
        n_pulses=n_pulses,
        repetition_rate_hz=link.repetition_rate_hz,
        click_index=np.concatenate(clicks),
        bases=np.concatenate(b_bases),
        results=np.concatenate(results),
        double_click=np.concatenate(doubles),
    )
    log.debug("emulated %d pulses, %d clicks", n_pulses, bob.click_index.size)
    return alice, bob
