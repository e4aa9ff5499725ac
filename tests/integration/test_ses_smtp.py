"""SES SMTP credentials delivered by a rotation through the Lambda handler (issue 11.7)."""

from __future__ import annotations

import json
from collections.abc import Callable

from keyturn.core.policy import TAG_SES_SMTP_REGION
from keyturn.emulator import EmbeddedAws
from keyturn.handler import lambda_handler
from tests.integration.helpers import LambdaContext, current_secret, keys_of, make_user
from tests.unit.test_ses_smtp import independent_smtp_password


def test_a_tagged_user_gets_smtp_credentials_in_awscurrent(
    aws: EmbeddedAws, aws_cli: Callable[..., object]
) -> None:
    # GIVEN a mail-sending user tagged for SES in eu-west-1, its key past the rotation age
    [old] = make_user(aws, "app", key_ages=(85,), tags={TAG_SES_SMTP_REGION: "eu-west-1"})
    # WHEN the handler rotates it
    response = lambda_handler({"action": "create", "username": "app"}, LambdaContext())
    assert response["statusCode"] == 200
    [new] = set(keys_of(aws, "app")) - {old}
    # THEN AWSCURRENT holds the new key and the SMTP credentials derived from its secret
    doc = current_secret(aws, "app")
    assert doc["AccessKeyId"] == doc["SmtpUsername"] == new
    assert doc["SmtpRegion"] == "eu-west-1"
    assert doc["SmtpPassword"] == independent_smtp_password(doc["SecretAccessKey"], "eu-west-1")
    # AND a mail server's provisioning reads them with the AWS CLI, as the docs show
    read = aws_cli(
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        "keyturn/app",
        "--query",
        "SecretString",
    )
    assert isinstance(read, str)
    assert json.loads(read)["SmtpPassword"] == doc["SmtpPassword"]
    # AND the response never carries the password
    assert doc["SmtpPassword"] not in json.dumps(response)


def test_an_unusable_region_tag_refuses_the_user(aws: EmbeddedAws) -> None:
    [old] = make_user(aws, "app", key_ages=(85,), tags={TAG_SES_SMTP_REGION: "eu-west-1 "})
    response = lambda_handler({"action": "create", "username": "app"}, LambdaContext())
    assert response["statusCode"] == 409  # refused, like any unusable tag
    assert keys_of(aws, "app") == {old: "Active"}
