"""Building large IAM populations in the emulator quickly.

Setup only: users and keys are written straight into moto's in-process IAM backend (10,000
users take well under a second, against minutes over HTTP). Every *measured* call goes over
HTTP to the moto server, signed by botocore like a call to AWS.
"""

from __future__ import annotations

from datetime import timedelta

from moto.iam.models import iam_backends

from keyturn.emulator import ACCOUNT_ID

MANAGED = [{"Key": "keyturn:managed", "Value": "true"}]


def populate(
    count: int,
    *,
    age_days: float | None = None,
    prefix: str = "user",
    path: str = "/",
    tags: list[dict[str, str]] | None = None,
) -> list[str]:
    """``count`` managed users with one active key each.

    Keys are ``age_days`` old, or spread over 0-69 days (a steady state where nothing is due
    under the default 80-day policy) when ``age_days`` is None. Users are tagged
    ``keyturn:managed`` unless ``tags`` says otherwise; the deployed stack's default scope is
    the path ``/keyturn/``, untagged.
    """
    backend = iam_backends[ACCOUNT_ID]["global"]
    names = []
    for n in range(count):
        name = f"{prefix}{n:05d}"
        backend.create_user("us-east-1", name, path, MANAGED if tags is None else tags)
        key = backend.create_access_key(name)
        key.create_date -= timedelta(days=age_days if age_days is not None else (n * 7) % 70)
        names.append(name)
    return names
