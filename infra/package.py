"""Build the Lambda artifact, dist/keyturn-lambda.zip, without docker, and print its size.

The zip holds the keyturn package (less the CLI and the emulator, which the handler never
imports) and its runtime dependencies pinned by uv.lock, resolved for the function's platform
(arm64, manylinux2014, CPython 3.13) and taken as wheels only, so nothing is compiled here.
boto3, botocore and s3transfer are left out: the Lambda Python runtime provides them. Entries
are sorted and time-stamped alike, so the same sources give the same zip.

    python3 infra/package.py --uv .tools/bin/uv
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = ROOT / "dist" / "keyturn-lambda.zip"
PLATFORM = "aarch64-manylinux2014"
PYTHON_VERSION = "3.13"
PROVIDED_BY_RUNTIME = ("boto3",)  # pruned with everything only it needs (botocore, s3transfer)
NOT_IN_LAMBDA = ("click", "rich")  # the CLI's dependencies
LEFT_OUT = ("cli", "demo.py", "emulator", "__main__.py")  # the CLI face, its demo, the emulator
NOT_PACKAGED = (".lock", "bin")  # uv's lock file in the target, jmespath's `jp.py` script
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
SIZE_GOAL = 5 * 1024 * 1024


def _run(*command: str) -> str:
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)  # noqa: S603
    return done.stdout


def requirements(uv: str) -> str:
    """uv.lock's runtime dependencies for the function, in requirements.txt form."""
    prune = [arg for name in PROVIDED_BY_RUNTIME + NOT_IN_LAMBDA for arg in ("--prune", name)]
    return _run(uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", *prune)


def install(uv: str, requirements_file: Path, target: Path) -> None:
    _run(
        uv, "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
        "--python-platform", PLATFORM, "--python-version", PYTHON_VERSION,
        "--target", str(target), "-r", str(requirements_file),
    )  # fmt: skip
    shutil.copytree(
        ROOT / "src" / "keyturn",
        target / "keyturn",
        ignore=shutil.ignore_patterns("__pycache__", *LEFT_OUT),
    )


def write_zip(tree: Path, artifact: Path) -> None:
    artifact.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(
        p
        for p in tree.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.relative_to(tree).parts[0] not in NOT_PACKAGED
    )
    with zipfile.ZipFile(artifact, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            entry = zipfile.ZipInfo(path.relative_to(tree).as_posix(), FIXED_TIME)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", default=str(ROOT / ".tools" / "bin" / "uv"))
    parser.add_argument("--output", type=Path, default=ARTIFACT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        pinned = Path(scratch) / "requirements.txt"
        pinned.write_text(requirements(args.uv))
        tree = Path(scratch) / "lambda"
        install(args.uv, pinned, tree)
        write_zip(tree, args.output)
    size = args.output.stat().st_size
    shown = args.output.resolve()
    shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
    unpacked = sum(i.file_size for i in zipfile.ZipFile(args.output).infolist())
    sys.stdout.write(
        f"{shown}: {size / 1024 / 1024:.2f} MiB zipped "
        f"({size} bytes; {unpacked / 1024 / 1024:.2f} MiB unpacked; "
        f"goal <= {SIZE_GOAL / 1024 / 1024:.0f} MiB, boto3 excluded)\n"
    )
    return 0 if size <= SIZE_GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())
