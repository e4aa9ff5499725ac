"""Live-key checks: does a key really authenticate against the emulator, as on AWS?

moto accepts any credentials unless its IAM authentication is enforced, and even then it
accepts inactive keys. :func:`enforced_auth` turns enforcement on for the duration of a probe;
``keyturn.emulator.fidelity.patched()`` (applied to every reliability test by its conftest)
makes moto reject inactive keys with InvalidClientTokenId, as AWS does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.exceptions import ClientError
from moto import settings as moto_settings

from keyturn.emulator import EmbeddedAws

REJECTED = frozenset({"InvalidClientTokenId", "SignatureDoesNotMatch"})
_ENFORCING = threading.Lock()
_STS_SESSION = boto3.Session()


@contextmanager
def enforced_auth() -> Iterator[None]:
    """Every request to the emulator inside the block must be signed by a valid, active key."""
    with _ENFORCING:
        saved = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        try:
            yield
        finally:
            moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = saved


def authenticates(aws: EmbeddedAws, key_id: str, secret: str) -> bool:
    """Whether ``key_id``/``secret`` passes STS GetCallerIdentity with enforcement on.

    AccessDenied would mean "authenticated but not allowed"; test users carry a policy that
    allows the call, so only success counts. Inactive keys are rejected only with
    ``keyturn.emulator.fidelity.patched()`` in force (the reliability tier's autouse fixture).
    """
    sts = _STS_SESSION.client(
        "sts",
        endpoint_url=aws.url,
        region_name=aws.region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    with enforced_auth():
        try:
            sts.get_caller_identity()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in REJECTED:
                return False
            raise
    return True
