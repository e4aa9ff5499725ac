"""Fixtures shared by every tier: no test ever reaches real AWS.

* ``aws`` — moto server on 127.0.0.1 (one per session, reset before each test), with the
  environment pointed at it and placeholder credentials.
* ``issued_secrets`` — every secret access key the emulator has issued, for leak checks.
* ``aws_cli`` — the AWS CLI as an independent client of the emulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from moto.iam.models import iam_backends

from keyturn.emulator import ACCOUNT_ID, FAKE_ACCESS_KEY_ID, FAKE_SECRET, EmbeddedAws

AWS_CLI = Path(sys.executable).with_name("aws")
SLOW = os.environ.get("KEYTURN_SLOW") == "1"

settings.register_profile(
    "keyturn",
    max_examples=5000 if SLOW else 300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("keyturn")


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Whatever the developer's machine has, tests see only placeholder credentials."""
    empty = tmp_path_factory.getbasetemp() / "empty-aws-config"
    empty.touch()
    for name in list(os.environ):
        if name.startswith(("AWS_", "KEYTURN_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def _fast_key_proof(_no_real_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """keyturn proves each new key before promotion (3 successes over 15 s by default, for
    IAM's eventual consistency). The emulator has none, so tests that build settings from the
    environment ask for two successes polled every 20 ms: the same logic, without the wait.
    Tests of the proof itself set their own policy."""
    monkeypatch.setenv("KEYTURN_VERIFY_SUCCESSES", "2")
    monkeypatch.setenv("KEYTURN_VERIFY_WINDOW_SECONDS", "0")
    monkeypatch.setenv("KEYTURN_VERIFY_INTERVAL_SECONDS", "0.02")


@pytest.fixture(scope="session")
def _emulator() -> Iterator[EmbeddedAws]:
    with EmbeddedAws() as aws:
        yield aws


@pytest.fixture
def aws(_emulator: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> EmbeddedAws:
    """A clean emulator for this test, with AWS_ENDPOINT_URL pointing at it."""
    _emulator.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", _emulator.url)
    monkeypatch.setenv("AWS_REGION", _emulator.region)
    return _emulator


@pytest.fixture
def issued_secrets(aws: EmbeddedAws) -> Callable[[], set[str]]:
    """Every secret access key the emulator issued in this test (for leak checks)."""

    def collect() -> set[str]:
        users = iam_backends[ACCOUNT_ID]["global"].users.values()
        return {key.secret_access_key for user in users for key in user.access_keys}

    return collect


@pytest.fixture
def aws_cli(aws: EmbeddedAws) -> Callable[..., object]:
    """Run ``aws --endpoint-url <emulator> ARGS --output json`` and return the parsed output."""

    def run(*args: str) -> object:
        command = [str(AWS_CLI), "--endpoint-url", aws.url, *args, "--output", "json"]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
        return json.loads(done.stdout) if done.stdout.strip() else None

    return run
