"""Entry point of the ``euroqci`` command: one verb per module, registered here."""

from __future__ import annotations

from typing import Any

import typer

from euroqci import __version__

app = typer.Typer(
    name="euroqci",
    help="EuroQCI: plan, run, emulate and certify a quantum key distribution network.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """EuroQCI command line."""


def _register() -> None:
    # Each verb lives in its own module; importing it here keeps `euroqci --help` complete.
    from euroqci.cli import distill, keyrate, network, space

    verbs: dict[str, Any] = {
        "keyrate": keyrate.keyrate,
        "distill": distill.distill,
    }
    verbs["plan"] = network.plan
    verbs["route"] = network.route
    verbs["passes"] = space.passes
    verbs["pass-key"] = space.pass_key
    verbs["space-plan"] = space.space_plan
    for name, fn in verbs.items():
        app.command(name)(fn)
    app.add_typer(network.scenario_app)

    from euroqci.cli.kme import kme_app, pki_app

    app.add_typer(pki_app, name="pki")
    app.add_typer(kme_app, name="kme")


_register()


def main() -> None:
    """Run the CLI (console-script entry point)."""
    app()
