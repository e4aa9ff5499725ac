"""Issue 6.1: every AWS call of every lifecycle step, faulted every way, then run again.

For each scenario (a starting state and an operation) the calls of a clean run are recorded;
then, for each call and each fault kind, the world is rebuilt, the operation runs with that one
call faulted, and the same operation runs again normally once a crashed run's in-flight mark
is stale. Right after the fault AWSCURRENT must still name an active key with its own secret
(:meth:`World.interim_violations`); after every recovery all the invariants of
:meth:`World.violations` must hold.

The default matrix faults the first call of each mutating operation in every scenario and each
read operation once; ``KEYTURN_SLOW=1`` faults every call of every scenario.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.iam.models import AccessKeyLastUsed, iam_backends

from keyturn.aws.session import RETRY_CONFIG
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.errors import KeyturnError, RefusedError
from keyturn.rotation.results import RunResult, Status
from keyturn.settings import Settings
from keyturn.wiring import build_rotator

from .conftest import SLOW, report
from .faults import MUTATING_OPERATIONS, FaultInjector, FaultKind, SimulatedCrash, error_response
from .world import (
    RECOVERY_DELAY,
    SCENARIOS,
    USER,
    Scenario,
    World,
    after_deactivation,
    fresh_session,
)

# Sized by KEYTURN_SLOW: small in `make test`, full in `make test-slow` (-m slow).
pytestmark = pytest.mark.slow

VERIFICATION_PROBE = "sts:GetCallerIdentity"
"""The new key's proof: one attempt per probe by design (the verification loop polls)."""
RESULTS: list[CaseResult] = []
FAULTED_READS: set[str] = set()
RETRIES: dict[str, Any] = getattr(RETRY_CONFIG, "retries", None) or {}
MAX_ATTEMPTS = RETRIES.get("total_max_attempts") or RETRIES["max_attempts"] + 1
"""botocore's ``max_attempts`` counts retries (the first attempt comes on top);
``total_max_attempts`` counts them all."""


@dataclass(frozen=True)
class CaseResult:
    scenario: str
    call: str
    kind: FaultKind
    problems: tuple[str, ...]
    applicable: bool = True
    """False for a crash "after success" on a call that answered an error in the clean run."""

    @property
    def survived(self) -> bool:
        return not self.problems


def positions(calls: list[str], faulted_reads: set[str], *, every_call: bool) -> list[int]:
    """Which calls to fault.

    Slow mode: every call. Default: the first call of each mutating operation in every
    scenario, and each read operation once in the whole matrix (a failed read stops a run
    before it changes anything, wherever it happens).
    """
    chosen, seen = [], set()
    for index, call in enumerate(calls):
        mutating_first = call in MUTATING_OPERATIONS and call not in seen
        if every_call or mutating_first or call not in faulted_reads | MUTATING_OPERATIONS:
            chosen.append(index)
        seen.add(call)
        if call not in MUTATING_OPERATIONS:
            faulted_reads.add(call)
    return chosen


def clean_calls(aws: EmbeddedAws, scenario: Scenario) -> list[str]:
    world = prepared(aws, scenario)
    recorder = FaultInjector()
    scenario.operation(world, world.rotator(recorder))
    return recorder.calls


def prepared(aws: EmbeddedAws, scenario: Scenario) -> World:
    aws.reset()
    world = World(aws)
    scenario.setup(world)
    world.at(scenario.offset)
    return world


def run_case(aws: EmbeddedAws, scenario: Scenario, index: int, kind: FaultKind) -> CaseResult:
    world = prepared(aws, scenario)
    initial = frozenset(world.access_keys())
    injector = FaultInjector(kind, index)
    with contextlib.suppress(KeyturnError, SimulatedCrash):
        scenario.operation(world, world.rotator(injector))
    call = injector.calls[index] if index < len(injector.calls) else "(not reached)"
    if kind is FaultKind.CRASH and not injector.fired and (injector.target_status or 0) >= 300:
        return CaseResult(scenario.name, f"#{index} {call}", kind, (), applicable=False)
    problems = [] if injector.fired else ["the fault never fired"]
    expected = 1 if call == VERIFICATION_PROBE else MAX_ATTEMPTS
    if kind is FaultKind.THROTTLED and injector.attempts != expected:
        problems.append(f"botocore made {injector.attempts} attempts, not {expected}")
    problems += [f"before recovery: {p}" for p in world.interim_violations()]
    world.at(scenario.offset + RECOVERY_DELAY)
    problems += recovery_problems(world, scenario)
    problems += world.violations(initial)
    return CaseResult(scenario.name, f"#{index} {call}", kind, tuple(problems))


def recovery_problems(world: World, scenario: Scenario) -> list[str]:
    """Run again, normally; a refusal is an answer, a failure is not."""
    problems = []
    for operation in scenario.recovery_steps:
        try:
            outcome = operation(world, world.rotator())
        except RefusedError:
            continue
        except KeyturnError as exc:
            problems.append(f"recovery failed: {type(exc).__name__}: {exc}")
            continue
        if isinstance(outcome, RunResult):
            failed = [u.user_name for u in outcome.users if u.status is Status.FAILED]
            problems += [f"recovery failed for {name}" for name in failed]
    return problems


def test_retry_config_matches_the_matrix() -> None:
    """The throttling faults assert botocore's own attempt count: keep them in step."""
    assert RETRIES["mode"] == "standard"
    assert MAX_ATTEMPTS > 1
    assert Settings().policy.max_run < RECOVERY_DELAY


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
def test_every_fault_is_survived(
    aws: EmbeddedAws, scenario: Scenario, backoff_sleeps: list[float]
) -> None:
    calls = clean_calls(aws, scenario)
    results = [
        run_case(aws, scenario, index, kind)
        for index in positions(calls, FAULTED_READS, every_call=SLOW)
        for kind in FaultKind
    ]
    RESULTS.extend(r for r in results if r.applicable)
    report_matrix()
    failed = [r for r in results if not r.survived]
    assert backoff_sleeps, "throttled calls were retried with back-off"
    assert not failed, "\n".join(f"{r.kind} at {r.call}: {r.problems}" for r in failed)


def test_the_reminder_scenario_sends_and_marks_the_reminder(aws: EmbeddedAws) -> None:
    # the reminder is opt-in: its scenario turns it on, so its step is faulted like the others
    (warn,) = [s for s in SCENARIOS if s.name.startswith("in grace: remind")]
    world = prepared(aws, warn)
    current = world.secret_doc("AWSCURRENT")
    assert current is not None
    (previous,) = [k for k in world.access_keys() if k != current["AccessKeyId"]]
    result = warn.operation(world, world.rotator())
    assert isinstance(result, RunResult)
    (user,) = result.users
    assert [d.action.kind.value for d in user.done] == ["warn"]
    assert world.secret_tags()["keyturn:warned"] == previous


def test_a_crash_right_after_the_stage_moves_is_healed_by_the_next_run(aws: EmbeddedAws) -> None:
    # GIVEN a later rotation that crashes right after UpdateSecretVersionStage succeeded,
    # before the promotion's one TagResource
    (later,) = [s for s in SCENARIOS if s.name == "later rotation"]
    index = clean_calls(aws, later).index("secrets-manager:UpdateSecretVersionStage")
    world = prepared(aws, later)
    (old,) = world.access_keys()
    with contextlib.suppress(SimulatedCrash):
        later.operation(world, world.rotator(FaultInjector(FaultKind.CRASH, index)))
    current = world.secret_doc("AWSCURRENT")
    assert current is not None
    new = current["AccessKeyId"]
    assert new != old
    stale = world.secret_tags()
    assert stale["keyturn:pending-since"]  # the mark is still there
    assert new not in stale["keyturn:current"]  # the mirror names the version before
    # WHEN the next run comes, past max_run
    world.at(RECOVERY_DELAY)
    world.rotator().run()
    # THEN the key stays delivered, the mark is emptied, the mirror names AWSCURRENT, and the
    # lost promotion marks are back: the proof's bound and the in-grace mark
    tags = world.secret_tags()
    assert world.secret_doc("AWSCURRENT") == current
    assert tags["keyturn:pending-since"] == ""
    assert new in tags["keyturn:current"]
    assert tags["keyturn:verified"].startswith(f"{new}@")
    assert tags["keyturn:in-grace"] == f"grace:{old}"
    assert {k: f.status for k, f in world.access_keys().items()} == {
        old: "Active",
        new: "Active",
    }
    assert not world.violations(frozenset({old}))
    # AND once the consumer uses the new key, the old one is retired early, as without a crash
    world.at(timedelta(days=1))
    _use(new, world.clock.now())
    world.at(timedelta(days=2))
    (user,) = world.rotator().run().users
    assert [(d.action.kind.value, d.action.reason.value) for d in user.done] == [
        ("deactivate", "consumer-switched")
    ]


def _use(key_id: str, when: datetime) -> None:
    """IAM's record of a signed call with ``key_id`` at ``when`` (moto's backend, naive UTC)."""
    keys = iam_backends[ACCOUNT_ID]["global"].users[USER].access_keys
    (key,) = [k for k in keys if k.access_key_id == key_id]
    naive = when.astimezone(UTC).replace(tzinfo=None)
    key.last_used = AccessKeyLastUsed(timestamp=naive, service="sts", region="us-east-1")


def report_matrix() -> None:
    """The running total of the matrix, for the terminal summary."""
    survived = sum(r.survived for r in RESULTS)
    calls = len({(r.scenario, r.call) for r in RESULTS})
    scenarios = len({r.scenario for r in RESULTS})
    detail = f"{calls} calls in {scenarios} scenarios x {len(FaultKind)} fault kinds"
    report("faults survived", f"{survived}/{len(RESULTS)} ({detail})")


def test_a_restore_whose_mark_clearing_fails_keeps_the_restored_key_live(aws: EmbeddedAws) -> None:
    """Found by the matrix: restore promoted the previous key, clearing the in-flight mark
    failed, and the rollback deactivated the key AWSCURRENT now named."""
    world = World(aws)
    after_deactivation(world)
    world.at(timedelta(days=10))
    session = fresh_session(aws)
    session.events.register(
        "before-call.secrets-manager.UntagResource",
        # A before-call hook may answer in the call's place; botocore's stubs say None.
        lambda **_: error_response(500, "InternalFailure", "injected"),  # type: ignore[arg-type]
    )
    rotator = build_rotator(world.settings(), session=session, clock=world.clock)
    rotator.restore(USER)
    current = world.secret_doc("AWSCURRENT")
    assert current is not None
    assert world.access_keys()[current["AccessKeyId"]].status == "Active"
    assert world.interim_violations() == []
