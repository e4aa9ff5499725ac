"""Cold import time and the Lambda artifact's size."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
HANDLER = "import keyturn.handler"
BASELINE = (
    "import boto3\n"
    "s = boto3.Session(region_name='us-east-1')\n"
    "for name in ('iam', 'secretsmanager', 'sns', 'sts'):\n"
    "    s.client(name)\n"
)
TIMED = "import time\nt = time.perf_counter()\n{code}\nprint(time.perf_counter() - t)\n"


def cold_import(code: str) -> float:
    """Median seconds of ``code`` in a fresh interpreter (bytecode already cached)."""
    program = TIMED.format(code=code)
    times = []
    for _ in range(RUNS):
        done = subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT
        )
        times.append(float(done.stdout.strip()))
    return statistics.median(times)


def artifact_size() -> tuple[int, str]:
    """Bytes of the Lambda zip, and how it was built."""
    package = ROOT / "infra" / "package.py"
    uv = ROOT / ".tools" / "bin" / "uv"
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "keyturn-lambda.zip"
        if package.exists():
            subprocess.run(
                [sys.executable, str(package), "--uv", str(uv), "--output", str(output)],
                check=True, capture_output=True, cwd=ROOT,
            )  # fmt: skip
            return output.stat().st_size, "infra/package.py (dependencies included, boto3 left out)"
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted((ROOT / "src" / "keyturn").rglob("*.py")):
                archive.write(path, path.relative_to(ROOT / "src").as_posix())
        return output.stat().st_size, "keyturn sources only (infra/package.py not on this branch)"
