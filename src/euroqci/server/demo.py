"""A demo network for integrators: KME-A and KME-B (optionally through trusted node KME-T).

:func:`write_demo` makes the PKI and one TOML config per KME in a folder; :func:`run_demo` serves
them in one process with an emulated QKD link supply running, and reports where things are.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from euroqci.errors import ConfigurationError
from euroqci.kms.manager import KeyManager
from euroqci.kms.supply import supply_link
from euroqci.server.pki import init_pki
from euroqci.server.settings import KMESettings, load_settings

__all__ = ["DemoLayout", "chain_configs", "run_demo", "write_demo"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoLayout:
    """The demo's config files and its summary (the JSON line the CLI prints)."""

    configs: list[Path]
    summary: dict[str, Any]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value).__name__)


def chain_configs(
    *, base_port: int, relay: bool, pki: str = "pki", data: str = ".", n_trusted: int = 1
) -> dict[str, str]:
    """TOML text for KME-A and KME-B, joined directly or through trusted nodes.

    With ``relay``, ``n_trusted`` trusted nodes sit between them: KME-T (one) or KME-T1, KME-T2...
    Paths are relative to the config files' folder: ``pki`` holds the PKI, ``data`` the stores.
    """
    trusted = ["KME-T"] if n_trusted == 1 else [f"KME-T{i + 1}" for i in range(n_trusted)]
    kmes = ["KME-A", *trusted, "KME-B"] if relay else ["KME-A", "KME-B"]
    saes: dict[str, list[str]] = {k: [] for k in kmes}
    saes.update({"KME-A": ["SAE-A"], "KME-B": ["SAE-B"]})
    port = {k: base_port + i for i, k in enumerate(kmes)}
    links = [(f"{a.removeprefix('KME-')}~{b.removeprefix('KME-')}", a, b)
             for a, b in itertools.pairwise(kmes)]  # fmt: skip
    out = {}
    for kme in kmes:
        mine = [(lid, b if a == kme else a) for lid, a, b in links if kme in (a, b)]
        routes = {}
        for other in kmes:
            if other != kme and all(peer != other for _, peer in mine):
                # In a chain, the next hop is the neighbour on the side of ``other``.
                side = kmes.index(other) > kmes.index(kme)
                routes[other] = next(
                    lid for lid, p in mine if (kmes.index(p) > kmes.index(kme)) == side
                )
        lines = [
            f"kme_id = {_toml(kme)}",
            'host = "127.0.0.1"',
            f"port = {port[kme]}",
            f"cert_file = {_toml(f'{pki}/kme/{kme}.pem')}",
            f"key_file = {_toml(f'{pki}/kme/{kme}-key.pem')}",
            f"ca_file = {_toml(f'{pki}/ca.pem')}",
            f"store = {_toml(f'sqlite:///{data}/{kme}.db')}",
            f"audit_log = {_toml(f'{data}/{kme}-audit.jsonl')}",
            f"saes = {_toml(saes[kme])}",
            "remote_saes = " + _toml({s: k for k in kmes if k != kme for s in saes[k]}),
            "routes = " + _toml(routes),
        ]
        for lid, peer in mine:
            lines += ["", "[[links]]", f"link_id = {_toml(lid)}", f"peer_kme_id = {_toml(peer)}",
                      f"peer_url = {_toml(f'https://127.0.0.1:{port[peer]}')}"]  # fmt: skip
        out[kme] = "\n".join(lines) + "\n"
    return out


def write_demo(directory: Path, *, base_port: int = 8443, relay: bool = False) -> DemoLayout:
    """Make the PKI and configs in ``directory``."""
    if not 1024 <= base_port <= 65533:
        raise ConfigurationError("--base-port: give 1024 to 65533", field="base_port")
    directory.mkdir(parents=True, exist_ok=True)
    texts = chain_configs(base_port=base_port, relay=relay)
    layout = init_pki(directory / "pki", kme_ids=list(texts), sae_ids=["SAE-A", "SAE-B"])
    configs = []
    for kme, text in texts.items():
        path = directory / f"{kme}.toml"
        path.write_text(text, encoding="utf-8")
        configs.append(path)
    summary = {
        "ca": str(layout.ca.resolve()),
        "kmes": [
            {"id": kme, "url": f"https://127.0.0.1:{base_port + i}"} for i, kme in enumerate(texts)
        ],
        "saes": [
            {"id": sae, "kme": kme, "cert": str(layout.saes[sae][0].resolve()),
             "key": str(layout.saes[sae][1].resolve())}
            for sae, kme in (("SAE-A", "KME-A"), ("SAE-B", "KME-B"))
        ],
    }  # fmt: skip
    return DemoLayout(configs, summary)


def _supply_loop(
    managers: list[KeyManager], key_rate_bps: float, interval_s: float, stop: threading.Event
) -> None:
    by_id = {m.profile.kme_id: m for m in managers}
    n_keys = max(int(key_rate_bps * interval_s / 256), 1)
    while True:
        for m in managers:
            for link in m.profile.links:
                if m.profile.kme_id < link.peer_kme_id:  # one supplier per link
                    supply_link((m, by_id[link.peer_kme_id]), link.link_id, n_keys=n_keys)
        if stop.wait(interval_s):
            return


def run_demo(
    layout: DemoLayout,
    *,
    key_rate_bps: float = 1e6,
    on_started: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Serve the demo KMEs with link key supply at ``key_rate_bps`` per link until stopped."""
    from euroqci.server.runner import serve_many

    settings: list[KMESettings] = [load_settings(p) for p in layout.configs]
    stop = threading.Event()
    suppliers: list[threading.Thread] = []

    def started(managers: list[KeyManager]) -> None:
        supplier = threading.Thread(
            target=_supply_loop, args=(managers, key_rate_bps, 0.2, stop), daemon=True,
            name="demo-link-supply",
        )  # fmt: skip
        suppliers.append(supplier)
        supplier.start()
        if on_started is not None:
            on_started(layout.summary)

    def stopping() -> None:
        # The supply writes to the stores: it must be finished before they close.
        stop.set()
        for supplier in suppliers:
            supplier.join(timeout=30)

    serve_many(settings, on_started=started, on_stopping=stopping)
