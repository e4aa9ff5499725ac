"""T9: any caller sends the faces input at the edges of what they accept.

* ``plan --at 9999-12-31`` overflowed ``datetime`` inside the planner: the Lambda raised (and
  was retried) instead of answering 400, the CLI crashed instead of exiting 2.
* User names with non-ASCII letters or digits passed the check (Python's ``\\w``) and reached
  AWS, which IAM answers with a ValidationError (a 500, retried) instead of a 400.
* CSV cells starting with ``= + - @`` were written raw; IAM allows a user named ``=1+1``, which
  a spreadsheet opening the key-age report evaluates.

Each test runs the face against moto and checks that nothing changed.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keyturn.cli import cli
from keyturn.emulator import EmbeddedAws
from keyturn.emulator.calls import CallCounter
from keyturn.handler import handle, lambda_handler
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings
from keyturn.wiring import build_rotator
from tests.integration.helpers import LambdaContext, make_user, world_state

OVERFLOWING_AT = ["9999-12-31", "9999-12-31T23:59:59-23:59"]
"""Moments the planner's date arithmetic overflowed on (an OverflowError, not a KeyturnError)."""
OUT_OF_RANGE_AT = [
    "9995-01-01",
    "2200-01-01",
    "2199-12-31T23:00:00-05:00",
    "2005-12-31",
    "0001-01-01",
]
"""Moments that did not crash but name no time keys can have: refused the same way."""
NON_ASCII_NAMES = ["app\u00e9", "\u0430pp", "app\u0661", "\uff41pp"]
"""An accented letter, a Cyrillic a, an Arabic-Indic digit, a fullwidth a."""


@pytest.fixture
def managed(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """User ``app`` with an old key, managed by name."""
    monkeypatch.setenv("KEYTURN_USERS", "app")
    make_user(aws, "app", key_ages=(85,))


@pytest.fixture
def keyturn(
    aws: EmbeddedAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """The CLI on the emulator, in an empty working directory."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--endpoint-url", aws.url, "--region", aws.region, *args])

    return invoke


@pytest.mark.attack("T9: plan --at far in the future (Lambda)")
@pytest.mark.parametrize("at", OVERFLOWING_AT)
def test_the_lambda_answers_400_to_an_at_that_overflowed(
    aws: EmbeddedAws, managed: None, at: str
) -> None:
    assert_lambda_answers_400(aws, at)


@pytest.mark.parametrize("at", OUT_OF_RANGE_AT)
def test_the_lambda_answers_400_to_any_at_out_of_range(
    aws: EmbeddedAws, managed: None, at: str
) -> None:
    assert_lambda_answers_400(aws, at)


def assert_lambda_answers_400(aws: EmbeddedAws, at: str) -> None:
    before = world_state(aws)
    answer = lambda_handler({"action": "plan", "at": at}, LambdaContext())
    assert answer["statusCode"] == 400
    assert "'at' must be from 2006-01-01 up to 2200-01-01" in answer["error"]
    assert world_state(aws) == before


COMMANDS_WITH_AT = [("plan",), ("scan",), ("report", "--csv", "keys.csv")]


@pytest.mark.attack("T9: plan --at far in the future (CLI)")
@pytest.mark.parametrize("at", OVERFLOWING_AT)
@pytest.mark.parametrize("command", COMMANDS_WITH_AT)
def test_the_cli_exits_2_on_an_at_that_overflowed(
    aws: EmbeddedAws,
    managed: None,
    keyturn: Callable[..., Result],
    command: tuple[str, ...],
    at: str,
) -> None:
    assert_cli_exits_2(aws, keyturn, command, at)


@pytest.mark.parametrize("at", OUT_OF_RANGE_AT)
@pytest.mark.parametrize("command", COMMANDS_WITH_AT)
def test_the_cli_exits_2_on_any_at_out_of_range(
    aws: EmbeddedAws,
    managed: None,
    keyturn: Callable[..., Result],
    command: tuple[str, ...],
    at: str,
) -> None:
    assert_cli_exits_2(aws, keyturn, command, at)


def assert_cli_exits_2(
    aws: EmbeddedAws, keyturn: Callable[..., Result], command: tuple[str, ...], at: str
) -> None:
    before = world_state(aws)
    result = keyturn(*command, "--at", at)
    assert result.exit_code == 2, result.output
    assert "'at' must be from 2006-01-01" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not Path("keys.csv").exists()
    assert world_state(aws) == before


def counting_factory(aws: EmbeddedAws, counter: CallCounter) -> Callable[[Settings, str], Rotator]:
    def build(settings: Settings, run_id: str) -> Rotator:
        session = aws.session()
        counter.attach(session)
        return build_rotator(settings, session=session, run_id=run_id)

    return build


@pytest.mark.attack("T9: non-ASCII user name IAM rejects (Lambda)")
@pytest.mark.parametrize("name", NON_ASCII_NAMES)
@pytest.mark.parametrize("action", ["create", "restore"])
def test_the_lambda_answers_400_to_a_non_ascii_user_name_without_calling_aws(
    aws: EmbeddedAws, managed: None, action: str, name: str
) -> None:
    # moto, unlike IAM, accepts the name: a user by it exists, so only the check stops it
    make_user(aws, name, key_ages=(85,))
    before = world_state(aws)
    counter = CallCounter()
    answer = handle({"action": action, "username": name}, "req", counting_factory(aws, counter))
    assert answer["statusCode"] == 400
    assert "ASCII" in answer["error"]
    assert counter.total() == 0
    assert world_state(aws) == before


@pytest.mark.attack("T9: non-ASCII user name IAM rejects (CLI)")
@pytest.mark.parametrize("name", NON_ASCII_NAMES)
@pytest.mark.parametrize("command", ["rotate", "restore"])
def test_the_cli_exits_2_on_a_non_ascii_user_name(
    aws: EmbeddedAws, managed: None, keyturn: Callable[..., Result], command: str, name: str
) -> None:
    make_user(aws, name, key_ages=(85,))
    before = world_state(aws)
    result = keyturn(command, name)
    assert result.exit_code == 2, result.output
    assert "ASCII" in result.output
    assert world_state(aws) == before


FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM", "=HYPERLINK"]
"""User names IAM accepts that a spreadsheet would read as formulas."""


@pytest.mark.attack("T9: user named like a formula, in the CSV report")
def test_the_csv_report_escapes_cells_a_spreadsheet_would_evaluate(
    aws: EmbeddedAws, keyturn: Callable[..., Result], tmp_path: Path
) -> None:
    # GIVEN users whose names are formulas (anyone allowed iam:CreateUser can make one)
    for name in FORMULAS:
        make_user(aws, name, key_ages=(30,))
    before = world_state(aws)
    # WHEN an administrator writes the key-age report as CSV
    rows_file = tmp_path / "keys.csv"
    result = keyturn("report", "--csv", str(rows_file))
    assert result.exit_code == 0, result.output
    # THEN no cell starts with a formula character: each such name is quoted with '
    with rows_file.open(newline="") as f:
        rows = list(csv.reader(f))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert sorted(r[1] for r in rows[1:]) == sorted("'" + n for n in FORMULAS)
    assert world_state(aws) == before
