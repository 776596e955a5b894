"""Failures: hand-checked losses on a small network, and Dask giving the local results."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest

from euroqci.errors import ConfigurationError
from euroqci.network.capacity import pair_index
from euroqci.network.executor import Executor, ExecutorKind, parse_executor
from euroqci.network.resilience import (
    ElementKind,
    ReducedNetwork,
    double_failure_sweep,
    single_failures,
)
from euroqci.network.topology import Corridor


def _corridor(cid: str, a: str, b: str, capacity: float) -> Corridor:
    return Corridor(
        id=cid, a=a, b=b, spans=(cid,), trusted_nodes=(), capacity_bps=capacity, length_km=100.0
    )


def _network() -> ReducedNetwork:
    """A ring A-B-C-D-A (10, 20, 30, 40 bit/s) with a pendant site E on D (5 bit/s)."""
    corridors = (
        _corridor("AB", "A", "B", 10.0),
        _corridor("BC", "B", "C", 20.0),
        _corridor("CD", "C", "D", 30.0),
        _corridor("DA", "D", "A", 40.0),
        _corridor("DE", "D", "E", 5.0),
    )
    return ReducedNetwork(nodes=tuple("ABCDE"), corridors=corridors, terminals=tuple("ABCDE"))


def test_baseline_capacities_of_the_ring() -> None:
    capacities = dict(zip(pair_index("ABCDE"), _network().capacities_bps(), strict=True))
    assert capacities[(0, 1)] == 10 + 20  # A-B: direct, or round the ring (bottleneck 20)
    assert capacities[(0, 2)] == 10 + 30  # A-C: min(10, 20) + min(40, 30)
    assert capacities[(0, 4)] == 5  # A-E: through the pendant link


def test_single_failures_by_hand() -> None:
    impacts = {f.failed[0]: f for f in single_failures(_network())}
    assert {e.kind for e in _network().elements()} == {ElementKind.NODE, ElementKind.LINK}
    assert len(impacts) == 5 + 5
    de = impacts["DE"]  # E is cut off from everyone
    assert de.n_pairs_disconnected == 4
    assert de.total_lost_bps == pytest.approx(4 * 5)
    d = impacts["D"]  # pairs with D left out; E loses A, B, C; the ring loses its D side
    lost = {(a, b): before - after for a, b, before, after in d.losses}
    assert lost[("A", "E")] == 5 and lost[("A", "B")] == 30 - 10
    assert all("D" not in pair for pair in lost)
    ab = impacts["AB"]
    assert {(a, b) for a, b, *_ in ab.losses} >= {("A", "B"), ("A", "C")}
    assert ab.n_pairs_disconnected == 0


def test_double_failure_sweep_covers_every_pair_of_elements() -> None:
    sweep = double_failure_sweep(_network(), chunk_size=7)
    assert len(sweep) == math.comb(10, 2)
    assert [f.failed for f in sweep] == list(
        itertools.combinations([e.id for e in _network().elements()], 2)
    )
    cut = {f.failed: f for f in sweep}[("AB", "CD")]  # the ring breaks into A-D-E and B-C
    assert cut.n_pairs_disconnected == 2 * 3


def test_executor_parsing() -> None:
    assert parse_executor("local").kind is ExecutorKind.LOCAL
    assert parse_executor("dask").kind is ExecutorKind.DASK_LOCAL_CLUSTER
    remote = parse_executor("dask://10.0.0.5:8786")
    assert remote.address == "tcp://10.0.0.5:8786" and str(remote) == "dask://10.0.0.5:8786"
    for bad in ("spark", "dask://host", "dask://host:99999"):
        with pytest.raises(ConfigurationError, match="executor"):
            parse_executor(bad)


@pytest.mark.slow
def test_dask_local_cluster_and_scheduler_give_the_local_results() -> None:
    from dask.distributed import LocalCluster

    local = double_failure_sweep(_network(), chunk_size=8)
    on_cluster = double_failure_sweep(
        _network(),
        executor=Executor(kind=ExecutorKind.DASK_LOCAL_CLUSTER, n_workers=2),
        chunk_size=8,
    )
    assert on_cluster == local
    with LocalCluster(
        n_workers=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.removeprefix("tcp://")
        remote = single_failures(_network(), executor=parse_executor(f"dask://{address}"))
    assert remote == single_failures(_network())


def test_no_scheduler_is_a_one_line_configuration_error() -> None:
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    executor = dataclasses.replace(
        parse_executor(f"dask://127.0.0.1:{port}"), connect_timeout_s=0.5
    )
    with pytest.raises(ConfigurationError, match="no Dask scheduler answers"):
        single_failures(_network(), executor=executor)


def test_capacities_do_not_depend_on_the_string_hash_salt() -> None:
    """Dask workers are other processes with other hash salts: results must be bit-identical."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve()
    src = here.parents[2] / "src"
    digests = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(src))
        out = subprocess.run(
            [sys.executable, str(here.parent / "hash_seed_probe.py")],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1
