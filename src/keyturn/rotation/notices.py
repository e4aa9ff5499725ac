"""Lifecycle messages: a subject readable in an e-mail and a JSON body for Email-JSON subscribers.

A message carries a pointer to the secret, never the secret itself, unless the operator opted
in with ``KEYTURN_NOTIFY_INCLUDE_SECRET=true`` (the original recipe's behaviour).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from keyturn.core.actions import Action, Reason
from keyturn.core.deadlines import RunClock
from keyturn.core.delivery import SecretRef
from keyturn.core.models import AccessKey, NewKey, StoredState, mask_key_id
from keyturn.core.policy import Policy
from keyturn.core.roles import delete_after_days, retirement
from keyturn.rotation.ports import Notification, NotificationKind

Schedule = tuple[datetime | None, datetime | None]


def retirement_schedule(
    deactivate_at: datetime | None, delete_after_days: int, clock: RunClock
) -> Schedule:
    """When the replaced key is deactivated and deleted: the run ``deactivate_at`` the planner
    chose (its grace period, or sooner at its cap; :func:`keyturn.core.roles.retirement`), and
    deletion ``delete_after_days`` later on the same run clock. (None, None) when there is no
    active replaced key to retire."""
    if deactivate_at is None:
        return None, None
    end = deactivate_at + timedelta(days=delete_after_days)
    return deactivate_at, clock.run_after_wait(end, deactivate_at)


def previous_key_schedule(
    previous: AccessKey | None, state: StoredState, policy: Policy, now: datetime
) -> Schedule:
    """:func:`retirement_schedule` for a previous key and the state that names its successor."""
    if previous is None or not previous.active:
        return None, None
    due = retirement(state, previous, policy).when(policy.clock, now)
    return retirement_schedule(due, delete_after_days(state, policy), policy.clock)


def rotated(
    new_key: NewKey,
    previous_key_id: str | None,
    secret: SecretRef,
    schedule: Schedule,
    *,
    include_secret: bool,
) -> Notification:
    deactivate_at, delete_at = schedule
    body: dict[str, object] = {
        "NewAccessKeyId": new_key.key_id,
        "PreviousAccessKeyId": previous_key_id,
        "DeactivatePreviousAt": _iso(deactivate_at),
        "DeletePreviousAt": _iso(delete_at),
        "ReadWith": f"aws secretsmanager get-secret-value --secret-id {secret.name} "
        "--version-stage AWSCURRENT",
    }
    if include_secret:
        body["SecretAccessKey"] = new_key.secret.reveal()
    subject = f"keyturn: new access key {mask_key_id(new_key.key_id)} for {new_key.user_name}"
    return _message(NotificationKind.ROTATED, new_key.user_name, subject, secret, body)


def deactivation_coming(
    user_name: str, key_id: str, when: datetime | None, secret: SecretRef
) -> Notification:
    subject = f"keyturn: {user_name}'s old key {mask_key_id(key_id)} is deactivated soon"
    body: dict[str, object] = {"AccessKeyId": key_id, "DeactivateAt": _iso(when)}
    return _message(NotificationKind.DEACTIVATION_COMING, user_name, subject, secret, body)


def deactivated(  # noqa: PLR0913 - a message's fields, all keyword after the first four
    user_name: str,
    key_id: str,
    delete_at: datetime | None,
    secret: SecretRef,
    *,
    reason: str = "",
    two_keys_days: float | None = None,
    owner: str | None = None,
) -> Notification:
    forced = reason == Reason.MAX_AGE_ENFORCED.value
    verb = "deactivated (still in use, max age reached)" if forced else "deactivated"
    subject = f"keyturn: {verb} {user_name}'s old key {mask_key_id(key_id)}"
    if reason == Reason.DEACTIVATED_OUTSIDE.value:
        subject = f"keyturn: {user_name}'s old key {mask_key_id(key_id)} is inactive"
    body: dict[str, object] = {
        "AccessKeyId": key_id,
        "DeleteAt": _iso(delete_at),
        "Restore": f"keyturn restore {user_name}",
    }
    if reason:
        body["Reason"] = reason
    if forced:
        body["Note"] = "the key was still in use; deactivated anyway at the max_active_days cap"
    if two_keys_days is not None:
        body["TwoKeysActiveDays"] = two_keys_days
    if owner:
        body["Owner"] = owner
    return _message(NotificationKind.DEACTIVATED, user_name, subject, secret, body)


def postponed(
    user_name: str,
    key_id: str,
    detail: str,
    cap: datetime | None,
    secret: SecretRef,
    *,
    owner: str | None,
) -> Notification:
    """The previous key is still in use, so it stays active: the owner must switch."""
    subject = f"keyturn: {user_name}'s old key {mask_key_id(key_id)} is still in use"
    body: dict[str, object] = {
        "AccessKeyId": key_id,
        "Owner": owner,
        "Detail": detail,
        "DeactivateAnywayAt": _iso(cap),
        "Action": "switch the consumer to the AWSCURRENT key in the secret",
    }
    return _message(NotificationKind.POSTPONED, user_name, subject, secret, body)


def deleted(
    user_name: str, key_id: str, reason: str, secret: SecretRef, *, announced: bool = False
) -> Notification:
    """A key is gone. ``announced``: the deactivation notice named this deletion's run, so it
    is not mailed again (EventBridge and the audit log still record it)."""
    subject = f"keyturn: deleted {user_name}'s key {mask_key_id(key_id)}"
    body: dict[str, object] = {"AccessKeyId": key_id, "Reason": reason}
    message = _message(NotificationKind.DELETED, user_name, subject, secret, body)
    return replace(message, announced=announced)


def restored(user_name: str, key_id: str, replaced_key_id: str, secret: SecretRef) -> Notification:
    subject = f"keyturn: restored {user_name}'s key {mask_key_id(key_id)}"
    body: dict[str, object] = {"AccessKeyId": key_id, "ReplacedAccessKeyId": replaced_key_id}
    return _message(NotificationKind.RESTORED, user_name, subject, secret, body)


def reinstated(
    user_name: str, key_id: str, current_key_id: str, until: datetime, secret: SecretRef
) -> Notification:
    """A key keyturn never held the secret of is active again; the secret is unchanged."""
    subject = f"keyturn: {user_name}'s old key {mask_key_id(key_id)} is active again"
    body: dict[str, object] = {
        "AccessKeyId": key_id,
        "CurrentAccessKeyId": current_key_id,
        "DeactivateNotBefore": _iso(until),
        "Note": "keyturn never held this key's secret; the secret still names the current key",
    }
    return _message(NotificationKind.RESTORED, user_name, subject, secret, body)


def refused(user_name: str, reason: str, secret: SecretRef) -> Notification:
    subject = f"keyturn: refused to rotate {user_name}'s key"
    return _message(NotificationKind.REFUSED, user_name, subject, secret, {"Reason": reason})


def failed(user_name: str, error: str, secret: SecretRef) -> Notification:
    subject = f"keyturn: rotation failed for {user_name}"
    return _message(NotificationKind.FAILED, user_name, subject, secret, {"Error": error})


AUDIT_MODE_NOTE = "audit mode: keyturn changed nothing in IAM or Secrets Manager"


def audited(user_name: str, actions: Sequence[Action], secret: SecretRef) -> Notification:
    """Audit mode: what acting would have done to ``user_name`` (nothing was changed)."""
    first = actions[0]
    key = f" {mask_key_id(first.key_id)}" if first.key_id else ""
    more = f" (+{len(actions) - 1} more)" if len(actions) > 1 else ""
    subject = f"keyturn audit mode: would {first.kind.value} {user_name}'s key{key}{more}"
    would = [
        {"Action": a.kind.value, "AccessKeyId": a.key_id, "Reason": a.reason.value} for a in actions
    ]
    body: dict[str, object] = {"Mode": "audit", "WouldDo": would, "Note": AUDIT_MODE_NOTE}
    return _message(NotificationKind.AUDITED, user_name, subject, secret, body)


def in_audit_mode(notification: Notification) -> Notification:
    """``notification`` as sent in audit mode: the subject and body say so plainly."""
    if notification.body.get("Mode") == "audit":
        return notification
    subject = f"[audit mode] {notification.subject}"[:99]
    body = {**notification.body, "Mode": "audit", "ModeNote": AUDIT_MODE_NOTE}
    return replace(notification, subject=subject, body=body)


def _message(
    kind: NotificationKind,
    user_name: str,
    subject: str,
    secret: SecretRef,
    details: dict[str, object],
) -> Notification:
    body: dict[str, object] = {
        "Event": kind.value,
        "UserName": user_name,
        "SecretName": secret.name,
        "SecretArn": secret.arn or None,
        **details,
    }
    return Notification(kind, user_name, subject[:99], body)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
