"""The emulator with IAM authentication enforced, and keyturn's admin credentials.

See ``conftest.py`` for why (and the moto gaps this works around).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import boto3
import pytest

from keyturn.core.verification import VerificationPolicy
from keyturn.emulator import EmbeddedAws
from keyturn.rotation.ports import OffsetClock
from keyturn.rotation.results import UserResult
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Scope, Settings
from keyturn.wiring import build_rotator
from tests import sdk

ADMIN = "keyturn-admin"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
FAST_PROOF = VerificationPolicy(
    successes=2,
    min_window=timedelta(0),
    budget=timedelta(seconds=5),
    interval=timedelta(milliseconds=20),
)
"""Two consecutive successes polled every 20 ms: the proof's logic without its waiting."""
READ_SECRETS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": "*",
        }
    ],
}


@dataclass
class AppRotator:
    """A Rotator, plus a run that returns the result for user ``app``."""

    inner: Rotator

    def run_user(self, name: str = "app") -> UserResult:
        return next(u for u in self.inner.run().users if u.user_name == name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)


@dataclass
class Authed:
    """The emulator with authentication on, and keyturn's own admin credentials."""

    aws: EmbeddedAws
    admin_key_id: str
    admin_secret: str
    _sessions: dict[str, boto3.Session] = field(default_factory=dict)

    def session(self, key_id: str | None = None, secret: str | None = None) -> boto3.Session:
        """A session signing with this key (the admin's by default), reused per key."""
        key_id, secret = key_id or self.admin_key_id, secret or self.admin_secret
        cache_key = f"{key_id}:{secret}"
        if cache_key not in self._sessions:
            self._sessions[cache_key] = sdk.session(key_id, secret, self.aws.region)
        return self._sessions[cache_key]

    def client(self, service: str, key_id: str | None = None, secret: str | None = None) -> Any:
        session = self.session(key_id, secret)
        return session.client(service, endpoint_url=self.aws.url)  # type: ignore[call-overload]

    def add_consumer(self, name: str, tags: dict[str, str] | None = None) -> dict[str, str]:
        """An IAM user with one key that may read secrets; returns that key."""
        iam = self.client("iam")
        iam.create_user(
            UserName=name, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()]
        )
        iam.put_user_policy(
            UserName=name, PolicyName="read-own-secret", PolicyDocument=json.dumps(READ_SECRETS)
        )
        key: dict[str, str] = iam.create_access_key(UserName=name)["AccessKey"]
        return key

    def settings(self, **changes: Any) -> Settings:
        """Settings managing user ``app`` on the emulator, with a fast proof."""
        base = Settings(
            scope=Scope(user_names=frozenset({"app"})),
            verification=FAST_PROOF,
            region=self.aws.region,
            endpoint_url=self.aws.url,
        )
        return replace(base, **changes)

    def rotator(self, *, days: float = 0, settings: Settings | None = None) -> AppRotator:
        """A Rotator with keyturn's admin key, its clock moved by ``days``."""
        clock = OffsetClock(timedelta(days=days))
        built = build_rotator(settings or self.settings(), session=self.session(), clock=clock)
        return AppRotator(built)

    def secret_doc(self, name: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
        raw = self.client("secretsmanager").get_secret_value(SecretId=name, VersionStage=stage)
        doc: dict[str, Any] = json.loads(raw["SecretString"])
        return doc

    def stages(self, name: str) -> dict[str, list[str]]:
        described = self.client("secretsmanager").describe_secret(SecretId=name)
        return {v: s for v, s in described.get("VersionIdsToStages", {}).items() if s}

    def key_status(self, user: str) -> dict[str, str]:
        keys = self.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
        return {k["AccessKeyId"]: k["Status"] for k in keys}

    def who_am_i(self, key_id: str, secret: str) -> str:
        """The ARN STS answers for this key; raises ClientError if the key is rejected."""
        return str(self.client("sts", key_id, secret).get_caller_identity()["Arn"])


@contextmanager
def authenticated(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Authed]:
    """Authentication enforced while the block runs; the environment holds the admin's key."""
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
