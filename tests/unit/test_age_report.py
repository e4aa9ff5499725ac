"""The key-age report from in-memory scans: rows, overdue keys, coming actions, page and CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest

from keyturn.core.models import KeyStatus
from keyturn.report import build_report, render_html, write_csv
from keyturn.report.table import safe_cell
from keyturn.settings import Scope, Settings
from keyturn.testing import FakeAws


def scanned_world() -> FakeAws:
    world = FakeAws(settings=Settings(scope=Scope(user_names=frozenset({"old", "soon", "fresh"}))))
    for name, age in (("old", 120), ("soon", 70), ("fresh", 5), ("outsider", 100)):
        world.iam.add_user(name)
        world.iam.add_key(name, age_days=age)
    world.iam.add_key("fresh", age_days=200, status=KeyStatus.INACTIVE)
    return world


def test_rows_overdue_keys_and_coming_actions() -> None:
    world = scanned_world()
    report = build_report([("111111111111", world.rotator().plan_all())], world.clock.now())
    assert len(report.keys) == 5
    assert [(k.user, k.age_days) for k in report.overdue] == [("old", 120), ("outsider", 100)]
    assert [(u.user, u.action, (u.when - report.at).days) for u in report.upcoming] == [
        # 120 days old: rotated now (the floor retires it tomorrow; the next action after
        # a run's own is shown only for users with nothing to do now)
        ("old", "rotate", 0),
        ("soon", "rotate", 10),
    ]
    outsider = next(k for k in report.keys if k.user == "outsider")
    assert outsider.next_action == "none (unmanaged)"
    assert dict(report.summary())["Active keys over 90 days"] == "2"


def test_the_csv_holds_the_same_rows_as_the_page() -> None:
    world = scanned_world()
    report = build_report([("111111111111", world.rotator().plan_all())], world.clock.now())
    out = io.StringIO()
    write_csv(report, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["user"], r["age_days"], r["overdue"]) for r in rows] == [
        (k.user, str(k.age_days), "yes" if k.overdue else "no") for k in report.keys
    ]
    assert all(re.fullmatch(r"AKIA\.\.\.\w{4}", r["key"]) for r in rows)


def test_the_page_is_self_contained_and_draws_every_key() -> None:
    world = scanned_world()
    report = build_report([("111111111111", world.rotator().plan_all())], world.clock.now())
    page = render_html(report)
    assert page.count('<rect class="key ') == 5
    assert page.count('class="key overdue"') == 2
    assert '<line class="limit"' in page
    for fetching in ("<script", "<link", "src=", "url(", "@import", "http://", "https://"):
        assert fetching not in page
    for secret in world.iam.issued.values():
        assert secret.reveal() not in page


def test_names_are_escaped() -> None:
    world = FakeAws()
    world.iam.add_user("a&b")
    world.iam.add_key("a&b", age_days=95)
    page = render_html(build_report([("<acct>", world.rotator().plan_all())], world.clock.now()))
    assert "<acct>" not in page
    assert "&lt;acct&gt;" in page
    assert "a&amp;b" in page


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1+1", "'-1+1"),
        ("@SUM", "'@SUM"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("app=1", "app=1"),
        ("", ""),
        (-3, -3),
        ("2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
    ],
)
def test_a_cell_a_spreadsheet_would_evaluate_is_quoted(value: object, written: object) -> None:
    assert safe_cell(value) == written


def test_csv_cells_are_escaped_against_formula_injection() -> None:
    world = FakeAws()
    for name in ("=1+1", "@SUM", "plain"):
        world.iam.add_user(name)
        world.iam.add_key(name, age_days=10)
    out = io.StringIO()
    write_csv(build_report([("+acct", world.rotator().plan_all())], world.clock.now()), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert sorted(r["user"] for r in rows) == ["'=1+1", "'@SUM", "plain"]
    assert {r["account"] for r in rows} == {"'+acct"}
