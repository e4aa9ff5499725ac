"""The ports the engine talks to: AWS adapters in ``keyturn.aws``, fakes in ``keyturn.memory``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from keyturn.core.models import AccessKey, KeyStatus, NewKey, SecretValue, StoredState, User


@dataclass(frozen=True)
class SecretRef:
    """Where a user's key is delivered."""

    name: str
    arn: str = ""


@dataclass(frozen=True)
class Delivery:
    """A key and the rotation facts stored with it as one secret version."""

    key: NewKey
    stored_at: datetime
    previous_key_id: str | None
    grace_days: int
    delete_after_days: int
    token: str
    """Idempotency token of this generation (see ``state_codec.delivery_token``)."""
    owner_arn: str = ""
    """The IAM user's ARN; the secret's resource policy lets it read its own key."""


@dataclass(frozen=True)
class StoredKey:
    """A key read back from a secret version, with its secret."""

    key_id: str
    secret: SecretValue
    created: datetime


@dataclass(frozen=True)
class Marks:
    """Changes to the state marks that live beside the secret versions."""

    pending_since: datetime | None = None
    clear_pending: bool = False
    deactivated: tuple[str, datetime] | None = None
    warned_key_id: str | None = None
    verified: tuple[str, datetime] | None = None
    postponed: tuple[str, datetime] | None = None


@dataclass(frozen=True)
class StagedVersion:
    """One version of a user's secret: its key and its staging labels."""

    version_id: str
    key: StoredKey
    stages: frozenset[str]
    previous_key_id: str | None = None


@dataclass(frozen=True)
class Probe:
    """One authentication attempt with a key: accepted, or the AWS error code."""

    accepted: bool
    arn: str = ""
    code: str = ""


class NotificationKind(StrEnum):
    ROTATED = "rotated"
    DEACTIVATION_COMING = "deactivation-coming"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"
    RESTORED = "restored"
    POSTPONED = "deactivation-postponed"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True)
class Notification:
    """One lifecycle message: an e-mail subject and a JSON body (never a secret unless opted in)."""

    kind: NotificationKind
    user_name: str
    subject: str
    body: dict[str, object]


class UserDirectory(Protocol):
    """Finds IAM users."""

    def get_user(self, user_name: str) -> User:
        """The user with its tags. Raises UserNotFoundError."""
        ...

    def list_users(self) -> Iterator[User]:
        """Every user, with tags."""
        ...


class KeyStore(Protocol):
    """A user's IAM access keys."""

    def list_keys(self, user_name: str) -> list[AccessKey]: ...

    def create_key(self, user_name: str) -> NewKey: ...

    def set_key_status(self, user_name: str, key_id: str, status: KeyStatus) -> None: ...

    def delete_key(self, user_name: str, key_id: str) -> None:
        """Delete a key; a key that is already gone counts as deleted."""
        ...


class SecretStore(Protocol):
    """The per-user secret: source of truth for which key is current."""

    def locate(self, user_name: str) -> SecretRef: ...

    def read_state(self, user_name: str) -> StoredState | None:
        """The state from the AWSCURRENT version and the marks; None if nothing was stored."""
        ...

    def read_previous(self, user_name: str) -> StoredKey | None:
        """The key in the AWSPREVIOUS version, if any."""
        ...

    def deliver(self, delivery: Delivery) -> SecretRef:
        """Store ``delivery`` as the new AWSCURRENT version and clear the in-flight mark.

        Raises ConcurrentDeliveryError when another run delivered a different key for the same
        generation first.
        """
        ...

    def set_marks(self, user_name: str, marks: Marks) -> None:
        """Apply mark changes, creating the secret (without a value) if needed."""
        ...

    def stage(self, delivery: Delivery) -> SecretRef:
        """Store ``delivery`` as a new AWSPENDING version whose id is ``delivery.token``.

        The very first version of a secret is AWSCURRENT as well (Secrets Manager's rule).
        Raises ConcurrentDeliveryError when the token already holds a different value.
        """
        ...

    def promote(self, user_name: str, version_id: str) -> SecretRef:
        """Move AWSCURRENT to ``version_id`` (the old current becomes AWSPREVIOUS) and clear the
        in-flight mark. Promoting the current version again changes nothing."""
        ...

    def unstage(self, user_name: str, version_id: str) -> None:
        """Remove AWSPENDING from ``version_id`` if it has it: an abandoned rotation."""
        ...

    def version(self, user_name: str, version_id: str) -> StagedVersion | None:
        """The version with this id, if it holds a value."""
        ...

    def pending(self, user_name: str) -> StagedVersion | None:
        """The version labelled AWSPENDING, if any holds a value."""
        ...

    def find_user(self, secret_id: str) -> str:
        """The IAM user whose key a secret (name or ARN) holds: its ``keyturn:user`` tag, else
        the name after the prefix. Raises RefusedError for a secret keyturn does not manage."""
        ...


class KeyVerifier(Protocol):
    """Proves a key authenticates: one ``sts:GetCallerIdentity`` signed with it per probe."""

    def probe(self, key: StoredKey) -> Probe: ...


class Notifier(Protocol):
    def publish(self, notification: Notification) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
