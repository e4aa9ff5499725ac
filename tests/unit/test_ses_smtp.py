"""SES SMTP credentials: the derivation, the region tag and the secret's document."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from keyturn.core import NewKey, SecretValue, codec
from keyturn.core.delivery import Delivery
from keyturn.core.policy import TAG_SES_SMTP_REGION, Policy
from keyturn.core.ses_smtp import parse_region, smtp_password
from keyturn.errors import ConfigurationError
from keyturn.rotation.ports import NotificationKind
from keyturn.rotation.results import Status
from keyturn.testing import FakeAws

NOW = datetime(2026, 3, 1, tzinfo=UTC)
AWS_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
"""The example secret access key of AWS's documentation."""
EU_WEST_1_PASSWORD = "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk"
"""Computed once outside Python, with openssl's HMAC-SHA256 chained over the steps below."""


def independent_smtp_password(secret: str, region: str) -> str:
    """AWS's published algorithm, step by step ("Obtaining Amazon SES SMTP credentials"):

    kDate = HMAC("AWS4" + secret, "11111111"); kRegion = HMAC(kDate, region);
    kService = HMAC(kRegion, "ses"); kTerminal = HMAC(kService, "aws4_request");
    kMessage = HMAC(kTerminal, "SendRawEmail"); password = base64(0x04 + kMessage).
    """
    k_date = hmac.new(("AWS4" + secret).encode("utf-8"), b"11111111", hashlib.sha256).digest()
    k_region = hmac.new(k_date, region.encode("utf-8"), hashlib.sha256).digest()
    k_service = hmac.new(k_region, b"ses", hashlib.sha256).digest()
    k_terminal = hmac.new(k_service, b"aws4_request", hashlib.sha256).digest()
    k_message = hmac.new(k_terminal, b"SendRawEmail", hashlib.sha256).digest()
    return base64.b64encode(bytes([0x04]) + k_message).decode("ascii")


def test_the_password_matches_a_known_vector() -> None:
    password = smtp_password(SecretValue(AWS_EXAMPLE_SECRET), "eu-west-1")
    assert password.reveal() == EU_WEST_1_PASSWORD
    assert independent_smtp_password(AWS_EXAMPLE_SECRET, "eu-west-1") == EU_WEST_1_PASSWORD


@pytest.mark.parametrize(
    ("secret", "region"),
    [
        (AWS_EXAMPLE_SECRET, "us-east-1"),
        (AWS_EXAMPLE_SECRET, "ap-southeast-2"),
        ("0123456789abcdefghijABCDEFGHIJ+/0123456", "us-gov-west-1"),
        ("x" * 40, "il-central-1"),
    ],
)
def test_the_password_matches_the_published_algorithm(secret: str, region: str) -> None:
    derived = smtp_password(SecretValue(secret), region).reveal()
    assert derived == independent_smtp_password(secret, region)
    assert base64.b64decode(derived)[0] == 0x04
    assert len(base64.b64decode(derived)) == 33


def test_the_password_depends_on_the_region() -> None:
    secret = SecretValue(AWS_EXAMPLE_SECRET)
    assert smtp_password(secret, "eu-west-1") != smtp_password(secret, "eu-west-2")


def test_the_password_never_prints() -> None:
    password = smtp_password(SecretValue(AWS_EXAMPLE_SECRET), "eu-west-1")
    assert EU_WEST_1_PASSWORD not in f"{password} {password!r}"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "eu-west",
        "EU-WEST-1",
        "eu-west-1 ",
        "eu-west-1\n",
        "eu_west_1",
        "eu-west-1a",
        "eu-west-\u0661",  # an Arabic-Indic digit: str.isdigit says yes, AWS says no
        "e-west-1",
        "eu-" + "a" * 40 + "-1",
        "arn:aws:ses:eu-west-1",
    ],
)
def test_an_unusable_region_is_refused(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="must be an AWS region"):
        parse_region(raw, "tag keyturn:ses-smtp-region")
    with pytest.raises(ConfigurationError, match=f"user app: tag {TAG_SES_SMTP_REGION}"):
        Policy().for_user("app", {TAG_SES_SMTP_REGION: raw})


def test_the_tag_sets_the_users_region() -> None:
    assert Policy().for_user("app", {TAG_SES_SMTP_REGION: "eu-west-1"}).ses_smtp_region == (
        "eu-west-1"
    )
    assert Policy().for_user("app", {}).ses_smtp_region is None


def test_the_document_carries_smtp_credentials_only_when_asked() -> None:
    key = NewKey("mailer", "AKIANEWNEWNEWNEWNEW1", SecretValue(AWS_EXAMPLE_SECRET), NOW)
    plain = codec.document(Delivery(key, NOW, None, 7, 7, "token"))
    assert not {"SmtpUsername", "SmtpPassword", "SmtpRegion"} & plain.keys()
    doc = json.loads(
        json.dumps(codec.document(Delivery(key, NOW, None, 7, 7, "token", "", "eu-west-1")))
    )
    assert doc["SmtpUsername"] == "AKIANEWNEWNEWNEWNEW1"
    assert doc["SmtpPassword"] == EU_WEST_1_PASSWORD
    assert doc["SmtpRegion"] == "eu-west-1"
    assert doc["AccessKeyId"] == "AKIANEWNEWNEWNEWNEW1"
    assert doc["SecretAccessKey"] == AWS_EXAMPLE_SECRET
    # The state read back is the same with or without the SMTP fields.
    assert codec.state_from(doc, {}) == codec.state_from(json.loads(json.dumps(plain)), {})


def _current_document(world: FakeAws, user: str) -> dict[str, Any]:
    doc = world.secrets.secrets[user].staged("AWSCURRENT")
    assert doc is not None
    return doc


def test_every_rotation_of_a_tagged_user_stores_its_smtp_credentials(world: FakeAws) -> None:
    # GIVEN a user tagged for SES in eu-west-1
    world.iam.add_user("mailer", tags={TAG_SES_SMTP_REGION: "eu-west-1"})
    world.iam.add_key("mailer", age_days=85)
    rotator = world.rotator()
    for _ in range(2):
        # WHEN keyturn rotates its key (twice, a day apart)
        rotator.rotate("mailer", grace_days=0, delete_after_days=0)
        world.clock.advance(days=1)
        # THEN AWSCURRENT holds the new key and the SMTP credentials derived from it
        doc = _current_document(world, "mailer")
        assert doc["SmtpUsername"] == doc["AccessKeyId"] == world.current("mailer")
        assert doc["SmtpPassword"] == independent_smtp_password(doc["SecretAccessKey"], "eu-west-1")
        assert doc["SmtpPassword"] not in json.dumps([n.body for n in world.notifier.sent])


def test_a_user_without_the_tag_gets_the_key_only(world: FakeAws) -> None:
    world.iam.add_user("app")
    world.iam.add_key("app", age_days=85)
    world.rotator().rotate("app")
    assert "SmtpPassword" not in _current_document(world, "app")


def test_an_unusable_region_tag_refuses_the_user_and_changes_nothing(world: FakeAws) -> None:
    world.iam.add_user("mailer", tags={TAG_SES_SMTP_REGION: "Europe"})
    old = world.iam.add_key("mailer", age_days=85)
    result = world.rotator().run()
    (mailer,) = result.users
    assert mailer.status is Status.REFUSED
    assert TAG_SES_SMTP_REGION in mailer.message
    assert world.key_ids("mailer") == [old.key_id]
    assert [n.kind for n in world.notifier.sent] == [NotificationKind.REFUSED]
