"""What a run reports: per user, the plan, the steps done and the keys left."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from keyturn.core.actions import Action
from keyturn.core.forecast import OnboardingForecast
from keyturn.core.models import AccessKey
from keyturn.core.planner import Plan
from keyturn.errors import KeyturnError


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


@dataclass(frozen=True)
class RunResult:
    run_id: str
    at: datetime
    users: tuple[UserResult, ...]
    notes: tuple[str, ...] = ()
    """What the operator should know about the run as a whole (e.g. no scope configured)."""
    forecast: OnboardingForecast | None = None
    """For a plan that asked for it: what a first run would do, and when all is compliant."""
    deferred: int = 0
    """How many users this run left to the next (short of time); they lead the next run."""

    @property
    def failures(self) -> tuple[UserResult, ...]:
        return tuple(u for u in self.users if u.status is Status.FAILED)
