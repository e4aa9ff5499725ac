"""JSON views of results, shared by the Lambda handler and the CLI. Never a secret."""

from __future__ import annotations

from typing import Any

from keyturn.core.models import AccessKey
from keyturn.core.planner import Plan
from keyturn.rotation.results import RunResult, StepDone, UserResult


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
        "message": result.message,
        "done": [step_json(d) for d in result.done],
        "plan": plan_json(result.plan),
        "keys": key_rows(result.user_name, result.keys),
    }


def run_json(run: RunResult) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "at": run.at.isoformat(timespec="seconds"),
        "notes": list(run.notes),
        "users": [user_json(u) for u in run.users],
    }
