"""Where large studies run: in this process, on a local Dask cluster, or on a Dask scheduler.

``local`` maps the tasks in order in this process; ``dask`` starts a
``dask.distributed.LocalCluster`` for the duration of the study; ``dask://HOST:PORT`` connects to
a running scheduler. The task function and its inputs are the same in every case, so the
results are identical.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from euroqci.errors import ConfigurationError

__all__ = ["Executor", "ExecutorKind", "parse_executor", "run_chunks"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
_ADDRESS = re.compile(r"^dask://(?P<host>[A-Za-z0-9_.\-\[\]:]+):(?P<port>\d{1,5})$")


class ExecutorKind(enum.Enum):
    """The three ways to run a study."""

    LOCAL = "local"
    DASK_LOCAL_CLUSTER = "dask"
    DASK_SCHEDULER = "dask-scheduler"


@dataclass(frozen=True)
class Executor:
    """A parsed ``--executor`` value; ``address`` is ``tcp://HOST:PORT`` for a scheduler."""

    kind: ExecutorKind = ExecutorKind.LOCAL
    address: str = ""
    n_workers: int | None = None
    connect_timeout_s: float = 10.0

    def __str__(self) -> str:
        if self.kind is ExecutorKind.DASK_SCHEDULER:
            return "dask://" + self.address.removeprefix("tcp://")
        return str(self.kind.value)


def parse_executor(text: str) -> Executor:
    """Parse ``local``, ``dask`` or ``dask://HOST:PORT``.

    >>> parse_executor("dask://127.0.0.1:8786").address
    'tcp://127.0.0.1:8786'
    """
    value = text.strip()
    if value == "local":
        return Executor()
    if value == "dask":
        return Executor(kind=ExecutorKind.DASK_LOCAL_CLUSTER)
    m = _ADDRESS.match(value)
    if m and 0 < int(m["port"]) < 65536:
        return Executor(kind=ExecutorKind.DASK_SCHEDULER, address=f"tcp://{m['host']}:{m['port']}")
    raise ConfigurationError(
        f"executor: expected local, dask or dask://HOST:PORT, got {text!r}", field="executor"
    )


def run_chunks(
    fn: Callable[[Any, Sequence[T]], list[R]],
    shared: Any,
    items: Sequence[T],
    *,
    executor: Executor,
    chunk_size: int = 64,
) -> list[R]:
    """``fn(shared, chunk)`` over chunks of ``items``; results concatenated in input order.

    ``fn`` must be a module-level function (it is pickled to Dask workers) and ``shared`` is sent
    to each worker once.
    """
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    if executor.kind is ExecutorKind.LOCAL:
        return [r for chunk in chunks for r in fn(shared, chunk)]
    from dask.distributed import Client, LocalCluster

    if executor.kind is ExecutorKind.DASK_LOCAL_CLUSTER:
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=executor.n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,  # type: ignore[no-untyped-call]
        ):
            return _on_dask(client, fn, shared, chunks)
    try:
        client = Client(  # type: ignore[no-untyped-call]
            executor.address, timeout=f"{executor.connect_timeout_s}s"
        )
    except OSError as exc:
        raise ConfigurationError(
            f"executor: no Dask scheduler answers at {executor}: {exc}", field="executor"
        ) from None
    with client:
        return _on_dask(client, fn, shared, chunks)


def _on_dask(client: Any, fn: Callable[..., list[R]], shared: Any, chunks: list[Any]) -> list[R]:
    logger.info("running %d chunks on %s", len(chunks), client)
    try:
        shared_future = client.scatter(shared, broadcast=True)
        futures = client.map(fn, [shared_future] * len(chunks), chunks, pure=False)
        results = client.gather(futures)
    except Exception as exc:  # errors raised on remote workers arrive as plain Exception
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigurationError(
            f"executor: the Dask workers failed ({first_line}); they need the same euroqci "
            "installed as this process",
            field="executor",
        ) from exc
    return [r for chunk_result in results for r in chunk_result]
