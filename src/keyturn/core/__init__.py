"""The pure core: models, policy and planner. Imports only the standard library."""

from keyturn.core.actions import PLANNED_KEY_ID, Action, ActionKind, Reason, Snapshot, apply
from keyturn.core.deadlines import RunClock
from keyturn.core.forecast import OnboardingForecast, forecast
from keyturn.core.models import (
    AccessKey,
    KeyStatus,
    NewKey,
    SecretValue,
    StoredState,
    User,
    mask_key_id,
)
from keyturn.core.planner import Plan, plan
from keyturn.core.policy import Policy
from keyturn.core.roles import classify
from keyturn.core.schedule import Upcoming, schedule

__all__ = [
    "PLANNED_KEY_ID",
    "AccessKey",
    "Action",
    "ActionKind",
    "KeyStatus",
    "NewKey",
    "OnboardingForecast",
    "Plan",
    "Policy",
    "Reason",
    "RunClock",
    "SecretValue",
    "Snapshot",
    "StoredState",
    "Upcoming",
    "User",
    "apply",
    "classify",
    "forecast",
    "mask_key_id",
    "plan",
    "schedule",
]
