"""Input validation every face shares: user names, account ids and moments from events, command
lines and queue messages.

Pure: a bad value raises :class:`~keyturn.errors.BadRequestError` with a message that says why.
Patterns are ASCII and match the whole string (``fullmatch``): Python's ``\\w`` and ``\\d`` are
Unicode, and ``$`` also matches before a trailing newline, so neither is used here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from keyturn.errors import BadRequestError

USER_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
"""IAM's user name rule: 1-64 of ASCII letters, digits and ``+=,.@_-``."""
ACCOUNT_ID = re.compile(r"[0-9]{12}")
"""An AWS account id: exactly twelve ASCII digits."""
EARLIEST_AT = datetime(2006, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(2200, 1, 1, tzinfo=UTC)
"""The moments ``at`` may name. AWS access keys date from 2006; the upper bound leaves room for
every date the planner adds to it (at most ``MAX_DAYS`` days) without leaving ``datetime``."""


def is_user_name(value: str) -> bool:
    return USER_NAME.fullmatch(value) is not None


def is_account_id(value: str) -> bool:
    return ACCOUNT_ID.fullmatch(value) is not None


def parse_user_name(raw: object) -> str:
    """An IAM user name, or a BadRequestError saying what is wrong with it."""
    if not isinstance(raw, str):
        raise BadRequestError(f"'username' must be a string; got {show(raw)}")
    if not is_user_name(raw):
        raise BadRequestError(
            "'username' must be 1-64 characters of ASCII letters, digits and +=,.@_-"
        )
    return raw


def parse_at(raw: object) -> datetime:
    """An ISO 8601 date or date-time from 2006 to 2199; a date without zone is taken as UTC."""
    if not isinstance(raw, str):
        raise BadRequestError(f"'at' must be an ISO 8601 date string; got {show(raw)}")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequestError(f"'at' is not an ISO 8601 date: {raw[:40]!r}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not EARLIEST_AT <= moment < LATEST_AT:
        raise BadRequestError(
            f"'at' must be from {EARLIEST_AT.date()} up to {LATEST_AT.date()} (UTC); "
            f"got {raw[:40]!r}"
        )
    return moment


def show(value: object) -> str:
    """A short, safe rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
