"""credential-process's service: the remembered key, the fallback, the SDK document."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyturn.consumer.credential_process import (
    KeyCache,
    credential_process_document,
    default_cache_dir,
    pull_current_key,
)
from keyturn.core.delivery import StoredKey
from keyturn.core.models import SecretValue
from keyturn.errors import AwsError

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
OLD = StoredKey("AKIAOLDOLDOLDOLDOLD1", SecretValue("old-secret"), WHEN)
NEW = StoredKey("AKIANEWNEWNEWNEWNEW2", SecretValue("new-secret"), WHEN)


def test_the_remembered_key_reads_the_next_one_and_is_replaced(tmp_path: Path) -> None:
    cache = KeyCache.for_secret(tmp_path, "keyturn/app", None)
    cache.save(OLD)
    used: list[str | None] = []

    def read(key: StoredKey | None) -> StoredKey:
        used.append(key.key_id if key else None)
        return NEW

    assert pull_current_key(read, cache) == NEW
    assert used == [OLD.key_id]
    assert cache.load() == NEW
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


def test_a_retired_remembered_key_falls_back_to_the_bootstrap(tmp_path: Path) -> None:
    cache = KeyCache.for_secret(tmp_path, "keyturn/app", None)
    cache.save(OLD)

    def read(key: StoredKey | None) -> StoredKey:
        if key is not None:
            raise AwsError("GetSecretValue", "UnrecognizedClientException", "")
        return NEW

    assert pull_current_key(read, cache) == NEW


def test_without_any_working_credentials_the_error_surfaces(tmp_path: Path) -> None:
    def read(key: StoredKey | None) -> StoredKey:
        raise AwsError("GetSecretValue", "AccessDeniedException", str(key is None))

    with pytest.raises(AwsError):
        pull_current_key(read, KeyCache(tmp_path / "none.json"))


def test_the_document_is_what_the_sdk_expects() -> None:
    doc = credential_process_document(NEW, WHEN)
    assert doc == {
        "Version": 1,
        "AccessKeyId": NEW.key_id,
        "SecretAccessKey": "new-secret",
        "Expiration": "2026-01-01T00:00:00Z",
    }


def test_the_cache_lives_under_xdg_cache_home(tmp_path: Path) -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "keyturn"
