"""Secret key of one pass: the time-resolved loss goes to the key-rate engine's pass model.

The engine (:func:`euroqci.protocols.evaluate.evaluate_link` with a slotted channel) sums the
counts over the pass, applies the finite-key bounds once per pass, optimises the intensities
and chooses the transmission window (the best slots, which for a pass means a minimum
elevation). Sky background enters as extra dark counts: a background rate ``B`` (counts/s at
the detectors) adds ``B * gate / 2`` to each of the two detectors' click probability per gate.
"""

from __future__ import annotations

import enum
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError
from euroqci.protocols.finite_key import TailBound
from euroqci.space.channel import PassChannel

__all__ = ["DownlinkProtocol", "PassKey", "QKDSystem", "build_dataclass", "key_from_loss_curve",
           "pass_key"]  # fmt: skip

FloatArray = npt.NDArray[np.float64]


class DownlinkProtocol(enum.Enum):
    """Key-distribution protocol of the downlink."""

    BB84_DECOY = "bb84-decoy"
    BBM92 = "bbm92"


@dataclass(frozen=True)
class QKDSystem:
    """Source, detectors and security settings of a downlink (handed to the key-rate engine).

    Defaults follow the Micius decoy-state downlink (Liao et al., Nature 549, 43 (2017):
    100 MHz source) with the engine's finite-key security parameters. For BBM92,
    ``repetition_rate_hz`` is the pair source's pulse or time-bin rate and
    ``mean_pair_number`` its pairs per pulse (``None``: optimised).
    """

    protocol: DownlinkProtocol = DownlinkProtocol.BB84_DECOY
    repetition_rate_hz: float = 1e8
    dark_count_probability: float = 1e-6
    afterpulse_probability: float = 0.0
    gate_width_ns: float = 2.0
    misalignment_error: float = 0.01
    error_correction_efficiency: float = 1.16
    epsilon_sec: float = 1e-10
    epsilon_cor: float = 1e-15
    tail_bound: TailBound = TailBound.HOEFFDING
    intensities: tuple[float, ...] | None = None
    intensity_probabilities: tuple[float, ...] | None = None
    basis_probability_x: float | None = None
    mean_pair_number: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.protocol, DownlinkProtocol):
            try:
                object.__setattr__(self, "protocol", DownlinkProtocol(self.protocol))
            except ValueError:
                names = ", ".join(p.value for p in DownlinkProtocol)
                raise ConfigurationError(
                    f"system.protocol: expected one of {names}", field="system.protocol"
                ) from None
        if not isinstance(self.tail_bound, TailBound):
            try:
                object.__setattr__(self, "tail_bound", TailBound(self.tail_bound))
            except ValueError:
                names = ", ".join(t.value for t in TailBound)
                raise ConfigurationError(
                    f"system.tail_bound: expected one of {names}", field="system.tail_bound"
                ) from None
        if not (math.isfinite(self.gate_width_ns) and self.gate_width_ns > 0):
            raise ConfigurationError("system.gate_width_ns: expected a gate > 0 in ns",
                                     field="system.gate_width_ns")  # fmt: skip
        if not (math.isfinite(self.repetition_rate_hz) and self.repetition_rate_hz > 0):
            raise ConfigurationError("system.repetition_rate_hz: expected a pulse rate > 0 in Hz",
                                     field="system.repetition_rate_hz")  # fmt: skip

    def engine_spec(
        self,
        loss_db_per_slot: FloatArray,
        *,
        slot_s: float,
        detector_efficiency: float,
        background_count_rate_hz: float,
        optimise_window: bool = True,
    ) -> dict[str, Any]:
        """The key-rate engine's slotted SPEC for this system and loss curve."""
        background = background_count_rate_hz * self.gate_width_ns * 1e-9 / 2.0
        source: dict[str, Any] = {"repetition_rate_hz": self.repetition_rate_hz}
        if self.intensities is not None:
            source["intensities"] = list(self.intensities)
        if self.intensity_probabilities is not None:
            source["intensity_probabilities"] = list(self.intensity_probabilities)
        if self.basis_probability_x is not None:
            source["basis_probability_x"] = self.basis_probability_x
        return {
            "protocol": self.protocol.value,
            "channel": {
                "loss_db_per_slot": [float(x) for x in loss_db_per_slot],
                "slot_s": slot_s,
                "optimise_window": optimise_window,
            },
            "source": source,
            "detector": {
                "efficiency": detector_efficiency,
                "dark_count_probability": min(self.dark_count_probability + background, 0.49),
                "afterpulse_probability": self.afterpulse_probability,
            },
            "misalignment_error": self.misalignment_error,
            "error_correction_efficiency": self.error_correction_efficiency,
            "finite_key": {
                "epsilon_sec": self.epsilon_sec,
                "epsilon_cor": self.epsilon_cor,
                "tail_bound": self.tail_bound.value,
            },
        }


@dataclass(frozen=True)
class PassKey:
    """Key of one pass (or of one given loss curve)."""

    station_id: str
    start: datetime | None
    duration_s: float
    window_s: float
    window_min_elevation_deg: float | None
    min_loss_db: float
    detections: float
    sifted_bits: float
    qber: float
    secret_bits: float
    daytime: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    loss_db_per_slot: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False)

    def to_dict(self, *, slots: bool = False) -> dict[str, Any]:
        """JSON-ready fields; per-slot losses with ``slots=True``."""
        out: dict[str, Any] = {
            "station_id": self.station_id,
            "start": self.start.isoformat() if self.start else None,
            "duration_s": self.duration_s,
            "window_s": self.window_s,
            "window_min_elevation_deg": self.window_min_elevation_deg,
            "min_loss_db": self.min_loss_db,
            "detections": self.detections,
            "sifted_bits": self.sifted_bits,
            "qber": self.qber,
            "secret_bits": self.secret_bits,
            "daytime": self.daytime,
            "parameters": self.parameters,
        }
        if slots:
            out["loss_db_per_slot"] = [round(float(x), 4) for x in self.loss_db_per_slot]
        return out


def _evaluate(spec: dict[str, Any]) -> Any:
    from euroqci.protocols.evaluate import evaluate_link
    from euroqci.protocols.link_spec import parse_link_spec

    return evaluate_link(parse_link_spec(spec))


def _scalar(result: Any, name: str, default: float = float("nan")) -> float:
    details = getattr(result, "details", {}) or {}
    if name in details:
        return float(np.asarray(details[name]).reshape(-1)[0])
    if hasattr(result, name):
        return float(np.asarray(getattr(result, name)).reshape(-1)[0])
    return default


def key_from_loss_curve(
    loss_db_per_slot: npt.ArrayLike,
    *,
    slot_s: float = 1.0,
    detector_efficiency: float,
    system: QKDSystem,
    background_count_rate_hz: float = 0.0,
    optimise_window: bool = True,
    station_id: str = "",
) -> PassKey:
    """Key of a pass given as its loss per slot (dB, detector efficiency excluded)."""
    if system.protocol is not DownlinkProtocol.BB84_DECOY:
        raise ConfigurationError(
            'system.protocol: one downlink is rated with "bb84-decoy"; BBM92 needs two '
            "stations (station_b, a double downlink)",
            field="system.protocol",
        )
    try:
        loss = np.asarray(loss_db_per_slot, dtype=np.float64)
    except (TypeError, ValueError):
        loss = np.zeros(0)
    if loss.ndim != 1 or loss.size == 0 or not np.all(np.isfinite(loss)):
        raise ConfigurationError("loss_db_per_slot: expected a non-empty list of finite dB values",
                                 field="loss_db_per_slot")  # fmt: skip
    spec = system.engine_spec(
        loss,
        slot_s=slot_s,
        detector_efficiency=detector_efficiency,
        background_count_rate_hz=background_count_rate_hz,
        optimise_window=optimise_window,
    )
    result = _evaluate(spec)
    window_slots = _scalar(result, "window_slots", float(loss.size))
    params = {k: np.asarray(v).tolist() for k, v in (result.parameters or {}).items()}
    secret = max(_scalar(result, "secret_bits", 0.0), 0.0)
    return PassKey(
        station_id=station_id,
        start=None,
        duration_s=loss.size * slot_s,
        window_s=window_slots * slot_s,
        window_min_elevation_deg=None,
        min_loss_db=float(np.min(loss)),
        detections=_scalar(result, "detections"),
        sifted_bits=_scalar(result, "sifted_bits"),
        qber=_scalar(result, "qber"),
        secret_bits=secret,
        parameters=params,
        loss_db_per_slot=loss,
    )


def pass_key(channel: PassChannel, system: QKDSystem, *, optimise_window: bool = True) -> PassKey:
    """Key of a pass from its slotted channel (see :func:`euroqci.space.channel.pass_channel`).

    The window the engine picks is its best ``k`` slots; ``window_min_elevation_deg`` is the
    lowest elevation among them (the optimised elevation mask of this pass).
    """
    if channel.n_slots == 0:
        raise ConfigurationError("pass: the pass has no slot above the elevation mask")
    key = key_from_loss_curve(
        channel.loss_db,
        slot_s=channel.slot_s,
        detector_efficiency=channel.budget.detector_efficiency,
        system=system,
        background_count_rate_hz=channel.budget.background_count_rate_hz,
        optimise_window=optimise_window,
        station_id=channel.station_id,
    )
    k = round(key.window_s / channel.slot_s)
    order = np.argsort(channel.loss_db, kind="stable")
    window_min_el = float(np.min(channel.elevation_deg[order[: max(k, 1)]]))
    return PassKey(
        **{f.name: getattr(key, f.name) for f in fields(PassKey)}
        | {
            "start": channel.start,
            "window_min_elevation_deg": window_min_el,
            "daytime": channel.daytime,
        }
    )


def build_dataclass(cls: type, data: Mapping[str, Any] | None, *, section: str) -> Any:
    """Build a frozen dataclass from a SPEC section, naming unknown keys (lists become tuples).

    Numeric fields are type-checked here so that the error names the field.
    """
    data = dict(data or {})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigurationError(
            f"{section}: unknown field(s) {', '.join(unknown)}; expected some of "
            f"{', '.join(sorted(known))}",
            field=f"{section}.{unknown[0]}",
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        numeric = _numeric_kind(hints.get(key))
        if numeric == "number" and value is not None and not _is_number(value):
            raise ConfigurationError(
                f"{section}.{key}: expected a number", field=f"{section}.{key}"
            )
        if numeric == "numbers" and value is not None:
            if not (isinstance(value, list | tuple) and all(_is_number(v) for v in value)):
                raise ConfigurationError(
                    f"{section}.{key}: expected a list of numbers", field=f"{section}.{key}"
                )
        kwargs[key] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        missing = sorted(n for n in known if n not in kwargs and _required(cls, n))
        hint = f"missing {', '.join(missing)}" if missing else str(exc)
        raise ConfigurationError(f"{section}: {hint}", field=section) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric_kind(hint: Any) -> str:
    args = set(typing.get_args(hint)) - {type(None)}
    if hint in (float, int) or (args and args <= {float, int}):
        return "number"
    if typing.get_origin(hint) is tuple or any(typing.get_origin(a) is tuple for a in args):
        return "numbers"
    return ""


def _required(cls: type, name: str) -> bool:
    import dataclasses

    f = next(f for f in fields(cls) if f.name == name)
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
