"""keyturn as the rotation function of ``keyturn/<user>``: the four steps called directly.

moto's RotateSecret cannot run a Lambda here, so each test calls the handler with Secrets
Manager's events the way the service would, including repeats and failures between steps.
Authentication is enforced, so every key is proved with real signed requests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keyturn.core.delivery import StoredKey
from keyturn.errors import RefusedError, VerificationError
from keyturn.handler import handle
from keyturn.rotation.ports import KeyVerifier, Probe
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings
from tests.integration.authed_aws import Authed

SECRET = "keyturn/app"


@dataclass
class Steps:
    """Invokes the handler with Secrets Manager's events, as the service would."""

    authed: Authed
    verifier: KeyVerifier | None = None
    """Replaces the STS verifier, to make proofs fail."""

    def __call__(self, name: str, token: str, secret_id: str = SECRET) -> dict[str, Any]:
        event = {"Step": name, "SecretId": self._arn(secret_id), "ClientRequestToken": token}
        return handle(event, "sm-test", self._build)

    def _arn(self, secret_id: str) -> str:
        described = self.authed.client("secretsmanager").describe_secret(SecretId=secret_id)
        return str(described["ARN"])

    def _build(self, settings: Settings, run_id: str) -> Rotator:
        del settings, run_id
        built = self.authed.rotator().inner
        prover = built.promoter.prover
        if self.verifier is not None and prover is not None:
            prover.verifier = self.verifier
            prover.policy = replace(prover.policy, budget=timedelta(milliseconds=100))
        return built


@dataclass
class Rejecting:
    """A verifier for a key that never authenticates."""

    def probe(self, key: StoredKey) -> Probe:
        del key
        return Probe(accepted=False, code="InvalidClientTokenId")


@pytest.fixture
def step(authed: Authed) -> Steps:
    return Steps(authed)


GRACE_OVER = -7.5
"""Rotated this many days from now: the previous key's 7-day grace is over (and it is not yet
90 days old), so a rotation Secrets Manager asks for may retire it; never inside the grace
(issue 9)."""


def _rotated_once(
    authed: Authed, days: float = GRACE_OVER
) -> tuple[dict[str, str], dict[str, Any]]:
    """An app user rotated once by keyturn, ``days`` from now: old key previous, unused."""
    old = authed.add_consumer("app")
    authed.aws.backdate_key("app", old["AccessKeyId"], 80.5 - days)
    authed.rotator(days=days).run_user()
    return old, authed.secret_doc(SECRET)


def test_a_full_rotation_with_every_step_repeated(authed: Authed, step: Steps) -> None:
    old, current = _rotated_once(authed)
    token = str(uuid.uuid4())
    # createSecret, twice: one key is created, staged as AWSPENDING under the token
    first = step("createSecret", token)
    again = step("createSecret", token)
    assert first["outcome"] == "created"
    assert again["outcome"] == "already-created"
    new_id = first["AccessKeyId"]
    assert again["AccessKeyId"] == new_id
    assert authed.key_status("app") == {current["AccessKeyId"]: "Active", new_id: "Active"}
    assert authed.stages(SECRET)[token] == ["AWSPENDING"]
    assert authed.secret_doc(SECRET)["AccessKeyId"] == current["AccessKeyId"]
    # setSecret has nothing to do; testSecret proves the key (twice)
    assert step("setSecret", token)["outcome"] == "nothing-to-set"
    assert step("testSecret", token)["outcome"] == "verified"
    assert step("testSecret", token)["outcome"] == "verified"
    # finishSecret moves AWSCURRENT; a repeat changes nothing
    assert step("finishSecret", token)["outcome"] == "promoted"
    assert step("finishSecret", token)["outcome"] == "already-current"
    stages = authed.stages(SECRET)
    assert sorted(stages[token]) == ["AWSCURRENT", "AWSPENDING"]
    doc = authed.secret_doc(SECRET)
    assert doc["AccessKeyId"] == new_id
    assert doc["Keyturn"]["PreviousAccessKeyId"] == current["AccessKeyId"]
    assert authed.who_am_i(new_id, doc["SecretAccessKey"]).endswith(":user/app")
    # the unused old key made room: it is gone and rejected
    with pytest.raises(ClientError):
        authed.who_am_i(old["AccessKeyId"], old["SecretAccessKey"])
    # AND a scheduled run afterwards finds nothing to repair
    assert authed.rotator().run_user().done == ()


def test_a_failed_test_step_removes_the_key_and_a_new_rotation_works(
    authed: Authed, step: Steps
) -> None:
    _, current = _rotated_once(authed)
    token = str(uuid.uuid4())
    step("createSecret", token)
    new_id = authed.secret_doc(SECRET, "AWSPENDING")["AccessKeyId"]
    # WHEN the key never authenticates during testSecret
    step.verifier = Rejecting()
    with pytest.raises(VerificationError):
        step("testSecret", token)
    step.verifier = None
    # THEN the key is gone, AWSPENDING is on no version, the current key is untouched
    assert new_id not in authed.key_status("app")
    assert all("AWSPENDING" not in s for s in authed.stages(SECRET).values())
    assert authed.secret_doc(SECRET)["AccessKeyId"] == current["AccessKeyId"]
    assert authed.who_am_i(current["AccessKeyId"], current["SecretAccessKey"])
    # AND Secrets Manager retrying this rotation fails instead of finishing it
    with pytest.raises(RefusedError):
        step("finishSecret", token)
    # AND a new rotation runs through
    fresh = str(uuid.uuid4())
    for name in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        step(name, fresh)
    assert authed.secret_doc(SECRET)["AccessKeyId"] not in {current["AccessKeyId"], new_id}


def test_a_rotation_abandoned_after_create_is_cleaned_up_by_the_next_run(
    authed: Authed, step: Steps
) -> None:
    _, current = _rotated_once(authed)
    token = str(uuid.uuid4())
    step("createSecret", token)
    staged = authed.secret_doc(SECRET, "AWSPENDING")["AccessKeyId"]
    # WHILE the rotation may still be running, a scheduled run leaves it alone
    assert authed.rotator().run_user().done == ()
    # WHEN the steps never come and a run happens after max_run (15 minutes)
    later = authed.rotator(days=1 / 48).run_user()
    # THEN the staged key is removed and AWSPENDING dropped; the current key stays
    assert [d.key_id for d in later.done][:2] == [staged, staged]
    assert staged not in authed.key_status("app")
    assert all("AWSPENDING" not in s for s in authed.stages(SECRET).values())
    assert authed.secret_doc(SECRET)["AccessKeyId"] == current["AccessKeyId"]
    # AND the late steps of the abandoned rotation fail
    with pytest.raises(RefusedError):
        step("testSecret", token)


def test_create_refuses_when_the_previous_key_is_still_in_use(authed: Authed, step: Steps) -> None:
    old, current = _rotated_once(authed)
    authed.who_am_i(old["AccessKeyId"], old["SecretAccessKey"])  # a consumer still uses it
    with pytest.raises(RefusedError, match="in use"):
        step("createSecret", str(uuid.uuid4()))
    assert authed.key_status("app") == {
        old["AccessKeyId"]: "Active",
        current["AccessKeyId"]: "Active",
    }


def test_a_secret_keyturn_does_not_manage_is_refused(authed: Authed, step: Steps) -> None:
    authed.client("secretsmanager").create_secret(Name="other/thing", SecretString="{}")
    with pytest.raises(RefusedError):
        step("createSecret", str(uuid.uuid4()), secret_id="other/thing")
