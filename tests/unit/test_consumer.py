"""credential-process's service: the remembered key, the fallback, the SDK document, and the
trust it places in its cache (private to the user, bound to the secret's account)."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyturn.consumer.credential_process import (
    KeyCache,
    credential_process_document,
    default_cache_dir,
    ensure_private,
    pull_current_key,
)
from keyturn.core.delivery import CurrentKey, StoredKey, arn_account
from keyturn.core.models import SecretValue
from keyturn.errors import AwsError, ConfigurationError

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
OLD = StoredKey("AKIAOLDOLDOLDOLDOLD1", SecretValue("old-secret"), WHEN)
NEW = StoredKey("AKIANEWNEWNEWNEWNEW2", SecretValue("new-secret"), WHEN)
OURS = "arn:aws:secretsmanager:us-east-1:111111111111:secret:keyturn/app-AbCdEf"
THEIRS = "arn:aws:secretsmanager:us-east-1:999999999999:secret:keyturn/app-XyZzYx"
SECRET_ID_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:keyturn/app"


class Reads:
    """A reader that answers ``answers[key id or None]`` and records who asked."""

    def __init__(self, answers: dict[str | None, CurrentKey | AwsError]) -> None:
        self.answers = answers
        self.used: list[str | None] = []

    def __call__(self, key: StoredKey | None) -> CurrentKey:
        self.used.append(key.key_id if key else None)
        answer = self.answers[key.key_id if key else None]
        if isinstance(answer, AwsError):
            raise answer
        return answer


def test_the_remembered_key_reads_the_next_one_and_is_replaced(tmp_path: Path) -> None:
    cache = KeyCache.for_secret(tmp_path, "keyturn/app", None)
    cache.save(CurrentKey(OLD, OURS))
    read = Reads({OLD.key_id: CurrentKey(NEW, OURS)})
    assert pull_current_key(read, cache) == NEW
    assert read.used == [OLD.key_id]
    assert cache.load() == CurrentKey(NEW, OURS)
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600


def test_a_retired_remembered_key_falls_back_to_the_bootstrap(tmp_path: Path) -> None:
    cache = KeyCache.for_secret(tmp_path, "keyturn/app", None)
    cache.save(CurrentKey(OLD, OURS))
    retired = AwsError("GetSecretValue", "UnrecognizedClientException", "")
    read = Reads({OLD.key_id: retired, None: CurrentKey(NEW, OURS)})
    assert pull_current_key(read, cache) == NEW
    assert read.used == [OLD.key_id, None]


def test_without_any_working_credentials_the_error_surfaces(tmp_path: Path) -> None:
    read = Reads({None: AwsError("GetSecretValue", "AccessDeniedException", "")})
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


# The cache's account --------------------------------------------------------------------


def test_the_first_read_records_the_secrets_arn(tmp_path: Path) -> None:
    cache = KeyCache(tmp_path / "c" / "k.json")
    pull_current_key(Reads({None: CurrentKey(NEW, OURS)}), cache)
    assert json.loads(cache.path.read_text())["SecretArn"] == OURS
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o700


def test_a_remembered_key_that_reads_another_accounts_secret_is_discarded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a remembered key recorded against our account, which now answers from theirs
    cache = KeyCache(tmp_path / "k.json")
    cache.save(CurrentKey(OLD, OURS))
    read = Reads({OLD.key_id: CurrentKey(NEW, THEIRS), None: CurrentKey(NEW, OURS)})
    # WHEN the current key is pulled, THEN the bootstrap credentials read it, with a log line
    with caplog.at_level(logging.WARNING, logger="keyturn.consumer"):
        pull_current_key(read, cache)
    assert read.used == [OLD.key_id, None]
    assert cache.load() == CurrentKey(NEW, OURS)
    assert "999999999999, not 111111111111" in caplog.text
    assert "old-secret" not in caplog.text


def test_the_account_in_an_arn_secret_id_wins_over_the_cache(tmp_path: Path) -> None:
    # GIVEN a cache that records another account than the secret id names
    cache = KeyCache(tmp_path / "k.json")
    cache.save(CurrentKey(OLD, THEIRS))
    read = Reads({None: CurrentKey(NEW, OURS)})
    # THEN the remembered key is never used, not even to sign a request
    assert pull_current_key(read, cache, secret_account="111111111111") == NEW
    assert read.used == [None]


def test_with_an_arn_secret_id_the_read_must_come_from_its_account(tmp_path: Path) -> None:
    cache = KeyCache(tmp_path / "k.json")
    cache.save(CurrentKey(OLD, ""))  # an old cache: no account recorded
    read = Reads({OLD.key_id: CurrentKey(NEW, THEIRS), None: CurrentKey(NEW, OURS)})
    pull_current_key(read, cache, secret_account=arn_account(SECRET_ID_ARN))
    assert read.used == [OLD.key_id, None]


def test_a_cache_written_before_accounts_were_recorded_is_trusted_once(tmp_path: Path) -> None:
    # GIVEN a private cache file of the previous format (no SecretArn)
    cache = KeyCache(tmp_path / "k.json")
    doc = {"AccessKeyId": OLD.key_id, "SecretAccessKey": "old-secret", "CreateDate": ""}
    cache.path.write_text(json.dumps(doc))
    cache.path.chmod(0o600)
    read = Reads({OLD.key_id: CurrentKey(NEW, OURS)})
    # THEN its key is used, and the account it read from is recorded from then on
    assert pull_current_key(read, cache) == NEW
    assert cache.load() == CurrentKey(NEW, OURS)


@pytest.mark.parametrize(
    ("secret_id", "account"),
    [
        (OURS, "111111111111"),
        (SECRET_ID_ARN, "111111111111"),
        ("arn:aws-cn:secretsmanager:cn-north-1:222222222222:secret:x", "222222222222"),
        ("keyturn/app", None),
        ("arn:aws:secretsmanager:us-east-1::secret:x", None),
        ("arn:aws:secretsmanager:us-east-1:11111111111\uff11:secret:x", None),
        ("", None),
    ],
)
def test_the_account_of_a_secret_id(secret_id: str, account: str | None) -> None:
    assert arn_account(secret_id) == account


# The cache's privacy --------------------------------------------------------------------


def status(mode: int, uid: int | None = None) -> os.stat_result:
    owner = os.geteuid() if uid is None else uid
    return os.stat_result((mode, 0, 0, 1, owner, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(
    ("kind", "mode", "uid", "problem"),
    [
        ("directory", stat.S_IFDIR | 0o777, None, "may be written by others (mode 0777)"),
        ("directory", stat.S_IFDIR | 0o770, None, "may be written by others (mode 0770)"),
        ("directory", stat.S_IFDIR | 0o1777, None, "may be written by others (mode 1777)"),
        ("directory", stat.S_IFDIR | 0o700, 4242, "is owned by uid 4242"),
        ("directory", stat.S_IFREG | 0o700, None, "is not a directory"),
        ("file", stat.S_IFREG | 0o620, None, "may be written by others (mode 0620)"),
        ("file", stat.S_IFREG | 0o602, None, "may be written by others (mode 0602)"),
        ("file", stat.S_IFREG | 0o600, 4242, "is owned by uid 4242"),
        ("file", stat.S_IFIFO | 0o600, None, "is not a file"),
    ],
)
def test_a_cache_someone_else_owns_or_may_write_is_refused(
    kind: str, mode: int, uid: int | None, problem: str
) -> None:
    path = Path("/shared/keyturn")
    with pytest.raises(ConfigurationError) as refused:
        ensure_private(path, status(mode, uid), kind)
    message = str(refused.value)
    assert f"credential-process cache {kind} /shared/keyturn {problem}" in message
    assert "nothing was read from it. Fix: " in message
    assert "--no-cache" in message


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        ("directory", stat.S_IFDIR | 0o700),
        ("directory", stat.S_IFDIR | 0o755),
        ("file", stat.S_IFREG | 0o600),
        ("file", stat.S_IFREG | 0o644),
    ],
)
def test_a_cache_only_its_owner_may_write_is_accepted(kind: str, mode: int) -> None:
    ensure_private(Path("/home/me/.cache/keyturn"), status(mode), kind)


def test_a_shared_cache_directory_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    # GIVEN a planted cache file in a directory everyone may write
    shared = tmp_path / "shared"
    cache = KeyCache.for_secret(shared, "keyturn/app", None)
    cache.save(CurrentKey(OLD, OURS))
    shared.chmod(0o777)
    read = Reads({})
    # WHEN the key is pulled, THEN it stops at the directory: no read, no write
    with pytest.raises(ConfigurationError, match=f"directory {shared} may be written by others"):
        pull_current_key(read, cache)
    assert read.used == []
    assert json.loads(cache.path.read_text())["AccessKeyId"] == OLD.key_id


def test_a_cache_file_others_may_write_is_refused(tmp_path: Path) -> None:
    cache = KeyCache(tmp_path / "k.json")
    cache.save(CurrentKey(OLD, OURS))
    cache.path.chmod(0o666)
    read = Reads({})
    with pytest.raises(ConfigurationError, match=f"file {cache.path} may be written by others"):
        pull_current_key(read, cache)
    assert read.used == []


def test_a_symbolic_link_in_place_of_the_cache_file_is_refused(tmp_path: Path) -> None:
    planted = tmp_path / "elsewhere.json"
    KeyCache(planted).save(CurrentKey(OLD, OURS))
    cache = KeyCache(tmp_path / "cache" / "k.json")
    cache.path.parent.mkdir(mode=0o700)
    cache.path.symlink_to(planted)
    read = Reads({})
    with pytest.raises(ConfigurationError, match="is a symbolic link"):
        pull_current_key(read, cache)
    assert read.used == []


def test_a_missing_cache_directory_is_created_private(tmp_path: Path) -> None:
    cache = KeyCache(tmp_path / "new" / "k.json")
    assert cache.load() is None
    cache.save(CurrentKey(NEW, OURS))
    assert stat.S_IMODE(cache.path.parent.stat().st_mode) == 0o700
