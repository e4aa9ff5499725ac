"""The IAM credential report, parsed, and which users in it need a closer look.

A daily run over N users reads one report (O(1) IAM calls) instead of listing every user's
keys. Only users whose row *could* have something due get a per-user look; the selection errs
towards looking: a user is skipped only when every rule of the planner is provably idle for it.

Pure: parses text with the standard :mod:`csv` module and decides from rows, a horizon and
``now``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from keyturn.core.deadlines import RunClock
from keyturn.errors import BadRequestError

ROOT_ROW = "<root_account>"
EMPTY_VALUES = frozenset({"", "N/A", "no_information", "not_supported"})
KEY_SLOTS = (1, 2)
DAILY = RunClock()
"""keyturn's default schedule: one run a day, within five minutes."""
REQUIRED_COLUMNS = frozenset(
    {"user", "arn", *(f"access_key_{n}_{f}" for n in KEY_SLOTS for f in ("active", "last_rotated"))}
)


@dataclass(frozen=True)
class ReportKey:
    """One access key slot of a report row that holds a key."""

    slot: int
    active: bool
    created: datetime | None
    """``access_key_N_last_rotated``: when the key was created (None if unreadable)."""
    last_used: datetime | None


@dataclass(frozen=True)
class ReportRow:
    """One IAM user as the credential report shows it."""

    user_name: str
    arn: str
    created: datetime | None
    keys: tuple[ReportKey, ...]

    @property
    def path(self) -> str:
        """The user's path, from its ARN (``arn:aws:iam::1:user/team/app`` → ``/team/``)."""
        resource = self.arn.partition(":user")[2]
        return resource.rpartition("/")[0] + "/" if "/" in resource else "/"


@dataclass(frozen=True)
class CredentialReport:
    generated_at: datetime | None
    rows: tuple[ReportRow, ...]


class LookReason(StrEnum):
    """Why a user gets a per-user look."""

    IN_FLIGHT = "in-flight-mark"
    NO_KEY = "no-key"
    TWO_KEYS = "two-keys"
    INACTIVE_KEY = "inactive-key"
    AGE = "key-reaches-horizon"
    UNKNOWN_DATE = "key-date-unknown"


@dataclass(frozen=True)
class Candidate:
    row: ReportRow
    reason: LookReason


def parse_report(text: str, generated_at: datetime | None = None) -> CredentialReport:
    """Parse the report's CSV; the root account's row is left out.

    Raises:
        BadRequestError: the text is not a credential report.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = REQUIRED_COLUMNS - set(reader.fieldnames or ())
    if missing:
        raise BadRequestError(f"not a credential report: missing {', '.join(sorted(missing))}")
    rows = tuple(_row(raw) for raw in reader if raw.get("user") != ROOT_ROW)
    return CredentialReport(generated_at, rows)


def _row(raw: dict[str, str]) -> ReportRow:
    keys = tuple(key for n in KEY_SLOTS if (key := _key(raw, n)) is not None)
    return ReportRow(raw["user"], raw["arn"], _time(raw.get("user_creation_time")), keys)


def _key(raw: dict[str, str], slot: int) -> ReportKey | None:
    active = raw.get(f"access_key_{slot}_active", "").strip().lower() == "true"
    rotated_text = raw.get(f"access_key_{slot}_last_rotated", "")
    if not active and rotated_text.strip() in EMPTY_VALUES:
        return None  # the slot is empty
    used = _time(raw.get(f"access_key_{slot}_last_used_date"))
    return ReportKey(slot, active, _time(rotated_text), used)


def _time(raw: str | None) -> datetime | None:
    if raw is None or raw.strip() in EMPTY_VALUES:
        return None
    try:
        return datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def look_reason(
    row: ReportRow,
    now: datetime,
    horizon: timedelta,
    *,
    in_flight: bool,
    clock: RunClock = DAILY,
) -> LookReason | None:
    """Why ``row`` needs a per-user look at ``now``, or None if nothing can be due.

    With one active key younger than the horizon and no creation in flight, no planner rule
    fires: there is no previous key to retire, nothing undelivered, and no rotation due as long
    as the horizon is at most the user's ``Policy.rotation_days``. On the run clock a rotation
    is a limit, kept by the last run before it, so a key within one run interval (plus the
    tolerance) of the horizon is looked at too.
    """
    if in_flight:
        return LookReason.IN_FLIGHT
    if not row.keys:
        return LookReason.NO_KEY
    if len(row.keys) > 1:
        return LookReason.TWO_KEYS
    key = row.keys[0]
    if not key.active:
        return LookReason.INACTIVE_KEY
    if key.created is None:
        return LookReason.UNKNOWN_DATE
    return LookReason.AGE if now - key.created >= horizon - _look_ahead(clock) else None


def _look_ahead(clock: RunClock) -> timedelta:
    return clock.interval + clock.tolerance if clock.interval else timedelta(0)


def select_candidates(
    rows: Iterable[ReportRow],
    now: datetime,
    horizon_days: int,
    in_flight: Sequence[str] | frozenset[str] = frozenset(),
    clock: RunClock = DAILY,
) -> list[Candidate]:
    """The users that need a per-user look, in report order.

    Parameters:
        horizon_days: the lowest ``Policy.rotation_days`` that may apply to any user (a tag
            can lower it); keys younger than this, by more than one run, are not looked at.
        in_flight: users whose secret carries an in-flight mark.
        clock: the run clock of the policies (daily by default).
    """
    marked = frozenset(in_flight)
    horizon = timedelta(days=horizon_days)
    found = []
    for row in rows:
        reason = look_reason(row, now, horizon, in_flight=row.user_name in marked, clock=clock)
        if reason is not None:
            found.append(Candidate(row, reason))
    return found
