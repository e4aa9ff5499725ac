"""Rotation against the emulator with IAM authentication enforced, as in AWS.

Proves with real SigV4 requests that the promoted key authenticates, that a deactivated and a
deleted key are rejected, that a key which never authenticates is never promoted, and that the
previous key is retired according to its use (IAM's last-used record, kept by moto).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from keyturn.aws import StsKeyVerifier
from keyturn.core.actions import ActionKind, Reason
from keyturn.core.delivery import StoredKey
from keyturn.core.models import SecretValue
from keyturn.errors import PartialRotationError, VerificationError
from keyturn.rotation.ports import Probe
from tests.integration.authed_aws import Authed

SECRET = "keyturn/app"


def _rejected(authed: Authed, key_id: str, secret: str) -> str:
    with pytest.raises(ClientError) as caught:
        authed.who_am_i(key_id, secret)
    return str(caught.value.response["Error"]["Code"])


def test_promoted_key_authenticates_and_retired_keys_are_rejected(authed: Authed) -> None:
    # GIVEN an app user whose only key is 85 days old
    old = authed.add_consumer("app")
    authed.aws.backdate_key("app", old["AccessKeyId"], 85)
    # WHEN keyturn runs today
    result = authed.rotator().run_user()
    # THEN the new key is AWSCURRENT, proved, and authenticates as the user
    doc = authed.secret_doc(SECRET)
    new_id, new_secret = doc["AccessKeyId"], doc["SecretAccessKey"]
    assert [d.action.kind for d in result.done] == [ActionKind.CREATE]
    assert authed.who_am_i(new_id, new_secret).endswith(":user/app")
    tags = _tags(authed)
    assert tags["keyturn:verified"].startswith(new_id + "@")
    assert tags.get("keyturn:pending-since", "") == ""  # emptied: no rotation in flight
    # AND after the grace period the old key is deactivated and rejected
    later = authed.rotator(days=8).run_user()
    assert [(d.action.kind, d.key_id) for d in later.done] == [
        (ActionKind.DEACTIVATE, old["AccessKeyId"])
    ]
    assert later.done[0].two_keys_active_days == pytest.approx(8, abs=0.01)
    assert _rejected(authed, old["AccessKeyId"], old["SecretAccessKey"]) == "InvalidClientTokenId"
    # AND after the restore window it is deleted, and still rejected
    authed.rotator(days=16).run()
    assert authed.key_status("app") == {new_id: "Active"}
    assert _rejected(authed, old["AccessKeyId"], old["SecretAccessKey"]) == "InvalidClientTokenId"
    assert authed.who_am_i(new_id, new_secret).endswith(":user/app")


@dataclass
class WrongSecretVerifier:
    """Probes with a wrong secret: what a key that never propagates looks like to STS."""

    inner: StsKeyVerifier

    def probe(self, key: StoredKey) -> Probe:
        return self.inner.probe(StoredKey(key.key_id, SecretValue("not-the-secret"), key.created))


def test_a_key_that_never_authenticates_is_deleted_and_the_old_key_stays(authed: Authed) -> None:
    old = authed.add_consumer("app")
    authed.aws.backdate_key("app", old["AccessKeyId"], 85)
    authed.rotator().run()  # a first, good rotation: the secret exists
    current = authed.secret_doc(SECRET)
    stages_before = authed.stages(SECRET)
    broken = authed.rotator(days=1)  # past the on-demand cooldown
    prover = broken.promoter.prover
    assert prover is not None
    prover.verifier = WrongSecretVerifier(StsKeyVerifier(authed.aws.region, authed.aws.url))
    prover.policy = replace(prover.policy, budget=timedelta(milliseconds=300))
    authed.client("iam").delete_access_key(UserName="app", AccessKeyId=old["AccessKeyId"])
    # WHEN a forced rotation's new key never authenticates
    with pytest.raises(PartialRotationError) as caught:
        broken.rotate("app")
    # THEN it was deleted, nothing was promoted, and the current key still works
    assert isinstance(caught.value.cause, VerificationError)
    assert authed.key_status("app") == {current["AccessKeyId"]: "Active"}
    assert authed.secret_doc(SECRET)["AccessKeyId"] == current["AccessKeyId"]
    current_version = _version_with(stages_before, "AWSCURRENT")
    assert _version_with(authed.stages(SECRET), "AWSCURRENT") == current_version
    assert _version_with(authed.stages(SECRET), "AWSPENDING") in {None, current_version}
    assert _tags(authed).get("keyturn:pending-since", "") == ""
    assert authed.who_am_i(current["AccessKeyId"], current["SecretAccessKey"])
    # AND a later rotation succeeds under a fresh token
    authed.rotator(days=1).rotate("app")
    assert authed.secret_doc(SECRET)["AccessKeyId"] != current["AccessKeyId"]


def test_an_old_key_in_use_is_postponed_then_deactivated_at_the_cap(authed: Authed) -> None:
    topic = authed.client("sns").create_topic(Name="keyturn")["TopicArn"]
    old = authed.add_consumer("app", tags={"keyturn:owner": "team-payments@example.com"})
    authed.aws.backdate_key("app", old["AccessKeyId"], 88)
    settings = authed.settings(topic_arn=topic)
    # GIVEN a rotation eight days ago (the clock is set back), of a key then 80 days old
    authed.rotator(days=-8, settings=settings).run()
    # AND the consumer still calls AWS with the old key today
    authed.who_am_i(old["AccessKeyId"], old["SecretAccessKey"])
    # WHEN keyturn runs after the grace period
    today = authed.rotator(settings=settings).run_user()
    # THEN the old key stays active and the owner is told
    assert [(d.action.kind, d.action.reason) for d in today.done] == [
        (ActionKind.POSTPONE, Reason.PREVIOUS_IN_USE)
    ]
    assert authed.key_status("app")[old["AccessKeyId"]] == "Active"
    notice = _notifications(authed, topic)[-1]
    assert notice["Event"] == "deactivation-postponed"
    assert notice["Owner"] == "team-payments@example.com"
    # WHEN the last daily run before max_active_days (90) comes and it is still in use
    capped = authed.rotator(days=2, settings=settings).run_user()
    # THEN it is deactivated anyway, and the notice says so
    assert [(d.action.kind, d.action.reason) for d in capped.done] == [
        (ActionKind.DEACTIVATE, Reason.MAX_AGE_ENFORCED)
    ]
    message = _notifications(authed, topic)[-1]
    assert message["Event"] == "deactivated"
    assert "max_active_days" in message["Note"]
    assert message["TwoKeysActiveDays"] == pytest.approx(10, abs=0.01)
    assert _rejected(authed, old["AccessKeyId"], old["SecretAccessKey"]) == "InvalidClientTokenId"


def test_the_old_key_goes_early_once_the_consumer_switched(authed: Authed) -> None:
    old = authed.add_consumer("app")
    authed.aws.backdate_key("app", old["AccessKeyId"], 85)
    authed.rotator(days=-1 / 24).run()  # rotated an hour ago
    doc = authed.secret_doc(SECRET)
    # GIVEN the consumer now uses the new key (after keyturn's own verification calls)
    authed.who_am_i(doc["AccessKeyId"], doc["SecretAccessKey"])
    # WHEN keyturn runs, long before the grace period ends
    done = authed.rotator().run_user().done
    # THEN the old key is deactivated at once: one active key per user again
    assert [(d.action.kind, d.action.reason) for d in done] == [
        (ActionKind.DEACTIVATE, Reason.CONSUMER_SWITCHED)
    ]
    assert done[0].two_keys_active_days == pytest.approx(1 / 24, abs=0.01)
    assert authed.key_status("app") == {
        old["AccessKeyId"]: "Inactive",
        doc["AccessKeyId"]: "Active",
    }


def test_the_consumer_that_still_uses_the_old_key_keeps_it(authed: Authed) -> None:
    old = authed.add_consumer("app")
    authed.aws.backdate_key("app", old["AccessKeyId"], 85)
    authed.rotator(days=-1 / 24).run()
    doc = authed.secret_doc(SECRET)
    authed.who_am_i(doc["AccessKeyId"], doc["SecretAccessKey"])
    authed.who_am_i(old["AccessKeyId"], old["SecretAccessKey"])  # both in use
    assert authed.rotator().run_user().done == ()
    assert authed.key_status("app")[old["AccessKeyId"]] == "Active"


def _version_with(stages: dict[str, list[str]], label: str) -> str | None:
    return next((v for v, labels in stages.items() if label in labels), None)


def _tags(authed: Authed) -> dict[str, str]:
    described = authed.client("secretsmanager").describe_secret(SecretId=SECRET)
    return {t["Key"]: t["Value"] for t in described.get("Tags", [])}


def _notifications(authed: Authed, topic: str) -> list[dict[str, Any]]:
    return [json.loads(m.message) for m in authed.aws.sent_notifications(topic)]
