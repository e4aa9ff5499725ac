"""The core imports only the standard library (and keyturn's own core and error tree)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import keyturn.core

CORE = Path(keyturn.core.__file__).parent
ALLOWED_OWN = ("keyturn.core", "keyturn.errors")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_modules_import_only_the_standard_library() -> None:
    offenders = {}
    for path in CORE.glob("*.py"):
        bad = {
            name
            for name in imported_modules(path)
            if not name.startswith(ALLOWED_OWN)
            and name.split(".")[0] not in sys.stdlib_module_names
        }
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_core_reads_no_clock_and_no_environment() -> None:
    for path in CORE.glob("*.py"):
        source = path.read_text()
        for forbidden in ("datetime.now", "time.time", "os.environ", "getenv"):
            assert forbidden not in source, f"{path.name} uses {forbidden}"
