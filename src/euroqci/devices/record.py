"""Detection records: what Alice's and Bob's devices log, and their file format (version 1).

Each party writes its own ``.npz`` file (numpy's zip of arrays), never the other's:

``alice.npz``
    ``format`` = "euroqci-detection-record", ``version`` = 1, ``role`` = "alice",
    ``n_pulses`` (int64), ``intensities`` (float64, mean photon numbers, signal first),
    ``repetition_rate_hz`` (float64), ``bits`` (uint8, packed with ``numpy.packbits``, one bit
    per pulse), ``bases`` (uint8, packed, 1 = X the key basis, 0 = Z the test basis),
    ``intensity_index`` (uint8, packed four pulses per byte, two bits each, first pulse in the
    high bits).

``bob.npz``
    ``format``, ``version``, ``role`` = "bob", ``n_pulses``, ``repetition_rate_hz``,
    ``click_index`` (int64, increasing pulse numbers that gave at least one click),
    ``bases`` (uint8 per click, 1 = X), ``results`` (uint8 per click, the bit; double clicks
    already assigned a random bit, as squashing requires), ``double_click`` (uint8 per click).

A real device's export converted to these arrays goes through the same pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from euroqci.errors import ConfigurationError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "AliceRecord",
    "BobRecord",
    "load_record",
    "pack_intensity_index",
    "unpack_intensity_index",
]

FORMAT_NAME = "euroqci-detection-record"
FORMAT_VERSION = 1

U8 = npt.NDArray[np.uint8]


def pack_intensity_index(index: U8) -> U8:
    """Pack intensity indices (0-3) four to a byte, first in the high bits.

    >>> pack_intensity_index(np.array([1, 2, 3, 0, 1], np.uint8)).tolist()
    [108, 64]
    """
    from euroqci.devices._kernels import pack_two_bit

    out = np.empty(-(-index.size // 4), dtype=np.uint8)
    pack_two_bit(np.ascontiguousarray(index, dtype=np.uint8), out)
    return out


def unpack_intensity_index(packed: U8, n: int, start: int = 0) -> U8:
    """Inverse of :func:`pack_intensity_index` for pulses ``start .. start + n``.

    >>> unpack_intensity_index(np.array([108, 64], np.uint8), 5).tolist()
    [1, 2, 3, 0, 1]
    """
    from euroqci.devices._kernels import unpack_two_bit

    if start < 0 or n < 0 or 4 * packed.size < start + n:
        raise ValueError(f"unpack_intensity_index: pulses {start}..{start + n} beyond the array")
    out = np.empty(n, dtype=np.uint8)
    unpack_two_bit(np.ascontiguousarray(packed, dtype=np.uint8), start, out)
    return out


@dataclass(frozen=True, repr=False)
class AliceRecord:
    """Alice's log: every pulse's bit, basis and intensity (packed)."""

    n_pulses: int
    intensities: tuple[float, ...]
    repetition_rate_hz: float
    bits: U8
    bases: U8
    intensity_index: U8

    def __repr__(self) -> str:
        return f"AliceRecord(n_pulses={self.n_pulses}, intensities={self.intensities})"

    def at(self, pulses: npt.NDArray[np.int64]) -> tuple[U8, U8, U8]:
        """Bits, bases (1 = X) and intensity indices of the given pulses."""
        from euroqci.devices._kernels import gather_pulses

        pulses = np.asarray(pulses, dtype=np.int64)
        if pulses.size and (int(pulses.min()) < 0 or int(pulses.max()) >= self.n_pulses):
            raise IndexError(f"pulses: expected pulse numbers in 0..{self.n_pulses - 1}")
        bits, bases, idx = gather_pulses(self.bits, self.bases, self.intensity_index, pulses)
        return bits, bases, idx

    def at_gaps(self, stream: U8) -> tuple[U8, U8, U8]:
        """:meth:`at` for pulses announced as LEB128 gaps between increasing pulse numbers (the
        first gap is the first pulse number), as Bob announces them
        (``euroqci.postprocessing.sifting.click_gaps``); no int64 positions are built.

        Raises
        ------
        IndexError
            A pulse number beyond the record, or a malformed stream (not uint8, ending inside
            a number, a number longer than nine bytes).
        """
        from euroqci.devices._kernels import gather_gaps

        if stream.dtype != np.uint8 or stream.ndim != 1:
            raise IndexError("gaps: expected a one-dimensional uint8 LEB128 stream")
        status, bits, bases, idx = gather_gaps(
            self.bits,
            self.bases,
            self.intensity_index,
            np.ascontiguousarray(stream),
            np.int64(self.n_pulses),
        )
        if status == 1:
            raise IndexError(f"gaps: a pulse number beyond the {self.n_pulses} pulses sent")
        if status == 2:
            raise IndexError("gaps: a malformed LEB128 stream (a number cut short or too long)")
        return bits, bases, idx

    def save(self, path: Path) -> None:
        """Write ``alice.npz`` (format version 1)."""
        np.savez_compressed(
            path,
            format=FORMAT_NAME,
            version=FORMAT_VERSION,
            role="alice",
            n_pulses=np.int64(self.n_pulses),
            intensities=np.asarray(self.intensities, dtype=np.float64),
            repetition_rate_hz=np.float64(self.repetition_rate_hz),
            bits=self.bits,
            bases=self.bases,
            intensity_index=self.intensity_index,
        )


@dataclass(frozen=True, repr=False)
class BobRecord:
    """Bob's log: only the pulses that clicked."""

    n_pulses: int
    repetition_rate_hz: float
    click_index: npt.NDArray[np.int64]
    bases: U8
    results: U8
    double_click: U8

    def __repr__(self) -> str:
        return f"BobRecord(n_pulses={self.n_pulses}, clicks={self.click_index.size})"

    def save(self, path: Path) -> None:
        """Write ``bob.npz`` (format version 1)."""
        np.savez_compressed(
            path,
            format=FORMAT_NAME,
            version=FORMAT_VERSION,
            role="bob",
            n_pulses=np.int64(self.n_pulses),
            repetition_rate_hz=np.float64(self.repetition_rate_hz),
            click_index=self.click_index,
            bases=self.bases,
            results=self.results,
            double_click=self.double_click,
        )


def _need(data: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    if name not in data:
        raise ConfigurationError(f"record {path}: missing field {name!r}", field=name)
    return data[name]


def load_record(path: Path) -> AliceRecord | BobRecord:
    """Read and validate a record file written by :meth:`AliceRecord.save` or a device."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"record {path}: cannot read it as .npz: {exc}") from None
    if str(_need(data, "format", path)) != FORMAT_NAME:
        raise ConfigurationError(f"record {path}: format: expected {FORMAT_NAME!r}", field="format")
    version = int(_need(data, "version", path))
    if version != FORMAT_VERSION:
        raise ConfigurationError(
            f"record {path}: version: expected {FORMAT_VERSION}, got {version}", field="version"
        )
    n = int(_need(data, "n_pulses", path))
    role = str(_need(data, "role", path))
    rate = float(_need(data, "repetition_rate_hz", path))
    if role == "alice":
        rec = AliceRecord(
            n_pulses=n,
            intensities=tuple(float(x) for x in _need(data, "intensities", path)),
            repetition_rate_hz=rate,
            bits=_need(data, "bits", path).astype(np.uint8),
            bases=_need(data, "bases", path).astype(np.uint8),
            intensity_index=_need(data, "intensity_index", path).astype(np.uint8),
        )
        for name in ("bits", "bases"):
            if getattr(rec, name).size != -(-n // 8):
                raise ConfigurationError(
                    f"record {path}: {name}: expected ceil(n_pulses / 8) packed bytes", field=name
                )
        if rec.intensity_index.size != -(-n // 4):
            raise ConfigurationError(
                f"record {path}: intensity_index: expected ceil(n_pulses / 4) bytes",
                field="intensity_index",
            )
        return rec
    if role == "bob":
        idx = _need(data, "click_index", path).astype(np.int64)
        bob = BobRecord(
            n_pulses=n,
            repetition_rate_hz=rate,
            click_index=idx,
            bases=_need(data, "bases", path).astype(np.uint8),
            results=_need(data, "results", path).astype(np.uint8),
            double_click=data.get("double_click", np.zeros(idx.size, np.uint8)).astype(np.uint8),
        )
        if not (bob.bases.size == bob.results.size == idx.size):
            raise ConfigurationError(
                f"record {path}: bases and results: expected one value per click", field="results"
            )
        if idx.size and (np.any(np.diff(idx) <= 0) or idx[0] < 0 or idx[-1] >= n):
            raise ConfigurationError(
                f"record {path}: click_index: expected increasing pulse numbers in [0, n_pulses)",
                field="click_index",
            )
        return bob
    raise ConfigurationError(f"record {path}: role: expected 'alice' or 'bob'", field="role")
