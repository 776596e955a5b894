"""Shared CLI plumbing: one-line errors with exit code 2, JSON output, spec loading."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from euroqci.errors import ConfigurationError, QKDError

__all__ = ["EXIT_BAD_INPUT", "exit_with", "friendly_errors", "load_document", "print_json"]

EXIT_BAD_INPUT = 2
F = TypeVar("F", bound=Callable[..., Any])


def exit_with(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``error: message`` on one line to stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn ConfigurationError (and other QKDError) into one line on stderr and exit 2 (or 1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigurationError as exc:
            raise exit_with(str(exc)) from None
        except QKDError as exc:
            raise exit_with(f"{type(exc).__name__}: {exc}", code=1) from None

    return wrapper  # type: ignore[return-value]


def load_document(path: Path, *, what: str = "SPEC") -> dict[str, Any]:
    """Read a JSON or TOML object from ``path`` (TOML when the suffix is .toml)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{what}: cannot read {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data: Any = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{what}: {path} is not valid JSON or TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"{what}: expected a JSON object at the top of {path}")
    return data


def print_json(obj: Any) -> None:
    """Write ``obj`` as JSON on stdout (NaN and infinities as null)."""
    sys.stdout.write(json.dumps(_clean(obj), indent=2) + "\n")


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj
