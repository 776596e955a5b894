"""Rating of entanglement-based (BBM92) and twin-field (SNS) links from a SPEC.

Kept apart from :mod:`euroqci.protocols.evaluate` (decoy BB84 and PLOB) so that each model's
SPEC conventions are read in one place:

* BBM92: ``channel`` is the whole source-to-receivers budget with the source in the middle
  (each arm gets half the loss in dB), unless ``channel_b`` is given: then ``channel`` is arm A
  and ``channel_b`` arm B (a satellite double downlink, slot by slot). Detectors on both sides
  are ``detector``. Finite key on a fibre: the block is ``block_size`` = n_X sifted X-basis
  coincidences, the pair number is the asymptotic optimum, and the key length is the
  random-sampling bound of ``bbm92_finite.bbm92_finite_key_length``; for a pass,
  ``bbm92_finite.bbm92_pass_secret_bits`` optimises pair number and basis.
* TF-QKD (sending-or-not-sending, Wang, Yu, Hu 2018): ``channel`` is Alice to Bob with Charlie
  in the middle; ``source.intensities[0]`` is the signal intensity and
  ``source.sending_probability`` the sending probability (optimised when absent). Asymptotic
  only; a pass sums the per-slot asymptotic key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from euroqci.errors import ConfigurationError
from euroqci.physics.channels import SlottedChannel
from euroqci.protocols import bbm92, bbm92_finite, tf_qkd
from euroqci.protocols.link_spec import Protocol
from euroqci.protocols.plob import plob_bound

if TYPE_CHECKING:
    from euroqci.protocols.evaluate import KeyRateResult
    from euroqci.protocols.link_spec import LinkSpec

FloatArray = np.ndarray


def evaluate_other(spec: LinkSpec) -> KeyRateResult:
    """Rate a link whose protocol is BBM92 or TF-QKD."""
    if spec.protocol is Protocol.BBM92:
        return _bbm92(spec)
    if spec.protocol is Protocol.TF_QKD:
        return _tf_qkd(spec)
    raise ConfigurationError(f"protocol: unknown '{spec.protocol.value}'", field="protocol")


def _result(spec: LinkSpec, **fields: Any) -> KeyRateResult:
    from euroqci.protocols.evaluate import KeyRateResult

    return KeyRateResult(protocol=spec.protocol, **fields)


def _arms(spec: LinkSpec) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Arm transmittances (A, B) and the total loss in dB."""
    loss_a = np.asarray(spec.channel.loss_db, dtype=np.float64)
    if spec.channel_b is None:
        half = loss_a / 2.0
        t = 10.0 ** (-half / 10.0)
        return t, t, loss_a
    if isinstance(spec.channel, SlottedChannel) != isinstance(spec.channel_b, SlottedChannel):
        raise ConfigurationError(
            "channel_b: both arms must be passes (loss_db_per_slot) or both fixed channels",
            field="channel_b",
        )
    loss_b = np.asarray(spec.channel_b.loss_db, dtype=np.float64)
    if loss_a.shape != loss_b.shape and loss_b.size != 1:
        raise ConfigurationError(
            "channel_b: expected as many slots (or lengths) as channel", field="channel_b"
        )
    return 10.0 ** (-loss_a / 10.0), 10.0 ** (-loss_b / 10.0), loss_a + loss_b


def _plob_bps(total_loss_db: FloatArray, rate_hz: float) -> FloatArray:
    t = 10.0 ** (-np.asarray(total_loss_db) / 10.0)
    return np.asarray(plob_bound(t) * rate_hz)


def _bbm92(spec: LinkSpec) -> KeyRateResult:
    t_a, t_b, loss = _arms(spec)
    p_x = spec.basis_probability_x if spec.basis_probability_x is not None else 0.5
    kw: dict[str, Any] = dict(
        detector_a=spec.detector,
        misalignment_error=spec.misalignment_error,
        error_correction_efficiency=spec.error_correction_efficiency,
    )
    rate_hz = spec.repetition_rate_hz
    if isinstance(spec.channel, SlottedChannel):
        return _bbm92_pass(spec, t_a, t_b, loss, kw)
    r = bbm92.bbm92_secret_key_rate(
        t_a, t_b, mean_pair_number=spec.mean_pair_number, basis_probability_x=p_x, **kw
    )
    shape = np.shape(r.secret_bits_per_pulse)
    params: dict[str, Any] = {
        "mean_pair_number": r.mean_pair_number,
        "basis_probability_x": np.full(shape, p_x),
        "optimised": [] if spec.mean_pair_number is not None else ["mean_pair_number"],
    }
    common = {
        "loss_db": np.broadcast_to(loss, shape).copy(),
        "plob_bound_bps": np.broadcast_to(_plob_bps(loss, rate_hz), shape).copy(),
    }
    if spec.finite_key is None:
        rate = r.secret_bits_per_pulse * rate_hz
        return _result(
            spec,
            secret_key_rate_bps=rate,
            secret_bits_per_pulse=r.secret_bits_per_pulse,
            sifted_rate_bps=r.sifted_bits_per_pulse * rate_hz,
            qber=r.qber,
            secret_bits=rate,
            secret_bits_period_s=np.ones(shape),
            parameters=params,
            **common,
        )
    fk = spec.finite_key
    assert fk.block_size is not None
    n_x = np.full(shape, fk.block_size)
    n_z = n_x * (1.0 - p_x) ** 2 / p_x**2
    pulses = n_x / (p_x**2 * np.maximum(r.coincidence_probability, 1e-300))
    length = bbm92_finite.bbm92_finite_key_length(
        n_x,
        n_z,
        qber_x=r.qber,
        qber_z=r.qber,
        error_correction_efficiency=spec.error_correction_efficiency,
        epsilon_sec=fk.epsilon_sec,
        epsilon_cor=fk.epsilon_cor,
    )
    bits = np.floor(np.maximum(length, 0.0))
    per_pulse = bits / pulses
    block_s = pulses / rate_hz
    return _result(
        spec,
        secret_key_rate_bps=per_pulse * rate_hz,
        secret_bits_per_pulse=per_pulse,
        sifted_rate_bps=(n_x + n_z) / block_s,
        qber=r.qber,
        secret_bits=bits,
        secret_bits_period_s=block_s,
        parameters=params,
        details={"pulses": pulses},
        **common,
    )


def _bbm92_pass(
    spec: LinkSpec, t_a: FloatArray, t_b: FloatArray, loss: FloatArray, kw: dict[str, Any]
) -> KeyRateResult:
    channel = spec.channel
    assert isinstance(channel, SlottedChannel)
    rate_hz = spec.repetition_rate_hz
    duration = channel.duration_s
    pulses_per_slot = rate_hz * channel.slot_s
    common = {
        "loss_db": np.asarray(float(np.min(loss))),
        "plob_bound_bps": np.asarray(
            float(np.sum(_plob_bps(loss, 1.0)) * pulses_per_slot / duration)
        ),
    }
    if spec.finite_key is None:
        p_x = spec.basis_probability_x if spec.basis_probability_x is not None else 0.5
        r = bbm92.bbm92_secret_key_rate(
            t_a, t_b, mean_pair_number=spec.mean_pair_number, basis_probability_x=p_x, **kw
        )
        bits = float(np.sum(r.secret_bits_per_pulse) * pulses_per_slot)
        sifted = float(np.sum(r.sifted_bits_per_pulse) * pulses_per_slot)
        qber = float(
            np.sum(r.qber * r.sifted_bits_per_pulse)
            / max(float(np.sum(r.sifted_bits_per_pulse)), 1e-300)
        )
        params: dict[str, Any] = {
            "mean_pair_number": np.asarray(r.mean_pair_number),
            "basis_probability_x": np.asarray(p_x),
        }
    else:
        fk = spec.finite_key
        k = bbm92_finite.bbm92_pass_secret_bits(
            t_a,
            t_b,
            repetition_rate_hz=rate_hz,
            slot_s=channel.slot_s,
            mean_pair_number=spec.mean_pair_number,
            basis_probability_x=spec.basis_probability_x,
            epsilon_sec=fk.epsilon_sec,
            epsilon_cor=fk.epsilon_cor,
            **kw,
        )
        bits, sifted, qber = float(k.secret_bits), float(k.sifted_bits), float(k.qber)
        params = {
            "mean_pair_number": np.asarray(k.mean_pair_number),
            "basis_probability_x": np.asarray(k.basis_probability_x),
        }
    optimised = [
        n
        for n, v in (
            ("mean_pair_number", spec.mean_pair_number),
            ("basis_probability_x", spec.basis_probability_x),
        )
        if v is None
    ]
    params["optimised"] = optimised if spec.finite_key is not None else optimised[:1]
    return _result(
        spec,
        secret_key_rate_bps=np.asarray(bits / duration),
        secret_bits_per_pulse=np.asarray(bits / (pulses_per_slot * loss.size)),
        sifted_rate_bps=np.asarray(sifted / duration),
        qber=np.asarray(qber),
        secret_bits=np.asarray(bits),
        secret_bits_period_s=np.asarray(duration),
        parameters=params,
        details={"duration_s": np.asarray(duration), "sifted_bits": np.asarray(sifted)},
        **common,
    )


def _tf_qkd(spec: LinkSpec) -> KeyRateResult:
    if spec.finite_key is not None:
        raise ConfigurationError(
            "finite_key: the twin-field model is asymptotic only; remove finite_key",
            field="finite_key",
        )
    if spec.channel_b is not None:
        raise ConfigurationError(
            "channel_b: not used by tf-qkd (Charlie sits in the middle of channel)",
            field="channel_b",
        )
    loss = np.asarray(spec.channel.loss_db, dtype=np.float64)
    t = 10.0 ** (-loss / 10.0)
    mu = spec.intensities[0] if spec.intensities else None
    r = tf_qkd.sns_secret_key_rate(
        t,
        detector=spec.detector,
        misalignment_error=spec.misalignment_error,
        error_correction_efficiency=spec.error_correction_efficiency,
        intensity=mu,
        sending_probability=spec.sending_probability,
    )
    rate_hz = spec.repetition_rate_hz
    optimised = [
        n
        for n, v in (("intensity", mu), ("sending_probability", spec.sending_probability))
        if v is None
    ]
    params: dict[str, Any] = {
        "intensities": r.intensity,
        "sending_probability": r.sending_probability,
        "optimised": optimised,
    }
    if isinstance(spec.channel, SlottedChannel):
        pulses_per_slot = rate_hz * spec.channel.slot_s
        duration = spec.channel.duration_s
        bits = float(np.sum(r.secret_bits_per_pulse) * pulses_per_slot)
        return _result(
            spec,
            secret_key_rate_bps=np.asarray(bits / duration),
            secret_bits_per_pulse=np.asarray(bits / (pulses_per_slot * t.size)),
            sifted_rate_bps=np.asarray(
                float(np.sum(r.effective_event_probability)) * pulses_per_slot / duration
            ),
            qber=np.asarray(float(np.mean(r.qber))),
            secret_bits=np.asarray(bits),
            secret_bits_period_s=np.asarray(duration),
            parameters={"optimised": optimised},
            loss_db=np.asarray(float(np.min(loss))),
            plob_bound_bps=np.asarray(
                float(np.sum(_plob_bps(loss, 1.0)) * pulses_per_slot / duration)
            ),
        )
    rate = r.secret_bits_per_pulse * rate_hz
    shape = np.shape(rate)
    return _result(
        spec,
        secret_key_rate_bps=rate,
        secret_bits_per_pulse=r.secret_bits_per_pulse,
        sifted_rate_bps=r.effective_event_probability * rate_hz,
        qber=r.qber,
        secret_bits=rate,
        secret_bits_period_s=np.ones(shape),
        parameters=params,
        details={"phase_error": r.phase_error},
        loss_db=loss,
        plob_bound_bps=_plob_bps(loss, rate_hz),
    )
