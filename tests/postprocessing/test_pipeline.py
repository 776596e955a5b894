"""The whole recipe: emulated records -> identical keys; intercept-resend -> abort."""

from __future__ import annotations

import numpy as np
import pytest

from euroqci.devices.emulator import emulate_link
from euroqci.errors import ProtocolAbort
from euroqci.postprocessing.parties import DistillSettings, ReconciliationMethod
from euroqci.postprocessing.pipeline import ChannelKind, distill_key
from euroqci.protocols.finite_key import TailBound


def _settings(link, method=ReconciliationMethod.CASCADE) -> DistillSettings:
    return DistillSettings(
        intensities=link.intensities,
        intensity_probabilities=link.intensity_probabilities,
        method=method,
        tail_bound=TailBound.CHERNOFF,
    )


@pytest.mark.slow
@pytest.mark.parametrize("channel", list(ChannelKind))
def test_distilled_keys_are_equal_and_secret_length_positive(link, records, channel) -> None:
    alice, bob = records
    result = distill_key(
        alice, bob, settings=_settings(link), rng=np.random.default_rng(1), channel=channel
    )
    s = result.summary()
    assert result.keys_equal and s["keys_equal"]
    assert s["secret_bits"] > 0 and s["verification_passed"]
    assert 0.015 < s["qber"] < 0.035  # misalignment 2 % plus dark counts and afterpulses
    assert s["reconciliation_efficiency"] < 1.15
    # Hash keys plus one pad per tag; Cascade's hundreds of messages share one tag each way.
    assert 0 < s["authentication_key_used_bits"] <= 4 * 64 + 14 * 128
    assert result.alice_key.n_bits == s["secret_bits"] - s["authentication_key_replenished_bits"]
    assert "secret" not in repr(result.alice) or "key=" not in repr(result)


def test_intercept_resend_raises_the_qber_and_aborts(link) -> None:
    alice, bob = emulate_link(
        link, n_pulses=2_000_000, rng=np.random.default_rng(3), eavesdrop_fraction=0.6
    )
    with pytest.raises(ProtocolAbort) as info:
        distill_key(alice, bob, settings=_settings(link), rng=np.random.default_rng(2))
    assert info.value.reason == "qber too high"
    assert "QBER" in str(info.value)


def test_too_few_pulses_abort_with_the_finite_key_reason(link) -> None:
    alice, bob = emulate_link(link, n_pulses=300_000, rng=np.random.default_rng(4))
    with pytest.raises(ProtocolAbort) as info:
        distill_key(alice, bob, settings=_settings(link), rng=np.random.default_rng(2))
    assert info.value.reason in {"phase error too high", "finite-key length is zero"}


@pytest.mark.slow
def test_ldpc_pipeline_gives_equal_keys_in_a_few_round_trips(link, records) -> None:
    alice, bob = records
    settings = _settings(link, ReconciliationMethod.LDPC)
    result = distill_key(alice, bob, settings=settings, rng=np.random.default_rng(5))
    s = result.summary()
    assert result.keys_equal and s["secret_bits"] > 0
    # Syndromes go in one message, then a few blind reveals: far fewer authenticated
    # messages than Cascade.
    assert s["authentication_key_used_bits"] < 10_000


@pytest.mark.slow
def test_records_read_back_from_files_distil_the_same_key(link, records, tmp_path) -> None:
    from euroqci.devices.record import load_record

    alice, bob = records
    alice.save(tmp_path / "alice.npz")
    bob.save(tmp_path / "bob.npz")
    a2, b2 = load_record(tmp_path / "alice.npz"), load_record(tmp_path / "bob.npz")
    first = distill_key(alice, bob, settings=_settings(link), rng=np.random.default_rng(8))
    again = distill_key(a2, b2, settings=_settings(link), rng=np.random.default_rng(8))
    assert again.keys_equal and again.alice_key.equals(first.alice_key)


def test_a_parity_reply_altered_in_cascade_aborts_the_run(link, records, monkeypatch) -> None:
    from euroqci.postprocessing import pipeline

    made = pipeline.memory_channel_pair
    seen = {"n": 0}

    def tamper(frame: bytes) -> bytes:
        seen["n"] += 1  # Alice's frames: sift-reply, test-errors, then Cascade's replies
        return frame[:-1] + bytes([frame[-1] ^ 0x80]) if seen["n"] == 6 else frame

    def tampered_pair(secret: bytes):
        ch_a, ch_b = made(secret)
        ch_a.transport.tamper = tamper
        return ch_a, ch_b

    monkeypatch.setattr(pipeline, "memory_channel_pair", tampered_pair)
    alice, bob = records
    with pytest.raises(ProtocolAbort) as info:
        distill_key(alice, bob, settings=_settings(link), rng=np.random.default_rng(1))
    assert info.value.reason == "authentication failed"
    assert seen["n"] > 6
