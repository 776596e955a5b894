"""``python -m euroqci`` runs the CLI."""

from euroqci.cli.main import main

main()
