"""Domain values: access keys, users and the delivery state kept in Secrets Manager."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class KeyStatus(StrEnum):
    """IAM's two access key states."""

    ACTIVE = "Active"
    INACTIVE = "Inactive"


@dataclass(frozen=True)
class AccessKey:
    """One IAM access key as IAM reports it (never its secret)."""

    key_id: str
    status: KeyStatus
    created: datetime
    last_used: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status is KeyStatus.ACTIVE


def mask_key_id(key_id: str) -> str:
    """Shorten a key id for display, as aws-vault does: ``AKIA...WXYZ``."""
    if len(key_id) <= 8:
        return key_id
    return f"{key_id[:4]}...{key_id[-4:]}"


class SecretValue:
    """A secret access key that refuses to be printed.

    ``str``, ``repr`` and f-strings show a mask; only :meth:`reveal` returns the value, and only
    the secret store, the key verifier, the opt-in notifier and ``credential-process`` (whose
    contract is to print it for the SDK) call it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('****')"

    def __str__(self) -> str:
        return "****"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class NewKey:
    """A key just returned by CreateAccessKey, with its secret."""

    user_name: str
    key_id: str
    secret: SecretValue
    created: datetime


@dataclass(frozen=True)
class User:
    """An IAM user with the tags and path that decide whether and how keyturn manages it."""

    name: str
    arn: str = ""
    path: str = "/"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredState:
    """What keyturn knows about a user, read from the user's secret.

    The secret's AWSCURRENT version names the current key and the rotation that stored it;
    the secret's tags carry the marks that change without a new version.

    Attributes:
        current_key_id: key whose secret is AWSCURRENT, or None before the first delivery.
        stored_at: when that version was stored.
        previous_key_id: the key the current one replaced, if any.
        grace_days / delete_after_days: the schedule fixed for the previous key at rotation.
        pending_since: set while a creation is in flight (before CreateAccessKey, cleared after
            the secret is stored).
        keys_before: the ids of the user's keys when that mark was set; only a key absent from
            them and created after the mark can be keyturn's undelivered key. None for a mark
            without the record (then no key counts as undelivered).
        deactivated_key_id / deactivated_at: when keyturn saw that key become inactive.
        deactivation_told: the ``deactivated`` notice naming the run of that key's deletion
            went out (a ``told:`` mark, written after the notice): that deletion is not
            mailed again.
        warned_key_id: key for which "deactivation coming" was already sent.
        verified_key_id / verified_at: the key keyturn last proved with ``GetCallerIdentity``,
            and when the proof ended (its own calls count as use of that key).
        postponed_key_id / postponed_at: the previous key whose deactivation was last postponed
            because it was still in use, and when the owner was told.
        in_grace_key_id: the previous key keyturn left active at its last rotation, until it
            is deactivated (``keyturn:in-grace``): what the hourly retirement pass lists.
        switch_key_id / switch_days: the consumer's last switch delays in days, from storing a
            new key to its first use (``keyturn:switch-days``), newest last; the newest was
            measured for ``switch_key_id``.
        restored_key_id / restored_at: a previous key whose secret keyturn never held (the key
            before its first rotation), brought back by ``restore``: its retirement starts over
            from that moment (a fresh grace period, the cap still kept).
        rotation_failed_at: when a run's rotation of this user last failed
            (``keyturn:rotation-failed``); only the order of a run's rotations reads it
            (:mod:`keyturn.core.urgency`), so an unreadable one is ignored, never refused.
    """

    current_key_id: str | None = None
    stored_at: datetime | None = None
    previous_key_id: str | None = None
    grace_days: int | None = None
    delete_after_days: int | None = None
    pending_since: datetime | None = None
    keys_before: frozenset[str] | None = None
    deactivated_key_id: str | None = None
    deactivated_at: datetime | None = None
    deactivation_told: bool = False
    warned_key_id: str | None = None
    verified_key_id: str | None = None
    verified_at: datetime | None = None
    postponed_key_id: str | None = None
    postponed_at: datetime | None = None
    in_grace_key_id: str | None = None
    switch_key_id: str | None = None
    switch_days: tuple[float, ...] = ()
    restored_key_id: str | None = None
    restored_at: datetime | None = None
    rotation_failed_at: datetime | None = None

    def restored_time(self, key_id: str) -> datetime | None:
        """When ``key_id`` was brought back by a restore that left the secret as it was."""
        return self.restored_at if self.restored_key_id == key_id else None

    def verified_time(self, key_id: str) -> datetime | None:
        """When ``key_id`` was last proved to authenticate, if it was."""
        return self.verified_at if self.verified_key_id == key_id else None

    def postponed_time(self, key_id: str) -> datetime | None:
        """When the deactivation of ``key_id`` was last postponed, if it was."""
        return self.postponed_at if self.postponed_key_id == key_id else None

    def deactivated_time(self, key_id: str) -> datetime | None:
        """When ``key_id`` was recorded as deactivated, if it was."""
        return self.deactivated_at if self.deactivated_key_id == key_id else None
