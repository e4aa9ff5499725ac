"""Click commands. Each builds one Settings object, calls the engine, renders the result.

Exit codes come from the errors themselves (:mod:`keyturn.cli.errors`): 0 ok, 1 error, 2 usage
or bad input, 3 refused by a safety rule.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from keyturn.aws.consumer import current_key_reader
from keyturn.cli.errors import EXIT_OK, KeyturnClickError, run_exit_code
from keyturn.cli.progress import Ticker, progress_bar, wants_progress
from keyturn.cli.tables import forecast_lines, run_table, scan_table, summary_line
from keyturn.consumer import credential_process as consumer
from keyturn.core.delivery import arn_account
from keyturn.core.inputs import parse_at, parse_user_name
from keyturn.core.rollout import Mode
from keyturn.errors import BadRequestError, KeyturnError
from keyturn.fleet.settings import FleetSettings
from keyturn.report import build_report, render_html, write_csv
from keyturn.rotation.results import RunResult, UserResult
from keyturn.rotation.rotator import Rotator
from keyturn.rotation.views import key_rows, run_json, user_json
from keyturn.settings import Settings
from keyturn.wiring import build_rotator
from keyturn.wiring.fleet import AwsFleet


@dataclass
class CliContext:
    """Global options, resolved into settings when a command needs them."""

    region: str | None
    profile: str | None
    endpoint_url: str | None
    output: str
    console: Console
    mode: Mode | None = None
    """``--mode`` (or ``run --audit``); None: ``KEYTURN_MODE``, act by default."""

    def rotator(self, *, by_report: bool = True, metadata_only: bool = False) -> Rotator:
        """The service; ``metadata_only`` for the read-only commands (no secret value)."""
        return build_rotator(self.settings(), by_report=by_report, metadata_only=metadata_only)

    def settings(self) -> Settings:
        return Settings.from_env(
            os.environ,
            region=self.region,
            profile=self.profile,
            endpoint_url=self.endpoint_url,
            mode=self.mode,
        )

    def emit(self, data: Any) -> None:
        click.echo(json.dumps(data, indent=2, default=str))

    def progress(self, label: str) -> AbstractContextManager[Ticker]:
        """A progress bar on stderr while a long command works (only for a person at a
        terminal with table output; see :mod:`keyturn.cli.progress`)."""
        return progress_bar(label, show=wants_progress(self.output))


pass_ctx = click.make_pass_decorator(CliContext)


class KeyturnGroup(click.Group):
    """Hands keyturn's errors to click with their exit codes (see :mod:`keyturn.cli.errors`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyturnError as exc:
            raise KeyturnClickError(exc) from exc


@click.group(cls=KeyturnGroup)
@click.option("--region", envvar="AWS_REGION", help="AWS region (default: profile's).")
@click.option("--profile", envvar="AWS_PROFILE", help="AWS named profile.")
@click.option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="Endpoint for every AWS call.")
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    help="audit: plan, report and notify as if acting, change nothing (default: KEYTURN_MODE, "
    "else act).",
)
@click.version_option(package_name="keyturn")
@click.pass_context
def cli(
    ctx: click.Context,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    output: str,
    mode: str | None,
) -> None:
    """keyturn rotates IAM user access keys safely: new key first, delivered to Secrets Manager,
    the old key retired on a schedule."""
    console = Console(width=None if sys.stdout.isatty() else 120, emoji=False, highlight=False)
    chosen = Mode(mode) if mode else None
    ctx.obj = CliContext(region, profile, endpoint_url, output, console, chosen)


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    return parse_at(value)


@cli.command()
@click.option("--at", "at_text", metavar="DATE", help="Pretend it is this ISO date.")
@pass_ctx
def scan(obj: CliContext, at_text: str | None) -> None:
    """List every user's keys, their age, last use and next action."""
    rotator = obj.rotator(metadata_only=True)
    with obj.progress("scanning users") as ticker:
        run = rotator.plan_all(at=_at(at_text), progress=ticker)
    if obj.output == "json":
        obj.emit(run_json(run))
        return
    if run.users:
        obj.console.print(scan_table(run))
    obj.console.print(summary_line(run))


@cli.command()
@click.option("--at", "at_text", metavar="DATE", help="Plan as if it were this ISO date.")
@pass_ctx
def plan(obj: CliContext, at_text: str | None) -> None:
    """Show what a run would do; changes nothing."""
    rotator = obj.rotator(metadata_only=True)
    with obj.progress("planning users") as ticker:
        run = rotator.plan_all(at=_at(at_text), forecast=True, progress=ticker)
    _show_run(obj, run, "keyturn plan (nothing changed)")


@cli.command()
@click.option(
    "--credential-report/--listing",
    "by_report",
    default=True,
    help="Look only at users the IAM credential report shows as possibly due (the default; "
    "every user is listed when the report cannot be had), or list every user.",
)
@click.option("--audit", is_flag=True, help="Audit mode: change nothing (as --mode audit).")
@pass_ctx
def run(obj: CliContext, by_report: bool, audit: bool) -> None:
    """Apply the policy to every managed user."""
    if audit:
        obj.mode = Mode.AUDIT
    rotator = obj.rotator(by_report=by_report)
    with obj.progress("running users") as ticker:
        result = rotator.run(progress=ticker)
    audited = " (audit mode: nothing changed)" if result.mode is Mode.AUDIT else ""
    _show_run(obj, result, f"keyturn run {result.run_id}{audited}")
    _publish_findings(rotator, result)
    code = run_exit_code(result)
    if code != EXIT_OK:
        raise click.exceptions.Exit(code)


@cli.command()
@pass_ctx
def retire(obj: CliContext) -> None:
    """Deactivate previous keys whose consumer switched (users in a grace period only).

    The light pass the hourly schedule runs: never rotates, deletes or postpones.
    """
    result = obj.rotator().retire()
    _show_run(obj, result, f"keyturn retire {result.run_id}")
    code = run_exit_code(result)
    if code != EXIT_OK:
        raise click.exceptions.Exit(code)


@cli.command()
@click.argument("user")
@click.option("--grace-days", type=click.IntRange(0, 3650), help="Retire the old key after N days.")
@click.option("--delete-after-days", type=click.IntRange(0, 3650), help="Delete N days after that.")
@pass_ctx
def rotate(
    obj: CliContext, user: str, grace_days: int | None, delete_after_days: int | None
) -> None:
    """Rotate USER's key now."""
    result = obj.rotator().rotate(
        parse_user_name(user), grace_days=grace_days, delete_after_days=delete_after_days
    )
    _show_user(obj, result)


@cli.command()
@click.argument("user")
@pass_ctx
def restore(obj: CliContext, user: str) -> None:
    """Re-activate USER's previous key and make it current again."""
    _show_user(obj, obj.rotator().restore(parse_user_name(user)))


@cli.command("credential-process")
@click.option("--secret-id", required=True, help="The user's secret, e.g. keyturn/NAME (or ARN).")
@click.option(
    "--profile",
    "bootstrap_profile",
    help="Profile to read the secret with until keyturn remembers a key (never the profile "
    "whose credential_process runs this command). Default: the SDK's credential chain.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the last key read is remembered (default: ~/.cache/keyturn); it must be yours "
    "and writable by no one else.",
)
@click.option("--no-cache", is_flag=True, help="Always read with the bootstrap credentials.")
@click.option(
    "--refresh-minutes",
    type=click.IntRange(16, 720),
    default=20,
    show_default=True,
    help="Expiration announced to the SDK; botocore fetches again 15 minutes before it.",
)
@pass_ctx
def credential_process(
    obj: CliContext,
    secret_id: str,
    bootstrap_profile: str | None,
    cache_dir: Path | None,
    no_cache: bool,
    refresh_minutes: int,
) -> None:
    """Print the current key as AWS SDK credential_process JSON.

    This prints a secret to stdout on purpose: that is the credential_process contract. Use it
    from ~/.aws/config: credential_process = keyturn credential-process --secret-id keyturn/NAME
    """
    if os.environ.get(consumer.ENV_GUARD):
        raise BadRequestError(
            "credential-process started itself: the credentials used to read the secret come "
            "from a profile whose credential_process is keyturn; pass --profile with another one"
        )
    os.environ[consumer.ENV_GUARD] = "1"
    read = current_key_reader(
        secret_id, profile=bootstrap_profile, region=obj.region, endpoint_url=obj.endpoint_url
    )
    directory = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    if cache_dir is None:
        directory = directory / "keyturn"
    cache = (
        None if no_cache else consumer.KeyCache.for_secret(directory, secret_id, obj.endpoint_url)
    )
    with _warnings_on_stderr(consumer.log):
        key = consumer.pull_current_key(read, cache, secret_account=arn_account(secret_id))
    expires = consumer.refresh_at(datetime.now(UTC), refresh_minutes)
    click.echo(json.dumps(consumer.credential_process_document(key, expires)))


@contextmanager
def _warnings_on_stderr(logger: logging.Logger) -> Iterator[None]:
    """Show ``logger``'s warnings on stderr while the block runs (the SDK that runs
    credential-process shows stderr only when the command fails; a person running it sees it)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@cli.command()
@pass_ctx
def demo(obj: CliContext) -> None:
    """Tell the whole story on an embedded AWS emulator; no AWS account needed."""
    # Imported here: the emulator is the optional `keyturn[emulator]` extra.
    from keyturn.emulator.demo import run_demo  # noqa: PLC0415

    run_demo(obj.console)


@cli.command()
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Page.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), help="Rows.")
@click.option("--at", "at_text", metavar="DATE", help="Report as if it were this ISO date.")
@click.option(
    "--organization", is_flag=True, help="Every account the KEYTURN_* account rules select."
)
@pass_ctx
def report(
    obj: CliContext,
    html_path: Path | None,
    csv_path: Path | None,
    at_text: str | None,
    organization: bool,
) -> None:
    """Write the key-age report: a self-contained HTML page and/or the same rows as CSV."""
    if html_path is None and csv_path is None:
        raise click.UsageError("give --html FILE, --csv FILE or both")
    settings = obj.settings()
    fleet = AwsFleet.from_settings(
        settings, FleetSettings.from_env(os.environ, organization=organization or None)
    )
    at = _at(at_text) or datetime.now(UTC)
    with obj.progress("scanning users") as ticker:
        scans = fleet.scan_all(at, progress=ticker)
    built = build_report(scans, at)
    if html_path is not None:
        html_path.write_text(render_html(built), encoding="utf-8")
    if csv_path is not None:
        with csv_path.open("w", encoding="utf-8", newline="") as out:
            write_csv(built, out)
    obj.console.print(
        f"{len(built.keys)} keys in {len(built.accounts)} account(s), "
        f"{len(built.overdue)} overdue, {len(built.troubled)} user(s) refused or failed, "
        f"{len(built.upcoming)} action(s) in the next "
        f"{built.horizon_days} days"
    )


def _show_run(obj: CliContext, run: RunResult, title: str) -> None:
    """The run as JSON, or as a table (none when there were no users) with the forecast, if
    any, and the one-line summary at the end."""
    if obj.output == "json":
        obj.emit(run_json(run))
        return
    if run.users:
        obj.console.print(run_table(run, title))
    if run.forecast is not None:
        for line in forecast_lines(run.forecast):
            obj.console.print(line)
    obj.console.print(summary_line(run))


def _publish_findings(rotator: Rotator, result: RunResult) -> None:
    """Security Hub findings after a run (``KEYTURN_SECURITY_HUB``); never changes the exit."""
    if rotator.findings is None:
        return
    done = rotator.findings.publish(result)
    line = f"Security Hub: {done.upserted} finding(s) open, {done.resolved} resolved"
    line += f", {done.failed} failed (see the log)" if done.failed else ""
    click.echo(line, err=True)


def _show_user(obj: CliContext, result: UserResult) -> None:
    if obj.output == "json":
        obj.emit(user_json(result))
        return
    obj.console.print(f"{result.user_name}: {result.status.value}. {result.message}".strip())
    for row in key_rows(result.user_name, result.keys):
        obj.console.print(f"  {row['AccessKeyId']}  {row['status']}  created {row['CreateDate']}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="keyturn")
