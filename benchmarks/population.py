"""Building large IAM populations in the emulator quickly.

Setup only: users and keys are written straight into moto's in-process IAM backend (10,000
users take well under a second, against minutes over HTTP). Every *measured* call goes over
HTTP to the moto server, signed by botocore like a call to AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from moto.iam.models import IAMBackend, iam_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sns.models import sns_backends

from keyturn.emulator import ACCOUNT_ID

MANAGED = [{"Key": "keyturn:managed", "Value": "true"}]


def populate(
    count: int,
    *,
    age_days: float | None = None,
    prefix: str = "user",
    path: str = "/",
    tags: list[dict[str, str]] | None = None,
    account: str = ACCOUNT_ID,
) -> list[str]:
    """``count`` managed users with one active key each.

    Keys are ``age_days`` old, or spread over 0-69 days (a steady state where nothing is due
    under the default 80-day policy) when ``age_days`` is None. Users are tagged
    ``keyturn:managed`` unless ``tags`` says otherwise; the deployed stack's default scope is
    the path ``/keyturn/``, untagged. ``account``: the emulator's account to create them in.
    """
    backend = iam_backends[account]["global"]
    names = []
    for n in range(count):
        name = f"{prefix}{n:05d}"
        backend.create_user("us-east-1", name, path, MANAGED if tags is None else tags)
        key = backend.create_access_key(name)
        key.create_date -= timedelta(days=age_days if age_days is not None else (n * 7) % 70)
        names.append(name)
    return names


def forget(account: str) -> None:
    """Drop an account's IAM users, secrets and topics once its benchmark is done."""
    for backends in (iam_backends, secretsmanager_backends, sns_backends):
        if account in backends:
            backends[account].reset()


@contextmanager
def accounts_apart() -> Iterator[None]:
    """Let GetAccessKeyLastUsed look in the caller's own account before all the others.

    moto answers it by scanning every key of every account, so the benchmarks' accounts,
    which hold thousands of users side by side, would slow each other's calls down. The scan
    within an account (and its cost, growing with the account's keys) is kept as it is.
    """
    original = IAMBackend.get_access_key_last_used

    def own_first(self: IAMBackend, access_key_id: str) -> dict[str, Any]:
        for user in list(self.users.values()):
            for key in user.access_keys:
                if key.access_key_id == access_key_id:
                    return {"user_name": key.user_name, "last_used": key.last_used}
        return original(self, access_key_id)

    IAMBackend.get_access_key_last_used = own_first  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMBackend.get_access_key_last_used = original  # type: ignore[method-assign]
