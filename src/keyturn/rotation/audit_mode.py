"""Audit-only mode in the service: what acting would do, told exactly, with nothing changed.

A user in audit mode (``KEYTURN_MODE=audit``, or outside the staged-rollout rules) is read and
planned as for a run; instead of the plan's actions, each one is an audit event with the outcome
``not-done (audit mode)``, the owner gets one ``audited`` notice listing them, and the result is
``planned`` with the plan attached. No call that writes to IAM or Secrets Manager is made: not
the secret's claim, not a mark. A Secrets Manager rotation cannot be half-done, so its steps are
refused in audit mode (:data:`ROTATION_REFUSED`).
"""

from __future__ import annotations

from keyturn.core.actions import ActionKind
from keyturn.core.models import mask_key_id
from keyturn.core.rollout import ENV_ACT_PATHS, ENV_ACT_TAG, ENV_ACT_USERS, ENV_MODE, Mode
from keyturn.errors import RefusedError
from keyturn.rotation import notices
from keyturn.rotation.audit import Reporter
from keyturn.rotation.outcomes import Inspection
from keyturn.rotation.ports import Notifier, SecretStore
from keyturn.rotation.results import Status, UserResult
from keyturn.settings import Settings

NOT_DONE = "not-done (audit mode)"
ROTATION_REFUSED = (
    f"keyturn is in audit mode for this user ({ENV_MODE}=audit or outside the rollout rules): "
    "a Secrets Manager rotation would change the key, so it is refused"
)
RUN_NOTE = f"audit mode ({ENV_MODE}=audit): nothing was changed; each plan is what acting would do"
STAGED_NOTE = (
    f"staged rollout: only the users {ENV_ACT_USERS}, {ENV_ACT_PATHS} or {ENV_ACT_TAG} select are "
    "acted on; the other managed users are audited (nothing changed)"
)


def run_notes(settings: Settings) -> tuple[str, ...]:
    """What a run's result says about its mode (nothing in plain act mode)."""
    if settings.mode is Mode.AUDIT:
        return (RUN_NOTE,)
    return (STAGED_NOTE,) if settings.rollout.staged else ()


def would_do(
    found: Inspection, reporter: Reporter, notifier: Notifier, secrets: SecretStore
) -> UserResult:
    """The plan of a user in audit mode, audited and announced, carried out not at all."""
    user, actions = found.user, found.plan.actions
    for action in actions:
        extra: dict[str, object] = {"mode": Mode.AUDIT.value, "outcome": NOT_DONE}
        reporter.audit(
            user.name, action.kind.value, action.key_id, action.reason.value, None, extra
        )
    if actions:
        notifier.publish(notices.audited(user.name, actions, secrets.locate(user.name)))
    status = Status.PLANNED if actions else Status.UNCHANGED
    if found.policy.exempt:
        status = Status.EXEMPT
    said = [_verb(a.kind, a.key_id) for a in actions]
    message = "; ".join([f"audit mode, nothing changed: would {', '.join(said)}"] if said else [])
    message = "; ".join(m for m in (message, *found.plan.notes) if m)
    return UserResult(
        user.name, status, found.plan, found.snapshot.keys, (), message, mode=Mode.AUDIT
    )


def would_restore(found: Inspection, reporter: Reporter) -> UserResult:
    """What restoring a user in audit mode would do (the same refusal as acting when there is
    nothing to restore); nothing is changed.

    Raises:
        RefusedError: nothing to restore (refusal notified).
    """
    user, state = found.user, found.snapshot.state
    previous = found.snapshot.key(state.previous_key_id)
    if state.current_key_id is None or previous is None:
        reason = "no previous key to restore (never rotated, or deleted)"
        raise reporter.refuse(user.name, reason)
    extra: dict[str, object] = {"mode": Mode.AUDIT.value, "outcome": NOT_DONE}
    reporter.audit(user.name, "restore", previous.key_id, "requested", None, extra)
    message = (
        f"audit mode, nothing changed: would make {mask_key_id(previous.key_id)} current again"
    )
    return UserResult(
        user.name, Status.PLANNED, found.plan, found.snapshot.keys, (), message, mode=Mode.AUDIT
    )


def refuse_rotation(reporter: Reporter, user_name: str) -> RefusedError:
    """The refusal of a Secrets Manager rotation step in audit mode (audited, notified)."""
    return reporter.refuse(user_name, ROTATION_REFUSED)


def _verb(kind: ActionKind, key_id: str | None) -> str:
    return f"{kind.value} {mask_key_id(key_id)}" if key_id else kind.value
