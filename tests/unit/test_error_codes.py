"""The documented exit and status codes are the ones the error classes carry.

Each face maps errors in one place from the classes' own ``exit_code`` and ``status_code``; the
docs' tables are checked against those attributes, so they cannot drift apart.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from keyturn import errors
from keyturn.cli.errors import EXIT_OK

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROW = re.compile(
    r"^\|\s*`(?P<name>\w+Error)`[^|]*\|[^|]*\|\s*(?P<exit>\d+)\s*\|\s*(?P<status>\d+)\s*\|"
)


def _error_classes() -> dict[str, type[errors.KeyturnError]]:
    return {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.KeyturnError)
    }


def _documented_codes() -> dict[str, tuple[int, int]]:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    return {
        m["name"]: (int(m["exit"]), int(m["status"]))
        for line in text.splitlines()
        if (m := ROW.match(line))
    }


def test_every_error_class_is_documented_with_its_own_codes() -> None:
    actual = {name: (cls.exit_code, cls.status_code) for name, cls in _error_classes().items()}
    assert _documented_codes() == actual


def test_the_cli_exit_code_table_lists_exactly_the_codes_the_errors_carry() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    table = text[text.index("| exit code |") :].split("\n\n", 1)[0]
    documented = {int(m) for m in re.findall(r"^\|\s*(\d+)\s*\|", table, re.MULTILINE)}
    carried = {cls.exit_code for cls in _error_classes().values()}
    assert documented == carried | {EXIT_OK}


def test_the_lambda_answers_list_exactly_the_status_codes_below_500() -> None:
    text = (DOCS / "lambda.md").read_text(encoding="utf-8")
    documented = {int(m) for m in re.findall(r'"statusCode": (4\d\d)', text)}
    answered = {c.status_code for c in _error_classes().values() if c.status_code < 500}
    assert documented == answered
