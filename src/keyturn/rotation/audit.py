"""Telling people what the service did: one audit event per action, notices of refusals and
failures. Shared by every part of the service, so each says it the same way."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from keyturn.core.rollout import Mode
from keyturn.errors import KeyturnError, RefusedError
from keyturn.rotation import notices
from keyturn.rotation.ports import Notification, Notifier, SecretStore

log = logging.getLogger(__name__)
audit_log = logging.getLogger("keyturn.audit")


@dataclass
class Reporter:
    """Writes audit events on the ``keyturn.audit`` logger and publishes refusals and failures."""

    notifier: Notifier
    secrets: SecretStore
    run_id: str
    account_id: str | None = None
    """The account a fleet run works in: every audit event then names it (``account``)."""
    mode_of: Callable[[str], Mode] | None = None
    """A user's mode; in audit mode events and notices say so (None: every user acts)."""

    def _audited(self, user_name: str) -> bool:
        return self.mode_of is not None and self.mode_of(user_name) is Mode.AUDIT

    def _publish(self, user_name: str, notification: Notification) -> None:
        if self._audited(user_name):
            notification = notices.in_audit_mode(notification)
        self.notifier.publish(notification)

    def audit(
        self,
        user_name: str,
        action: str,
        key_id: str | None,
        reason: str,
        error: KeyturnError | None,
        extra: dict[str, object] | None = None,
    ) -> None:
        """One structured audit event (run id, account in a fleet run, user, key id, action,
        reason, outcome)."""
        event: dict[str, object] = {
            "run_id": self.run_id,
            **({"account": self.account_id} if self.account_id else {}),
            "user": user_name,
            "key_id": key_id,
            "action": action,
            "reason": reason,
            "outcome": "failed" if error else "done",
        }
        if error is not None:
            event["error"] = type(error).__name__
        if self._audited(user_name):
            event["mode"] = Mode.AUDIT.value
        event.update(extra or {})
        where = f" in {self.account_id}" if self.account_id else ""
        audit_log.info(
            "keyturn %s %s%s: %s", action, user_name, where, event["outcome"], extra=event
        )

    def refuse(self, user_name: str, reason: str) -> RefusedError:
        """Audit and announce a refusal; returns the error for the caller to raise."""
        self.audit(user_name, "refuse", None, reason, None)
        try:
            self._publish(
                user_name, notices.refused(user_name, reason, self.secrets.locate(user_name))
            )
        except KeyturnError:
            log.exception("could not send the refusal notice for %s", user_name)
        return RefusedError(user_name, reason)

    def failed(self, user_name: str, exc: KeyturnError) -> None:
        """Announce a failure; a notice that cannot be sent is logged, never raised."""
        try:
            ref = self.secrets.locate(user_name)
            self._publish(user_name, notices.failed(user_name, str(exc), ref))
        except KeyturnError:
            log.exception("could not send the failure notice for %s", user_name)
