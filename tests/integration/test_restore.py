"""The undo button, with IAM authentication on: restore re-activates the previous key and makes
it AWSCURRENT again while it exists; it is proved to authenticate before promotion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from keyturn.errors import RefusedError
from keyturn.handler import handle
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings
from tests.integration.authed_aws import Authed

KEYTURN = Path(sys.executable).with_name("keyturn")
SECRET = "keyturn/app"


def _second_generation(authed: Authed, *, deactivated: bool = True) -> dict[str, str]:
    """Two rotations by keyturn (the first replaced a key made outside it, whose secret keyturn
    never had); returns the first generation's key, now previous (deactivated if asked)."""
    original = authed.add_consumer("app")
    authed.aws.backdate_key("app", original["AccessKeyId"], 85)
    for days in (0, 8, 16):
        authed.rotator(days=days).run_user()
    first = authed.secret_doc(SECRET)
    authed.rotator(days=17).rotate("app")
    if deactivated:
        authed.rotator(days=25).run_user()
    return first


def test_restore_from_the_handler_and_the_cli(authed: Authed) -> None:
    # GIVEN a rotation whose old key was deactivated after the grace period
    old = _second_generation(authed)
    new = authed.secret_doc(SECRET)
    assert authed.key_status("app")[old["AccessKeyId"]] == "Inactive"

    # WHEN the operator restores through the Lambda handler
    def factory(settings: Settings, run_id: str) -> Rotator:
        del settings, run_id
        return authed.rotator(days=26).inner

    answer = handle({"action": "restore", "username": "app"}, "restore-test", factory)
    # THEN the old key is active, AWSCURRENT again, and authenticates
    assert answer["statusCode"] == 200
    assert authed.key_status("app") == {old["AccessKeyId"]: "Active", new["AccessKeyId"]: "Active"}
    doc = authed.secret_doc(SECRET)
    assert doc["AccessKeyId"] == old["AccessKeyId"]
    assert doc["Keyturn"]["PreviousAccessKeyId"] == new["AccessKeyId"]
    assert authed.who_am_i(old["AccessKeyId"], old["SecretAccessKey"]).endswith(":user/app")
    assert authed.secret_doc(SECRET, "AWSPREVIOUS")["AccessKeyId"] == new["AccessKeyId"]

    # AND the CLI's restore undoes the undo
    env = {
        **os.environ,
        "KEYTURN_VERIFY_SUCCESSES": "1",
        "KEYTURN_VERIFY_WINDOW_SECONDS": "0",
        "KEYTURN_VERIFY_INTERVAL_SECONDS": "0.05",
    }
    done = subprocess.run(
        [str(KEYTURN), "--output", "json", "restore", "app"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "changed"
    assert authed.secret_doc(SECRET)["AccessKeyId"] == new["AccessKeyId"]
    assert new["SecretAccessKey"] not in done.stdout + done.stderr


def test_nothing_to_restore_once_the_previous_key_is_deleted(authed: Authed) -> None:
    old = authed.add_consumer("app")
    authed.aws.backdate_key("app", old["AccessKeyId"], 85)
    authed.rotator().run_user()
    authed.rotator(days=8).run_user()
    authed.rotator(days=16).run_user()

    def factory(settings: Settings, run_id: str) -> Rotator:
        del settings, run_id
        return authed.rotator(days=17).inner

    answer = handle({"action": "restore", "username": "app"}, "restore-test", factory)
    assert answer["statusCode"] == 409
    assert "no previous key" in answer["error"]


@pytest.mark.parametrize("was_active", [True, False])
def test_a_restore_that_cannot_be_proved_changes_nothing(authed: Authed, was_active: bool) -> None:
    from keyturn.rotation.ports import Probe  # noqa: PLC0415

    _second_generation(authed, deactivated=not was_active)
    before = (authed.key_status("app"), authed.secret_doc(SECRET)["AccessKeyId"])
    rotator = authed.rotator(days=26)
    prover = rotator.promoter.prover
    assert prover is not None

    class Rejecting:
        def probe(self, key: object) -> Probe:
            del key
            return Probe(accepted=False, code="InvalidClientTokenId")

    prover.verifier = Rejecting()
    prover.policy = replace(prover.policy, budget=timedelta(milliseconds=100))
    with pytest.raises(Exception, match="not verified"):
        rotator.restore("app")
    assert (authed.key_status("app"), authed.secret_doc(SECRET)["AccessKeyId"]) == before
    assert all("AWSPENDING" not in s or "AWSCURRENT" in s for s in authed.stages(SECRET).values())


def test_the_key_from_before_keyturn_is_restored_after_the_first_rotation(authed: Authed) -> None:
    # GIVEN keyturn's first rotation of a key made outside it, that key deactivated 8 days on
    original = authed.add_consumer("app")
    authed.aws.backdate_key("app", original["AccessKeyId"], 80)
    authed.rotator().run_user()
    authed.rotator(days=8).run_user()
    new = authed.secret_doc(SECRET)
    assert authed.key_status("app")[original["AccessKeyId"]] == "Inactive"
    with pytest.raises(RefusedError, match="can still be restored"):
        authed.rotator(days=9).rotate("app")

    # WHEN the operator restores through the Lambda handler
    def factory(settings: Settings, run_id: str) -> Rotator:
        del settings, run_id
        return authed.rotator(days=9).inner

    answer = handle({"action": "restore", "username": "app"}, "restore-test", factory)
    # THEN the original key is active and authenticates; the secret still names the new key
    assert answer["statusCode"] == 200, answer
    assert "still names" in json.dumps(answer)
    assert authed.key_status("app") == {
        original["AccessKeyId"]: "Active",
        new["AccessKeyId"]: "Active",
    }
    assert authed.secret_doc(SECRET)["AccessKeyId"] == new["AccessKeyId"]
    arn = authed.who_am_i(original["AccessKeyId"], original["SecretAccessKey"])
    assert arn.endswith(":user/app")
    # AND a run before its floor leaves it active (its retirement started over); the run at
    # its 90-day cap retires it, the cap still kept
    authed.rotator(days=9.5).run_user()
    assert authed.key_status("app")[original["AccessKeyId"]] == "Active"
    authed.rotator(days=10).run_user()
    assert authed.key_status("app")[original["AccessKeyId"]] == "Inactive"
