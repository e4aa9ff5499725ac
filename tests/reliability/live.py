"""Live-key checks: does a key really authenticate against the emulator, as on AWS?

moto accepts any credentials unless its IAM authentication is enforced, and even then it
accepts inactive keys. :func:`enforced_auth` turns enforcement on for the duration of a probe,
and :func:`inactive_keys_fail` patches ``moto.iam.access_control`` so that an inactive key is
rejected with InvalidClientTokenId, as AWS does.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import settings as moto_settings
from moto.iam import access_control

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


@contextmanager
def inactive_keys_fail() -> Iterator[None]:
    """Make moto reject inactive access keys (it accepts them, unlike AWS)."""
    original = access_control.IAMUserAccessKey.__init__

    def checked(
        self: Any, account_id: str, partition: str, access_key_id: str, headers: Any
    ) -> None:
        original(self, account_id, partition, access_key_id, headers)
        user = self.backend.get_user(self._owner_user_name)
        key = next(k for k in user.access_keys if k.access_key_id == access_key_id)
        if key.status != "Active":
            raise access_control.CreateAccessKeyFailure(reason="InvalidId")

    access_control.IAMUserAccessKey.__init__ = checked
    try:
        yield
    finally:
        access_control.IAMUserAccessKey.__init__ = original


def authenticates(aws: EmbeddedAws, key_id: str, secret: str, *, as_on_aws: bool = True) -> bool:
    """Whether ``key_id``/``secret`` passes STS GetCallerIdentity with enforcement on.

    AccessDenied would mean "authenticated but not allowed"; test users carry a policy that
    allows the call, so only success counts. ``as_on_aws=False`` leaves out the inactive-key
    patch (stock moto), for the test that shows the patch is needed.
    """
    sts = _STS_SESSION.client(
        "sts",
        endpoint_url=aws.url,
        region_name=aws.region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )
    with enforced_auth(), inactive_keys_fail() if as_on_aws else contextlib.nullcontext():
        try:
            sts.get_caller_identity()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in REJECTED:
                return False
            raise
    return True
