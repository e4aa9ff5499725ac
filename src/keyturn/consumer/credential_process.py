"""Consumers pulling the current key: the service behind ``keyturn credential-process``.

The AWS SDKs run a ``credential_process`` command and read its JSON from stdout; this is the one
place keyturn prints a secret, on purpose, for the SDK. The key is read from the AWSCURRENT
version of the user's secret. To follow every rotation without other credentials, the last key
read is remembered in a private cache file (mode 0600) and used for the next read: the rotated
user may read its own secret, and the previous key stays active through the grace period, so
each read with the old key returns the new one. Bootstrap credentials (a profile, environment
variables, a role) are needed only until the first successful read, or if the remembered key
was retired before it was refreshed.

The cache is trusted only as far as it is private, since whoever can write it chooses the
credentials the consumer's SDK gets: a cache directory or file that is not the user's own, or
that others may write, is refused before anything is read from it (a ConfigurationError naming
the path and the fix), as is a symbolic link in the file's place. The cache also records the
ARN of the secret the key was read from. The remembered key must read the secret in that same
account (the account in the secret id, when the id is an ARN, is authoritative); a read that
answers from another account is discarded, with a log line, and the bootstrap credentials read
instead. A cache file written before keyturn recorded the ARN passed the same ownership checks,
so its first read is trusted and recorded.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from keyturn.core import codec
from keyturn.core.delivery import CurrentKey, StoredKey
from keyturn.core.models import mask_key_id
from keyturn.errors import AwsError, ConfigurationError

log = logging.getLogger(__name__)

ENV_GUARD = "KEYTURN_IN_CREDENTIAL_PROCESS"
"""Set while the command runs, to catch a profile whose credential_process is keyturn itself."""

Reader = Callable[[StoredKey | None], CurrentKey]
"""Reads the AWSCURRENT key with the given key, or with the bootstrap credentials (None)."""
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SHARED_WRITE = stat.S_IWGRP | stat.S_IWOTH


@dataclass(frozen=True)
class KeyCache:
    """The last key read for one secret, in a file only the owner can read and write."""

    path: Path

    @classmethod
    def for_secret(cls, directory: Path, secret_id: str, endpoint: str | None) -> KeyCache:
        digest = hashlib.sha256(f"{endpoint or ''}|{secret_id}".encode()).hexdigest()[:24]
        return cls(directory / f"{digest}.json")

    def load(self) -> CurrentKey | None:
        """The remembered key, or None if there is none or it cannot be parsed.

        Raises:
            ConfigurationError: the directory or the file is not private to this user.
        """
        text = self._read_private()
        if text is None:
            return None
        try:
            doc = json.loads(text)
            return CurrentKey(codec.stored_key(doc), str(doc.get("SecretArn") or ""))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def _read_private(self) -> str | None:
        """The file's text, checked (directory, then the file itself, then what was opened)
        before a byte is read; None if there is no file."""
        try:
            ensure_private(self.path.parent, self.path.parent.stat(), "directory")
            if stat.S_ISLNK(self.path.lstat().st_mode):
                raise _refusal(self.path, "file", "is a symbolic link", _remove(self.path))
            handle = os.open(self.path, os.O_RDONLY | _NO_FOLLOW)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # replaced by a link since lstat
                raise _refusal(
                    self.path, "file", "is a symbolic link", _remove(self.path)
                ) from None
            raise _refusal(
                self.path, "file", f"cannot be read ({exc.strerror})", _remove(self.path)
            ) from None
        with os.fdopen(handle, encoding="utf-8") as cached:
            ensure_private(self.path, os.fstat(cached.fileno()), "file")
            return cached.read()

    def save(self, current: CurrentKey) -> None:
        """Remember ``current`` (replacing the file atomically, mode 0600).

        Raises:
            ConfigurationError: the directory is not private to this user.
        """
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        ensure_private(directory, directory.stat(), "directory")
        key = current.key
        doc = {
            "AccessKeyId": key.key_id,
            "SecretAccessKey": key.secret.reveal(),
            "CreateDate": key.created.isoformat(),
            "SecretArn": current.secret_arn,
        }
        handle, name = tempfile.mkstemp(dir=directory, prefix=".keyturn-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(doc, out)
        Path(name).chmod(0o600)
        Path(name).replace(self.path)


def ensure_private(path: Path, status: os.stat_result, kind: str) -> None:
    """Refuse a cache ``kind`` ("directory" or "file") someone else owns or may write.

    Raises:
        ConfigurationError: naming the path, what is wrong with it and how to fix it.
    """
    if sys.platform == "win32":  # no POSIX owners and modes; the profile directory is private
        return
    me = os.geteuid()
    if status.st_uid != me:
        fix = _remove(path) if kind == "file" else _own_directory()
        problem = f"is owned by uid {status.st_uid}, not by you ({me}): its owner chooses the key"
        raise _refusal(path, kind, problem, fix)
    if status.st_mode & _SHARED_WRITE:
        mode = stat.S_IMODE(status.st_mode)
        fix = f"make it private (chmod go-w {path}), or {_own_directory()}"
        problem = f"may be written by others (mode {mode:04o}), who could choose the key"
        raise _refusal(path, kind, problem, fix)
    is_right_kind = stat.S_ISDIR if kind == "directory" else stat.S_ISREG
    if not is_right_kind(status.st_mode):
        raise _refusal(path, kind, f"is not a {kind}", _remove(path))


def _refusal(path: Path, kind: str, problem: str, fix: str) -> ConfigurationError:
    return ConfigurationError(
        f"credential-process cache {kind} {path} {problem}; nothing was read from it. Fix: {fix}"
    )


def _remove(path: Path) -> str:
    return f"remove {path} (keyturn writes a new one), or pass --no-cache"


def _own_directory() -> str:
    return "pass --cache-dir with a directory of your own that only you may write, or --no-cache"


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/keyturn``, else ``~/.cache/keyturn``."""
    base = environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "keyturn"


def pull_current_key(
    read: Reader, cache: KeyCache | None, *, secret_account: str | None = None
) -> StoredKey:
    """The current key: read with the remembered key if it still works and reads the secret in
    the expected account, else with the bootstrap credentials; the result is remembered.

    Parameters:
        secret_account: the account in the secret id, when it is an ARN (authoritative);
            otherwise the account recorded in the cache is expected.

    Raises:
        AwsError: neither the remembered key nor the bootstrap credentials could read it.
        ConfigurationError: the cache is not private to this user.
    """
    remembered = cache.load() if cache else None
    current = _read_remembered(read, remembered, secret_account) if remembered else None
    if current is None:
        current = read(None)
    if cache is not None:
        cache.save(current)
    return current.key


def _read_remembered(
    read: Reader, remembered: CurrentKey, secret_account: str | None
) -> CurrentKey | None:
    """What the remembered key reads, if that comes from the expected account."""
    shown = mask_key_id(remembered.key.key_id)
    expected = secret_account or remembered.account
    if secret_account and remembered.account and remembered.account != secret_account:
        log.warning(
            "remembered key %s was read in account %s, not %s as the secret id says; not used",
            shown,
            remembered.account,
            secret_account,
        )
        return None
    try:
        current = read(remembered.key)
    except AwsError as exc:
        log.info("remembered key %s no longer reads the secret (%s)", shown, exc.code)
        return None
    if expected is not None and current.account != expected:
        log.warning(
            "remembered key %s read a secret in account %s, not %s; reading with the bootstrap "
            "credentials instead",
            shown,
            current.account,
            expected,
        )
        return None
    return current


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
