"""Fixtures shared by every tier: no test ever reaches real AWS.

* ``aws`` — moto server on 127.0.0.1 (one per session, reset before each test), with the
  environment pointed at it and placeholder credentials.
* ``issued_secrets`` — every secret access key the emulator has issued, for leak checks.
* ``aws_cli`` — the AWS CLI as an independent client of the emulator.
* around every test, a secret scan (``secret_hygiene.py``): no secret the emulator or the fakes
  issued may appear in a log record (root logger at DEBUG), notification, CLI output, keyturn
  exception message or captured output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import botocore.session
import pytest
from hypothesis import HealthCheck, settings
from moto.iam.models import iam_backends

from keyturn import wiring
from keyturn.aws import quiet_sdk_logs
from keyturn.aws.credential_report import Backoff
from keyturn.emulator import ACCOUNT_ID, FAKE_ACCESS_KEY_ID, FAKE_SECRET, EmbeddedAws
from tests import sdk, secret_hygiene

pytest_plugins = ["tests.summary"]
"""The summary lines (secret scan, reliability figures, insider attacks), added up over
xdist workers."""

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


@pytest.fixture(autouse=True)
def _prompt_credential_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduled run waits for IAM to generate the credential report, first 0.5 s (AWS takes
    seconds). The emulator's report is ready on the second ask, so the tests poll after 10 ms:
    the same calls and logic, without the wait. Tests of the wait itself set their own."""
    monkeypatch.setattr(wiring, "REPORT_WAIT", Backoff(first=0.01, factor=2.0, cap=8.0, attempts=6))


DEPLOYED_USERS = "test,app"
"""The recipe's user (the template lists RecipeUserName in KEYTURN_USERS) and the tests' app."""


@pytest.fixture(autouse=True)
def _deployed_scope(_no_real_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """keyturn manages no user until the operator says which. Tests that build settings from
    the environment model a deployment with ManageTaggedUsers=true whose KEYTURN_USERS lists
    the recipe's user; tests of the scope itself (tests/security, the unit tier) set their own,
    and ``no_scope`` gives them the default of a fresh deployment."""
    monkeypatch.setenv("KEYTURN_MANAGE_TAGGED", "true")
    monkeypatch.setenv("KEYTURN_USERS", DEPLOYED_USERS)


@pytest.fixture
def no_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of a deployment that configured no scope (tag opt-in off)."""
    monkeypatch.delenv("KEYTURN_MANAGE_TAGGED", raising=False)
    monkeypatch.delenv("KEYTURN_USERS", raising=False)


@pytest.fixture(autouse=True, scope="session")
def _shared_sdk_models() -> Iterator[None]:
    """Every boto3 session of the run, keyturn's included, reads the service models once
    (tests/sdk.py): the same clients, without parsing IAM's model again for each session."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", sdk.shared_loader)
        yield


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


@pytest.fixture(autouse=True)
def _secret_scan(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[secret_hygiene.SecretScan]:
    """Fail the test if any issued secret leaked into a log, message, output or error."""
    quiet_sdk_logs()  # as keyturn does on start; tests' own boto3 clients share the loggers
    with secret_hygiene.scanning(monkeypatch) as scan:
        request.node.stash[secret_hygiene.SECRET_SCAN] = scan
        yield scan
    hits = scan.settle()
    assert not hits, f"issued secrets leaked into: {hits}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with a test marked ``slow`` (sized by KEYTURN_SLOW: the long ones) run first,
    each module's tests in their own order. Under pytest-xdist (``make test``, whole modules
    per worker, ``--no-loadscope-reorder``) the long modules start at once and the many short
    ones fill in after them, instead of a long module ending the run on one worker alone."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Also scan what the test printed (captured stdout/stderr, e.g. CLI subprocesses)."""
    report: pytest.TestReport = yield
    scan = item.stash.get(secret_hygiene.SECRET_SCAN, None)
    if scan is not None and report.when == "call" and report.passed:
        captured = (("captured stdout", report.capstdout), ("captured stderr", report.capstderr))
        hits = scan.hits(captured)
        if hits:
            report.outcome = "failed"
            report.longrepr = f"issued secrets leaked into: {hits}"
    return report
