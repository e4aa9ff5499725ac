"""What the report shows: one row per key, the actions coming soon, and a summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from keyturn.core.actions import ActionKind
from keyturn.core.models import mask_key_id
from keyturn.core.policy import COMPLIANCE_MAX_AGE_DAYS
from keyturn.rotation.results import RunResult, Status, UserResult

HORIZON_DAYS = 14
VERBS = {ActionKind.CREATE: "rotate"}
HANDS_OFF = frozenset({Status.UNMANAGED, Status.EXEMPT})


@dataclass(frozen=True)
class KeyAge:
    """One access key: CSV row and chart mark."""

    account: str
    user: str
    key: str
    """Masked key id (``AKIA...WXYZ``)."""
    status: str
    age_days: int
    created: datetime
    last_used: datetime | None
    keyturn_status: str
    next_action: str
    next_when: datetime | None

    @property
    def overdue(self) -> bool:
        return self.status == "Active" and self.age_days >= COMPLIANCE_MAX_AGE_DAYS


@dataclass(frozen=True)
class DueAction:
    account: str
    user: str
    action: str
    key: str
    when: datetime


@dataclass(frozen=True)
class AgeReport:
    at: datetime
    accounts: tuple[str, ...]
    keys: tuple[KeyAge, ...]
    upcoming: tuple[DueAction, ...]
    users: int
    limit_days: int = COMPLIANCE_MAX_AGE_DAYS
    horizon_days: int = HORIZON_DAYS

    @property
    def overdue(self) -> tuple[KeyAge, ...]:
        return tuple(sorted((k for k in self.keys if k.overdue), key=lambda k: -k.age_days))

    def summary(self) -> list[tuple[str, str]]:
        active = [k for k in self.keys if k.status == "Active"]
        oldest = max((k.age_days for k in active), default=0)
        return [
            ("Accounts", str(len(self.accounts))),
            ("Users", str(self.users)),
            ("Access keys", f"{len(self.keys)} ({len(active)} active)"),
            (f"Active keys over {self.limit_days} days", str(len(self.overdue))),
            ("Oldest active key", f"{oldest} days"),
            (f"Actions in the next {self.horizon_days} days", str(len(self.upcoming))),
        ]


def build_report(runs: Iterable[tuple[str, RunResult]], at: datetime) -> AgeReport:
    """The report for ``(account, scan result)`` pairs as of ``at``."""
    accounts, keys, upcoming, users = [], [], [], 0
    for account, run in runs:
        accounts.append(account)
        for user in run.users:
            users += 1
            keys.extend(_keys(account, user, at))
            upcoming.extend(_upcoming(account, user, at))
    upcoming.sort(key=lambda u: (u.when, u.account, u.user))
    return AgeReport(at, tuple(accounts), tuple(keys), tuple(upcoming), users)


def _keys(account: str, user: UserResult, at: datetime) -> list[KeyAge]:
    action, when = _next(user, at)
    return [
        KeyAge(
            account,
            user.user_name,
            mask_key_id(k.key_id),
            k.status.value,
            (at - k.created).days,
            k.created,
            k.last_used,
            user.status.value,
            action,
            when,
        )
        for k in user.keys
    ]


def _next(user: UserResult, at: datetime) -> tuple[str, datetime | None]:
    if user.status in HANDS_OFF:
        return f"none ({user.status.value})", None
    if user.plan.refusal:
        return f"refused: {user.plan.refusal}", None
    if user.plan.actions:
        return ", ".join(_verb(a.kind) for a in user.plan.actions), at
    upcoming = user.plan.next_upcoming
    return (_verb(upcoming.kind), upcoming.when) if upcoming else ("", None)


def _upcoming(account: str, user: UserResult, at: datetime) -> list[DueAction]:
    if user.status in HANDS_OFF:
        return []
    now = [
        DueAction(account, user.user_name, _verb(a.kind), _mask(a.key_id), at)
        for a in user.plan.actions
    ]
    end = at + timedelta(days=HORIZON_DAYS)
    later = [
        DueAction(account, user.user_name, _verb(u.kind), _mask(u.key_id), u.when)
        for u in user.plan.upcoming
        if u.when <= end
    ]
    return now + ([] if now else later)


def _verb(kind: ActionKind) -> str:
    return VERBS.get(kind, kind.value)


def _mask(key_id: str | None) -> str:
    return mask_key_id(key_id) if key_id else ""
