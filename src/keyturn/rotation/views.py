"""JSON views of results, shared by the Lambda handler and the CLI. Never a secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keyturn.core.forecast import KeyAge, OnboardingForecast
from keyturn.core.models import AccessKey
from keyturn.core.planner import Plan
from keyturn.rotation.results import FOUND_BY_REPORT, RunResult, StepDone, UserResult


def key_rows(user_name: str, keys: tuple[AccessKey, ...]) -> list[dict[str, Any]]:
    """The original recipe's response body: one entry per key left."""
    return [
        {
            "UserName": user_name,
            "AccessKeyId": k.key_id,
            "status": k.status.value,
            "CreateDate": k.created.isoformat(timespec="seconds"),
        }
        for k in keys
    ]


def plan_json(found: Plan) -> dict[str, Any]:
    return {
        "actions": [
            {"action": a.kind.value, "key_id": a.key_id, "reason": a.reason.value}
            for a in found.actions
        ],
        "refusal": found.refusal,
        "notes": list(found.notes),
        "upcoming": [
            {"action": u.kind.value, "key_id": u.key_id, "at": u.when.isoformat(timespec="seconds")}
            for u in found.upcoming
        ],
    }


def step_json(step: StepDone) -> dict[str, Any]:
    """One step done; a previous key's deactivation says how long two keys were active."""
    done: dict[str, Any] = {"action": step.action.kind.value, "key_id": step.key_id}
    if step.two_keys_active_days is not None:
        done["two_keys_active_days"] = step.two_keys_active_days
    return done


def user_json(result: UserResult) -> dict[str, Any]:
    return {
        "UserName": result.user_name,
        "status": result.status.value,
        "mode": result.mode.value,
        "message": result.message,
        "done": [step_json(d) for d in result.done],
        "plan": plan_json(result.plan),
        "keys": key_rows(result.user_name, result.keys),
    }


def forecast_json(found: OnboardingForecast) -> dict[str, Any]:
    """The onboarding forecast: keys a first run rotates, keys past the cap, and the run from
    which every managed key is compliant (null, with ``no_date`` saying why)."""
    compliant = found.compliant_by
    return {
        "at": found.at.isoformat(timespec="seconds"),
        "rotation_count": found.rotation_count,
        "rotations": [_key_age(k) for k in found.rotations],
        "past_cap": [{**_key_age(k), "deactivate_at": _iso(k.retires_at)} for k in found.past_cap],
        "compliant_by": _iso(compliant),
        "no_date": [{"UserName": n.user_name, "reason": n.reason} for n in found.no_date],
        "exempt": list(found.exempt),
    }


def run_json(run: RunResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "at": run.at.isoformat(timespec="seconds"),
        "mode": run.mode.value,
        "notes": list(run.notes),
        "found_by": run.found_by,
        "users": [user_json(u) for u in run.users],
    }
    if run.found_by == FOUND_BY_REPORT:
        body["idle_users"] = len(run.idle_users)  # the report showed nothing due for them
    if run.deferred:
        body["deferred"] = run.deferred  # left to the next run, which starts with them
    if run.forecast is not None:
        body["forecast"] = forecast_json(run.forecast)
    return body


def _key_age(key: KeyAge) -> dict[str, Any]:
    return {"UserName": key.user_name, "AccessKeyId": key.key_id, "age_days": key.age_days}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
