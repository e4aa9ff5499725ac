"""Benchmarks on the emulator: scheduled runs of the deployed function, one user's lifecycle,
the retirement pass."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.iam.models import AccessKeyLastUsed, iam_backends

from benchmarks import deployed
from benchmarks.population import forget, populate
from keyturn.aws.session import AwsClients
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
) -> tuple[AccountRun, CallCounter]:
    """Adapters in the emulator's account and the counter of their calls; ``member``: on the
    member role's clients, as the fleet worker's (they know who they are from AssumeRole,
    which the worker makes once per session, not per run: not counted)."""
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

CONSUMER_STAYS: tuple[Phase, ...] = (
    ("rotate (day 0)", 0, "create"),
    ("warn (day 6)", 6, "warn"),
    ("deactivate (day 7)", 7, "deactivate"),
    ("delete (day 14)", 14, "delete"),
)
"""No key is used after the rotation: the grace period runs out, with the warning before."""
CONSUMER_SWITCHES: tuple[Phase, ...] = (
    ("rotate (day 0)", 0, "create"),
    ("retire early (day 3)", 3, "deactivate"),
    ("delete (day 10)", 10, "delete"),
)
"""The consumer uses the new key from day 2 on: the next run retires the old key early."""
SWITCH_DAY = 2


def lifecycle(
    aws: EmbeddedAws, phases: tuple[Phase, ...] = CONSUMER_STAYS
) -> list[tuple[str, CallCounter, CallCounter]]:
    """AWS calls of each run in one user's lifecycle, as the fan-out worker makes them: the
    function's own, and the STS probes made with the new key's session apart. With
    :data:`CONSUMER_SWITCHES`, the new key is used on day 2 (set in moto's backend, as IAM
    records a signed call's use)."""
    aws.reset()
    # Due (80 days) yet far enough from the 90-day cap that the whole 7-day grace fits: at
    # 85 days the cap would cut the grace short and retire the old key on day 4.
    (name,) = populate(1, age_days=81)
    clock = OffsetClock()
    arn = topic(aws)
    measured = []
    for label, day, expected in phases:
        if phases is CONSUMER_SWITCHES and clock.offset < timedelta(days=SWITCH_DAY) < timedelta(
            days=day
        ):
            clock.offset = timedelta(days=SWITCH_DAY)
            _use_newest_key(name, clock.now())
        clock.offset = timedelta(days=day, minutes=5)
        run, counter = account(aws, clock, arn, member=True)
        probes = CallCounter()
        with counting_new_sessions(probes):
            result = run.user_rotator([name]).run()
        done = [d.action.kind.value for d in result.users[0].done]
        assert done == [expected], f"{label}: {done}"
        measured.append((label, counter, probes))
    return measured


def _use_newest_key(user_name: str, when: datetime) -> None:
    """Record a use of the user's newest key at ``when`` (the consumer switched), the way
    moto records a signed call's use (naive UTC)."""
    keys = iam_backends[ACCOUNT_ID]["global"].users[user_name].access_keys
    newest = max(keys, key=lambda k: k.create_date)
    naive = when.astimezone(UTC).replace(tzinfo=None)
    newest.last_used = AccessKeyLastUsed(timestamp=naive, service="sts", region="us-east-1")


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
