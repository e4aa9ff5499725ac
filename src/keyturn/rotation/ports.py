"""The ports the service talks to, and the production pieces that need no AWS.

AWS adapters live in :mod:`keyturn.aws`; in-memory fakes of every port in :mod:`keyturn.testing`.
The values that cross the ports (keys, deliveries, marks) are core models
(:mod:`keyturn.core.models`, :mod:`keyturn.core.delivery`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from keyturn.core.delivery import Delivery, Marks, SecretRef, StagedVersion, StoredKey
from keyturn.core.last_use import LastUseWanted, every_key
from keyturn.core.models import AccessKey, KeyStatus, NewKey, StoredState, User
from keyturn.errors import KeyturnError


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
    AUDITED = "audited"
    """Audit mode: what a run would have done to a user; nothing was changed."""


SUBJECT_PREFIX = "keyturn: "
SECRET_FIELDS = frozenset({"SecretAccessKey", "SmtpPassword"})
"""Body fields that hold a secret: only the opt-in "rotated" message has one (the key)."""


@dataclass(frozen=True)
class Notification:
    """One lifecycle message: an e-mail subject and a JSON body (never a secret unless opted in)."""

    kind: NotificationKind
    user_name: str
    subject: str
    body: dict[str, object]
    account_id: str | None = None
    """The account the user is in, in a fleet run (None in single-account mode)."""
    announced: bool = False
    """An earlier message already told people of this step and its date (a deletion the
    deactivation notice named): it goes on EventBridge and into the audit log, not to SNS."""

    def in_account(self, account_id: str) -> Notification:
        """This message about a user of ``account_id``: the id in the body (``AccountId``) and
        in the subject, so two accounts' messages about same-named users differ."""
        subject = self.subject.removeprefix(SUBJECT_PREFIX)
        return replace(
            self,
            account_id=account_id,
            subject=f"keyturn [{account_id}]: {subject}"[:99],
            body={"AccountId": account_id, **self.body},
        )

    def public_body(self) -> dict[str, object]:
        """The body without any secret field, whatever the operator opted in to: what goes
        where the opt-in does not reach (EventBridge events)."""
        return {k: v for k, v in self.body.items() if k not in SECRET_FIELDS}


class UserDirectory(Protocol):
    """Finds IAM users."""

    def get_user(self, user_name: str) -> User:
        """The user with its tags. Raises UserNotFoundError."""
        ...

    def list_users(self) -> Iterator[User]:
        """Every user, with tags."""
        ...


class RunDirectory(UserDirectory, Protocol):
    """The users a scheduled run looks at, and how it found them (after ``list_users``)."""

    found_by: str
    """``credential-report`` or ``listing`` (:mod:`keyturn.rotation.results`)."""
    note: str
    """Why the run fell back to the listing, if it did; else empty."""
    idle: frozenset[str]
    """The users the credential report showed with nothing that could be due."""


class KeyStore(Protocol):
    """A user's IAM access keys."""

    def list_keys(self, user_name: str, *, last_use: LastUseWanted = every_key) -> list[AccessKey]:
        """The user's keys; ``last_use`` names the keys whose last use is read (the others'
        ``last_used`` is None: not read, see :mod:`keyturn.core.last_use`)."""
        ...

    def create_key(self, user_name: str) -> NewKey: ...

    def set_key_status(self, user_name: str, key_id: str, status: KeyStatus) -> None: ...

    def delete_key(self, user_name: str, key_id: str) -> None:
        """Delete a key; a key that is already gone counts as deleted."""
        ...

    def forget(self, user_name: str) -> None:
        """Start a new look at the user: reads may be kept until the next ``forget``."""
        ...


class SecretStore(Protocol):
    """The per-user secret as a whole: where it is, the state it records, its marks."""

    def locate(self, user_name: str) -> SecretRef: ...

    def forget(self, user_name: str) -> None:
        """Start a new look at the user: reads may be kept until the next ``forget``."""
        ...

    def read_state(self, user_name: str) -> StoredState | None:
        """The state from the AWSCURRENT version and the marks; None if nothing was stored."""
        ...

    def claim(self, user_name: str, owner_arn: str, in_flight: Marks | None = None) -> None:
        """Make sure the secret at the user's name is keyturn's before anything is written:
        create it (no value, keyturn's resource policy) if there is none; otherwise check that
        it is one keyturn made (:mod:`keyturn.core.secret_trust`). The verdict is remembered.
        ``in_flight``: the in-flight mark a rotation is about to write, created with the
        secret (so that its own write then costs nothing).

        Raises:
            RefusedError: someone else's secret is at keyturn's name; nothing was written.
        """
        ...

    def set_marks(self, user_name: str, marks: Marks) -> None:
        """Apply mark changes to a claimed secret. Raises RefusedError for a secret keyturn
        does not own."""
        ...

    def find_user(self, secret_id: str) -> str:
        """The IAM user whose key a secret (name or ARN) holds: its ``keyturn:user`` tag, else
        the name after the prefix. Raises RefusedError for a secret keyturn does not manage."""
        ...

    def in_grace(self) -> list[str]:
        """The users whose secret carries ``keyturn:in-grace`` (a previous key still active),
        from one filtered listing."""
        ...


class SecretVersions(Protocol):
    """The versions of a user's secret and their staging labels: the source of truth for which
    key is current."""

    def stage(self, delivery: Delivery) -> SecretRef:
        """Store ``delivery`` as a new AWSPENDING version whose id is ``delivery.token``.

        The very first version of a secret is AWSCURRENT as well (Secrets Manager's rule).
        Raises ConcurrentDeliveryError when the token already holds a different value.
        """
        ...

    def promote(self, user_name: str, version_id: str, marks: Marks | None = None) -> SecretRef:
        """Write ``marks`` (with the version's ``keyturn:current`` mirror) in one go, move
        AWSCURRENT to ``version_id`` (the old current becomes AWSPREVIOUS) and clear the
        in-flight mark. Promoting the current version again changes nothing else."""
        ...

    def unstage(self, user_name: str, version_id: str) -> None:
        """Remove AWSPENDING from ``version_id`` if it has it: an abandoned rotation."""
        ...

    def version(self, user_name: str, version_id: str) -> StagedVersion | None:
        """The version with this id, if it holds a value."""
        ...

    def labelled(self, user_name: str, stage: str) -> StagedVersion | None:
        """The version carrying staging label ``stage`` (AWSPENDING, AWSPREVIOUS), if any
        holds a value."""
        ...


class Secrets(SecretStore, SecretVersions, Protocol):
    """A secret store with its versions: what the Secrets Manager adapter provides."""


class KeyVerifier(Protocol):
    """Proves a key authenticates: one ``sts:GetCallerIdentity`` signed with it per probe."""

    def probe(self, key: StoredKey) -> Probe: ...


class Notifier(Protocol):
    def publish(self, notification: Notification) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class OffsetClock:
    """The system clock moved by ``offset``: "simulated days passing" in the demo."""

    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class NullNotifier:
    """Used when no topic is configured."""

    def publish(self, notification: Notification) -> None:
        del notification


@dataclass(frozen=True)
class AccountNotifier:
    """Publishes each notification stamped with the account it is about (fleet runs)."""

    notifier: Notifier
    account_id: str

    def publish(self, notification: Notification) -> None:
        self.notifier.publish(notification.in_account(self.account_id))


@dataclass(frozen=True)
class Notifiers:
    """Publishes each notification to several notifiers (SNS and EventBridge), in order.

    One that fails does not keep the message from the others; the first error is raised once
    all were tried, so the caller sees the failure as it would with one notifier.
    """

    notifiers: tuple[Notifier, ...]

    def publish(self, notification: Notification) -> None:
        first: KeyturnError | None = None
        for notifier in self.notifiers:
            try:
                notifier.publish(notification)
            except KeyturnError as exc:
                first = first or exc
        if first is not None:
            raise first
