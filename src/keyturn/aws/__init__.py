"""boto3 adapters: the only package that imports boto3 or botocore."""

from __future__ import annotations

import functools

import boto3

from keyturn.aws.iam import IamUsers
from keyturn.aws.secrets import SecretsManagerStore
from keyturn.aws.session import AwsClients, quiet_sdk_logs
from keyturn.aws.sns import SnsNotifier
from keyturn.engine import Rotator
from keyturn.memory import NullNotifier, SystemClock
from keyturn.ports import Clock, Notifier
from keyturn.settings import Settings

__all__ = [
    "AwsClients",
    "IamUsers",
    "SecretsManagerStore",
    "SnsNotifier",
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
    recommends for warm invocations.
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
    extra = {"run_id": run_id} if run_id else {}
    return Rotator(iam, iam, secrets, notifier, clock or SystemClock(), settings, **extra)


@functools.lru_cache(maxsize=8)
def _shared_clients(settings: Settings) -> AwsClients:
    return AwsClients.from_settings(settings).cached()


def forget_clients() -> None:
    """Drop the reused clients (new credentials, or a test that watches new sessions)."""
    _shared_clients.cache_clear()
