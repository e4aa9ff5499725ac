"""The doors of the service: every request to change a user passes the same checks.

A user outside keyturn's scope, an exempt user, or one whose tags or stored state keyturn
cannot use is refused (audited and announced) before anything is read or changed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from keyturn.core.models import User
from keyturn.core.policy import Policy
from keyturn.errors import ConfigurationError
from keyturn.rotation.audit import Reporter
from keyturn.rotation.outcomes import Inspection
from keyturn.rotation.ports import UserDirectory
from keyturn.settings import Settings

EXEMPT = "the user is exempt (tag keyturn:exempt=true)"


class Doors:
    """The checks every door of the Rotator asks; mixed into it."""

    directory: UserDirectory
    settings: Settings
    reporter: Reporter

    inspect: Callable[..., Inspection]
    """The Rotator's :meth:`~keyturn.rotation.rotator.Rotator.inspect`."""

    def admit(self, user_name: str) -> None:
        """Refuse ``user_name`` unless it is in keyturn's scope (every door asks this).

        Raises:
            UserNotFoundError, RefusedError.
        """
        self._admit(self.directory.get_user(user_name))

    def _admit(self, user: User) -> None:
        if not self.settings.scope.manages(user):
            raise self.reporter.refuse(user.name, self.settings.scope.why_not(user))

    def _inspect_or_refuse(
        self,
        user: User,
        *,
        at: datetime,
        policy: Policy,
        force: bool = False,
        make_room: bool = False,
    ) -> Inspection:
        """:meth:`inspect` for a change someone asked for: stored state keyturn cannot use (a
        tag or field of the user's secret) refuses the user, with a notification."""
        try:
            return self.inspect(
                user, at=at, policy=policy, force=force, make_room=make_room, decisive_only=True
            )
        except ConfigurationError as exc:
            raise self.reporter.refuse(user.name, str(exc)) from None

    def _changeable_policy(self, user: User) -> Policy:
        """The user's policy for a change someone asked for; refuses users outside the scope,
        exempt users and users whose tags keyturn cannot use."""
        self._admit(user)
        try:
            policy = self.settings.policy.for_user(user.name, user.tags)
        except ConfigurationError as exc:
            raise self.reporter.refuse(user.name, str(exc)) from None
        if policy.exempt:
            raise self.reporter.refuse(user.name, EXEMPT)
        return policy
