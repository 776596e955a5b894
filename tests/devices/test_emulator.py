"""The emulator reproduces the physics layer's click and error probabilities; records persist."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from euroqci.devices.emulator import emulate_link, link_settings
from euroqci.devices.record import AliceRecord, BobRecord, load_record
from euroqci.errors import ConfigurationError
from euroqci.physics.detectors import Detector, click_probability, error_click_probability
from euroqci.protocols.link_spec import parse_link_spec

SPEC = {
    "channel": {"length_km": 25.0},
    "source": {
        "intensities": [0.6, 0.2, 0.01],
        "intensity_probabilities": [0.5, 0.3, 0.2],
        "basis_probability_x": 0.5,
    },
    "detector": {"efficiency": 0.3, "dark_count_probability": 1e-4, "afterpulse_probability": 0.02},
    "misalignment_error": 0.03,
}


@pytest.fixture(scope="module")
def drawn():
    link = link_settings(parse_link_spec(SPEC))
    alice, bob = emulate_link(
        link, n_pulses=3_000_000, rng=np.random.default_rng(11), chunk_pulses=1 << 20
    )
    return link, alice, bob


def test_click_and_error_rates_match_the_physics_layer(drawn) -> None:
    # Per intensity without afterpulses: the emulator draws an afterpulse after the previous
    # gate's click whatever its intensity, the model charges it to the pulse's own click.
    link = replace(drawn[0], afterpulse_probability=0.0)
    alice, bob = emulate_link(link, n_pulses=3_000_000, rng=np.random.default_rng(12))
    det = Detector(link.efficiency, link.dark_count_probability, link.afterpulse_probability)
    n_pulses = alice.n_pulses
    bits, bases, idx = alice.at(bob.click_index)
    all_idx = alice.at(np.arange(n_pulses, dtype=np.int64))[2]
    for k, mu in enumerate(link.intensities):
        sent = int(np.sum(all_idx == k))
        clicks = int(np.sum(idx == k))
        expected = float(click_probability(link.transmittance, mu, det)) * sent
        assert abs(clicks - expected) < 5 * np.sqrt(expected) + 0.01 * expected
        same = (idx == k) & (bases == bob.bases)
        errors = int(np.sum(bits[same] != bob.results[same]))
        p_err = float(error_click_probability(link.transmittance, mu, det, link.misalignment_error))
        expected_err = p_err / float(click_probability(link.transmittance, mu, det)) * same.sum()
        assert abs(errors - expected_err) < 5 * np.sqrt(expected_err) + 0.05 * expected_err


def test_afterpulses_add_the_modelled_fraction_of_clicks(drawn) -> None:
    link, alice, bob = drawn
    det = Detector(link.efficiency, link.dark_count_probability, link.afterpulse_probability)
    idx = alice.at(np.arange(alice.n_pulses, dtype=np.int64))[2]
    sent = np.bincount(idx, minlength=3)
    expected = float(
        np.sum(sent * click_probability(link.transmittance, np.array(link.intensities), det))
    )
    assert abs(bob.click_index.size - expected) < 5 * np.sqrt(expected)


def test_intercept_resend_adds_a_quarter_error_on_attacked_pulses(drawn) -> None:
    link, _, _ = drawn
    clean = replace(link, dark_count_probability=0.0, afterpulse_probability=0.0,
                    misalignment_error=0.0)  # fmt: skip
    alice, bob = emulate_link(
        clean, n_pulses=1_000_000, rng=np.random.default_rng(5), eavesdrop_fraction=1.0
    )
    bits, bases, _ = alice.at(bob.click_index)
    same = bases == bob.bases
    qber = float(np.mean(bits[same] != bob.results[same]))
    assert 0.22 < qber < 0.28


def test_records_round_trip_through_files(drawn, tmp_path: Path) -> None:
    _, alice, bob = drawn
    alice.save(tmp_path / "alice.npz")
    bob.save(tmp_path / "bob.npz")
    a2 = load_record(tmp_path / "alice.npz")
    b2 = load_record(tmp_path / "bob.npz")
    assert isinstance(a2, AliceRecord) and isinstance(b2, BobRecord)
    assert np.array_equal(a2.bits, alice.bits) and a2.intensities == alice.intensities
    assert np.array_equal(b2.click_index, bob.click_index)
    assert np.array_equal(b2.results, bob.results)


def test_bad_record_files_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, format="euroqci-detection-record", version=99)
    with pytest.raises(ConfigurationError, match="version"):
        load_record(path)
    np.savez(path, format="something-else")
    with pytest.raises(ConfigurationError, match="format"):
        load_record(path)


def test_emulator_rejects_a_sweep_and_bad_arguments(drawn) -> None:
    link, _, _ = drawn
    with pytest.raises(ConfigurationError, match="channel"):
        link_settings(parse_link_spec({**SPEC, "channel": {"length_km": [10, 20]}}))
    with pytest.raises(ConfigurationError, match="eavesdrop"):
        emulate_link(link, n_pulses=10, rng=np.random.default_rng(0), eavesdrop_fraction=2.0)
    with pytest.raises(ConfigurationError, match="pulses"):
        emulate_link(link, n_pulses=0, rng=np.random.default_rng(0))


def test_same_seed_same_record_whatever_the_caller(drawn) -> None:
    link, _, _ = drawn
    a1, b1 = emulate_link(link, n_pulses=50_000, rng=np.random.default_rng(9))
    a2, b2 = emulate_link(link, n_pulses=50_000, rng=np.random.default_rng(9))
    assert np.array_equal(b1.click_index, b2.click_index) and np.array_equal(a1.bits, a2.bits)


def test_free_parameters_are_optimised_for_the_run_not_the_spec_block() -> None:
    # A 3e8-pulse run at 50 km gathers ~1e6 detections: far below the SPEC's n_X = 1e9, so the
    # optimiser must spend more pulses on the Z basis than it would for the large block.
    doc = {
        "channel": {"length_km": 50.0},
        "detector": {"afterpulse_probability": 0.04},
        "finite_key": {"block_size": 1e9},
    }
    spec = parse_link_spec(doc)
    for_block = link_settings(spec)
    for_run = link_settings(spec, pulses=3e8)
    assert for_run.basis_probability_x < for_block.basis_probability_x
    from euroqci.protocols.evaluate import evaluate_link

    run_spec = parse_link_spec(
        doc
        | {
            "channel": {"loss_db_per_slot": [10.0], "slot_s": 0.3},
            "finite_key": {},
            "source": {
                "intensities": list(for_run.intensities),
                "intensity_probabilities": list(for_run.intensity_probabilities),
                "basis_probability_x": for_run.basis_probability_x,
            },
        }
    )
    assert float(evaluate_link(run_spec).secret_bits) > 0


@pytest.mark.kernel
def test_gather_kernel_equals_unpacked_arrays(rng: np.random.Generator) -> None:
    from euroqci.devices.record import AliceRecord, pack_intensity_index

    n = 1003
    bits = rng.integers(0, 2, n, dtype=np.uint8)
    bases = rng.integers(0, 2, n, dtype=np.uint8)
    index = rng.integers(0, 3, n, dtype=np.uint8)
    record = AliceRecord(
        n_pulses=n,
        intensities=(0.5, 0.1, 0.0),
        repetition_rate_hz=1e9,
        bits=np.packbits(bits),
        bases=np.packbits(bases),
        intensity_index=pack_intensity_index(index),
    )
    pulses = np.sort(rng.choice(n, 200, replace=False)).astype(np.int64)
    got = record.at(pulses)
    for out, full in zip(got, (bits, bases, index), strict=True):
        assert out.dtype == np.uint8
        assert np.array_equal(out, full[pulses])
    with pytest.raises(IndexError, match="pulses"):
        record.at(np.array([n], dtype=np.int64))


@pytest.mark.kernel
def test_gather_from_gaps_equals_gather_and_refuses_overruns(rng: np.random.Generator) -> None:
    from euroqci.devices.record import AliceRecord, pack_intensity_index
    from euroqci.postprocessing.sifting import click_gaps

    n = 2000
    record = AliceRecord(
        n_pulses=n,
        intensities=(0.5, 0.1, 0.0),
        repetition_rate_hz=1e9,
        bits=np.packbits(rng.integers(0, 2, n, dtype=np.uint8)),
        bases=np.packbits(rng.integers(0, 2, n, dtype=np.uint8)),
        intensity_index=pack_intensity_index(rng.integers(0, 3, n, dtype=np.uint8)),
    )
    pulses = np.sort(rng.choice(n, 300, replace=False)).astype(np.int64)
    for got, expected in zip(record.at_gaps(click_gaps(pulses)), record.at(pulses), strict=True):
        assert np.array_equal(got, expected)
    assert all(x.size == 0 for x in record.at_gaps(np.zeros(0, np.uint8)))
    with pytest.raises(IndexError, match="beyond the 2000 pulses"):
        record.at_gaps(click_gaps(np.array([1999, 2000], np.int64)))
    with pytest.raises(IndexError, match="beyond"):  # a huge gap, nine bytes
        record.at_gaps(np.array([3] + [255] * 8 + [63], dtype=np.uint8))
    with pytest.raises(IndexError, match="malformed"):  # ends inside a number
        record.at_gaps(np.array([3, 200], dtype=np.uint8))
    with pytest.raises(IndexError, match="malformed"):  # ten bytes
        record.at_gaps(np.array([255] * 9 + [1], dtype=np.uint8))
    with pytest.raises(IndexError, match="uint8"):
        record.at_gaps(np.array([3], dtype=np.uint16))


@pytest.mark.kernel
@given(st.lists(st.integers(0, 3), max_size=40), st.integers(0, 40), st.integers(0, 40))
@settings(max_examples=80, deadline=None)
def test_two_bit_intensities_round_trip(values: list[int], start: int, n: int) -> None:
    from euroqci.devices.record import pack_intensity_index, unpack_intensity_index

    index = np.array(values, dtype=np.uint8)
    packed = pack_intensity_index(index)
    assert packed.size == -(-index.size // 4)
    start, n = min(start, index.size), min(n, index.size - min(start, index.size))
    assert unpack_intensity_index(packed, n, start).tolist() == values[start : start + n]
    with pytest.raises(ValueError, match="beyond"):
        unpack_intensity_index(packed, 4 * packed.size + 1)
