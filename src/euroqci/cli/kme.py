"""``euroqci pki ...`` and ``euroqci kme ...``: development PKI, serve, status, demo, supply."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from euroqci.cli._common import friendly_errors, print_json
from euroqci.errors import ConfigurationError

__all__ = ["kme_app", "pki_app"]

pki_app = typer.Typer(help="Development PKI for KMEs and SAEs.", no_args_is_help=True)
kme_app = typer.Typer(help="Key Management Entity: ETSI GS QKD 014 over mutual TLS.",
                      no_args_is_help=True)  # fmt: skip


@pki_app.command("init")
@friendly_errors
def pki_init(
    directory: Annotated[Path, typer.Argument(help="Folder for the CA and certificates.")],
    kme: Annotated[list[str] | None, typer.Option("--kme", help="KME ID (repeat).")] = None,
    sae: Annotated[list[str] | None, typer.Option("--sae", help="SAE ID (repeat).")] = None,
    valid_days: Annotated[int, typer.Option("--valid-days", help="Validity in days.")] = 365,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Make a CA, KME certificates (server+client) and SAE client certificates."""
    from euroqci.server.pki import init_pki

    if not kme and not sae:
        raise ConfigurationError("--kme/--sae: give at least one ID")
    layout = init_pki(directory, kme_ids=kme or [], sae_ids=sae or [], valid_days=valid_days)
    out = {
        "ca": str(layout.ca),
        "kmes": {k: {"cert": str(c), "key": str(p)} for k, (c, p) in layout.kmes.items()},
        "saes": {k: {"cert": str(c), "key": str(p)} for k, (c, p) in layout.saes.items()},
    }
    if as_json:
        print_json(out)
    else:
        typer.echo(
            f"CA {layout.ca}; {len(layout.kmes)} KME and {len(layout.saes)} SAE certificates"
        )


@kme_app.command("serve")
@friendly_errors
def kme_serve(
    config: Annotated[Path, typer.Option("--config", help="KME config file (TOML).")],
) -> None:
    """Serve one KME (ETSI 014 + KME relay) with mutual TLS until stopped."""
    from euroqci.server.runner import serve
    from euroqci.server.settings import load_settings

    serve(load_settings(config))


@kme_app.command("status")
@friendly_errors
def kme_status(
    config: Annotated[Path, typer.Option("--config", help="KME config file (TOML).")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Link-key pools and keys waiting for slave SAEs, read from the KME's store."""
    from euroqci.kms.store import open_store
    from euroqci.server.settings import load_settings

    settings = load_settings(config)
    store = open_store(settings.store)
    try:
        links: list[dict[str, object]] = []
        for link in settings.links:
            p = store.pool_status(link.link_id)
            row: dict[str, object] = {"link_id": link.link_id, "peer_kme_id": link.peer_kme_id}
            row.update(outbound_keys=p.outbound_keys, outbound_bytes=p.outbound_bytes)
            row.update(inbound_keys=p.inbound_keys, inbound_bytes=p.inbound_bytes)
            links.append(row)
        out = {"kme_id": settings.kme_id, "keys_waiting": store.count_keys(), "links": links}
    finally:
        store.close()
    if as_json:
        print_json(out)
        return
    typer.echo(f"{out['kme_id']}: {out['keys_waiting']} keys waiting for slave SAEs")
    for row in links:
        typer.echo(
            f"  link {row['link_id']} to {row['peer_kme_id']}: {row['outbound_keys']} "
            f"outbound / {row['inbound_keys']} inbound link keys"
        )


@kme_app.command("supply")
@friendly_errors
def kme_supply(
    link_id: Annotated[str, typer.Option("--link-id", help="Link ID, as in both KME configs.")],
    drop: Annotated[
        list[Path], typer.Option("--drop", help="Key drop folder of each end (twice).")
    ],
    keys: Annotated[int, typer.Option("--keys", help="Number of link keys.")] = 1000,
    key_size_bits: Annotated[
        int, typer.Option("--key-size-bits", help="Link key size in bits.")
    ] = 256,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Emulate a QKD link: write the same new link keys into both ends' key drop folders."""
    import uuid

    from euroqci.kms.supply import emulated_link_keys, write_key_file

    if len(drop) != 2:
        raise ConfigurationError("--drop: give the drop folder of each end, twice")
    if not 1 <= keys <= 1_000_000:
        raise ConfigurationError("--keys: give 1 to 1000000")
    pairs = emulated_link_keys(keys, key_size_bits=key_size_bits)
    name = f"{link_id.replace('/', '_')}-{uuid.uuid4().hex}.json"
    for folder in drop:
        if not folder.is_dir():
            raise ConfigurationError(f"--drop: {folder} is not a folder")
        write_key_file(folder / name, link_id, pairs)
    if as_json:
        print_json({"link_id": link_id, "keys": keys, "files": [str(d / name) for d in drop]})
    else:
        typer.echo(f"{keys} link keys for {link_id} written to {len(drop)} drop folders")


@kme_app.command("demo")
@friendly_errors
def kme_demo(
    directory: Annotated[Path, typer.Option("--dir", help="Folder for PKI, configs and stores.")],
    base_port: Annotated[
        int, typer.Option("--base-port", help="Port of KME-A; others follow.")
    ] = 8443,
    relay: Annotated[
        bool, typer.Option("--relay", help="Join A and B through trusted node T.")
    ] = False,
    key_rate_bps: Annotated[
        float, typer.Option("--key-rate-bps", help="Emulated link key rate.")
    ] = 1e6,
) -> None:
    """Start KME-A and KME-B (and T) joined by an emulated QKD link; print one JSON line."""
    from euroqci.server.demo import run_demo, write_demo

    if not 0 < key_rate_bps <= 1e9:
        raise ConfigurationError("--key-rate-bps: give 0 < rate <= 1e9 bit/s")
    layout = write_demo(directory, base_port=base_port, relay=relay)

    def started(summary: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(summary) + "\n")
        sys.stdout.flush()

    run_demo(layout, key_rate_bps=key_rate_bps, on_started=started)
