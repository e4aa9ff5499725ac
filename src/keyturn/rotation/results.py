"""What a run reports: per user, the plan, the steps done and the keys left."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from keyturn.core.actions import Action
from keyturn.core.forecast import OnboardingForecast
from keyturn.core.models import AccessKey
from keyturn.core.planner import Plan
from keyturn.core.rollout import Mode
from keyturn.errors import KeyturnError

FOUND_BY_REPORT = "credential-report"
FOUND_BY_LISTING = "listing"


class Status(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    PLANNED = "planned"
    REFUSED = "refused"
    FAILED = "failed"
    EXEMPT = "exempt"
    UNMANAGED = "unmanaged"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class StepDone:
    """An action that was carried out; ``key_id`` is the real key (the new one for CREATE)."""

    action: Action
    key_id: str | None
    two_keys_active_days: float | None = None
    """For the deactivation of a previous key: how long both keys were active."""

    def describe(self) -> str:
        return f"{self.action.kind.value} {self.key_id or ''}".strip()


@dataclass(frozen=True)
class UserResult:
    user_name: str
    status: Status
    plan: Plan
    keys: tuple[AccessKey, ...] = ()
    done: tuple[StepDone, ...] = ()
    message: str = ""
    error: KeyturnError | None = field(default=None, compare=False)
    mode: Mode = Mode.ACT
    """``audit``: nothing was changed; ``plan`` is what acting would have done."""
    max_active_days: int | None = None
    """The user's cap (its policy's ``max_active_days``) when keyturn read the user's policy
    and keys; None when it did not (unmanaged, deferred, failed)."""

    def keys_past_cap(self, at: datetime) -> tuple[AccessKey, ...]:
        """The user's active keys older than its cap at ``at`` (none when it was not read)."""
        if self.max_active_days is None or self.status in {Status.EXEMPT, Status.UNMANAGED}:
            return ()
        cap = timedelta(days=self.max_active_days)
        return tuple(k for k in self.keys if k.active and at - k.created > cap)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    at: datetime
    users: tuple[UserResult, ...]
    notes: tuple[str, ...] = ()
    """What the operator should know about the run as a whole (e.g. no scope configured)."""
    forecast: OnboardingForecast | None = None
    """For a plan that asked for it: what a first run would do, and when all is compliant."""
    mode: Mode = Mode.ACT
    """The run's mode (``KEYTURN_MODE``); under staged rollout each user says its own."""
    found_by: str = "listing"
    """How the run found its users: ``credential-report`` (only the users the report shows as
    possibly due were looked at) or ``listing`` (every user; the report could not be had, or
    the run was asked to list)."""
    idle_users: frozenset[str] = frozenset()
    """Users the credential report showed with nothing that could be due, so not looked at
    one by one (a report-driven run); they are settled for the run's findings."""
    deferred: int = 0
    """How many users this run left to the next (short of time); they lead the next run."""

    @property
    def failures(self) -> tuple[UserResult, ...]:
        return tuple(u for u in self.users if u.status is Status.FAILED)

    @property
    def keys_past_cap(self) -> int:
        """How many managed, non-exempt active keys are older than their user's cap after
        the run (the ``KeysPastCap`` metric)."""
        return sum(len(u.keys_past_cap(self.at)) for u in self.users)
