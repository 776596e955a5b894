"""Span key rates: cache, one vectorised call per block, the accumulated block, the reach."""

from __future__ import annotations

import numpy as np
import pytest

from euroqci.network.rates import KeyRateEngine, LinkRateModel
from euroqci.network.scenario import DeviceProfile

FINITE = DeviceProfile(
    name="f",
    spec={
        "protocol": "bb84-decoy",
        "channel": {"attenuation_db_per_km": 0.2},
        "finite_key": {"block_size": 1e8},
    },
)
ASYMPTOTIC = DeviceProfile(name="a", spec={"protocol": "bb84-decoy"})


def _model(engine: KeyRateEngine, t_s: float = 600.0) -> LinkRateModel:
    return LinkRateModel({"f": FINITE, "a": ASYMPTOTIC}, accumulation_time_s=t_s, engine=engine)


def test_each_length_is_evaluated_once(engine: KeyRateEngine, engine_calls: list[int]) -> None:
    model = _model(engine)
    first = model.rates_bps("a", [10.0, 50.0, 50.0, 120.0])
    assert engine_calls == [3]  # one vectorised call for the distinct lengths
    again = model.rates_bps("a", np.array([[120.0, 10.0]]))
    assert engine_calls == [3]
    assert again.shape == (1, 2)
    assert again[0, 0] == first[3] and again[0, 1] == first[0]


def test_accumulated_block_is_a_fixed_point(engine: KeyRateEngine) -> None:
    model = _model(engine, t_s=600.0)
    lengths = np.array([20.0, 80.0, 150.0, 200.0])
    model.rates_bps("f", lengths)
    for length in lengths:
        block = model.block_size("f", float(length))
        # The stand-in fills blocks at 0.9e7 * 10**(-0.02 L) bit/s with a finite key.
        gathered = 0.9e7 * 10 ** (-0.02 * length) * 600.0
        assert block == pytest.approx(gathered, rel=0.02)


def test_rate_between_grid_blocks_is_interpolated_below_the_model(engine: KeyRateEngine) -> None:
    model = _model(engine, t_s=600.0)
    length = 150.0
    rate = float(model.rates_bps("f", [length])[0])
    block = model.block_size("f", length)
    exact = 0.3 * 1e7 * 10 ** (-0.02 * length) * (1 - 300 / np.sqrt(block)) - 20
    assert rate <= exact * (1 + 1e-12)
    assert rate == pytest.approx(exact, rel=0.01)


def test_longer_accumulation_gives_larger_blocks_and_rates(engine: KeyRateEngine) -> None:
    short, long = _model(engine, t_s=1.0), _model(engine, t_s=3600.0)
    lengths = [50.0, 150.0]
    assert np.all(long.rates_bps("f", lengths) > short.rates_bps("f", lengths))
    assert long.block_size("f", 150.0) > short.block_size("f", 150.0) > 0
    assert long.block_size("a", 50.0) == 0.0  # asymptotic profile: no block


def test_reach_brackets_the_last_positive_length(engine: KeyRateEngine) -> None:
    for t_s in (0.01, 600.0):
        model = _model(engine, t_s=t_s)
        reach = model.reach_km("f")
        assert model.rates_bps("f", [reach])[0] > 0
        assert model.rates_bps("f", [reach + 2.1])[0] == 0
    assert _model(engine, 0.01).reach_km("f") < _model(engine, 600.0).reach_km("f")


def test_max_span_is_a_fraction_of_the_reach_capped_by_the_profile(engine: KeyRateEngine) -> None:
    capped = DeviceProfile(name="c", spec=ASYMPTOTIC.spec, max_span_km=40.0)
    model = LinkRateModel({"a": ASYMPTOTIC, "c": capped}, accumulation_time_s=1, engine=engine)
    assert model.max_span_km("a", fraction=0.5) == pytest.approx(0.5 * model.reach_km("a"))
    assert model.max_span_km("c", fraction=0.5) == 40.0


def test_loss_uses_the_profile_attenuation() -> None:
    profile = DeviceProfile(
        name="x", spec={"channel": {"attenuation_db_per_km": 0.16, "extra_loss_db": 1.5}}
    )
    model = LinkRateModel(
        {"x": profile},
        accumulation_time_s=1,
        engine=KeyRateEngine(evaluate=lambda spec: (np.zeros(1), np.zeros(1))),
    )
    assert model.loss_db("x", 100.0) == pytest.approx(17.5)


def test_real_engine_rates_fall_with_length_and_blocks_fill_in_time() -> None:
    """The project's key-rate engine (euroqci.protocols), not the stand-in."""
    spec = {
        "protocol": "bb84-decoy",
        "channel": {"attenuation_db_per_km": 0.2},
        "source": {"repetition_rate_hz": 1e9},
        "detector": {"efficiency": 0.25, "dark_count_probability": 1e-7},
        "misalignment_error": 0.01,
        "finite_key": {"block_size": 1e8},
    }
    model = LinkRateModel({"b": DeviceProfile(name="b", spec=spec)}, accumulation_time_s=60.0)
    lengths = np.array([25.0, 100.0, 175.0])
    rates = model.rates_bps("b", lengths)
    assert np.all(rates > 0) and np.all(np.diff(rates) < 0)
    from euroqci.protocols.evaluate import evaluate_link
    from euroqci.protocols.link_spec import parse_link_spec

    for length, rate in zip(lengths, rates, strict=True):
        block = model.block_size("b", float(length))
        check = evaluate_link(parse_link_spec(model.spec_for("b", float(length), block_size=block)))
        # The block is gathered in the accumulation time (found by interpolation between grid
        # blocks half a decade apart: to about 10 %), and the rate is that block's rate.
        assert float(check.secret_bits_period_s) == pytest.approx(60.0, rel=0.12)
        assert rate == pytest.approx(float(check.secret_key_rate_bps), rel=0.03)
