"""The package's import graph: no cycle anywhere, and no import hidden in a function to dodge one.

`make lint` checks the layers (pyproject.toml's import-linter contracts); layers alone allow a cycle
inside one layer, and an import inside a function escapes them. This test closes both gaps.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "sncguard"

# The imports that may sit in a function, and why: none of them is there to break a cycle.
DEFERRED_IMPORTS = {
    # Each subcommand imports what it needs when it runs: `sncguard check` starts without kopf or aiohttp.
    "cli.py": "per-subcommand imports",
    # A report read from files needs no HTTP client; one read from the cluster imports it then.
    "evidence/report.py": "the cluster source, only when used",
    # kopf's private modules, imported where each patch checks the installed kopf's shape.
    "controller/kopf_fixes.py": "kopf internals, guarded by version",
}


def test_the_package_has_no_import_cycle():
    graph = grimp.build_graph("sncguard")
    cycles = sorted({tuple(sorted((module, imported)))
                     for module in graph.modules for imported in graph.find_modules_directly_imported_by(module)
                     if graph.chain_exists(importer=imported, imported=module)})
    assert cycles == []


def test_imports_inside_functions_are_only_the_deferred_ones():
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                    isinstance(sub, ast.Import | ast.ImportFrom) for sub in ast.walk(node)):
                found.add(path.relative_to(PACKAGE).as_posix())
    assert found <= set(DEFERRED_IMPORTS), sorted(found - set(DEFERRED_IMPORTS))


def test_check_starts_without_kopf_or_aiohttp():
    """What the deferred imports of cli.py buy: the CI tool loads no operator machinery."""
    code = ("import sys, sncguard.cli, sncguard.check, sncguard.loader; "
            "print(sorted(m for m in ('kopf', 'aiohttp') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
