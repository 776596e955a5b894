from __future__ import annotations

import numpy as np
import pytest

from euroqci.errors import ConfigurationError
from euroqci.physics.channels import FibreChannel, FixedLossChannel, SlottedChannel, fibre_loss_db


def test_fibre_loss_broadcasts_over_lengths() -> None:
    lengths_km = np.array([0.0, 50.0, 100.0])
    ch = FibreChannel(length_km=lengths_km, attenuation_db_per_km=0.2, extra_loss_db=1.0)
    assert ch.loss_db.shape == (3,)
    np.testing.assert_allclose(ch.loss_db, [1.0, 11.0, 21.0])
    np.testing.assert_allclose(ch.transmittance, 10 ** (-np.array([1.0, 11.0, 21.0]) / 10))


def test_fixed_and_slotted_channels() -> None:
    assert float(FixedLossChannel(loss_db=30.0).transmittance) == pytest.approx(1e-3)
    ch = SlottedChannel(loss_db_per_slot=[40.0, 30.0, 40.0], slot_s=2.0)
    assert ch.duration_s == 6.0
    assert ch.transmittance.shape == (3,)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: FibreChannel(length_km=-1.0), "channel.length_km"),
        (
            lambda: FibreChannel(length_km=1.0, attenuation_db_per_km=-0.2),
            "channel.attenuation_db_per_km",
        ),
        (lambda: FixedLossChannel(loss_db=float("nan")), "channel.loss_db"),
        (lambda: SlottedChannel(loss_db_per_slot=[]), "channel.loss_db_per_slot"),
        (lambda: SlottedChannel(loss_db_per_slot=[1.0], slot_s=0.0), "channel.slot_s"),
    ],
)
def test_bad_channels_name_the_field(make: object, field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        make()  # type: ignore[operator]
    assert info.value.field == field


def test_fibre_loss_db_function() -> None:
    assert float(fibre_loss_db(100.0, 0.16)) == pytest.approx(16.0)
