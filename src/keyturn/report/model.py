"""What the report shows: one row per key, one line per user and per account, the actions
coming soon, and a summary.

Nothing keyturn knows is dropped: a user it refuses is shown refused with the reason, a user
whose ``keyturn:*`` tags (or stored state) it cannot use is listed with its keys, which count
as overdue like any other, and exempt and unmanaged users are told apart from managed ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from keyturn.core.actions import ActionKind
from keyturn.core.models import mask_key_id
from keyturn.core.policy import COMPLIANCE_MAX_AGE_DAYS
from keyturn.rotation.results import RunResult, Status, UserResult

HORIZON_DAYS = 14
VERBS = {ActionKind.CREATE: "rotate"}
HANDS_OFF = frozenset({Status.UNMANAGED, Status.EXEMPT})


class Standing(StrEnum):
    """Where a user stands with keyturn, as the report tells it."""

    MANAGED = "managed"
    REFUSED = "refused"
    """keyturn planned and refused (e.g. two active keys it did not create)."""
    UNUSABLE = "unusable"
    """Refused before planning: tags or stored state keyturn cannot use."""
    FAILED = "failed"
    DEFERRED = "deferred"
    EXEMPT = "exempt"
    UNMANAGED = "unmanaged"

    @property
    def troubled(self) -> bool:
        """keyturn cannot keep this user's keys compliant until someone acts."""
        return self in TROUBLED


TROUBLED = frozenset({Standing.REFUSED, Standing.UNUSABLE, Standing.FAILED})
LABELS = {
    Standing.REFUSED: "refused",
    Standing.UNUSABLE: "unusable tags or state",
    Standing.FAILED: "failed",
}


def standing(user: UserResult) -> tuple[Standing, str]:
    """A scanned user's standing and the reason for it ("" when there is nothing to say)."""
    if user.status is Status.REFUSED:
        if user.plan.refusal:
            return Standing.REFUSED, user.plan.refusal
        return Standing.UNUSABLE, user.message
    simple = {
        Status.FAILED: Standing.FAILED,
        Status.DEFERRED: Standing.DEFERRED,
        Status.EXEMPT: Standing.EXEMPT,
        Status.UNMANAGED: Standing.UNMANAGED,
    }
    found = simple.get(user.status, Standing.MANAGED)
    return found, user.message if found is not Standing.MANAGED else ""


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
    standing: Standing = Standing.MANAGED

    @property
    def active(self) -> bool:
        return self.status == "Active"

    @property
    def overdue(self) -> bool:
        return self.active and self.age_days >= COMPLIANCE_MAX_AGE_DAYS


@dataclass(frozen=True)
class UserLine:
    """One user: where it stands, why, and how old its oldest active key is."""

    account: str
    user: str
    standing: Standing
    reason: str
    keys: int
    oldest_active: int | None
    keyturn_status: str = ""


@dataclass(frozen=True)
class AccountLine:
    """One account's row of the summary table."""

    account: str
    managed: int = 0
    exempt: int = 0
    unmanaged: int = 0
    active_keys: int = 0
    overdue: int = 0
    refused: int = 0
    """Users refused, with unusable tags or state, or failed."""
    oldest_active: int | None = None

    @property
    def compliant_percent(self) -> float:
        """Share of active keys inside the line (100 with none)."""
        if not self.active_keys:
            return 100.0
        return 100.0 * (self.active_keys - self.overdue) / self.active_keys

    @property
    def needs_attention(self) -> bool:
        return bool(self.overdue or self.refused)

    def worst_first(self) -> tuple[bool, int, int, float, int, str]:
        return (
            not self.needs_attention,
            -self.overdue,
            -self.refused,
            self.compliant_percent,
            -(self.oldest_active or 0),
            self.account,
        )


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
    people: tuple[UserLine, ...] = ()
    """Every user scanned, with its standing."""

    @property
    def overdue(self) -> tuple[KeyAge, ...]:
        return tuple(sorted((k for k in self.keys if k.overdue), key=lambda k: -k.age_days))

    @property
    def troubled(self) -> tuple[UserLine, ...]:
        """Users keyturn refuses, cannot read or failed on, oldest key first."""
        found = [u for u in self.people if u.standing.troubled]
        return tuple(sorted(found, key=lambda u: (-(u.oldest_active or -1), u.account, u.user)))

    def count(self, which: Standing) -> int:
        return sum(u.standing is which for u in self.people)

    @cached_property
    def account_lines(self) -> tuple[AccountLine, ...]:
        """One line per account, those needing attention first, worst first."""
        people: dict[str, list[UserLine]] = {a: [] for a in self.accounts}
        active: dict[str, list[KeyAge]] = {a: [] for a in self.accounts}
        for user in self.people:
            people[user.account].append(user)
        for key in self.keys:
            if key.active:
                active[key.account].append(key)
        lines = [_account_line(a, people[a], active[a]) for a in self.accounts]
        return tuple(sorted(lines, key=AccountLine.worst_first))

    def summary(self) -> list[tuple[str, str]]:
        active = [k for k in self.keys if k.active]
        oldest = max((k.age_days for k in active), default=0)
        attention = sum(a.needs_attention for a in self.account_lines)
        return [
            ("Accounts", str(len(self.accounts))),
            ("Accounts needing attention", str(attention)),
            ("Users", str(self.users)),
            ("Managed / exempt / unmanaged", self._kinds()),
            ("Access keys", f"{len(self.keys)} ({len(active)} active)"),
            (f"Active keys over {self.limit_days} days", str(len(self.overdue))),
            ("Users refused or failed", str(len(self.troubled))),
            ("Oldest active key", f"{oldest} days"),
            (f"Actions in the next {self.horizon_days} days", str(len(self.upcoming))),
        ]

    def _kinds(self) -> str:
        managed = self.users - self.count(Standing.EXEMPT) - self.count(Standing.UNMANAGED)
        return f"{managed} / {self.count(Standing.EXEMPT)} / {self.count(Standing.UNMANAGED)}"


def build_report(runs: Iterable[tuple[str, RunResult]], at: datetime) -> AgeReport:
    """The report for ``(account, scan result)`` pairs as of ``at``."""
    accounts: list[str] = []
    keys: list[KeyAge] = []
    upcoming: list[DueAction] = []
    people: list[UserLine] = []
    for account, run in runs:
        accounts.append(account)
        for user in run.users:
            mine = _keys(account, user, at)
            keys.extend(mine)
            people.append(_user_line(account, user, mine))
            upcoming.extend(_upcoming(account, user, at))
    upcoming.sort(key=lambda u: (u.when, u.account, u.user))
    return AgeReport(
        at, tuple(accounts), tuple(keys), tuple(upcoming), len(people), people=tuple(people)
    )


def _user_line(account: str, user: UserResult, keys: list[KeyAge]) -> UserLine:
    found, reason = standing(user)
    oldest = max((k.age_days for k in keys if k.active), default=None)
    return UserLine(account, user.user_name, found, reason, len(keys), oldest, user.status.value)


def _account_line(account: str, people: list[UserLine], active: list[KeyAge]) -> AccountLine:
    hands_off = {Standing.EXEMPT, Standing.UNMANAGED}
    return AccountLine(
        account,
        managed=sum(u.standing not in hands_off for u in people),
        exempt=sum(u.standing is Standing.EXEMPT for u in people),
        unmanaged=sum(u.standing is Standing.UNMANAGED for u in people),
        active_keys=len(active),
        overdue=sum(k.overdue for k in active),
        refused=sum(u.standing.troubled for u in people),
        oldest_active=max((k.age_days for k in active), default=None),
    )


def _keys(account: str, user: UserResult, at: datetime) -> list[KeyAge]:
    action, when = _next(user, at)
    found, _ = standing(user)
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
            found,
        )
        for k in user.keys
    ]


def _next(user: UserResult, at: datetime) -> tuple[str, datetime | None]:
    found, reason = standing(user)
    if user.status in HANDS_OFF:
        return f"none ({user.status.value})", None
    if found.troubled:
        return f"{LABELS[found]}: {reason}", None
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
