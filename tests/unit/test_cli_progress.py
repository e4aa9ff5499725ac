"""The CLI's progress bar and one-line summary, on fakes (the real terminal is in
tests/integration/test_cli_terminal.py)."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from rich.console import Console

from keyturn.cli.progress import progress_bar, wants_progress
from keyturn.cli.tables import summary_line
from keyturn.core.planner import Plan
from keyturn.rotation.results import RunResult, Status, UserResult
from keyturn.testing import FakeAws

AT = datetime(2026, 1, 1, tzinfo=UTC)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def result(status: Status, name: str = "app") -> UserResult:
    return UserResult(name, status, Plan(name))


@pytest.mark.parametrize(
    ("output", "stream", "shown"),
    [("table", Tty(), True), ("json", Tty(), False), ("table", io.StringIO(), False)],
)
def test_the_bar_is_for_a_person_at_a_terminal_only(
    output: str, stream: io.StringIO, shown: bool
) -> None:
    assert wants_progress(output, stream) is shown


def test_the_bar_counts_every_user_told_from_many_threads() -> None:
    out = Tty()
    console = Console(file=out, force_terminal=True, width=80)
    statuses = [Status.CHANGED, Status.UNCHANGED, Status.REFUSED] * 100
    with (
        progress_bar("running users", show=True, console=console) as ticker,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        list(pool.map(ticker, [result(s) for s in statuses]))
    assert ticker.tally == {"changed": 100, "unchanged": 100, "refused": 100}
    drawn = out.getvalue()
    assert "running users" in drawn
    assert "300/?" in drawn
    assert "100 changed, 100 refused, 100 unchanged" in drawn


def test_without_a_terminal_nothing_is_drawn_and_users_are_still_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress_bar("scanning users", show=False) as ticker:
        ticker(result(Status.PLANNED))
    assert ticker.tally == {"planned": 1}
    assert capsys.readouterr() == ("", "")


def test_a_run_with_nothing_to_do_says_zero_changed() -> None:
    assert summary_line(RunResult("r", AT, ())) == (
        "0 changed, 0 refused, 0 failed, 0 deferred, 0 unchanged (0 users)"
    )


def test_the_summary_counts_each_status_and_names_the_others_only_when_present() -> None:
    users = (
        result(Status.CHANGED, "a"),
        result(Status.REFUSED, "b"),
        result(Status.DEFERRED, "c"),
        result(Status.DEFERRED, "d"),
        result(Status.UNMANAGED, "e"),
    )
    assert summary_line(RunResult("r", AT, users)) == (
        "1 changed, 1 refused, 0 failed, 2 deferred, 0 unchanged, 1 unmanaged (5 users)"
    )


def test_a_scan_summary_says_what_is_planned(world: FakeAws) -> None:
    world.iam.add_user("due")
    world.iam.add_key("due", age_days=85)
    world.iam.add_user("fine")
    world.iam.add_key("fine", age_days=5)
    assert summary_line(world.rotator().plan_all()) == (
        "0 changed, 0 refused, 0 failed, 0 deferred, 1 unchanged, 1 planned (2 users)"
    )
