"""A consumer that pulls its key through the AWS SDK's credential_process keeps working across
full rotations (new key, old key deactivated, old key deleted), with IAM authentication on.

The AWS CLI is the consumer: its profile runs ``keyturn credential-process``, bootstrapped once
with the user's original key, which keyturn later deletes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.authed_aws import Authed

KEYTURN = Path(sys.executable).with_name("keyturn")
AWS_CLI = Path(sys.executable).with_name("aws")
WHO_AM_I = ("sts", "get-caller-identity", "--output", "json")
PULL = ("credential-process", "--secret-id", "keyturn/app", "--no-cache")


@pytest.fixture
def consumer_config(authed: Authed, tmp_path: Path) -> Path:
    """``~/.aws/config`` of the consumer: a bootstrap profile and the keyturn profile."""
    original = authed.add_consumer("app")
    authed.aws.backdate_key("app", original["AccessKeyId"], 85)
    command = (
        f"{KEYTURN} --endpoint-url {authed.aws.url} --region {authed.aws.region} "
        f"credential-process --secret-id keyturn/app --profile app-bootstrap "
        f"--cache-dir {tmp_path / 'cache'}"
    )
    config = tmp_path / "config"
    config.write_text(
        "[profile app-bootstrap]\n"
        f"aws_access_key_id = {original['AccessKeyId']}\n"
        f"aws_secret_access_key = {original['SecretAccessKey']}\n"
        f"region = {authed.aws.region}\n"
        "\n"
        "[profile app]\n"
        f"credential_process = {command}\n"
        f"region = {authed.aws.region}\n",
        encoding="utf-8",
    )
    return config


def _consumer_call(authed: Authed, config: Path) -> str:
    """``aws sts get-caller-identity --profile app``, as the application would call AWS."""
    env = {
        "PATH": str(KEYTURN.parent),
        "HOME": str(config.parent),
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(config.parent / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", authed.aws.url, "--profile", "app", *WHO_AM_I],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return str(json.loads(done.stdout)["Arn"])


def test_a_credential_process_profile_follows_every_rotation(
    authed: Authed, consumer_config: Path
) -> None:
    # Rotation 1: a new key is delivered; the consumer bootstraps with its original key
    authed.rotator().run_user()
    assert _consumer_call(authed, consumer_config).endswith(":user/app")
    # the original key is deactivated, then deleted: the consumer keeps working
    for days in (8, 16):
        authed.rotator(days=days).run_user()
        assert _consumer_call(authed, consumer_config).endswith(":user/app")
    statuses = authed.key_status("app")
    assert len(statuses) == 1
    # Rotation 2 and its whole retirement: still working, without the bootstrap key
    authed.rotator(days=17).rotate("app")
    for days in (17, 25, 33):
        authed.rotator(days=days).run_user()
        assert _consumer_call(authed, consumer_config).endswith(":user/app")
    assert len(authed.key_status("app")) == 1
    assert next(iter(authed.key_status("app"))) not in statuses


def test_credential_process_prints_the_current_key(authed: Authed, tmp_path: Path) -> None:
    original = authed.add_consumer("app")
    authed.aws.backdate_key("app", original["AccessKeyId"], 85)
    authed.rotator().run_user()
    env = {
        "PATH": str(KEYTURN.parent),
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_ACCESS_KEY_ID": original["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": original["SecretAccessKey"],
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [str(KEYTURN), "--endpoint-url", authed.aws.url, "--region", authed.aws.region, *PULL],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    printed = json.loads(done.stdout)
    current = authed.secret_doc("keyturn/app")
    assert printed["Version"] == 1
    assert printed["AccessKeyId"] == current["AccessKeyId"]
    assert printed["SecretAccessKey"] == current["SecretAccessKey"]
    assert printed["Expiration"].endswith("Z")
    assert current["SecretAccessKey"] not in done.stderr
