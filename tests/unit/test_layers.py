"""The layers import each other in one direction only: faces → wiring → service → ports → core.

Read from the source, so a new import that crosses a layer fails here before anyone reads it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import keyturn
from tests.unit.test_core_is_pure import imported_modules

PACKAGE = Path(keyturn.__file__).parent
ADAPTERS_MAY_IMPORT = (
    "keyturn.aws",
    "keyturn.core",
    "keyturn.errors",
    "keyturn.rotation.ports",
    "keyturn.fleet.ports",
    "keyturn.fleet.messages",
    "keyturn.fleet.accounts",
    "keyturn",  # the version string
)
SERVICE_MAY_NOT_IMPORT = (
    "keyturn.aws",
    "keyturn.wiring",
    "keyturn.handler",
    "keyturn.cli",
    "keyturn.fleet",
    "keyturn.testing",
    "boto3",
    "botocore",
)


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def _own(path: Path) -> set[str]:
    return {m for m in imported_modules(path) if m == "keyturn" or m.startswith("keyturn.")}


def test_production_code_never_imports_the_test_fakes() -> None:
    importers = [
        p.relative_to(PACKAGE)
        for p in PACKAGE.rglob("*.py")
        if p.name != "testing.py" and "keyturn.testing" in imported_modules(p)
    ]
    assert importers == []


def test_adapters_import_only_ports_core_models_and_errors() -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): bad
        for p in _modules("aws")
        if (bad := {m for m in _own(p) if not m.startswith(ADAPTERS_MAY_IMPORT)})
    }
    assert offenders == {}


@pytest.mark.parametrize("layer", ["rotation", "core"])
def test_the_service_and_the_core_never_reach_outwards(layer: str) -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): bad
        for p in _modules(layer)
        if (bad := {m for m in imported_modules(p) if m.startswith(SERVICE_MAY_NOT_IMPORT)})
    }
    assert offenders == {}


def test_the_top_level_reads_like_the_architecture() -> None:
    entries = {p.name for p in PACKAGE.iterdir() if not p.name.startswith(("_", "."))}
    assert entries == {
        "aws",
        "cli",
        "consumer",
        "core",
        "emulator",
        "errors.py",
        "fleet",
        "handler",
        "py.typed",
        "report",
        "rotation",
        "settings.py",
        "testing.py",
        "wiring",
    }
