"""Security Hub findings from a run's results: open what is wrong, resolve what the run saw clear.

One finding per condition keyturn knows of:

- ``key-past-cap``: a managed user's active key older than the cap (``max_active_days``),
- ``refused``: a user keyturn refuses (a safety rule, tags or state it cannot use),
- ``failed``: a user whose rotation failed.

Each has a stable identity (condition, user and, for a key, its id), so the next run's import
updates it. A run resolves only what it looked at and found clear: users it deferred, did not
inspect or did not list (outside the credential report's candidates) keep their findings as
they are. Publishing never fails the run: an error is logged and counted in the outcome.

No secret is in a finding: only user names, key ids (which AWS's own IAM.3 findings carry)
and the reasons keyturn already reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from keyturn.core.models import AccessKey
from keyturn.errors import KeyturnError
from keyturn.rotation.results import RunResult, Status, UserResult

log = logging.getLogger(__name__)

LOOKED_AT = frozenset(
    {
        Status.CHANGED,
        Status.UNCHANGED,
        Status.PLANNED,
        Status.REFUSED,
        Status.FAILED,
        Status.EXEMPT,
    }
)
"""Statuses of users the run handled: their refusal and failure findings can be settled."""
KEYS_READ = frozenset({Status.CHANGED, Status.UNCHANGED, Status.PLANNED, Status.EXEMPT})
"""Statuses whose result always carries the user's keys as read."""


class Condition(StrEnum):
    KEY_PAST_CAP = "key-past-cap"
    REFUSED = "refused"
    FAILED = "failed"


class Severity(StrEnum):
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


@dataclass(frozen=True)
class Finding:
    """One condition to show in Security Hub."""

    condition: Condition
    user_name: str
    title: str
    description: str
    severity: Severity
    key: AccessKey | None = None

    @property
    def ident(self) -> str:
        """Stable across runs: the store derives the finding's Id from it."""
        return finding_ident(self.condition, self.user_name, self.key.key_id if self.key else None)


def finding_ident(condition: Condition, user_name: str, key_id: str | None = None) -> str:
    tail = f"/{key_id}" if key_id else ""
    return f"{condition.value}/{user_name}{tail}"


@dataclass(frozen=True)
class Assessment:
    """What one run says: the findings that hold, and what it looked at."""

    findings: tuple[Finding, ...]
    settled: frozenset[str]
    """Users whose refusal and failure conditions the run looked at."""
    keys_known: frozenset[str]
    """Users whose keys the run read (all of them): their key findings can be resolved."""

    def clears(self, ident: str) -> bool:
        """True if the run looked at ``ident``'s condition and it no longer holds."""
        if ident in {f.ident for f in self.findings}:
            return False
        condition, _, rest = ident.partition("/")
        if condition == Condition.KEY_PAST_CAP.value:
            user = rest.rpartition("/")[0]
            return user in self.keys_known
        if condition in {Condition.REFUSED.value, Condition.FAILED.value}:
            return rest in self.settled
        return False  # not a condition this version knows: leave it alone


def assess(run: RunResult, cap_days: int) -> Assessment:
    """The findings a run's results call for, with ``cap_days`` as the key age cap."""
    findings: list[Finding] = []
    for user in run.users:
        findings.extend(_user_findings(user, run.at, cap_days))
    # the credential report's idle users have no key that could be past the cap, and nothing
    # to refuse or fail: their conditions are clear
    settled = frozenset(u.user_name for u in run.users if u.status in LOOKED_AT) | run.idle_users
    known = frozenset(u.user_name for u in run.users if _keys_known(u)) | run.idle_users
    return Assessment(tuple(findings), settled, known)


def _keys_known(user: UserResult) -> bool:
    return user.status in KEYS_READ or (user.status is Status.REFUSED and bool(user.keys))


def _user_findings(user: UserResult, at: datetime, cap_days: int) -> list[Finding]:
    found: list[Finding] = []
    if user.status is Status.REFUSED:
        reason = user.plan.refusal or user.message
        found.append(
            Finding(
                Condition.REFUSED,
                user.user_name,
                f"keyturn refuses to rotate the access keys of IAM user {user.user_name}",
                f"keyturn will not rotate this user's keys until this is fixed: {reason}",
                Severity.MEDIUM,
            )
        )
    if user.status is Status.FAILED:
        found.append(
            Finding(
                Condition.FAILED,
                user.user_name,
                f"keyturn's key rotation failed for IAM user {user.user_name}",
                f"The last run could not finish this user's rotation: {user.message}",
                Severity.HIGH,
            )
        )
    if user.status not in {Status.UNMANAGED, Status.EXEMPT}:
        found.extend(_past_cap(user, at, cap_days))
    return found


def _past_cap(user: UserResult, at: datetime, cap_days: int) -> list[Finding]:
    """Findings for the user's active keys past its own cap (``keyturn:max-active-days`` may
    lengthen it) when the run read its policy, else past ``cap_days``."""
    found = []
    cap_days = user.max_active_days or cap_days
    for key in user.keys:
        age = (at - key.created).days
        if key.active and age > cap_days:
            found.append(
                Finding(
                    Condition.KEY_PAST_CAP,
                    user.user_name,
                    f"Active access key of IAM user {user.user_name} is {age} days old",
                    f"The key is past keyturn's {cap_days}-day cap (Security Hub IAM.3, CIS: "
                    "rotate access keys every 90 days or less).",
                    Severity.HIGH if age > 2 * cap_days else Severity.MEDIUM,
                    key,
                )
            )
    return found


class FindingStore(Protocol):
    """Where findings go (Security Hub: :class:`keyturn.aws.securityhub.SecurityHubFindings`)."""

    def active(self) -> Mapping[str, Mapping[str, Any]]:
        """keyturn's open findings in this account by ident; values are the store's records,
        handed back to :meth:`resolve`."""
        ...

    def upsert(
        self, findings: Sequence[Finding], at: datetime, known: Mapping[str, Mapping[str, Any]]
    ) -> int:
        """Create or update ``findings`` as active (``known``: what :meth:`active` returned);
        returns how many failed."""
        ...

    def resolve(self, records: Sequence[Mapping[str, Any]], at: datetime) -> int:
        """Archive and resolve the findings of ``records``; returns how many failed."""
        ...


@dataclass(frozen=True)
class Published:
    """What publishing one run's findings did."""

    upserted: int = 0
    resolved: int = 0
    failed: int = 0
    errors: tuple[str, ...] = field(default=(), compare=False)


@dataclass
class FindingsPublisher:
    """Turns each run's results into findings in the store; never raises."""

    store: FindingStore
    cap_days: int

    def publish(self, run: RunResult) -> Published:
        found = assess(run, self.cap_days)
        try:
            active = self.store.active()
            failed = self.store.upsert(found.findings, run.at, active)
            gone = [record for ident, record in active.items() if found.clears(ident)]
            failed += self.store.resolve(gone, run.at) if gone else 0
        except KeyturnError as exc:
            log.error("Security Hub findings not published: %s", exc)
            return Published(failed=max(1, len(found.findings)), errors=(str(exc),))
        except Exception as exc:  # findings never fail the run
            log.exception("Security Hub findings not published")
            return Published(failed=max(1, len(found.findings)), errors=(type(exc).__name__,))
        if failed:
            log.error("%d Security Hub finding update(s) failed", failed)
        return Published(len(found.findings) - min(failed, len(found.findings)), len(gone), failed)
