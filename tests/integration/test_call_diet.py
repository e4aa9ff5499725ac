"""AWS calls of one user's lifecycle, counted on the moto server (botocore ``before-call``).

One user, one old key: the daily runs that rotate it, deactivate the previous key and delete
it, each in a fresh Rotator (a fresh Lambda invocation), as the deployed function runs them
(``KEYTURN_TRUSTED_PRINCIPAL_ARNS`` set, as the template sets it). The key proof's STS probes
go through a session of the new key, so they are not on this count (counted apart). Every
thing is read once per user per run: one ``ListAccessKeys`` and one ``DescribeSecret``; once
keyturn has promoted a key, the state comes from the ``keyturn:current`` mirror, so no run
reads a secret value.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from keyturn.aws.session import AwsClients
from keyturn.core.verification import VerificationPolicy
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.emulator.calls import CallCounter
from keyturn.rotation.ports import OffsetClock
from keyturn.settings import Scope, Settings
from keyturn.wiring import rotator_on
from keyturn.wiring.fleet import AccountRun
from tests.integration.helpers import make_topic, make_user

PROOF = VerificationPolicy(successes=1, min_window=timedelta(0), interval=timedelta(seconds=0.01))
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/keyturn-rotation"
LIFECYCLE_CALLS = 24
"""The fan-out worker's count (rotate 9, deactivate 9, delete 6); was 48 before the diet, 27
before GetAccessKeyLastUsed was read only where a decision reads it, 25 while the deletion
mailed a notice its deactivation notice had already announced. The scheduled run's is lower
(23): the credential report's rows stand in for GetAccessKeyLastUsed where no decision needs
fresher data."""
LAST_USE_READS = {"create": 0, "deactivate": 2, "delete": 1}
"""GetAccessKeyLastUsed per step (:mod:`keyturn.core.last_use`): a due key's age decides the
rotation; the grace end reads both keys; the deletion run, whether the consumer switched."""
LIFECYCLE_MUTATING = 10
"""Two of them are the SNS notices (rotated, deactivated: the deletion at the end of the
restore window is not mailed again); the other 8 change IAM or Secrets Manager. The
deactivation's stamp and the emptied ``keyturn:in-grace`` go in one TagResource. The first
rotation's in-flight mark rides in CreateSecret's tags and is emptied (not removed) in the
promotion's one TagResource (the version is AWSCURRENT from PutSecretValue on): the scheduled
run's in-flight index lists only non-empty ``since:`` values."""


def _settings(aws: EmbeddedAws, topic: str) -> Settings:
    """What the counted runs share: the emulator, the topic, the fast proof, tag opt-in."""
    return Settings(
        endpoint_url=aws.url,
        region=aws.region,
        topic_arn=topic,
        verification=PROOF,
        scope=Scope(manage_tagged=True),
        trusted_principal_arns=(ROLE,),
    )


def _day(aws: EmbeddedAws, topic: str, day: float) -> tuple[list[str], CallCounter]:
    session = aws.session()
    counter = CallCounter().attach(session)
    settings = _settings(aws, topic)
    clock = OffsetClock(timedelta(days=day, minutes=5))
    run = AccountRun(ACCOUNT_ID, AwsClients(session, aws.url), settings, clock)
    result = run.user_rotator(["app"]).run()
    return [d.action.kind.value for d in result.users[0].done], counter


def test_a_lifecycle_reads_each_thing_once_and_costs_at_most_24_calls(aws: EmbeddedAws) -> None:
    # GIVEN a managed user with one 85-day-old key
    make_user(aws, "app", key_ages=(85,), tags={"keyturn:managed": "true"})
    topic = make_topic(aws)
    # WHEN the daily runs rotate, deactivate the previous key and delete it
    phases = {}
    for day in range(15):  # daily runs, as scheduled; the steps are the runs that act
        done, counter = _day(aws, topic, day)
        if done:
            phases[done[0]] = counter
    # THEN each step happened once, reading every thing once per run
    assert list(phases) == ["create", "deactivate", "delete"]
    calls: Counter[str] = Counter()
    for step, counter in phases.items():
        calls.update(counter.calls)
        assert counter.calls["iam.ListAccessKeys"] == 1, step
        assert counter.calls["secretsmanager.DescribeSecret"] == 1, step
        assert counter.calls["secretsmanager.GetSecretValue"] == 0, step
        assert counter.calls["iam.ListUserTags"] == 0, step  # GetUser carries the tags
        assert counter.calls["iam.GetAccessKeyLastUsed"] == LAST_USE_READS[step], step
        assert counter.calls["secretsmanager.TagResource"] <= 2, step  # marks merged
    # the deactivation: its stamp and the emptied in-grace tag in one TagResource
    assert phases["deactivate"].calls["secretsmanager.TagResource"] == 1
    # the rotation: the in-flight mark in CreateSecret, the proof, mirror, in-grace mark and
    # the emptied in-flight mark in one TagResource; nothing is ever untagged
    assert phases["create"].calls["secretsmanager.TagResource"] == 1
    assert calls["secretsmanager.UntagResource"] == 0
    probes = sum(n for op, n in calls.items() if op.startswith("sts."))
    total = sum(calls.values()) - probes
    mutating = sum(c.mutating() for c in phases.values())
    print(f"\nlifecycle: {total} calls ({mutating} mutating), {probes} STS probes apart")
    assert total <= LIFECYCLE_CALLS
    assert mutating <= LIFECYCLE_MUTATING
    assert probes == 0  # the proof probes on the new key's own session; trust needs no STS
    assert phases["delete"].calls["sns.Publish"] == 0  # announced by the deactivation notice
    assert phases["deactivate"].calls["sns.Publish"] == 1


def test_the_mirror_is_stale_once_another_version_is_current(aws: EmbeddedAws) -> None:
    # GIVEN a rotated user whose secret then gets a new AWSCURRENT version outside keyturn
    make_user(aws, "app", key_ages=(85,), tags={"keyturn:managed": "true"})
    topic = make_topic(aws)
    assert _day(aws, topic, 0)[0] == ["create"]
    sm = aws.client("secretsmanager")
    current = sm.get_secret_value(SecretId="keyturn/app")["SecretString"]
    sm.put_secret_value(SecretId="keyturn/app", SecretString=current)
    # WHEN the next run reads the user
    _, counter = _day(aws, topic, 1)
    # THEN the stale mirror is not believed: the run reads the version itself
    assert counter.calls["secretsmanager.GetSecretValue"] == 1


RUN_FIXED = frozenset(
    {"iam.GenerateCredentialReport", "iam.GetCredentialReport", "secretsmanager.ListSecrets"}
)
"""What a report-driven run costs once, whatever the number of users."""
SCHEDULED_LIFECYCLE_CALLS = 23


def test_the_scheduled_lifecycle_costs_at_most_23_calls_per_user(aws: EmbeddedAws) -> None:
    # GIVEN the same user, handled by the deployed path: report-driven scheduled runs
    make_user(aws, "app", key_ages=(85,), tags={"keyturn:managed": "true"})
    topic = make_topic(aws)
    per_user: Counter[str] = Counter()
    fixed = 0
    steps = []
    for day in range(15):  # daily runs, as scheduled; the steps are the runs that act
        session = aws.session()
        counter = CallCounter().attach(session)
        settings = _settings(aws, topic)
        clock = OffsetClock(timedelta(days=day, minutes=5))
        run = AccountRun(ACCOUNT_ID, AwsClients(session, aws.url), settings, clock)
        rotator = rotator_on(run.clients, settings, clock, by_report=True)
        result = rotator.run()
        assert result.found_by == "credential-report"
        done = [d.action.kind.value for u in result.users for d in u.done]
        if not done:
            continue  # a run between the steps: the benchmark's phases are the steps
        steps += done
        fixed += sum(n for op, n in counter.calls.items() if op in RUN_FIXED)
        per_user.update({op: n for op, n in counter.calls.items() if op not in RUN_FIXED})
    # THEN the lifecycle happened, and the user's own calls stay within the target
    assert steps == ["create", "deactivate", "delete"]
    total = sum(per_user.values())
    mutating = CallCounter(per_user).mutating()
    print(f"\nscheduled lifecycle: {total} calls per user ({mutating} mutating), {fixed} report")
    assert total <= SCHEDULED_LIFECYCLE_CALLS
    assert mutating <= LIFECYCLE_MUTATING
    assert fixed <= 3 * 4  # three per run, whatever the number of users
