"""Input validation every face shares: user names and moments from events and command lines.

Pure: a bad value raises :class:`~keyturn.errors.BadRequestError` with a message that says why.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from keyturn.errors import BadRequestError

USER_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")


def parse_user_name(raw: object) -> str:
    """An IAM user name, or a BadRequestError saying what is wrong with it."""
    if not isinstance(raw, str):
        raise BadRequestError(f"'username' must be a string; got {show(raw)}")
    if not USER_NAME.fullmatch(raw):
        raise BadRequestError("'username' must be 1-64 characters of letters, digits and +=,.@_-")
    return raw


def parse_at(raw: object) -> datetime:
    """An ISO 8601 date or date-time; a date without zone is taken as UTC."""
    if not isinstance(raw, str):
        raise BadRequestError(f"'at' must be an ISO 8601 date string; got {show(raw)}")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequestError(f"'at' is not an ISO 8601 date: {raw[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def show(value: object) -> str:
    """A short, safe rendering of a bad value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
