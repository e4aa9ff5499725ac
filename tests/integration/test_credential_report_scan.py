"""Credential-report scans on the emulator: O(1) IAM calls to find who is due."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from keyturn.aws.credential_report import Backoff, IamCredentialReports
from keyturn.aws.iam import IamUsers
from keyturn.aws.secrets import SecretsManagerStore
from keyturn.aws.session import AwsClients
from keyturn.cli import cli
from keyturn.core.credential_report import LookReason
from keyturn.core.delivery import Marks
from keyturn.emulator import EmbeddedAws
from keyturn.emulator.calls import CallCounter
from keyturn.errors import AwsError
from keyturn.fleet.report_scan import NamedUsers
from keyturn.rotation.ports import SystemClock
from keyturn.rotation.results import Status
from keyturn.settings import Settings
from keyturn.wiring import secret_trust
from keyturn.wiring.fleet import AccountRun


def account_run(aws: EmbeddedAws, counter: CallCounter | None = None) -> AccountRun:
    session = aws.session()
    if counter is not None:
        counter.attach(session)
    settings = Settings.from_env(os.environ, endpoint_url=aws.url, region=aws.region)
    return AccountRun("123456789012", AwsClients(session, aws.url), settings, SystemClock())


def add_users(aws: EmbeddedAws, count: int, *, prefix: str = "u") -> list[str]:
    iam = aws.client("iam")
    names = [f"{prefix}{n:03d}" for n in range(count)]
    for name in names:
        iam.create_user(UserName=name, Tags=[{"Key": "keyturn:managed", "Value": "true"}])
        iam.create_access_key(UserName=name)
    return names


def key_of(aws: EmbeddedAws, user: str) -> str:
    keys = aws.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return str(keys[0]["AccessKeyId"])


def test_the_report_is_generated_polled_and_parsed(aws: EmbeddedAws) -> None:
    add_users(aws, 3)
    aws.backdate_key("u001", key_of(aws, "u001"), 85)
    slept: list[float] = []
    report = IamCredentialReports(aws.client("iam"), sleep=slept.append).fetch()
    # moto answers STARTED to the first request, like IAM without a recent report
    assert slept == [Backoff().first]
    now = datetime.now(UTC)
    ages = {r.user_name: (now - r.keys[0].created).days for r in report.rows if r.keys[0].created}
    assert ages == {"u000": 0, "u001": 85, "u002": 0}


class NeverReady:
    """An IAM stand-in whose report never completes."""

    def generate_credential_report(self) -> dict[str, Any]:
        return {"State": "INPROGRESS"}


def test_a_report_that_never_completes_gives_up_after_the_backoff() -> None:
    slept: list[float] = []
    reports = IamCredentialReports(
        NeverReady(),  # type: ignore[arg-type]
        backoff=Backoff(first=1, factor=2, cap=5, attempts=4),
        sleep=slept.append,
    )
    with pytest.raises(AwsError, match="ReportNotReady"):
        reports.fetch()
    assert slept == [1, 2, 4, 5]


def test_a_no_op_scan_costs_the_same_iam_calls_for_5_and_40_users(aws: EmbeddedAws) -> None:
    counts = []
    for total in (5, 40):
        aws.reset()
        add_users(aws, total)
        aws.client("iam").generate_credential_report()
        counter = CallCounter()
        run = account_run(aws, counter)
        result = run.rotator(run.report_directory(80)).run()
        assert result.users == ()
        counts.append((counter.total("iam"), counter.total()))
    assert counts[0] == counts[1]
    assert counts[0] == (2, 3)  # Generate + Get; one ListSecrets


def test_only_due_and_in_flight_users_are_looked_at_and_the_due_one_rotates(
    aws: EmbeddedAws,
) -> None:
    # GIVEN 30 users with fresh keys, one with an 85-day key, one with an in-flight mark
    add_users(aws, 30)
    aws.backdate_key("u007", key_of(aws, "u007"), 85)
    counter = CallCounter()
    run = account_run(aws, counter)
    # (a crashed run of keyturn left the mark: the same principals, so its secret is trusted)
    store = SecretsManagerStore(
        aws.client("secretsmanager"), trust=secret_trust(run.clients, run.settings)
    )
    owner = aws.client("iam").get_user(UserName="u012")["User"]["Arn"]
    store.claim("u012", owner)
    store.set_marks("u012", Marks(pending_since=datetime(2026, 1, 1, tzinfo=UTC)))
    directory = run.report_directory(80)
    # WHEN a report-driven run goes
    result = run.rotator(directory).run()
    # THEN only those two were looked at, and the due one was rotated
    assert [(c.row.user_name, c.reason) for c in directory.last.candidates] == [
        ("u007", LookReason.AGE),
        ("u012", LookReason.IN_FLIGHT),
    ]
    statuses = {u.user_name: u.status for u in result.users}
    assert statuses == {"u007": Status.CHANGED, "u012": Status.CHANGED}
    assert counter.calls["iam.ListAccessKeys"] <= 4
    assert counter.calls["iam.ListUsers"] == 0
    assert len(aws.client("iam").list_access_keys(UserName="u007")["AccessKeyMetadata"]) == 2


def test_a_user_deleted_since_the_report_is_skipped(aws: EmbeddedAws) -> None:
    add_users(aws, 2)
    users = NamedUsers(IamUsers(aws.client("iam")), ["u000", "gone", "u001"])
    assert [u.name for u in users.list_users()] == ["u000", "u001"]


def test_the_cli_runs_from_the_credential_report(aws: EmbeddedAws) -> None:
    add_users(aws, 6)
    aws.backdate_key("u004", key_of(aws, "u004"), 81)
    aws.client("iam").generate_credential_report()
    done = CliRunner().invoke(cli, ["--output", "json", "run", "--credential-report"])
    assert done.exit_code == 0, done.output
    users = json.loads(done.output)["users"]
    assert [(u["UserName"], u["status"]) for u in users] == [("u004", "changed")]
    assert len(aws.client("iam").list_access_keys(UserName="u004")["AccessKeyMetadata"]) == 2
