"""boto3 adapters: the only package that imports boto3 or botocore."""

from __future__ import annotations

import functools
import time
import uuid

import boto3

from keyturn.aws.iam import IamUsers
from keyturn.aws.secrets import SecretsManagerStore
from keyturn.aws.session import AwsClients, quiet_sdk_logs
from keyturn.aws.sns import SnsNotifier
from keyturn.aws.verify import StsKeyVerifier
from keyturn.engine import Rotator
from keyturn.memory import NullNotifier, SystemClock
from keyturn.ports import Clock, Notifier
from keyturn.settings import Settings

__all__ = [
    "AwsClients",
    "IamUsers",
    "SecretsManagerStore",
    "SnsNotifier",
    "StsKeyVerifier",
    "build_rotator",
    "forget_clients",
    "quiet_sdk_logs",
]


def build_rotator(
    settings: Settings,
    *,
    session: boto3.Session | None = None,
    clock: Clock | None = None,
    run_id: str | None = None,
) -> Rotator:
    """A Rotator wired to real AWS (or whatever ``settings.endpoint_url`` points at).

    Without an explicit session, clients are made once per settings and reused, as Lambda
    recommends for warm invocations. New keys are proved with STS before promotion;
    ``time.sleep`` paces the probes.
    """
    quiet_sdk_logs()
    clients = AwsClients.from_settings(settings, session) if session else _shared_clients(settings)
    iam = IamUsers(clients.iam())
    notifier: Notifier = (
        SnsNotifier(clients.sns(), settings.topic_arn) if settings.topic_arn else NullNotifier()
    )
    secrets = SecretsManagerStore(
        clients.secretsmanager(), settings.secret_prefix, settings.kms_key_id
    )
    region = clients.session.region_name or settings.region
    return Rotator(
        iam,
        iam,
        secrets,
        notifier,
        clock or SystemClock(),
        settings,
        run_id or uuid.uuid4().hex[:12],
        verifier=StsKeyVerifier(region, settings.endpoint_url),
        sleep=time.sleep,
    )


@functools.lru_cache(maxsize=8)
def _shared_clients(settings: Settings) -> AwsClients:
    return AwsClients.from_settings(settings).cached()


def forget_clients() -> None:
    """Drop the reused clients (new credentials, or a test that watches new sessions)."""
    _shared_clients.cache_clear()
