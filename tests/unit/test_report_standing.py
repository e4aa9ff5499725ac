"""The report shows everything keyturn knows: refused users with the reason, users with tags
keyturn cannot use (their keys counted), exempt and unmanaged users apart, and a per-account
table, worst first, with strips only for the accounts that need attention."""

from __future__ import annotations

import csv
import io

from keyturn.core.models import KeyStatus
from keyturn.report import build_report, render_html, write_csv
from keyturn.report.chart import MAX_STRIPS
from keyturn.report.model import AgeReport, Standing
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws

MANAGED = {"keyturn:managed": "true"}


def troubled_world() -> FakeAws:
    """GIVEN a user with two active keys keyturn did not create (refused every day), one with
    a malformed tag and an overdue key, an exempt one, an unmanaged one and a healthy one."""
    world = FakeAws(settings=Settings(scope=Scope(manage_tagged=True)))
    world.iam.add_user("two-keys", tags=MANAGED)
    world.iam.add_key("two-keys", age_days=20)
    world.iam.add_key("two-keys", age_days=30)
    world.iam.add_user("bad-tag", tags={**MANAGED, "keyturn:rotate-after-days": "soon"})
    world.iam.add_key("bad-tag", age_days=120)
    world.iam.add_user("exempt", tags={**MANAGED, "keyturn:exempt": "true"})
    world.iam.add_key("exempt", age_days=40)
    world.iam.add_user("outsider")
    world.iam.add_key("outsider", age_days=10)
    world.iam.add_user("fine", tags=MANAGED)
    world.iam.add_key("fine", age_days=10)
    world.iam.add_user("keyless", tags={**MANAGED, "keyturn:grace-days": "-1"})
    return world


def report_of(world: FakeAws, account: str = "111111111111") -> AgeReport:
    return build_report([(account, world.rotator().plan_all())], world.clock.now())


def test_every_user_has_its_standing_and_reason() -> None:
    report = report_of(troubled_world())
    standings = {u.user: u.standing for u in report.people}
    assert standings == {
        "two-keys": Standing.REFUSED,
        "bad-tag": Standing.UNUSABLE,
        "exempt": Standing.EXEMPT,
        "outsider": Standing.UNMANAGED,
        "fine": Standing.MANAGED,
        "keyless": Standing.UNUSABLE,
    }
    reasons = {u.user: u.reason for u in report.troubled}
    assert "keyturn:rotate-after-days" in reasons["bad-tag"]
    assert reasons["two-keys"]  # the planner's refusal, said in words
    # THEN the malformed user's overdue key is counted, not dropped
    assert [(k.user, k.age_days) for k in report.overdue] == [("bad-tag", 120)]
    assert [u.user for u in report.troubled] == ["bad-tag", "two-keys", "keyless"]
    summary = dict(report.summary())
    assert summary["Users refused or failed"] == "3"
    assert summary["Managed / exempt / unmanaged"] == "4 / 1 / 1"


def test_the_page_says_refused_and_draws_refused_keys_apart() -> None:
    page = render_html(report_of(troubled_world()))
    assert page.count('class="key refused"') == 2  # two-keys' keys are no longer green
    assert page.count('class="key overdue"') == 1
    assert page.count('class="key handsoff"') == 2  # exempt and outsider
    assert page.count('class="key active"') == 1
    assert "Users keyturn refuses or failed on (3)" in page
    assert "unusable tags or state" in page


def test_the_csv_lists_keyless_users_and_reasons() -> None:
    out = io.StringIO()
    write_csv(report_of(troubled_world()), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    by_user = {r["user"]: r for r in rows}
    assert by_user["bad-tag"]["overdue"] == "yes"
    assert by_user["bad-tag"]["standing"] == "unusable"
    assert "keyturn:rotate-after-days" in by_user["bad-tag"]["reason"]
    assert by_user["keyless"]["key"] == ""
    assert by_user["keyless"]["keyturn_status"] == "refused"
    assert len(rows) == 7  # six keys and the keyless user


def test_accounts_sorted_worst_first_and_strips_only_for_attention() -> None:
    # GIVEN many calm accounts and a few that need attention
    calm, overdue, refused = FakeAws(), FakeAws(), troubled_world()
    calm.iam.add_user("ok")
    calm.iam.add_key("ok", age_days=3)
    overdue.iam.add_user("old")
    overdue.iam.add_key("old", age_days=200)
    overdue.iam.add_user("older")
    overdue.iam.add_key("older", age_days=300)
    overdue.iam.add_user("young")
    overdue.iam.add_key("young", age_days=10)
    overdue.iam.add_key("young", age_days=11, status=KeyStatus.INACTIVE)
    at = calm.clock.now()
    runs = [(f"{n:012d}", calm.rotator().plan_all(at=at)) for n in range(MAX_STRIPS + 40)]
    runs += [("999999999999", overdue.rotator().plan_all(at=at))]
    runs += [(f"8{n:011d}", refused.rotator().plan_all(at=at)) for n in range(MAX_STRIPS)]
    report = build_report(runs, at)
    lines = report.account_lines
    # THEN the account with the most overdue keys comes first, calm ones last
    assert lines[0].account == "999999999999"
    assert (lines[0].overdue, lines[0].active_keys, lines[0].oldest_active) == (2, 3, 300)
    assert round(lines[0].compliant_percent) == 33
    assert lines[1].refused == 3
    assert [a.needs_attention for a in lines] == [True] * (MAX_STRIPS + 1) + [False] * (
        MAX_STRIPS + 40
    )
    page = render_html(report)
    assert page.count('<div class="strip">') == MAX_STRIPS
    assert "1 more account(s) need attention" in page
    assert f"{MAX_STRIPS + 40} account(s) with every active key inside the line" in page
    assert dict(report.summary())["Accounts needing attention"] == str(MAX_STRIPS + 1)


def test_no_strip_when_no_account_needs_attention() -> None:
    world = FakeAws()
    world.iam.add_user("ok")
    world.iam.add_key("ok", age_days=3)
    page = render_html(report_of(world))
    assert '<div class="strip">' not in page
    assert "No account has an overdue key" in page
