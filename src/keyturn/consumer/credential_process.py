"""Consumers pulling the current key: the service behind ``keyturn credential-process``.

The AWS SDKs run a ``credential_process`` command and read its JSON from stdout; this is the one
place keyturn prints a secret, on purpose, for the SDK. The key is read from the AWSCURRENT
version of the user's secret. To follow every rotation without other credentials, the last key
read is remembered in a private cache file (mode 0600) and used for the next read: the rotated
user may read its own secret, and the previous key stays active through the grace period, so
each read with the old key returns the new one. Bootstrap credentials (a profile, environment
variables, a role) are needed only until the first successful read, or if the remembered key
was retired before it was refreshed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from keyturn.core import codec
from keyturn.core.delivery import StoredKey
from keyturn.core.models import mask_key_id
from keyturn.errors import AwsError

log = logging.getLogger(__name__)

ENV_GUARD = "KEYTURN_IN_CREDENTIAL_PROCESS"
"""Set while the command runs, to catch a profile whose credential_process is keyturn itself."""

Reader = Callable[[StoredKey | None], StoredKey]
"""Reads the AWSCURRENT key with the given key, or with the bootstrap credentials (None)."""


@dataclass(frozen=True)
class KeyCache:
    """The last key read for one secret, in a file only the owner can read."""

    path: Path

    @classmethod
    def for_secret(cls, directory: Path, secret_id: str, endpoint: str | None) -> KeyCache:
        digest = hashlib.sha256(f"{endpoint or ''}|{secret_id}".encode()).hexdigest()[:24]
        return cls(directory / f"{digest}.json")

    def load(self) -> StoredKey | None:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            return codec.stored_key(doc)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, key: StoredKey) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        doc = {
            "AccessKeyId": key.key_id,
            "SecretAccessKey": key.secret.reveal(),
            "CreateDate": key.created.isoformat(),
        }
        handle, name = tempfile.mkstemp(dir=self.path.parent, prefix=".keyturn-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(doc, out)
        Path(name).chmod(0o600)
        Path(name).replace(self.path)


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/keyturn``, else ``~/.cache/keyturn``."""
    base = environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "keyturn"


def pull_current_key(read: Reader, cache: KeyCache | None) -> StoredKey:
    """The current key: read with the remembered key if it still works, else with the
    bootstrap credentials; the result is remembered for next time.

    Raises:
        AwsError: neither the remembered key nor the bootstrap credentials could read it.
    """
    remembered = cache.load() if cache else None
    key: StoredKey | None = None
    if remembered is not None:
        try:
            key = read(remembered)
        except AwsError as exc:
            shown = mask_key_id(remembered.key_id)
            log.info("remembered key %s no longer reads the secret (%s)", shown, exc.code)
    if key is None:
        key = read(None)
    if cache is not None:
        cache.save(key)
    return key


def credential_process_document(key: StoredKey, expires: datetime) -> dict[str, object]:
    """The JSON the AWS SDKs expect from ``credential_process`` (Version 1).

    ``Expiration`` is not the key's: it makes the SDK run the command again, so a long-running
    process picks up the next rotation (botocore refreshes 15 minutes before it).
    """
    return {
        "Version": 1,
        "AccessKeyId": key.key_id,
        "SecretAccessKey": key.secret.reveal(),
        "Expiration": expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def refresh_at(now: datetime, minutes: int) -> datetime:
    return now + timedelta(minutes=minutes)
