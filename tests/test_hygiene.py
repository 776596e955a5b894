"""Package hygiene: facade names, a light root, layers that import one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import euroqci.api

SRC = Path(__file__).resolve().parents[1] / "src" / "euroqci"

# A layer imports only layers before it (STYLE.md, section 1). Top-level modules are the base.
LAYERS = [
    "physics",
    "protocols",
    "devices",
    "postprocessing",
    "network",
    "space",
    "kms",
    "server",
    "twin",
]
FACES = {"cli", "reports", "certification"}
BASE = {"errors", "units", "_jit", "__init__", "api"}
ENTRY = {"__main__"}


def test_api_all_lists_exactly_the_public_names() -> None:
    public = {n for n in vars(euroqci.api) if not n.startswith("_")} - {"annotations"}
    assert set(euroqci.api.__all__) == public


def test_import_euroqci_is_light() -> None:
    code = (
        "import sys, euroqci, euroqci.api; "
        "heavy = [m for m in ('fastapi', 'matplotlib', 'typer', 'numba', 'uvicorn') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(SRC.parent), "PATH": ""},
    )
    assert out.stdout.strip() == ""


def _layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "euroqci" or len(parts) < 2:
        return None
    return parts[1]


def test_layers_import_one_way() -> None:
    order = {name: i for i, name in enumerate(LAYERS)}
    problems = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        own = rel.parts[0].removesuffix(".py")
        if own in ENTRY:
            continue
        if own in BASE or own in FACES:
            # Faces may import every layer, but certification never imports server.
            allowed_all = own in FACES
        else:
            allowed_all = False
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                target = _layer_of(name)
                if target is None or target in BASE or target == own:
                    continue
                if own == "certification" and target in {"server", "twin"}:
                    problems.append(f"{rel}: imports {name}")
                elif allowed_all:
                    continue
                elif own in BASE and own != "api":
                    problems.append(f"{rel}: base module imports {name}")
                elif target in FACES:
                    problems.append(f"{rel}: imports face {name}")
                elif own in order and target in order and order[target] > order[own]:
                    problems.append(f"{rel}: layer {own} imports later layer {name}")
    assert problems == []
