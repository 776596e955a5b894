"""The ``euroqci`` command line: typer + rich, calling the library, holding no logic."""
