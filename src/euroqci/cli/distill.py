"""``euroqci distill``: emulate a link for N pulses and distil identical secret keys."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer

from euroqci.cli._common import friendly_errors, load_document, print_json
from euroqci.errors import ConfigurationError, ProtocolAbort

__all__ = ["distill"]

METHODS = ("cascade", "cascade-original", "ldpc")
CHANNELS = ("memory", "tcp")
#: Runs with more pulses than this show a progress bar (on a terminal, without --json).
PROGRESS_MIN_PULSES = 10_000_000


def _choice(value: str, allowed: tuple[str, ...], flag: str) -> str:
    if value not in allowed:
        raise ConfigurationError(
            f"{flag}: expected one of {', '.join(allowed)}, got {value!r}", field=flag
        )
    return value


def _emulate(
    link: Any, pulses: int, rng: np.random.Generator, eavesdrop: float, show: bool
) -> tuple[Any, Any]:
    from euroqci.devices.emulator import emulate_link

    if not show:
        return emulate_link(link, n_pulses=pulses, rng=rng, eavesdrop_fraction=eavesdrop)
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("emulating pulses"), BarColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("pulses", total=pulses)
        return emulate_link(
            link,
            n_pulses=pulses,
            rng=rng,
            eavesdrop_fraction=eavesdrop,
            progress=lambda done: progress.update(task, completed=done),
        )


def _write_key(path: Path, material: bytes) -> None:
    """Write key material readable by its owner only (mode 0600), replacing any old file."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(material)


@friendly_errors
def distill(
    spec: Path = typer.Argument(..., help="Link SPEC, JSON or TOML (same as euroqci keyrate)."),
    pulses: float = typer.Option(..., "--pulses", help="Pulses Alice sends, e.g. 2e7."),
    method: str = typer.Option("cascade", "--method", help="cascade | cascade-original | ldpc"),
    seed: int = typer.Option(0, "--seed", help="Seed of the random generator."),
    channel: str = typer.Option("memory", "--channel", help="memory | tcp (loopback)"),
    eavesdrop: float = typer.Option(
        0.0, "--eavesdrop", help="Fraction of pulses an intercept-resend attacker measures."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write alice.key and bob.key here."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    rtt_ms: float = typer.Option(
        0.0, "--rtt-ms", help="Round-trip latency added on the tcp channel, ms (0-1000)."
    ),
) -> None:
    """Emulate a link, then sift, estimate, reconcile, verify and amplify over a channel."""
    from euroqci.devices.emulator import link_settings
    from euroqci.postprocessing.parties import DistillSettings, ReconciliationMethod
    from euroqci.postprocessing.pipeline import ChannelKind, distill_key
    from euroqci.protocols.link_spec import parse_link_spec

    if not (np.isfinite(pulses) and 1 <= pulses <= 1e10 and float(pulses).is_integer()):
        raise ConfigurationError("--pulses: expected a whole number of pulses in [1, 1e10]")
    if not 0.0 <= eavesdrop <= 1.0:
        raise ConfigurationError("--eavesdrop: expected a fraction in [0, 1]", field="--eavesdrop")
    if not (np.isfinite(rtt_ms) and 0.0 <= rtt_ms <= 1000.0):
        raise ConfigurationError("--rtt-ms: expected a latency in [0, 1000] ms", field="--rtt-ms")
    if rtt_ms > 0 and channel != "tcp":
        raise ConfigurationError("--rtt-ms: only with --channel tcp", field="--rtt-ms")
    _choice(method, METHODS, "--method")
    _choice(channel, CHANNELS, "--channel")
    link_spec = parse_link_spec(load_document(spec))
    link = link_settings(link_spec, pulses=float(pulses))
    rng = np.random.default_rng(seed)
    show = not as_json and sys.stderr.isatty() and pulses >= PROGRESS_MIN_PULSES
    alice_rec, bob_rec = _emulate(link, int(pulses), rng, eavesdrop, show)
    fk = link_spec.finite_key
    kwargs: dict[str, Any] = {}
    if fk is not None:
        kwargs = {"epsilon_sec": fk.epsilon_sec, "epsilon_cor": fk.epsilon_cor,
                  "tail_bound": fk.tail_bound}  # fmt: skip
    settings = DistillSettings(
        intensities=link.intensities,
        intensity_probabilities=link.intensity_probabilities,
        method=ReconciliationMethod(method),
        **kwargs,
    )
    try:
        result = distill_key(
            alice_rec,
            bob_rec,
            settings=settings,
            rng=rng,
            channel=ChannelKind(channel),
            round_trip_delay_s=rtt_ms / 1000.0,
        )
    except ProtocolAbort as exc:
        summary = {"aborted": True, "abort_reason": exc.reason, "message": str(exc),
                   "secret_bits": 0, "keys_equal": None}  # fmt: skip
        if as_json:
            print_json(summary)
        else:
            typer.echo(f"aborted: {exc.reason}: {exc}", err=True)
        raise typer.Exit(1) from None
    summary = result.summary()
    summary["pulses"] = int(pulses)
    summary["clicks"] = int(bob_rec.click_index.size)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _write_key(out / "alice.key", result.alice_key.to_bytes())
        _write_key(out / "bob.key", result.bob_key.to_bytes())
        summary["key_files"] = [str(out / "alice.key"), str(out / "bob.key")]
    if as_json:
        print_json(summary)
        return
    for name, value in summary.items():
        if isinstance(value, dict):
            for k, v in value.items():
                typer.echo(f"{name}.{k:<22} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
        elif isinstance(value, float):
            typer.echo(f"{name:<36} {value:.6g}")
        else:
            typer.echo(f"{name:<36} {value}")
