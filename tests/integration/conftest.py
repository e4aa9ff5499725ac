"""Integration fixtures for keyturn's verification and consumer features.

``authed`` turns on moto's authentication (``/moto-api/reset-auth``) for one test, as AWS
always has it: every request must be signed by an existing, *active* key with a policy that
allows it. Stock moto accepts inactive keys; ``keyturn.emulator.fidelity`` (applied by the
emulator) makes them fail with ``InvalidClientTokenId`` as in AWS. moto does not evaluate a
secret's resource policy, so the rotated user gets an identity policy to read secrets instead
(in AWS, keyturn's resource policy on ``keyturn/<user>`` is what grants it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from keyturn.emulator import EmbeddedAws
from tests.integration.authed_aws import ADMIN, ALLOW_ALL, Authed


@pytest.fixture
def authed(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Authed]:
    """Authentication enforced for this test; the environment holds the admin's key."""
    iam = aws.client("iam")
    iam.create_user(UserName=ADMIN)
    iam.put_user_policy(UserName=ADMIN, PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    aws.enforce_auth()
    try:
        yield Authed(aws, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        aws.enforce_auth(enforced=False)
