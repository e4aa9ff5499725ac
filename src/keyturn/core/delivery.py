"""What a user's secret holds: where it is, the key delivered into it and the marks beside it.

Plain values shared by the service, the secret codec and the adapters. Pure: no AWS, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from keyturn.core.inputs import is_account_id
from keyturn.core.models import NewKey, SecretValue


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
    """Idempotency token of this generation (see :func:`keyturn.core.codec.delivery_token`)."""
    owner_arn: str = ""
    """The IAM user's ARN; the secret's resource policy lets it read its own key."""
    ses_smtp_region: str | None = None
    """Also store the key's SES SMTP credentials for this region (``SmtpUsername``,
    ``SmtpPassword``); None for none."""


@dataclass(frozen=True)
class StoredKey:
    """A key read back from a secret version, with its secret."""

    key_id: str
    secret: SecretValue
    created: datetime


@dataclass(frozen=True)
class CurrentKey:
    """A secret's AWSCURRENT key as a consumer read it, and the ARN of the secret it came from
    (empty where unknown: a key remembered before keyturn recorded it)."""

    key: StoredKey
    secret_arn: str = ""

    @property
    def account(self) -> str | None:
        return arn_account(self.secret_arn)


def arn_account(arn: str) -> str | None:
    """The account id in an ARN (``arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME``); None
    for anything else, such as a secret's name (names cannot hold a colon)."""
    parts = arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and is_account_id(parts[4]):
        return parts[4]
    return None


@dataclass(frozen=True)
class Marks:
    """Changes to the state marks that live beside the secret versions."""

    pending_since: datetime | None = None
    keys_before: tuple[str, ...] = ()
    """With ``pending_since``: the ids of the user's keys before the creation."""
    clear_pending: bool = False
    deactivated: tuple[str, datetime] | None = None
    """Written after its ``deactivated`` notice went out (a ``told:`` mark)."""
    warned_key_id: str | None = None
    verified: tuple[str, datetime] | None = None
    postponed: tuple[str, datetime] | None = None
    in_grace: str | None = None
    """The previous key a rotation left active (``keyturn:in-grace``)."""
    clear_in_grace: bool = False
    switch: tuple[str, tuple[float, ...]] | None = None
    """The key just measured and the consumer's switch delays, newest last."""
    restored: tuple[str, datetime] | None = None
    """A previous key keyturn never held the secret of, brought back by ``restore``, and when."""
    mirror: str | None = None
    """The ``keyturn:current`` value (:func:`keyturn.core.codec.mirror_tag`), set at promotion."""
    rotation_failed_at: datetime | None = None
    """A run's rotation of the user failed at this time (``keyturn:rotation-failed``)."""


@dataclass(frozen=True)
class StagedVersion:
    """One version of a user's secret: its key and its staging labels."""

    version_id: str
    key: StoredKey
    stages: frozenset[str]
    previous_key_id: str | None = None


PENDING, CURRENT, PREVIOUS = "AWSPENDING", "AWSCURRENT", "AWSPREVIOUS"
"""Secrets Manager's staging labels."""
