"""Shared fixtures."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator with a fixed seed: tests are reproducible, never globally seeded."""
    return np.random.default_rng(20261126)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """The server runs on uvicorn's asyncio loop; test it there only (not on trio as well)."""
    return "asyncio"
