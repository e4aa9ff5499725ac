"""The Lambda artifact `make package` builds: small, arm64-clean, and enough for the handler."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .stack import ROOT, TEMPLATE, make, translate_module

ARTIFACT = ROOT / "dist" / "keyturn-lambda.zip"
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}
CLI_ONLY = {"click", "rich", "moto", "pygments", "markdown_it"}


@pytest.fixture(scope="module")
def artifact() -> zipfile.ZipFile:
    make("package")
    return zipfile.ZipFile(ARTIFACT)


def test_artifact_is_at_most_5_mib_and_leaves_boto3_to_the_runtime(
    artifact: zipfile.ZipFile,
) -> None:
    top_level = {name.split("/", 1)[0].split("-", 1)[0] for name in artifact.namelist()}

    assert ARTIFACT.stat().st_size <= 5 * 1024 * 1024
    assert {"keyturn", "aws_lambda_powertools"} <= top_level
    assert not top_level & (RUNTIME_PROVIDED | CLI_ONLY)
    assert not [n for n in artifact.namelist() if n.endswith((".so", ".pyd", ".dll"))]


def test_template_deploys_this_artifact() -> None:
    code_uri = translate_module.load_template(TEMPLATE)["Resources"]["RotationFunction"]
    assert (TEMPLATE.parent / code_uri["Properties"]["CodeUri"]).resolve() == ARTIFACT


def test_handler_imports_from_the_artifact_alone(artifact: zipfile.ZipFile, tmp_path: Path) -> None:
    # GIVEN the artifact unpacked, as Lambda does, with only boto3 beside it (as in the runtime)
    artifact.extractall(tmp_path)
    probe = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
import keyturn.handler, aws_lambda_powertools
for module in (keyturn.handler, aws_lambda_powertools):
    assert module.__file__.startswith({str(tmp_path)!r}), module.__file__
loaded = {{name.split(".")[0] for name in sys.modules}}
print(",".join(sorted(loaded & set({sorted(CLI_ONLY)!r}))))
"""
    # WHEN the handler module is imported THEN nothing of the CLI or the emulator is needed
    # (a fresh interpreter: not measured by coverage, which `make test` starts in subprocesses)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=clean,
    )
    assert done.stdout.strip() == ""
