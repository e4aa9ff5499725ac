"""Benchmarks on the emulator: scheduled runs of the deployed function, one user's lifecycle,
the retirement pass."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.iam.models import AccessKeyLastUsed, iam_backends

from benchmarks import deployed
from benchmarks.population import forget, populate
from keyturn.aws.session import AwsClients
from keyturn.core.policy import Policy
from keyturn.core.verification import VerificationPolicy
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.emulator.calls import CallCounter
from keyturn.fleet.settings import DEFAULT_MEMBER_ROLE
from keyturn.rotation.ports import OffsetClock
from keyturn.rotation.results import Status
from keyturn.settings import Scope, Settings
from keyturn.wiring.fleet import SESSION_NAME, AccountRun

PROOF = VerificationPolicy(successes=1, min_window=timedelta(0), interval=timedelta(seconds=0.01))
"""One STS probe per new key and no waiting window: moto knows a new key at once, and the
default window (15 s per rotation) would measure sleeping, not keyturn."""


@dataclass(frozen=True)
class Measured:
    seconds: float
    calls: CallCounter


@contextmanager
def counting_new_sessions(counter: CallCounter) -> Iterator[None]:
    """Count the calls of sessions made inside the block (the key verifier's) in ``counter``."""
    original = boto3.Session

    class CountedSession(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            counter.attach(self)

    boto3.Session = CountedSession  # type: ignore[misc]
    try:
        yield
    finally:
        boto3.Session = original  # type: ignore[misc]


def account(
    aws: EmbeddedAws,
    clock: OffsetClock | None = None,
    topic: str | None = None,
    *,
    member: bool = False,
    policy: Policy | None = None,
) -> tuple[AccountRun, CallCounter]:
    """Adapters in the emulator's account and the counter of their calls; ``member``: on the
    member role's clients, as the fleet worker's (they know who they are from AssumeRole,
    which the worker makes once per session, not per run: not counted). ``policy``: the
    default one unless given."""
    clients = AwsClients(aws.session(), aws.url)
    if member:
        clients, _ = clients.assume_role(DEFAULT_MEMBER_ROLE, ACCOUNT_ID, SESSION_NAME, None)
    counter = CallCounter().attach(clients.session)
    settings = Settings(
        endpoint_url=aws.url,
        region=aws.region,
        topic_arn=topic,
        verification=PROOF,
        scope=Scope(manage_tagged=True),  # the population is tagged keyturn:managed
        policy=policy or Policy(),
    )
    run = AccountRun(ACCOUNT_ID, clients, settings, clock or OffsetClock())
    return run, counter


DEPLOYED_PATH = "/keyturn/"
"""The stack's default scope (UserPath), untagged users (ManageTaggedUsers=false)."""
FAST_PROOF = {
    "KEYTURN_VERIFY_SUCCESSES": "1",
    "KEYTURN_VERIFY_WINDOW_SECONDS": "0",
    "KEYTURN_VERIFY_INTERVAL_SECONDS": "0.01",
}
"""PROOF as the function's settings: for the rotations-per-second row only."""


_accounts = itertools.count(100_000_000_001)


def account_of(function: deployed.Function) -> str:
    return function.role_arn.split(":")[4]


def fresh_account(function: deployed.Function) -> deployed.Function:
    """The function in an account of the emulator no benchmark has used yet."""
    return deployed.in_account(function, f"{next(_accounts):012d}")


def start_scheduled(
    aws: EmbeddedAws,
    function: deployed.Function,
    users: int,
    *,
    age_days: float | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[deployed.Running, deployed.Function]:
    """Start one cold scheduled invocation of the deployed function, in an account of its own
    holding ``users`` users in scope with keys ``age_days`` old (None: 0-69 days, nothing
    due)."""
    function = fresh_account(function)
    deployed.prepare(aws, function)
    populate(users, age_days=age_days, path=DEPLOYED_PATH, tags=[], account=account_of(function))
    return deployed.start(aws, function, extra=extra), function


def finished(
    running: deployed.Running, function: deployed.Function, *, due: bool
) -> deployed.Invocation:
    """A scheduled run's figures, once it is clear the run did what the benchmark says; its
    account is then forgotten."""
    done = running.wait()
    forget(account_of(function))
    assert not done.statuses.get(Status.FAILED.value), f"failed users: {done.statuses}"
    assert not done.statuses.get(Status.REFUSED.value), f"refused users: {done.statuses}"
    if not due:
        assert done.created == 0, "a no-op run rotated keys"
    return done


def scheduled_run(
    aws: EmbeddedAws,
    function: deployed.Function,
    users: int,
    *,
    age_days: float | None = None,
    extra: dict[str, str] | None = None,
) -> deployed.Invocation:
    """One scheduled invocation (see :func:`start_scheduled`), waited for."""
    running, used = start_scheduled(aws, function, users, age_days=age_days, extra=extra)
    return finished(running, used, due=age_days is not None)


def recipe_run(
    aws: EmbeddedAws,
    function: deployed.Function,
    users: int,
    *,
    extra: dict[str, str] | None = None,
) -> deployed.Invocation:
    """The original recipe's handler once per user of the same population, in its own process
    and account (clients made once, as when warm)."""
    function = fresh_account(function)
    deployed.prepare(aws, function)
    populate(users, age_days=85, path=DEPLOYED_PATH, tags=[], account=account_of(function))
    done = deployed.recipe(aws, function, users, "user", extra=extra)
    forget(account_of(function))
    return done


def report_scan(aws: EmbeddedAws, users: int) -> Measured:
    """A daily scan where nothing is due through the credential report, as the fleet's
    dispatcher makes it (in this process, through AccountRun)."""
    aws.reset()
    populate(users)
    run, counter = account(aws)
    started = time.perf_counter()
    by_report = run.rotator(run.report_directory(80)).run()
    measured = Measured(time.perf_counter() - started, counter)
    assert by_report.users == (), "a no-op scan looked at users"
    return measured


def topic(aws: EmbeddedAws) -> str:
    return str(aws.client("sns").create_topic(Name="keyturn")["TopicArn"])


Phase = tuple[str, int, str]
"""A run of a lifecycle: its label, its day, the one action it must take."""


@dataclass(frozen=True)
class Lifecycle:
    """One user's lifecycle as the benchmark counts it."""

    phases: tuple[Phase, ...]
    """The runs counted."""
    before: tuple[Phase, ...] = ()
    """Runs made first and not counted (a lifecycle before the counted one)."""
    switch_day: int | None = None
    """The day the consumer starts using the newest key (None: never)."""
    policy: Policy = field(default_factory=Policy)


_FIRST = (
    ("rotate (day 0)", 0, "create"),
    ("deactivate (day 7)", 7, "deactivate"),
    ("delete (day 14)", 14, "delete"),
)
CONSUMER_STAYS = Lifecycle(_FIRST)
"""No key is used after the rotation: the grace period runs out, with the stack's defaults."""
SECOND_ROTATION = Lifecycle(
    (
        ("rotate again (day 80)", 80, "create"),
        ("deactivate (day 87)", 87, "deactivate"),
        ("delete (day 94)", 94, "delete"),
    ),
    before=_FIRST,
)
"""The same, on the user's second rotation: the secret exists, the new version is staged."""
CONSUMER_SWITCHES = Lifecycle(
    (
        ("rotate (day 0)", 0, "create"),
        ("retire early (day 3)", 3, "deactivate"),
        ("delete (day 10)", 10, "delete"),
    ),
    switch_day=2,
)
"""The consumer uses the new key from day 2 on: the next run retires the old key early."""
REMINDED = Lifecycle(
    (
        ("rotate (day 0)", 0, "create"),
        ("remind (day 6)", 6, "warn"),
        ("deactivate (day 7)", 7, "deactivate"),
        ("delete (day 14)", 14, "delete"),
    ),
    policy=Policy(warn_before=timedelta(days=1)),
)
"""The first lifecycle with the opt-in reminder a day before deactivation
(``KEYTURN_WARN_BEFORE_DAYS=1``): the runs issue 12 measured."""


def lifecycle(
    aws: EmbeddedAws, shape: Lifecycle = CONSUMER_STAYS
) -> list[tuple[str, CallCounter, CallCounter]]:
    """AWS calls of each counted run in one user's lifecycle, as the fan-out worker makes
    them: the function's own, and the STS probes made with the new key's session apart."""
    aws.reset()
    # Due (80 days) yet far enough from the 90-day cap that the whole 7-day grace fits: at
    # 85 days the cap would cut the grace short and retire the old key on day 4.
    (name,) = populate(1, age_days=81)
    clock = OffsetClock()
    arn = topic(aws)
    for phase in shape.before:
        _lifecycle_run(aws, shape, phase, name, clock, arn)
    return [_lifecycle_run(aws, shape, phase, name, clock, arn) for phase in shape.phases]


def _lifecycle_run(
    aws: EmbeddedAws, shape: Lifecycle, phase: Phase, name: str, clock: OffsetClock, arn: str
) -> tuple[str, CallCounter, CallCounter]:
    label, day, expected = phase
    switch = shape.switch_day
    if switch is not None and clock.offset < timedelta(days=switch) < timedelta(days=day):
        clock.offset = timedelta(days=switch)
        _use_newest_key(name, clock.now())
    clock.offset = timedelta(days=day, minutes=5)
    run, counter = account(aws, clock, arn, member=True, policy=shape.policy)
    probes = CallCounter()
    with counting_new_sessions(probes):
        result = run.user_rotator([name]).run()
    steps = result.users[0].done
    done = [d.action.kind.value for d in steps]
    assert done == [expected], f"{label}: {done}"
    if expected == "create":
        _created_at(name, str(steps[0].key_id), clock.now())
    return label, counter, probes


def _key(user_name: str, key_id: str) -> Any:
    keys = iam_backends[ACCOUNT_ID]["global"].users[user_name].access_keys
    return next(k for k in keys if k.access_key_id == key_id)


def _newest_key(user_name: str) -> Any:
    keys = iam_backends[ACCOUNT_ID]["global"].users[user_name].access_keys
    return max(keys, key=lambda k: k.create_date)


def _created_at(user_name: str, key_id: str, when: datetime) -> None:
    """Date a new key at the run's clock: moto dates it by the wall clock, so a key made on
    "day 80" would look 80 days older to the next runs."""
    _key(user_name, key_id).create_date = when.astimezone(UTC).replace(tzinfo=None)


def _use_newest_key(user_name: str, when: datetime) -> None:
    """Record a use of the user's newest key at ``when`` (the consumer switched), the way
    moto records a signed call's use (naive UTC)."""
    naive = when.astimezone(UTC).replace(tzinfo=None)
    _newest_key(user_name).last_used = AccessKeyLastUsed(
        timestamp=naive, service="sts", region="us-east-1"
    )


def retire_pass(aws: EmbeddedAws, users: int, in_grace: int) -> tuple[Measured, int]:
    """An hourly retirement pass over ``users`` users of which ``in_grace`` were rotated a day
    ago (their previous key in its grace period, the consumer not switched yet): the AWS calls
    of one pass. Returns the measurement and how many users the pass looked at."""
    aws.reset()
    populate(users - in_grace)
    rotated = populate(in_grace, age_days=85, prefix="grace")
    run, _ = account(aws)
    result = run.user_rotator(rotated).run()
    assert all(u.status is Status.CHANGED for u in result.users), "setup rotations failed"
    run, counter = account(aws, OffsetClock(timedelta(days=1)))
    started = time.perf_counter()
    passed = run.rotator().retire()
    measured = Measured(time.perf_counter() - started, counter)
    assert {u.user_name for u in passed.users} == set(rotated), "the pass looked at others"
    return measured, len(passed.users)
