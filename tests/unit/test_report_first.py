"""A scheduled run finds its users by the credential report, or by the listing when the report
cannot be had, and says which (on the in-memory fakes)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from keyturn.core.credential_report import CredentialReport, ReportKey, ReportRow
from keyturn.errors import AwsError
from keyturn.fleet.report_scan import ReportDirectory, ReportFirst
from keyturn.rotation.results import FOUND_BY_LISTING, FOUND_BY_REPORT, Status
from keyturn.testing import FakeAws


@dataclass
class Reports:
    """A credential report source: the fake IAM's users as rows, or an error."""

    aws: FakeAws
    error: str | None = None

    def fetch(self) -> CredentialReport:
        if self.error is not None:
            raise AwsError("GenerateCredentialReport", self.error, "")
        rows = tuple(
            ReportRow(
                name,
                f"arn:aws:iam::123456789012:user/{name}",
                None,
                tuple(
                    ReportKey(n, k.active, k.created, k.last_used)
                    for n, k in enumerate(keys, start=1)
                ),
            )
            for name, keys in self.aws.iam.keys.items()
        )
        return CredentialReport(None, rows)


class NoneInFlight:
    def users_in_flight(self) -> frozenset[str]:
        return frozenset()


def _world(error: str | None) -> tuple[FakeAws, ReportFirst]:
    aws = FakeAws()
    for name, age in (("due", 85), ("young", 10)):
        aws.iam.add_user(name)
        aws.iam.add_key(name, age_days=age)
    report = ReportDirectory(aws.iam, Reports(aws, error), NoneInFlight(), aws.clock, 80)
    return aws, ReportFirst(report, aws.iam, aws.settings.scope, lambda _: {})


def test_the_report_s_candidates_are_the_run() -> None:
    aws, directory = _world(None)
    run = replace(aws.rotator(), run_directory=directory).run()
    assert run.found_by == FOUND_BY_REPORT
    assert [(u.user_name, u.status) for u in run.users] == [("due", Status.CHANGED)]
    assert run.notes == ()


@pytest.mark.parametrize("code", ["AccessDenied", "ReportNotReady"])
def test_without_the_report_every_user_is_listed_and_the_result_says_so(code: str) -> None:
    aws, directory = _world(code)
    run = replace(aws.rotator(), run_directory=directory).run()
    assert run.found_by == FOUND_BY_LISTING
    assert {u.user_name: u.status for u in run.users} == {
        "due": Status.CHANGED,
        "young": Status.UNCHANGED,
    }
    assert any(code in note and "every user was listed" in note for note in run.notes)


def test_another_report_failure_is_not_hidden_by_the_fallback() -> None:
    aws, directory = _world("InternalFailure")
    with pytest.raises(AwsError):
        replace(aws.rotator(), run_directory=directory).run()


def test_candidates_are_read_many_at_once_in_the_report_s_order() -> None:
    # GIVEN many due users, one of them deleted after the report was made
    aws = FakeAws()
    names = [f"due{n:02d}" for n in range(12)]
    for name in names:
        aws.iam.add_user(name)
        aws.iam.add_key(name, age_days=85)
    report = ReportDirectory(aws.iam, Reports(aws), NoneInFlight(), aws.clock, 80)
    directory = ReportFirst(report, aws.iam, aws.settings.scope, lambda _: {}, workers=4)
    del aws.iam.users["due05"]  # its keys, so its report row, stay
    # WHEN the run's users are found, four reads at once
    found = [u.name for u in directory.list_users()]
    # THEN every user still there is found once, in the report's order; the gone one skipped
    assert found == [n for n in names if n != "due05"]
