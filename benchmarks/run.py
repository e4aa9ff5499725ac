"""Run every benchmark against one embedded moto server and print a markdown table.

    make bench                      # or: .venv/bin/python -m benchmarks [--write] [--quick]

``--write`` also saves the table, with the machine it came from, to benchmarks/RESULTS.md.
``--quick`` uses small populations to check the harness (its figures mean little).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from benchmarks import scans, startup
from keyturn.emulator import EmbeddedAws

RESULTS = Path(__file__).with_name("RESULTS.md")
SCAN_SIZES = (1_000, 10_000)
ROTATIONS = 1_000


def _ratio(a: float, b: float) -> str:
    if not b:
        return "n/a"
    ratio = a / b
    return f"{ratio:,.2f}×" if ratio < 1 else f"{ratio:,.1f}×"  # noqa: RUF001 - a ratio's sign


def scan_rows(aws: EmbeddedAws, sizes: tuple[int, ...]) -> list[str]:
    rows = []
    for users in sizes:
        report, listing = scans.noop_scan(aws, users)
        rows.append(
            f"| no-op daily scan, {users:,} users | credential report | "
            f"{report.calls.total('iam')} IAM ({report.calls.total()} AWS) | "
            f"{report.seconds:.2f} s |"
        )
        rows.append(
            f"| no-op daily scan, {users:,} users | per-user listing | "
            f"{listing.calls.total('iam'):,} IAM ({listing.calls.total():,} AWS) | "
            f"{listing.seconds:.2f} s |"
        )
        rows.append(
            f"| no-op daily scan, {users:,} users | ratio listing / report | "
            f"{_ratio(listing.calls.total('iam'), report.calls.total('iam'))} IAM calls | "
            f"{_ratio(listing.seconds, report.seconds)} faster |"
        )
    return rows


def lifecycle_rows(aws: EmbeddedAws) -> list[str]:
    rows = []
    mutating = reads = 0
    for label, counter in scans.lifecycle(aws):
        mutating += counter.mutating()
        reads += counter.reads()
        ops = ", ".join(f"{op} {n}" for op, n in sorted(counter.calls.items()))
        rows.append(
            f"| lifecycle of one user: {label} | {counter.mutating()} mutating, "
            f"{counter.reads()} reads | {ops} | |"
        )
    rows.append(
        f"| lifecycle of one user: total | {mutating} mutating, {reads} reads | "
        f"{mutating + reads} AWS calls per user | |"
    )
    return rows


def rotation_rows(aws: EmbeddedAws, users: int) -> list[str]:
    ours = scans.keyturn_rotations(aws, users)
    recipe = scans.recipe_rotations(aws, users)
    ours_rate, recipe_rate = users / ours.seconds, users / recipe.seconds
    return [
        f"| {users:,} due users rotated | keyturn (report-driven run) | "
        f"{ours.calls.total() / users:.1f} AWS calls per user | {ours_rate:.1f} rotations/s |",
        f"| {users:,} due users rotated | original recipe, once per user | "
        f"{recipe.calls.total() / users:.1f} AWS calls per user | {recipe_rate:.1f} rotations/s |",
        f"| {users:,} due users rotated | ratio keyturn / recipe | | "
        f"{_ratio(ours_rate, recipe_rate)} |",
    ]


def retire_rows(aws: EmbeddedAws, users: int) -> list[str]:
    in_grace = max(1, users // 100)
    measured, looked = scans.retire_pass(aws, users, in_grace)
    calls = measured.calls
    return [
        f"| hourly retirement pass, {users:,} users, {in_grace:,} in grace | one filtered "
        f"listing, then the listed users | {calls.total():,} AWS calls "
        f"({calls.total('secretsmanager'):,} Secrets Manager, {calls.total('iam'):,} IAM) for "
        f"{looked:,} users | {measured.seconds:.2f} s |",
        f"| hourly retirement pass, {users:,} users | a month of hourly passes | "
        f"{calls.total() * 24 * 30:,} AWS calls | |",
    ]


def startup_rows() -> list[str]:
    handler = startup.cold_import(startup.HANDLER)
    baseline = startup.cold_import(startup.BASELINE)
    size, how = startup.artifact_size()
    return [
        f"| cold import | `import keyturn.handler` | | {handler * 1000:.0f} ms |",
        f"| cold import | `import boto3` + 4 clients | | {baseline * 1000:.0f} ms |",
        f"| cold import | ratio handler / boto3 + 4 clients | | {_ratio(handler, baseline)} |",
        f"| Lambda artifact | {how} | | {size / 1024 / 1024:.2f} MiB ({size:,} bytes) |",
    ]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, moto {version('moto')}, boto3 {version('boto3')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="keyturn benchmarks")
    parser.add_argument("--write", action="store_true", help="save to benchmarks/RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="small populations (harness check)")
    args = parser.parse_args(argv)
    logging.disable(logging.INFO)  # keep the engine's per-user logs out of the table
    sizes, rotations = ((50, 200), 50) if args.quick else (SCAN_SIZES, ROTATIONS)
    started = time.perf_counter()
    with EmbeddedAws() as aws:
        rows = scan_rows(aws, sizes) + lifecycle_rows(aws) + rotation_rows(aws, rotations)
        rows += retire_rows(aws, sizes[-1])
    rows += startup_rows()
    header = ["| benchmark | variant | calls | figure |", "| --- | --- | --- | --- |"]
    table = "\n".join(header + rows)
    elapsed = time.perf_counter() - started
    print(table)
    print(f"\n{machine()}; whole run {elapsed:.0f} s")
    if args.write:
        write(table, elapsed)
    return 0


def write(table: str, elapsed: float) -> None:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    RESULTS.write_text(
        "# keyturn benchmark results\n\n"
        f"Produced by `make bench` on {when}, in one run of {elapsed:.0f} s against one "
        f"embedded moto\nserver (HTTP on 127.0.0.1).\n\nMachine: {machine()}.\n\n{table}\n\n"
        + Path(__file__).with_name("NOTES.md").read_text()
    )
