"""The verification loop: consecutive successes over a window, within a budget, no waiting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from keyturn.core.delivery import StoredKey
from keyturn.core.models import SecretValue
from keyturn.core.verification import Verification, VerificationPolicy
from keyturn.errors import ConfigurationError
from keyturn.rotation.ports import Probe
from keyturn.rotation.proof import Prover
from keyturn.testing import ManualClock

KEY = StoredKey("AKIAEXAMPLEEXAMPLE01", SecretValue("s"), ManualClock().now())
ARN = "arn:aws:iam::123456789012:user/team/app"


@dataclass
class Scripted:
    """Accepts a probe when ``accept(seconds since start)`` says so."""

    clock: ManualClock
    accept: Callable[[float], bool]
    times: list[float] = field(default_factory=list)

    def probe(self, key: StoredKey) -> Probe:
        del key
        start = ManualClock().now()
        elapsed = (self.clock.now() - start).total_seconds()
        self.times.append(elapsed)
        ok = self.accept(elapsed)
        return Probe(accepted=True, arn=ARN) if ok else Probe(False, code="InvalidClientTokenId")


def _prove(
    accept: Callable[[float], bool], policy: VerificationPolicy | None = None
) -> tuple[Verification, Scripted]:
    clock = ManualClock()
    verifier = Scripted(clock, accept)
    prover = Prover(verifier, clock, clock.sleep, policy or VerificationPolicy())
    return prover.prove(KEY, "app"), verifier


def _always(elapsed: float) -> bool:
    return elapsed >= 0


def _never(elapsed: float) -> bool:
    return elapsed < 0


def test_a_key_valid_at_once_needs_three_successes_spanning_fifteen_seconds() -> None:
    outcome, verifier = _prove(_always)
    assert outcome.verified
    assert verifier.times == [0, 5, 10, 15]


def test_a_key_valid_after_eight_seconds_is_verified_after_the_window() -> None:
    outcome, verifier = _prove(lambda t: t >= 8)
    assert outcome.verified
    assert verifier.times[-1] == 25  # first success at 10, window 15 s


def test_a_rejection_starts_the_count_again() -> None:
    outcome, verifier = _prove(lambda t: t != 10)
    assert outcome.verified
    assert verifier.times[-1] == 30  # streak restarts at 15


def test_a_key_that_never_authenticates_fails_within_the_budget() -> None:
    outcome, verifier = _prove(_never)
    assert not outcome.verified
    assert outcome.last_error == "InvalidClientTokenId"
    assert max(verifier.times) <= 60
    assert "not verified" in outcome.describe()


def test_a_key_that_authenticates_too_late_fails() -> None:
    outcome, _ = _prove(lambda t: t >= 50)
    assert not outcome.verified


def test_a_key_of_another_user_does_not_count() -> None:
    clock = ManualClock()
    verifier = Scripted(clock, _always)
    outcome = Prover(verifier, clock, clock.sleep).prove(KEY, "someone-else")
    assert not outcome.verified


def test_the_policy_is_configurable() -> None:
    policy = VerificationPolicy(
        successes=1, min_window=timedelta(0), budget=timedelta(seconds=1), interval=timedelta(1)
    )
    outcome, verifier = _prove(_always, policy)
    assert outcome.verified
    assert verifier.times == [0]


@pytest.mark.parametrize(
    "bad",
    [
        {"successes": 0},
        {"interval": timedelta(0)},
        {"budget": timedelta(seconds=5), "min_window": timedelta(seconds=10)},
    ],
)
def test_nonsense_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        VerificationPolicy(**bad)  # type: ignore[arg-type]
