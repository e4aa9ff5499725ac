"""Reading the AWSCURRENT key of a user's secret, for ``keyturn credential-process``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3

from keyturn.aws.errors import aws_call
from keyturn.aws.session import RETRY_CONFIG, quiet_sdk_logs
from keyturn.core import codec
from keyturn.core.delivery import CurrentKey, StoredKey
from keyturn.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def current_key_reader(
    secret_id: str, *, profile: str | None, region: str | None, endpoint_url: str | None
) -> Callable[[StoredKey | None], CurrentKey]:
    """A reader for :func:`keyturn.consumer.pull_current_key`: with a key, it signs with that
    key only; without, it uses ``profile`` or the SDK's default credential chain. It returns
    the key with the ARN of the secret that answered, whose account the caller checks."""
    quiet_sdk_logs()
    region = region or _arn_region(secret_id)

    def read(key: StoredKey | None) -> CurrentKey:
        if key is None:
            session = boto3.Session(profile_name=profile, region_name=region)
        else:
            session = boto3.Session(
                aws_access_key_id=key.key_id,
                aws_secret_access_key=key.secret.reveal(),
                region_name=region or boto3.Session(profile_name=profile).region_name,
            )
        client: SecretsManagerClient = session.client(
            "secretsmanager", endpoint_url=endpoint_url, config=RETRY_CONFIG
        )
        with aws_call("GetSecretValue"):
            raw = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
        doc = json.loads(raw.get("SecretString") or "{}")
        if not isinstance(doc, dict) or "AccessKeyId" not in doc or "SecretAccessKey" not in doc:
            raise AwsError("GetSecretValue", "NotAnAccessKey", f"{secret_id} holds no access key")
        return CurrentKey(codec.stored_key(doc), str(raw.get("ARN") or ""))

    return read


def _arn_region(secret_id: str) -> str | None:
    parts = secret_id.split(":")
    return parts[3] if secret_id.startswith("arn:") and len(parts) > 3 else None
