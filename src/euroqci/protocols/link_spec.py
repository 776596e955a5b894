"""The link SPEC: one JSON/TOML object that describes a QKD link and how to rate it.

Shared by ``euroqci keyrate``, the device emulator, network scenarios (device profiles) and
the space segment. Parsing validates every field and raises :class:`ConfigurationError` naming
the dotted field and the expected unit or range. Documented in ``docs/keyrate.md``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from euroqci.errors import ConfigurationError
from euroqci.physics.channels import Channel, FibreChannel, FixedLossChannel, SlottedChannel
from euroqci.physics.detectors import Detector
from euroqci.protocols.bb84_decoy import DecoyMethod
from euroqci.protocols.finite_key import TailBound

__all__ = ["FiniteKeySettings", "LinkSpec", "Protocol", "parse_link_spec"]

SPEC_VERSION = 1


class Protocol(enum.Enum):
    """Which key-rate model rates the link."""

    BB84_DECOY = "bb84-decoy"
    BBM92 = "bbm92"
    TF_QKD = "tf-qkd"
    PLOB = "plob"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Length = float | list[float]


class _FibreModel(_Strict):
    length_km: Length = Field(description="fibre length in km, >= 0")
    attenuation_db_per_km: float = Field(0.2, ge=0, le=10, description="dB/km")
    extra_loss_db: float = Field(0.0, ge=0, description="dB")


class _LossModel(_Strict):
    loss_db: Length = Field(description="total channel loss in dB, >= 0")


class _SlottedModel(_Strict):
    loss_db_per_slot: list[float] = Field(min_length=1, description="dB per time slot")
    slot_s: float = Field(1.0, gt=0, description="slot duration in s")
    optimise_window: bool = True


class _SourceModel(_Strict):
    repetition_rate_hz: float = Field(1e9, gt=0, le=1e12, description="pulses per second (Hz)")
    intensities: list[float] | None = Field(None, description="mean photon numbers per pulse")
    intensity_probabilities: list[float] | None = None
    basis_probability_x: float | None = Field(None, gt=0, lt=1)
    mean_pair_number: float | None = Field(None, gt=0, lt=10, description="pairs per pulse")
    sending_probability: float | None = Field(None, gt=0, lt=0.5)


class _DetectorModel(_Strict):
    efficiency: float = Field(0.1, gt=0, le=1)
    dark_count_probability: float = Field(6e-7, ge=0, lt=0.5)
    afterpulse_probability: float = Field(0.0, ge=0, lt=1)


class _FiniteKeyModel(_Strict):
    block_size: float | None = Field(None, ge=100, le=1e15, description="n_X, key-basis bits")
    epsilon_sec: float | None = Field(None, gt=0, lt=1)
    epsilon_sec_per_bit: float | None = Field(None, gt=0, lt=1e-3)
    epsilon_cor: float = Field(1e-15, gt=0, lt=1)
    tail_bound: Literal["hoeffding", "chernoff"] = "hoeffding"

    @model_validator(mode="after")
    def _one_secrecy(self) -> _FiniteKeyModel:
        if self.epsilon_sec is not None and self.epsilon_sec_per_bit is not None:
            raise ValueError("give epsilon_sec or epsilon_sec_per_bit, not both")
        return self


class _SpecModel(_Strict):
    version: int = Field(SPEC_VERSION, ge=1, le=SPEC_VERSION)
    protocol: Literal["bb84-decoy", "bbm92", "tf-qkd", "plob"] = "bb84-decoy"
    channel: _FibreModel | _LossModel | _SlottedModel
    channel_b: _FibreModel | _LossModel | _SlottedModel | None = None
    source: _SourceModel = _SourceModel()
    detector: _DetectorModel = _DetectorModel()
    misalignment_error: float = Field(0.005, ge=0, lt=0.5)
    error_correction_efficiency: float = Field(1.16, ge=1, le=2)
    decoy: Literal["vacuum+weak", "three-intensity", "infinite"] = "three-intensity"
    finite_key: _FiniteKeyModel | None = None


@dataclass(frozen=True)
class FiniteKeySettings:
    """Finite-key settings; ``block_size`` is n_X (None: a slotted pass fixes the block)."""

    block_size: float | None
    epsilon_sec: float
    epsilon_sec_per_bit: float | None
    epsilon_cor: float
    tail_bound: TailBound


@dataclass(frozen=True)
class LinkSpec:
    """A validated link description (see :func:`parse_link_spec`)."""

    protocol: Protocol
    channel: Channel
    channel_b: Channel | None
    repetition_rate_hz: float
    intensities: tuple[float, ...] | None
    intensity_probabilities: tuple[float, ...] | None
    basis_probability_x: float | None
    mean_pair_number: float | None
    sending_probability: float | None
    detector: Detector
    misalignment_error: float
    error_correction_efficiency: float
    decoy: DecoyMethod
    finite_key: FiniteKeySettings | None

    @property
    def transmittance(self) -> npt.NDArray[np.float64]:
        """Transmittance of the (first) channel."""
        return self.channel.transmittance


_UNITS = {
    "_km": "km",
    "_db": "dB",
    "_db_per_km": "dB/km",
    "_hz": "Hz",
    "_s": "seconds",
}


def _unit_hint(field: str) -> str:
    leaf = field.rsplit(".", 1)[-1]
    for suffix in ("_db_per_km", "_km", "_db", "_hz", "_s"):
        if leaf.endswith(suffix):
            return f" (unit: {_UNITS[suffix]})"
    if "probabilit" in leaf or leaf in ("efficiency", "misalignment_error"):
        return " (a fraction in [0, 1])"
    return ""


def _clean_loc(loc: tuple[Any, ...]) -> str:
    # pydantic adds the union member's class name to the location; drop it.
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("_"))]
    return ".".join(parts)


def _format(exc: ValidationError) -> ConfigurationError:
    errors = exc.errors()
    # With a union (channel), report the member closest to what was given.
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    chosen = errors[0]
    for err in errors:
        if err["type"] not in ("extra_forbidden", "missing"):
            chosen = err
            break
    else:
        if extra and len(extra) == len(errors):
            chosen = extra[0]
    field = _clean_loc(chosen["loc"])
    if chosen["type"] == "extra_forbidden":
        message = f"{field}: unknown field; see docs/keyrate.md for the fields of a SPEC"
    elif field.startswith("channel") and chosen["type"] == "missing":
        field = field.split(".")[0]
        message = (
            f"{field}: expected length_km (fibre), loss_db (fixed loss), or "
            "loss_db_per_slot with slot_s (a pass)"
        )
    else:
        message = f"{field}: {chosen['msg'].lower()}{_unit_hint(field)}"
    return ConfigurationError(message, field=field)


def _channel(model: _FibreModel | _LossModel | _SlottedModel) -> Channel:
    if isinstance(model, _FibreModel):
        return FibreChannel(
            length_km=np.asarray(model.length_km, dtype=np.float64),
            attenuation_db_per_km=model.attenuation_db_per_km,
            extra_loss_db=model.extra_loss_db,
        )
    if isinstance(model, _LossModel):
        return FixedLossChannel(loss_db=np.asarray(model.loss_db, dtype=np.float64))
    return SlottedChannel(
        loss_db_per_slot=model.loss_db_per_slot,
        slot_s=model.slot_s,
        optimise_window=model.optimise_window,
    )


def _arrays_to_lists(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _arrays_to_lists(v) for k, v in value.items()}
    return value


def _check_source(m: _SpecModel) -> None:
    src = m.source
    if src.intensities is not None and any(
        not np.isfinite(x) or x < 0 or x > 100 for x in src.intensities
    ):
        raise ConfigurationError(
            "source.intensities: expected mean photon numbers per pulse in [0, 100]",
            field="source.intensities",
        )
    if src.intensity_probabilities is not None:
        probs = src.intensity_probabilities
        if any(not (0 < x < 1) for x in probs) or abs(sum(probs) - 1) > 1e-6:
            raise ConfigurationError(
                "source.intensity_probabilities: expected fractions in (0, 1) that sum to 1",
                field="source.intensity_probabilities",
            )
    if m.protocol == "bb84-decoy":
        need = {"three-intensity": 3, "vacuum+weak": 3, "infinite": 1}[m.decoy]
        for name in ("intensities", "intensity_probabilities"):
            given = getattr(src, name)
            allowed = (need,) if name == "intensity_probabilities" or need != 3 else (2, 3)
            if m.decoy == "vacuum+weak" and name == "intensities":
                allowed = (2, 3)
            if m.decoy == "infinite" and name == "intensity_probabilities":
                allowed = (1,)
            if given is not None and len(given) not in allowed:
                raise ConfigurationError(
                    f"source.{name}: decoy '{m.decoy}' expects "
                    f"{' or '.join(str(a) for a in allowed)} values, got {len(given)}",
                    field=f"source.{name}",
                )
        if m.finite_key is not None and m.decoy != "three-intensity":
            raise ConfigurationError(
                "decoy: the finite-key analysis (Lim et al. 2014) needs decoy 'three-intensity'",
                field="decoy",
            )


def parse_link_spec(document: dict[str, Any]) -> LinkSpec:
    """Validate a SPEC (a JSON/TOML object) and build the physics objects it describes.

    ``channel.length_km`` and ``channel.loss_db`` may be lists or numpy arrays to rate many
    channels in one call.

    Raises
    ------
    ConfigurationError
        naming the dotted field, e.g. ``channel.length_km: input should be greater than or equal
        to 0 (unit: km)``.

    Examples
    --------
    >>> spec = parse_link_spec({"channel": {"length_km": 50}})
    >>> spec.protocol.value, round(float(spec.transmittance), 3)
    ('bb84-decoy', 0.1)
    """
    if not isinstance(document, dict):
        raise ConfigurationError("SPEC: expected a JSON object")
    try:
        m = _SpecModel.model_validate(_arrays_to_lists(document))
    except ValidationError as exc:
        raise _format(exc) from None
    _check_source(m)
    try:
        channel = _channel(m.channel)
        channel_b = _channel(m.channel_b) if m.channel_b is not None else None
    except ConfigurationError as exc:
        raise exc
    fk = None
    if m.finite_key is not None:
        if isinstance(channel, SlottedChannel) and m.finite_key.block_size is not None:
            raise ConfigurationError(
                "finite_key.block_size: not used for a pass (loss_db_per_slot): the pass fixes "
                "the block; remove it",
                field="finite_key.block_size",
            )
        fk = FiniteKeySettings(
            block_size=(
                m.finite_key.block_size
                if m.finite_key.block_size is not None or isinstance(channel, SlottedChannel)
                else 1e9
            ),
            epsilon_sec=m.finite_key.epsilon_sec if m.finite_key.epsilon_sec is not None else 1e-10,
            epsilon_sec_per_bit=m.finite_key.epsilon_sec_per_bit,
            epsilon_cor=m.finite_key.epsilon_cor,
            tail_bound=TailBound(m.finite_key.tail_bound),
        )
    det = m.detector
    src = m.source
    return LinkSpec(
        protocol=Protocol(m.protocol),
        channel=channel,
        channel_b=channel_b,
        repetition_rate_hz=src.repetition_rate_hz,
        intensities=tuple(src.intensities) if src.intensities is not None else None,
        intensity_probabilities=(
            tuple(src.intensity_probabilities) if src.intensity_probabilities is not None else None
        ),
        basis_probability_x=src.basis_probability_x,
        mean_pair_number=src.mean_pair_number,
        sending_probability=src.sending_probability,
        detector=Detector(
            efficiency=det.efficiency,
            dark_count_probability=det.dark_count_probability,
            afterpulse_probability=det.afterpulse_probability,
        ),
        misalignment_error=m.misalignment_error,
        error_correction_efficiency=m.error_correction_efficiency,
        decoy=DecoyMethod(m.decoy),
        finite_key=fk,
    )
