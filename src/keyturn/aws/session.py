"""boto3 sessions and clients with keyturn's retry configuration.

Transient failures (throttling, 5xx, connection errors) are retried by botocore's ``standard``
retry mode; keyturn writes no sleeps of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from keyturn import __version__
from keyturn.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient

RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    user_agent_extra=f"keyturn/{__version__}",
)
QUIET_LOGGERS = ("botocore", "boto3", "urllib3")
"""botocore logs raw request and response bodies at DEBUG, and CreateAccessKey's response
carries a secret: these loggers are kept at INFO or above whatever level the user chooses."""


def quiet_sdk_logs() -> None:
    """Keep SDK wire logs (which can hold secrets) out of every log handler."""
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO or logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


@dataclass
class AwsClients:
    """Creates the boto3 clients keyturn needs from one session."""

    session: boto3.Session
    endpoint_url: str | None = None
    config: Config = RETRY_CONFIG

    @classmethod
    def from_settings(cls, settings: Settings, session: boto3.Session | None = None) -> AwsClients:
        quiet_sdk_logs()
        session = session or boto3.Session(
            profile_name=settings.profile, region_name=settings.region
        )
        return cls(session, settings.endpoint_url)

    def _client(self, service: str) -> Any:
        return self.session.client(  # type: ignore[call-overload]
            service, endpoint_url=self.endpoint_url, config=self.config
        )

    def iam(self) -> IAMClient:
        client: IAMClient = self._client("iam")
        return client

    def secretsmanager(self) -> SecretsManagerClient:
        client: SecretsManagerClient = self._client("secretsmanager")
        return client

    def sns(self) -> SNSClient:
        client: SNSClient = self._client("sns")
        return client

    def sts(self) -> STSClient:
        client: STSClient = self._client("sts")
        return client
