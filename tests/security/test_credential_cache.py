"""T8: an insider with write access to a shared ``--cache-dir`` plants a cache file.

``credential-process`` used to read whatever file it found under the secret's (predictable) name
and sign the next read with the key in it: a key of the insider's own account, whose secret of
the same name holds that same key, so the victim's SDK got the insider's credentials and wrote
its data into the insider's account. Now a cache directory or file that is not the user's, or
that others may write, is refused before anything is read; and a remembered key must read the
secret in the account the cache recorded for it.

Against moto with IAM authentication on, the consumer being the real ``keyturn`` command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto.iam.models import iam_backends
from moto.secretsmanager.models import secretsmanager_backends

from keyturn.consumer.credential_process import KeyCache
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from tests.integration.authed_aws import READ_SECRETS, Authed, authenticated
from tests.integration.fleet_world import member_session

KEYTURN = Path(sys.executable).with_name("keyturn")
INSIDER_ACCOUNT = "210987654321"
OTHER_UID = 4242
AS_ROOT = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another user (chown) needs root",
)


@dataclass
class World:
    authed: Authed
    bootstrap: dict[str, str]
    """The consumer's own original key, still active in its grace period."""
    insider: dict[str, str]
    """The insider's key, in the insider's account."""
    home: Path

    def cache_path(self, directory: Path) -> Path:
        return KeyCache.for_secret(directory, "keyturn/app", self.authed.aws.url).path

    def plant(self, directory: Path, secret_arn: str = "") -> Path:
        """The insider's key, written where credential-process looks for its cache."""
        path = self.cache_path(directory)
        doc = {
            "AccessKeyId": self.insider["AccessKeyId"],
            "SecretAccessKey": self.insider["SecretAccessKey"],
            "CreateDate": "2026-01-01T00:00:00+00:00",
            "SecretArn": secret_arn,
        }
        path.write_text(json.dumps(doc), encoding="utf-8")
        path.chmod(0o600)
        return path

    def pull(self, cache_dir: Path) -> subprocess.CompletedProcess[str]:
        """What the victim's SDK runs: ``keyturn credential-process --cache-dir DIR``."""
        aws = self.authed.aws
        env = {
            "PATH": str(KEYTURN.parent),
            "HOME": str(self.home),
            "AWS_CONFIG_FILE": str(self.home / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / "none"),
            "AWS_ACCESS_KEY_ID": self.bootstrap["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": self.bootstrap["SecretAccessKey"],
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        command = [
            str(KEYTURN), "--endpoint-url", aws.url, "--region", aws.region,
            "credential-process", "--secret-id", "keyturn/app", "--cache-dir", str(cache_dir),
        ]  # fmt: skip
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=60, check=False
        )

    def current_key_id(self) -> str:
        return str(self.authed.secret_doc("keyturn/app")["AccessKeyId"])


def state() -> dict[str, Any]:
    """Both accounts' users, keys and secrets (versions, stages, values), from moto itself."""
    found: dict[str, Any] = {}
    for account in (ACCOUNT_ID, INSIDER_ACCOUNT):
        users = iam_backends[account]["global"].users
        secrets = secretsmanager_backends[account]["us-east-1"].secrets
        found[account] = {
            "keys": {n: sorted((k.access_key_id, k.status) for k in u.access_keys)
                     for n, u in users.items()},
            "secrets": {s.name: sorted((v, tuple(d["version_stages"]), d.get("secret_string"))
                                       for v, d in s.versions.items())
                        for s in secrets.values()},
        }  # fmt: skip
    return found


def insider_account(authed: Authed) -> dict[str, str]:
    """The insider's own account: a user who may read secrets, and a secret named like the
    victim's, holding the insider's key. Set up with authentication off, as its owner would."""
    aws = authed.aws
    aws.enforce_auth(enforced=False)
    try:
        session = member_session(aws, INSIDER_ACCOUNT)
        iam = session.client("iam", endpoint_url=aws.url)
        iam.create_user(UserName="mallory")
        iam.put_user_policy(
            UserName="mallory", PolicyName="read", PolicyDocument=json.dumps(READ_SECRETS)
        )
        created = iam.create_access_key(UserName="mallory")["AccessKey"]
        key = {"AccessKeyId": created["AccessKeyId"], "SecretAccessKey": created["SecretAccessKey"]}
        secrets = session.client("secretsmanager", endpoint_url=aws.url)
        secrets.create_secret(Name="keyturn/app", SecretString=json.dumps(key))
    finally:
        aws.enforce_auth()
    return key


@pytest.fixture
def authed(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Authed]:
    with authenticated(aws, monkeypatch) as enforced:
        yield enforced


@pytest.fixture
def world(authed: Authed, tmp_path: Path) -> World:
    # GIVEN user app, whose key keyturn rotated into keyturn/app, and an insider's account
    original = authed.add_consumer("app")
    authed.aws.backdate_key("app", original["AccessKeyId"], 85)
    authed.rotator().run_user()
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    return World(authed, original, insider_account(authed), home)


def assert_refused(world: World, cache_dir: Path, planted: Path, problem: str) -> None:
    """The pull exits 2 naming the path and the fix, prints no key, reads and writes nothing."""
    planted_bytes = planted.read_bytes()
    before = state()
    done = world.pull(cache_dir)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout == ""
    message = " ".join(done.stderr.split())
    assert problem in message
    assert "nothing was read from it. Fix:" in message
    assert "--no-cache" in message
    assert planted.read_bytes() == planted_bytes
    assert sorted(p.name for p in planted.parent.iterdir()) == [planted.name]
    assert state() == before


@pytest.mark.attack("T8: planted cache file in a cache directory others may write")
def test_a_planted_key_in_a_shared_cache_directory_is_refused(world: World, tmp_path: Path) -> None:
    # GIVEN a cache directory everyone may write, where the insider planted their key
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    planted = world.plant(shared)
    if os.geteuid() == 0:
        os.chown(planted, OTHER_UID, OTHER_UID)
    # WHEN the victim's SDK runs credential-process on it, THEN it refuses the directory
    assert_refused(world, shared, planted, f"cache directory {shared} may be written by others")


@AS_ROOT
@pytest.mark.attack("T8: planted cache file in a cache directory another user owns")
def test_a_planted_key_in_a_cache_directory_of_another_user_is_refused(
    world: World, tmp_path: Path
) -> None:
    # GIVEN a cache directory the insider owns (only they may write it)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    planted = world.plant(theirs)
    os.chown(planted, OTHER_UID, OTHER_UID)
    os.chown(theirs, OTHER_UID, OTHER_UID)
    # THEN credential-process refuses it
    assert_refused(world, theirs, planted, f"cache directory {theirs} is owned by uid {OTHER_UID}")


@AS_ROOT
@pytest.mark.attack("T8: planted cache file another user owns, in the victim's directory")
def test_a_cache_file_of_another_user_is_refused(world: World, tmp_path: Path) -> None:
    # GIVEN the victim's own private directory, still holding a file the insider planted
    # while it was open to them
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    planted = world.plant(mine)
    os.chown(planted, OTHER_UID, OTHER_UID)
    # THEN the file is refused
    assert_refused(world, mine, planted, f"cache file {planted} is owned by uid {OTHER_UID}")


@pytest.mark.attack("T8: cached key of another account (the cache records the secret's account)")
def test_a_remembered_key_that_reads_another_accounts_secret_is_not_handed_out(
    world: World, tmp_path: Path
) -> None:
    # GIVEN a private cache that holds the insider's key, recorded as if it came from the
    # victim's secret (a file that passes the ownership checks)
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    victims_arn = world.authed.client("secretsmanager").describe_secret(SecretId="keyturn/app")[
        "ARN"
    ]
    cache = world.plant(mine, secret_arn=victims_arn)
    before = state()
    # WHEN the victim's SDK runs credential-process
    done = world.pull(mine)
    # THEN the insider's key read a secret in the insider's account, which is discarded: the
    # bootstrap credentials read the victim's own current key
    assert done.returncode == 0, done.stderr[-2000:]
    printed = json.loads(done.stdout)
    assert printed["AccessKeyId"] == world.current_key_id()
    assert printed["AccessKeyId"] != world.insider["AccessKeyId"]
    assert f"in account {INSIDER_ACCOUNT}, not {ACCOUNT_ID}" in done.stderr
    # ... the cache now remembers the victim's key and secret, and nothing else changed
    remembered = json.loads(cache.read_text())
    assert (remembered["AccessKeyId"], remembered["SecretArn"]) == (
        world.current_key_id(),
        victims_arn,
    )
    assert state() == before
