"""Which IAM users keyturn manages: the one scope decision every door asks.

A user is in scope when it is under the operator's path, named in the operator's list, or (only
when the operator turned tag opt-in on) tagged ``keyturn:managed=true``. Whoever may tag a user
could otherwise make keyturn take over its keys, so the tag counts for nothing by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyturn.core.models import User
from keyturn.core.policy import TAG_MANAGED

ENV_USER_PATH = "KEYTURN_USER_PATH"
ENV_USERS = "KEYTURN_USERS"
ENV_MANAGE_TAGGED = "KEYTURN_MANAGE_TAGGED"
HOW_TO_CONFIGURE = (
    f"no users are in keyturn's scope: set {ENV_USER_PATH} (e.g. /integrations/), {ENV_USERS} "
    f"(comma-separated names) or {ENV_MANAGE_TAGGED}=true to honour the keyturn:managed tag"
)


@dataclass(frozen=True)
class Scope:
    """The operator's choice of users: a path prefix, a list of names, and tag opt-in."""

    user_path: str | None = None
    user_names: frozenset[str] = frozenset()
    manage_tagged: bool = False
    """Honour ``keyturn:managed=true`` (the template's ManageTaggedUsers); off by default."""

    @property
    def empty(self) -> bool:
        """True when no user can be in scope: nothing was configured."""
        return self.user_path is None and not self.user_names and not self.manage_tagged

    def rule_for(self, user: User) -> str | None:
        """The scope rule that admits ``user``, or None when it is outside the scope."""
        if self.user_path is not None and user.path.startswith(self.user_path):
            return f"{ENV_USER_PATH}={self.user_path}"
        if user.name in self.user_names:
            return f"listed in {ENV_USERS}"
        tagged = user.tags.get(TAG_MANAGED, "").strip().lower() == "true"
        if self.manage_tagged and tagged:
            return f"tagged {TAG_MANAGED}=true with {ENV_MANAGE_TAGGED}=true"
        return None

    def manages(self, user: User) -> bool:
        return self.rule_for(user) is not None

    def why_not(self, user: User) -> str:
        """Why ``user`` is outside the scope, naming every rule it fails."""
        if self.empty:
            return HOW_TO_CONFIGURE
        reasons = []
        if self.user_path is not None:
            reasons.append(f"its path {user.path} is not under {ENV_USER_PATH}={self.user_path}")
        reasons.append(f"it is not listed in {ENV_USERS}")
        tagged = user.tags.get(TAG_MANAGED, "").strip().lower() == "true"
        if tagged and not self.manage_tagged:
            reasons.append(f"its {TAG_MANAGED} tag counts only with {ENV_MANAGE_TAGGED}=true")
        elif not self.manage_tagged:
            reasons.append(f"tag opt-in is off ({ENV_MANAGE_TAGGED})")
        return "outside keyturn's scope: " + "; ".join(reasons)
