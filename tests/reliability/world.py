"""One user's world on the emulator: starting states, keyturn operations, and the invariants.

A :class:`World` builds keyturn exactly as the CLI and the handler do (``build_rotator`` on a
boto3 session pointed at the emulator), with an injectable clock and, optionally, a
:class:`~reliability.faults.FaultInjector` on the session.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from moto.iam.models import iam_backends

from keyturn.aws.verify import SINGLE_ATTEMPT, StsKeyVerifier
from keyturn.core.codec import TAG_PENDING_SINCE
from keyturn.core.delivery import StoredKey
from keyturn.core.policy import TAG_MANAGED, Policy
from keyturn.emulator import ACCOUNT_ID, FAKE_ACCESS_KEY_ID, FAKE_SECRET, EmbeddedAws
from keyturn.handler import handle
from keyturn.rotation.ports import OffsetClock
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.wiring import build_rotator
from tests.integration.authed_aws import FAST_PROOF

from .faults import FaultInjector
from .live import authenticates

USER = "alice"
KEYTURN_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/keyturn"
"""The role keyturn runs as in these worlds (moto does not evaluate the policies naming it)."""
RECOVERY_DELAY = timedelta(minutes=16)
"""A crashed run's in-flight mark is stale after ``Policy.max_run`` (15 minutes)."""
STS_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
    }
)


@dataclass
class ActiveWorld:
    """The clock of the world in use: IAM stamps new keys on that timeline, as keyturn's clock
    and IAM's agree on AWS (see ``conftest._iam_on_world_time``)."""

    clock: OffsetClock | None = None

    def offset(self) -> timedelta:
        return self.clock.offset if self.clock else timedelta(0)


ACTIVE = ActiveWorld()
_LOADER = botocore.loaders.create_loader()
_CLIENTS: dict[tuple[str, str], Any] = {}


def fresh_session(aws: EmbeddedAws) -> boto3.Session:
    """A new boto3 session (own event hooks) sharing one model loader: clients in milliseconds."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(
        aws_access_key_id=FAKE_ACCESS_KEY_ID,
        aws_secret_access_key=FAKE_SECRET,
        region_name=aws.region,
        botocore_session=core,
    )


def client(aws: EmbeddedAws, service: str) -> Any:
    """A cached client for inspecting and arranging the emulator (never keyturn's own)."""
    key = (aws.url, service)
    if key not in _CLIENTS:
        _CLIENTS[key] = fresh_session(aws).client(service, endpoint_url=aws.url)  # type: ignore[call-overload]
    return _CLIENTS[key]


CONCURRENCY = 4
"""The run engine's work slots in the reliability tier (the default is 8)."""
REMINDER = timedelta(days=1)
"""The opt-in "deactivation coming" reminder, a day before, as the tests of its steps need it."""


class InjectedStsVerifier(StsKeyVerifier):
    """keyturn's STS verifier, its per-key clients made from the shared model loader (as
    :func:`fresh_session`) and carrying the fault injector, if any."""

    def __init__(self, aws: EmbeddedAws, injector: FaultInjector | None) -> None:
        super().__init__(aws.region, aws.url)
        self._aws = aws
        self._injector = injector

    def _make_client(self, key: StoredKey) -> Any:
        made = fresh_session(self._aws).client(
            "sts",
            endpoint_url=self._aws.url,
            aws_access_key_id=key.key_id,
            aws_secret_access_key=key.secret.reveal(),
            config=SINGLE_ATTEMPT,
        )
        if self._injector is not None:
            self._injector.install(made.meta.events)
        return made


@dataclass(frozen=True)
class KeyFacts:
    key_id: str
    status: str
    secret: str = field(repr=False)


@dataclass
class World:
    """The emulator, a clock that can be moved, and the settings keyturn runs with."""

    aws: EmbeddedAws
    clock: OffsetClock = field(default_factory=OffsetClock)
    topic_arn: str = ""
    delete_foreign_keys: bool = False
    reminder: timedelta = timedelta(0)
    """``KEYTURN_WARN_BEFORE_DAYS``: off, the stack's default, unless a test needs its step."""

    def __post_init__(self) -> None:
        self.topic_arn = client(self.aws, "sns").create_topic(Name="keyturn")["TopicArn"]
        ACTIVE.clock = self.clock

    def settings(self) -> Settings:
        policy = Policy(delete_foreign_keys=self.delete_foreign_keys, warn_before=self.reminder)
        return Settings(
            scope=Scope(manage_tagged=True),  # the world tags its users keyturn:managed
            policy=policy,
            topic_arn=self.topic_arn,
            region=self.aws.region,
            endpoint_url=self.aws.url,
            verification=FAST_PROOF,
            # As the template sets it. Left to default, keyturn would look itself up with one
            # more sts:GetCallerIdentity, which the fault matrix cannot tell from a key's probe.
            trusted_principal_arns=(KEYTURN_ROLE,),
            # The concurrent engine, explicitly: runs go through rotation/pool.py's workers
            # (a crash in a worker thread still stops the run) and paced IAM writes.
            concurrency=CONCURRENCY,
            users_in_flight=2 * CONCURRENCY,
        )

    def rotator(self, injector: FaultInjector | None = None, *, prove: bool = True) -> Rotator:
        """keyturn as ``build_rotator`` makes it; with ``injector`` on every client it uses,
        the STS verifier's per-key clients included. ``prove=False`` (arranging a starting
        state only) records new keys as verified without probing them."""
        session = fresh_session(self.aws)
        if injector is not None:
            injector.install(session.events)
        built = build_rotator(self.settings(), session=session, clock=self.clock)
        verifier = InjectedStsVerifier(self.aws, injector) if prove else None
        return replace(built, verifier=verifier)

    def rotation_step(self, step: str, token: str, rotator: Rotator) -> dict[str, Any]:
        """Secrets Manager invoking keyturn as the secret's rotation function."""
        arn = client(self.aws, "secretsmanager").describe_secret(SecretId=f"keyturn/{USER}")["ARN"]
        event = {"Step": step, "SecretId": arn, "ClientRequestToken": token}
        return handle(event, "sm-rotation", lambda _settings, _run_id: rotator)

    def at(self, offset: timedelta) -> None:
        self.clock.offset = offset

    # Setting up --------------------------------------------------------------------------

    def add_user(self, name: str = USER) -> None:
        iam = client(self.aws, "iam")
        iam.create_user(UserName=name, Tags=[{"Key": TAG_MANAGED, "Value": "true"}])
        iam.put_user_policy(UserName=name, PolicyName="whoami", PolicyDocument=STS_POLICY)

    def add_foreign_key(self, age_days: float, *, active: bool = True, name: str = USER) -> str:
        iam = client(self.aws, "iam")
        key_id: str = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
        self.aws.backdate_key(name, key_id, age_days)
        if not active:
            iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Inactive")
        return key_id

    # Reading the truth (moto's backend and Secrets Manager) -----------------------------

    def access_keys(self, name: str = USER) -> dict[str, KeyFacts]:
        user = iam_backends[ACCOUNT_ID]["global"].users[name]
        return {
            k.access_key_id: KeyFacts(k.access_key_id, k.status, k.secret_access_key)
            for k in user.access_keys
        }

    def secret_doc(self, stage: str, name: str = USER) -> dict[str, Any] | None:
        sm = client(self.aws, "secretsmanager")
        try:
            raw = sm.get_secret_value(SecretId=f"keyturn/{name}", VersionStage=stage)
        except sm.exceptions.ResourceNotFoundException:
            return None
        doc: dict[str, Any] = json.loads(raw["SecretString"])
        return doc

    def secret_tags(self, name: str = USER) -> dict[str, str]:
        sm = client(self.aws, "secretsmanager")
        try:
            described = sm.describe_secret(SecretId=f"keyturn/{name}")
        except sm.exceptions.ResourceNotFoundException:
            return {}
        return {t["Key"]: t["Value"] for t in described.get("Tags", [])}

    def interim_violations(self, name: str = USER) -> list[str]:
        """What must hold even right after a fault, before any recovery: AWSCURRENT (if any)
        names an existing, active key with its own secret, and there are at most two keys."""
        keys = self.access_keys(name)
        current = self.secret_doc("AWSCURRENT", name)
        problems = [] if len(keys) <= 2 else [f"{len(keys)} keys"]
        if current is not None:
            problems += _current_problems(self.aws, keys, current)
        return problems

    def violations(self, initial: frozenset[str], name: str = USER) -> list[str]:
        """Every broken invariant for ``name``; ``initial`` are the keys from before keyturn."""
        keys = self.access_keys(name)
        current = self.secret_doc("AWSCURRENT", name)
        previous = self.secret_doc("AWSPREVIOUS", name)
        problems = [] if len(keys) <= 2 else [f"{len(keys)} keys"]
        problems += _current_problems(self.aws, keys, current)
        delivered = {doc["AccessKeyId"] for doc in (current, previous) if doc}
        undelivered = set(keys) - delivered - initial
        problems += [f"undelivered key {k} survives" for k in sorted(undelivered)]
        if self.secret_tags(name).get(TAG_PENDING_SINCE):  # an emptied mark: none in flight
            problems.append("in-flight mark left behind")
        return problems


def _current_problems(
    aws: EmbeddedAws, keys: dict[str, KeyFacts], current: dict[str, Any] | None
) -> list[str]:
    if current is None:
        return ["no AWSCURRENT version"]
    key = keys.get(current["AccessKeyId"])
    if key is None:
        return ["AWSCURRENT names a deleted key"]
    if key.status != "Active":
        return ["AWSCURRENT names an inactive key"]
    if key.secret != current["SecretAccessKey"]:
        return ["AWSCURRENT holds a secret that is not the key's"]
    if not authenticates(aws, key.key_id, key.secret):
        return ["AWSCURRENT's key does not authenticate"]
    return []


# Starting states and operations ------------------------------------------------------------

Setup = Callable[[World], None]
Operation = Callable[["World", Rotator], object]


def one_key(world: World) -> None:
    """A single active key made outside keyturn, 81 days old: a rotation is due."""
    world.add_user()
    world.add_foreign_key(81)


def two_keys(world: World) -> None:
    """An active 81-day-old key and an inactive foreign one; keyturn may delete foreign keys."""
    world.delete_foreign_keys = True
    world.add_user()
    world.add_foreign_key(81)
    world.add_foreign_key(120, active=False)


def in_grace(world: World) -> None:
    """keyturn rotated its own 81-day-old key: a new current key, the previous one (its secret
    in AWSPREVIOUS, so it can be restored) still active in its grace period."""
    world.add_user()
    world.rotator(prove=False).run()
    (first,) = world.access_keys()
    world.aws.backdate_key(USER, first, 81)
    world.rotator(prove=False).run()


def in_grace_reminded(world: World) -> None:
    """:func:`in_grace` with the opt-in reminder a day before deactivation turned on."""
    world.reminder = REMINDER
    in_grace(world)


def due_again(world: World) -> None:
    """keyturn rotated the user once; that key is due again (a later rotation stages its
    version, then moves AWSCURRENT)."""
    world.add_user()
    world.rotator(prove=False).run()
    (first,) = world.access_keys()
    world.aws.backdate_key(USER, first, 81)


def after_deactivation(world: World) -> None:
    """The previous key was deactivated when its grace ended; it can still be restored."""
    in_grace(world)
    world.at(timedelta(days=7, minutes=1))
    world.rotator(prove=False).run()


def run(world: World, rotator: Rotator) -> object:
    del world
    return rotator.run()


def rotate(world: World, rotator: Rotator) -> object:
    del world
    return rotator.rotate(USER)


def restore(world: World, rotator: Rotator) -> object:
    del world
    return rotator.restore(USER)


ROTATION_TOKEN = "6b657974-7572-4e00-8000-000000000006"


def secrets_manager_rotation(world: World, rotator: Rotator) -> object:
    """Secrets Manager's four steps with one ClientRequestToken, as the service calls them."""
    steps = ("createSecret", "setSecret", "testSecret", "finishSecret")
    return [world.rotation_step(step, ROTATION_TOKEN, rotator) for step in steps]


@dataclass(frozen=True)
class Scenario:
    """A starting state, the moment an operation runs, the operation, and what "run again
    normally" means for it (by default: the same operation)."""

    name: str
    setup: Setup
    offset: timedelta
    operation: Operation
    recovery: tuple[Operation, ...] = ()

    def __str__(self) -> str:
        return self.name

    @property
    def recovery_steps(self) -> tuple[Operation, ...]:
        return self.recovery or (self.operation,)


SCENARIOS = (
    Scenario("one key: scheduled rotation", one_key, timedelta(0), run),
    Scenario("one key: on-demand rotate", one_key, timedelta(0), rotate),
    Scenario("two keys: make room, rotate", two_keys, timedelta(0), run),
    Scenario("later rotation", due_again, timedelta(0), run),
    Scenario("in grace: remind (opt-in)", in_grace_reminded, timedelta(days=6, hours=12), run),
    Scenario("in grace: deactivate", in_grace, timedelta(days=7, minutes=1), run),
    Scenario("in grace: restore", in_grace, timedelta(days=3), restore),
    Scenario("after deactivation: delete", after_deactivation, timedelta(days=14, minutes=2), run),
    Scenario("after deactivation: restore", after_deactivation, timedelta(days=10), restore),
    Scenario(
        "Secrets Manager rotation steps",
        # Past the grace: a requested rotation never retires a key inside it (issue 9, T6).
        after_deactivation,
        timedelta(days=10),
        secrets_manager_rotation,
        recovery=(secrets_manager_rotation, run),
    ),
)
