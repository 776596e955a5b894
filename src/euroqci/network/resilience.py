"""What failures cost: capacity lost between every pair for single and double failures.

Failures are counted on the corridor graph (``Topology.corridors``): a node is a site or a hub
trusted node; a corridor is a chain of spans through relay-only trusted nodes, which any of its
spans or trusted nodes takes down, so each corridor stands for all of its members. Pairs that
have a failed site at one end are left out of the loss (their loss is trivially total).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from euroqci.network.capacity import all_pairs_capacity_bps, capacity_graph, pair_index
from euroqci.network.executor import Executor, run_chunks
from euroqci.network.topology import Corridor, Topology

__all__ = [
    "ElementKind",
    "FailureElement",
    "FailureImpact",
    "ReducedNetwork",
    "double_failure_sweep",
    "single_failures",
]

FloatArray = npt.NDArray[np.float64]
#: Losses below this many bit/s are rounding noise of the max-flow sums, not a real loss.
_LOSS_FLOOR_BPS = 1e-9


class ElementKind(enum.Enum):
    """A failing element: a node (site or hub trusted node) or a corridor of spans."""

    NODE = "node"
    LINK = "link"


@dataclass(frozen=True)
class FailureElement:
    """One element that can fail, with the spans and trusted nodes it stands for."""

    id: str
    kind: ElementKind
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReducedNetwork:
    """The corridor graph, small and picklable: what failure studies (and Dask workers) need."""

    nodes: tuple[str, ...]
    corridors: tuple[Corridor, ...]
    terminals: tuple[str, ...]

    @classmethod
    def from_topology(cls, topology: Topology) -> ReducedNetwork:
        """Fold ``topology`` into corridors between its endpoints and hub trusted nodes."""
        corridors = tuple(topology.corridors())
        nodes = sorted(
            {c.a for c in corridors} | {c.b for c in corridors} | set(topology.endpoints)
        )
        return cls(nodes=tuple(nodes), corridors=corridors, terminals=tuple(topology.endpoints))

    def elements(self) -> list[FailureElement]:
        """Every node and corridor that can fail (nodes without any corridor carry no key)."""
        linked = {c.a for c in self.corridors} | {c.b for c in self.corridors}
        nodes = [FailureElement(id=n, kind=ElementKind.NODE) for n in self.nodes if n in linked]
        links = [
            FailureElement(id=c.id, kind=ElementKind.LINK, members=c.spans + c.trusted_nodes)
            for c in self.corridors
        ]
        return nodes + links

    def capacities_bps(self, failed: frozenset[str] = frozenset()) -> FloatArray:
        """All-pairs capacity (``pair_index`` order) with the ``failed`` elements removed."""
        nodes = [n for n in self.nodes if n not in failed]
        edges = [(c.a, c.b, c.capacity_bps) for c in self.corridors if c.id not in failed]
        return all_pairs_capacity_bps(capacity_graph(nodes, edges), self.terminals)


@dataclass(frozen=True)
class FailureImpact:
    """The effect of one set of failed elements on the capacity between the other pairs."""

    failed: tuple[str, ...]
    total_lost_bps: float
    n_pairs_affected: int
    n_pairs_disconnected: int
    worst_pair: tuple[str, str] | None
    worst_lost_bps: float
    #: (a, b, capacity before, capacity after) of each pair that lost capacity.
    losses: tuple[tuple[str, str, float, float], ...] = ()

    def to_dict(self, *, with_losses: bool = True) -> dict[str, Any]:
        """JSON-ready dictionary."""
        out: dict[str, Any] = {
            "failed": list(self.failed),
            "total_lost_bps": self.total_lost_bps,
            "n_pairs_affected": self.n_pairs_affected,
            "n_pairs_disconnected": self.n_pairs_disconnected,
            "worst_pair": list(self.worst_pair) if self.worst_pair else None,
            "worst_lost_bps": self.worst_lost_bps,
        }
        if with_losses:
            out["losses"] = [
                {"a": a, "b": b, "capacity_bps": before, "capacity_after_bps": after}
                for a, b, before, after in self.losses
            ]
        return out


def _impacts(
    shared: tuple[ReducedNetwork, FloatArray, bool], failure_sets: Sequence[tuple[str, ...]]
) -> list[FailureImpact]:
    """Task body (module level so that Dask can pickle it): impacts of some failure sets."""
    network, baseline, keep_losses = shared
    pairs = pair_index(network.terminals)
    results = []
    for failed in failure_sets:
        after = network.capacities_bps(frozenset(failed))
        alive = np.array(
            [
                network.terminals[i] not in failed and network.terminals[j] not in failed
                for i, j in pairs
            ],
            dtype=bool,
        )
        lost = np.where(alive, baseline - after, 0.0)
        hit = lost > _LOSS_FLOOR_BPS * np.maximum(1.0, baseline)
        worst = int(np.argmax(lost)) if hit.any() else None
        losses: tuple[tuple[str, str, float, float], ...] = ()
        if keep_losses:
            losses = tuple(
                (
                    network.terminals[pairs[k][0]],
                    network.terminals[pairs[k][1]],
                    float(baseline[k]),
                    float(after[k]),
                )
                for k in np.flatnonzero(hit)
            )
        results.append(
            FailureImpact(
                failed=tuple(failed),
                total_lost_bps=float(lost[hit].sum()),
                n_pairs_affected=int(hit.sum()),
                n_pairs_disconnected=int(np.sum(hit & (after <= 0) & (baseline > 0))),
                worst_pair=None
                if worst is None
                else (network.terminals[pairs[worst][0]], network.terminals[pairs[worst][1]]),
                worst_lost_bps=0.0 if worst is None else float(lost[worst]),
                losses=losses,
            )
        )
    return results


def single_failures(
    network: ReducedNetwork, *, executor: Executor | None = None
) -> list[FailureImpact]:
    """The capacity every pair loses when any one node or corridor fails, with per-pair losses."""
    baseline = network.capacities_bps()
    sets = [(e.id,) for e in network.elements()]
    return run_chunks(_impacts, (network, baseline, True), sets, executor=executor or Executor())


def double_failure_sweep(
    network: ReducedNetwork, *, executor: Executor | None = None, chunk_size: int = 64
) -> list[FailureImpact]:
    """Every unordered pair of failed elements: summary impact (no per-pair list) of each."""
    baseline = network.capacities_bps()
    ids = [e.id for e in network.elements()]
    sets = list(itertools.combinations(ids, 2))
    return run_chunks(
        _impacts,
        (network, baseline, False),
        sets,
        executor=executor or Executor(),
        chunk_size=chunk_size,
    )
