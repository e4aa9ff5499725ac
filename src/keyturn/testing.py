"""In-memory fakes of every port: what unit tests, simulations and users' own tests use.

Production never imports this module (like ``click.testing``); the real clock and the null
notifier live with the ports in :mod:`keyturn.rotation.ports`.

They keep IAM's rules that matter to keyturn (two keys per user, unknown users, idempotent
deletes) and store secrets with the same codec as the Secrets Manager adapter.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from keyturn.core import codec
from keyturn.core.delivery import Delivery, Marks, SecretRef, StagedVersion, StoredKey
from keyturn.core.last_use import LastUseWanted, every_key, settle
from keyturn.core.models import AccessKey, KeyStatus, NewKey, SecretValue, StoredState, User
from keyturn.core.secret_trust import SecretFacts, SecretTrust, creation_tags, mark_unfounded
from keyturn.errors import AwsError, ConcurrentDeliveryError, RefusedError, UserNotFoundError
from keyturn.rotation.findings import Finding
from keyturn.rotation.ports import Notification, Probe, SystemClock
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings

MAX_KEYS = 2
KEYTURN_ROLE_ARN = "arn:aws:iam::123456789012:role/keyturn"
"""The role the fakes' keyturn runs as (the one principal of their secrets' policies)."""


@dataclass
class ManualClock:
    """A clock that moves only when told to."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    def sleep(self, seconds: float) -> None:
        """A sleeper for the verifier: time passes at once."""
        self.current += timedelta(seconds=seconds)


@dataclass
class InMemoryIam:
    """IAM users and access keys, as a UserDirectory and a KeyStore."""

    clock: ManualClock | SystemClock = field(default_factory=SystemClock)
    users: dict[str, User] = field(default_factory=dict)
    keys: dict[str, list[AccessKey]] = field(default_factory=dict)
    issued: dict[str, SecretValue] = field(default_factory=dict)
    last_use_reads: list[str] = field(default_factory=list)

    def add_user(self, name: str, *, path: str = "/", tags: dict[str, str] | None = None) -> User:
        user = User(name, f"arn:aws:iam::123456789012:user{path}{name}", path, dict(tags or {}))
        self.users[name] = user
        self.keys.setdefault(name, [])
        return user

    def add_key(
        self, user_name: str, *, age_days: float = 0, status: KeyStatus = KeyStatus.ACTIVE
    ) -> AccessKey:
        """Give a user a key created ``age_days`` ago (as if made outside keyturn)."""
        created = self.clock.now() - timedelta(days=age_days)
        key = AccessKey(_key_id(), status, created)
        self.keys[user_name].append(key)
        return key

    def get_user(self, user_name: str) -> User:
        if user_name not in self.users:
            raise UserNotFoundError(user_name)
        return self.users[user_name]

    def list_users(self) -> Iterator[User]:
        return iter(list(self.users.values()))

    def list_keys(self, user_name: str, *, last_use: LastUseWanted = every_key) -> list[AccessKey]:
        """The keys, with only the last uses ``last_use`` names (each read is recorded in
        :attr:`last_use_reads`, as ``GetAccessKeyLastUsed`` would be)."""
        self.get_user(user_name)
        truth = {k.key_id: k for k in self.keys[user_name]}

        def read(key: AccessKey) -> AccessKey:
            self.last_use_reads.append(key.key_id)
            return truth[key.key_id]

        unread = [replace(k, last_used=None) for k in truth.values()]
        return settle(unread, last_use, read)

    def create_key(self, user_name: str) -> NewKey:
        self.get_user(user_name)
        if len(self.keys[user_name]) >= MAX_KEYS:
            raise AwsError("CreateAccessKey", "LimitExceeded", "Cannot exceed quota for keys")
        key = AccessKey(_key_id(), KeyStatus.ACTIVE, self.clock.now())
        secret = SecretValue("".join(secrets.choice(string.ascii_letters) for _ in range(40)))
        self.keys[user_name].append(key)
        self.issued[key.key_id] = secret
        return NewKey(user_name, key.key_id, secret, key.created)

    def set_key_status(self, user_name: str, key_id: str, status: KeyStatus) -> None:
        self.keys[user_name] = [
            replace(k, status=status) if k.key_id == key_id else k for k in self._keys_of(user_name)
        ]

    def delete_key(self, user_name: str, key_id: str) -> None:
        self.keys[user_name] = [k for k in self._keys_of(user_name) if k.key_id != key_id]

    def forget(self, user_name: str) -> None:
        del user_name  # nothing is kept between looks

    def _keys_of(self, user_name: str) -> list[AccessKey]:
        self.get_user(user_name)
        return list(self.keys[user_name])

    def record_use(self, user_name: str, key_id: str, at: datetime | None = None) -> None:
        """A consumer called AWS with this key (IAM's last-used record)."""
        when = at or self.clock.now()
        self.keys[user_name] = [
            replace(k, last_used=when) if k.key_id == key_id else k
            for k in self._keys_of(user_name)
        ]

    def owner_of(self, key_id: str) -> tuple[User, AccessKey] | None:
        for name, keys in self.keys.items():
            for key in keys:
                if key.key_id == key_id:
                    return self.users[name], key
        return None


@dataclass
class InMemoryVerifier:
    """A KeyVerifier on InMemoryIam: a key authenticates if it exists, is active, its secret
    matches and ``propagation`` has passed since its creation (IAM's eventual consistency)."""

    iam: InMemoryIam
    propagation: timedelta = timedelta(0)
    probes: int = 0

    def probe(self, key: StoredKey) -> Probe:
        self.probes += 1
        found = self.iam.owner_of(key.key_id)
        if found is None:
            return Probe(accepted=False, code="InvalidClientTokenId")
        user, access_key = found
        fresh = self.iam.clock.now() - access_key.created < self.propagation
        if not access_key.active or fresh or self.iam.issued.get(key.key_id) != key.secret:
            return Probe(accepted=False, code="InvalidClientTokenId")
        self.iam.record_use(user.name, key.key_id)
        return Probe(accepted=True, arn=user.arn)


@dataclass
class _Secret:
    versions: list[tuple[str, dict[str, Any], set[str]]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    kms_key_id: str | None = None
    rotation_function_arn: str | None = None
    replica_regions: tuple[str, ...] = ()
    policy: dict[str, Any] | None = None

    def staged(self, stage: str) -> dict[str, Any] | None:
        return next((doc for _, doc, stages in self.versions if stage in stages), None)

    def find(self, version_id: str) -> tuple[str, dict[str, Any], set[str]] | None:
        return next((v for v in self.versions if v[0] == version_id), None)

    def move(self, stage: str, version_id: str) -> None:
        for _, _, stages in self.versions:
            stages.discard(stage)
        found = self.find(version_id)
        if found is not None:
            found[2].add(stage)


@dataclass
class InMemorySecrets:
    """A Secrets Manager stand-in with AWSCURRENT/AWSPENDING/AWSPREVIOUS staging and tags.

    Like the adapter, it writes only into secrets keyturn owns: ones it created (with
    ``trust``'s KMS key and resource policy) or that a claim found to be exactly that.
    :meth:`plant` puts someone else's secret at keyturn's name, as an insider allowed
    ``CreateSecret`` could; writes into it are refused until a claim trusts it. A write into a
    secret nobody claimed yet creates it as keyturn would, for the user at path ``/``.
    """

    prefix: str = "keyturn/"
    secrets: dict[str, _Secret] = field(default_factory=dict)
    trust: SecretTrust = field(default_factory=lambda: SecretTrust((KEYTURN_ROLE_ARN,)))
    owned: set[str] = field(default_factory=set)
    """The users whose secret keyturn created or a claim trusted."""
    fail_deliveries: int = 0
    """How many next deliveries fail with InternalFailure (fault injection for tests)."""
    fail_promotions: int = 0
    """How many next promotions fail with InternalFailure (a crash before AWSCURRENT moves)."""
    listings: int = 0
    """How many times :meth:`in_grace` listed the secrets."""

    def locate(self, user_name: str) -> SecretRef:
        name = f"{self.prefix}{user_name}"
        return SecretRef(name, f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}")

    def claim(self, user_name: str, owner_arn: str, in_flight: Marks | None = None) -> None:
        secret = self.secrets.get(user_name)
        mark = {} if in_flight is None else codec.mark_tags(in_flight)
        if secret is None:
            self.secrets[user_name] = _Secret(
                tags={**creation_tags(user_name), **mark},
                kms_key_id=self.trust.kms_key_id,
                policy=self.trust.policy_for(owner_arn),
            )
            self.owned.add(user_name)
            return
        facts = SecretFacts(
            self.locate(user_name).arn,
            secret.kms_key_id,
            secret.rotation_function_arn,
            secret.replica_regions,
            secret.policy,
            secret.tags,
            tuple(v for v, _, _ in secret.versions),
        )
        unfinished = self.trust.unfinished(facts, user_name, owner_arn)
        if unfinished:  # keyturn's, stopped early: its mark (never believed) is replaced
            secret.policy = self.trust.policy_for(owner_arn)
            facts = replace(facts, policy=secret.policy)
        why = self.trust.distrust(facts, owner_arn)
        found, wanted = (t.get(codec.TAG_PENDING_SINCE, "") for t in (secret.tags, mark))
        if unfinished and why is None and found != wanted:
            secret.tags[codec.TAG_PENDING_SINCE] = wanted
        if why is not None:
            self.owned.discard(user_name)
            name = self.locate(user_name).name
            raise RefusedError(user_name, f"secret {name} was not created by keyturn: {why}")
        self.owned.add(user_name)

    def plant(
        self,
        user_name: str,
        *,
        kms_key_id: str | None = None,
        rotation_function_arn: str | None = None,
        replica_regions: tuple[str, ...] = (),
        policy: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Someone else creates the user's secret first, with these properties (no value)."""
        self.secrets[user_name] = _Secret(
            tags=dict(tags or {}),
            kms_key_id=kms_key_id,
            rotation_function_arn=rotation_function_arn,
            replica_regions=replica_regions,
            policy=policy,
        )
        self.owned.discard(user_name)

    def _owned(self, user_name: str, owner_arn: str = "") -> _Secret:
        """The user's secret, if keyturn owns it; created as keyturn would if there is none."""
        if user_name not in self.secrets:
            self.claim(user_name, owner_arn or f"arn:aws:iam::123456789012:user/{user_name}")
        if user_name not in self.owned:
            name = self.locate(user_name).name
            raise RefusedError(user_name, f"secret {name} is not keyturn's; nothing written")
        return self.secrets[user_name]

    def read_state(self, user_name: str) -> StoredState | None:
        secret = self.secrets.get(user_name)
        if secret is None:
            return None
        tags = dict(secret.tags)
        versions = [v for v, _, _ in secret.versions]
        if mark_unfounded(tags, versions, secret.policy is not None):
            tags[codec.TAG_PENDING_SINCE] = ""  # no policy, no key in flight: not believed
        return codec.state_from(secret.staged("AWSCURRENT"), tags)

    def stage(self, delivery: Delivery) -> SecretRef:
        if self.fail_deliveries:
            self.fail_deliveries -= 1
            raise AwsError("PutSecretValue", "InternalFailure", "injected fault")
        user = delivery.key.user_name
        secret = self._owned(user, delivery.owner_arn)
        doc = json.loads(json.dumps(codec.document(delivery)))
        existing = secret.find(delivery.token)
        if existing is not None:
            if existing[1] != doc:
                raise ConcurrentDeliveryError("PutSecretValue", "ResourceExistsException", "")
            return self.locate(user)
        first = not secret.versions
        secret.versions.append((delivery.token, doc, set()))
        secret.move("AWSPENDING", delivery.token)
        if first:
            secret.move("AWSCURRENT", delivery.token)
        return self.locate(user)

    def forget(self, user_name: str) -> None:
        del user_name  # nothing is kept between looks

    def promote(self, user_name: str, version_id: str, marks: Marks | None = None) -> SecretRef:
        secret = self._owned(user_name)
        found = secret.find(version_id)
        mirror = codec.mirror_tag(version_id, found[1]) if found else None
        if self.fail_promotions:
            self.fail_promotions -= 1
            raise AwsError("UpdateSecretVersionStage", "InternalFailure", "injected fault")
        if found is None:
            raise AwsError("UpdateSecretVersionStage", "InvalidParameterException", "no version")
        if "AWSCURRENT" not in found[2]:
            old = next((v for v, _, stages in secret.versions if "AWSCURRENT" in stages), None)
            secret.move("AWSCURRENT", version_id)
            found[2].discard("AWSPREVIOUS")
            if old is not None:
                secret.move("AWSPREVIOUS", old)
        # as the adapter does: after the move, one write of the marks, the mirror and the
        # emptied in-flight mark
        self.set_marks(user_name, replace(marks or Marks(), mirror=mirror, clear_pending=True))
        return self.locate(user_name)

    def unstage(self, user_name: str, version_id: str) -> None:
        secret = self.secrets.get(user_name)
        found = secret.find(version_id) if secret else None
        if found is not None and "AWSPENDING" in found[2]:
            self._owned(user_name)
            found[2].discard("AWSPENDING")

    def version(self, user_name: str, version_id: str) -> StagedVersion | None:
        secret = self.secrets.get(user_name)
        found = secret.find(version_id) if secret else None
        if found is None:
            return None
        token, doc, stages = found
        key = codec.stored_key(doc)
        return StagedVersion(token, key, frozenset(stages), codec.previous_key_id(doc))

    def labelled(self, user_name: str, stage: str) -> StagedVersion | None:
        secret = self.secrets.get(user_name)
        if secret is None:
            return None
        token = next((v for v, _, stages in secret.versions if stage in stages), None)
        return self.version(user_name, token) if token else None

    def find_user(self, secret_id: str) -> str:
        for user in self.secrets:
            ref = self.locate(user)
            if secret_id in {ref.name, ref.arn}:
                return user
        raise RefusedError(secret_id, "not a secret keyturn manages")

    def in_grace(self) -> list[str]:
        self.listings += 1
        return [
            u
            for u, s in self.secrets.items()
            if codec.in_grace_listed(s.tags.get(codec.TAG_IN_GRACE))
        ]

    def set_marks(self, user_name: str, marks: Marks) -> None:
        to_set = codec.mark_tags(marks)
        if not to_set:
            return
        secret = self._owned(user_name)
        secret.tags.update({k: v for k, v in to_set.items() if v or k in secret.tags})


@dataclass
class RecordingNotifier:
    """Keeps every notification, in order."""

    sent: list[Notification] = field(default_factory=list)

    def publish(self, notification: Notification) -> None:
        self.sent.append(notification)


@dataclass
class InMemoryFindings:
    """Security Hub as a dict of findings by ident: what is open, what was resolved."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_with: AwsError | None = None

    def active(self) -> dict[str, dict[str, Any]]:
        if self.fail_with is not None:
            raise self.fail_with
        return {i: r for i, r in self.records.items() if r["state"] == "ACTIVE"}

    def upsert(
        self, findings: Sequence[Finding], at: datetime, known: Mapping[str, Mapping[str, Any]]
    ) -> int:
        for found in findings:
            before = known.get(found.ident, {})
            self.records[found.ident] = {
                "created": before.get("created", at),
                "ident": found.ident,
                "finding": found,
                "state": "ACTIVE",
                "workflow": "NEW",
                "at": at,
            }
        return 0

    def resolve(self, records: Sequence[Mapping[str, Any]], at: datetime) -> int:
        for record in records:
            self.records[record["ident"]].update(state="ARCHIVED", workflow="RESOLVED", at=at)
        return 0

    def open_idents(self) -> set[str]:
        return {i for i, r in self.records.items() if r["state"] == "ACTIVE"}


@dataclass
class FakeAws:
    """The whole in-memory AWS keyturn needs, on a manual clock, and a Rotator on it.

    Unless a test passes its own settings, every user of this sandbox is in keyturn's scope
    (``KEYTURN_USER_PATH=/``): production has no default scope at all.
    """

    clock: ManualClock = field(default_factory=ManualClock)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    secrets: InMemorySecrets = field(default_factory=InMemorySecrets)
    settings: Settings = field(default_factory=lambda: Settings(scope=Scope(user_path="/")))
    iam: InMemoryIam = field(init=False)

    def __post_init__(self) -> None:
        self.iam = InMemoryIam(self.clock)

    def rotator(self, settings: Settings | None = None) -> Rotator:
        """A Rotator on these fakes; new keys are recorded as verified without probing."""
        return Rotator(
            self.iam, self.iam, self.secrets, self.notifier, self.clock, settings or self.settings
        )

    def add_due_user(self, name: str = "app") -> str:
        """A user with one key 81 days old: due, and far enough from the 90-day cap that a
        whole 7-day grace period fits. Returns the key's id."""
        self.iam.add_user(name)
        return self.iam.add_key(name, age_days=81).key_id

    def run_daily(self, runs: int, rotator: Rotator | None = None) -> None:
        """``runs`` daily runs, a day apart, starting now (the clock ends a day after the last)."""
        rotator = rotator or self.rotator()
        for _ in range(runs):
            rotator.run()
            self.clock.advance(days=1)

    def key_ids(self, user: str) -> list[str]:
        return [k.key_id for k in self.iam.keys[user]]

    def current(self, user: str) -> str | None:
        """The key id AWSCURRENT names for ``user``."""
        state = self.secrets.read_state(user)
        return state.current_key_id if state else None


def _key_id() -> str:
    alphabet = string.ascii_uppercase + "234567"
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
