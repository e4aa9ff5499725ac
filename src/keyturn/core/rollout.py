"""Audit-only mode and staged rollout: which managed users keyturn acts on, and which it audits.

In **audit** mode a run plans, reports, notifies and counts exactly as it would act, and
changes nothing in IAM or Secrets Manager. ``KEYTURN_MODE=audit`` puts every user in audit
mode, whatever the rollout rules say: it is the switch an operator can trust.

In **act** mode (the default) the rollout rules choose: with none configured every managed user
is acted on; with any configured only the users they select are, and the other managed users
are audited. A user is selected when it is under one of the paths, named in the list, or (only
when the operator names a tag) carries that exact tag. Whoever may tag a user could otherwise
move it from audit to act, so a tag counts for nothing unless ``KEYTURN_ACT_TAG`` names it;
pick a tag key that only administrators may set (an SCP on ``aws:TagKeys``). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from keyturn.core.models import User
from keyturn.errors import ConfigurationError

ENV_MODE = "KEYTURN_MODE"
ENV_ACT_USERS = "KEYTURN_ACT_USERS"
ENV_ACT_PATHS = "KEYTURN_ACT_PATHS"
ENV_ACT_TAG = "KEYTURN_ACT_TAG"
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


class Mode(StrEnum):
    """Whether keyturn changes anything: ``act`` (the default) or ``audit`` (never)."""

    ACT = "act"
    AUDIT = "audit"

    @classmethod
    def parse(cls, name: str, raw: str) -> Mode:
        """``act`` or ``audit`` (any case, surrounding spaces ignored).

        Raises:
            ConfigurationError: anything else.
        """
        value = raw.strip().lower()
        if value not in {m.value for m in cls}:
            raise ConfigurationError(f"{name} must be act or audit, not {raw[:20]!r}")
        return cls(value)

    def at_most(self, allowed: Mode) -> Mode:
        """This mode, lowered to ``allowed``: audit wins over act, never the reverse."""
        return Mode.AUDIT if Mode.AUDIT in (self, allowed) else Mode.ACT


@dataclass(frozen=True)
class Rollout:
    """The operator's staged-rollout rules: the managed users keyturn acts on."""

    user_names: frozenset[str] = frozenset()
    user_paths: tuple[str, ...] = ()
    tag: tuple[str, str] | None = None
    """``(key, value)``: a user carrying exactly this tag is acted on (opt-in; off by default)."""

    def __post_init__(self) -> None:
        for path in self.user_paths:
            if not (path.startswith("/") and path.endswith("/")):
                raise ConfigurationError(
                    f"{ENV_ACT_PATHS} paths must start and end with '/', not {path!r}"
                )

    @property
    def staged(self) -> bool:
        """True when any rule is configured: only the users the rules select are acted on."""
        return bool(self.user_names or self.user_paths or self.tag)

    def rule_for(self, user: User) -> str | None:
        """The rule that selects ``user`` for action, or None."""
        for path in self.user_paths:
            if user.path.startswith(path):
                return f"{ENV_ACT_PATHS} {path}"
        if user.name in self.user_names:
            return f"listed in {ENV_ACT_USERS}"
        if self.tag is not None and user.tags.get(self.tag[0]) == self.tag[1]:
            return f"tagged {self.tag[0]}={self.tag[1]} ({ENV_ACT_TAG})"
        return None

    def mode_for(self, user: User, mode: Mode) -> Mode:
        """``user``'s mode under the operator's ``mode``: audit stays audit; act is narrowed
        to the users the rules select when any rule is configured."""
        if mode is Mode.AUDIT or not self.staged:
            return mode
        return Mode.ACT if self.rule_for(user) is not None else Mode.AUDIT


def parse_act_tag(raw: str) -> tuple[str, str] | None:
    """``KEY=VALUE`` (the value may be empty); an empty setting is None (tag rollout off).

    Raises:
        ConfigurationError: no ``=``, an empty key, or a key or value longer than IAM allows.
    """
    text = raw.strip()
    if not text:
        return None
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or len(key) > MAX_TAG_KEY or len(value) > MAX_TAG_VALUE:
        raise ConfigurationError(f"{ENV_ACT_TAG} must be KEY=VALUE (an IAM tag), not {raw[:60]!r}")
    return key, value
