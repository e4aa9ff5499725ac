"""Issue 6.4: secrets stay out of logs whatever log level a user sets.

The suite-wide scan (``tests/secret_hygiene.py``) already runs around every test with the root
logger at DEBUG. These tests add the hard case: botocore's own loggers lowered to DEBUG *after*
keyturn started, a negative control proving that botocore's DEBUG output does carry the secret,
the Lambda handler with its logger at DEBUG, the CLI, and the one allowed carrier, the opt-in
notification.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner

from keyturn import handler
from keyturn.aws.session import DropSdkDebug
from keyturn.cli import cli
from keyturn.emulator import EmbeddedAws
from keyturn.settings import ENV_NOTIFY_INCLUDE_SECRET, ENV_TOPIC_ARN, Settings
from keyturn.wiring import build_rotator
from tests import secret_hygiene

from .conftest import report
from .world import USER, World, client, fresh_session, in_grace_reminded

SDK_LOGGERS = ("botocore", "botocore.parsers", "botocore.endpoint", "boto3", "urllib3")


@pytest.fixture
def scan(request: pytest.FixtureRequest) -> secret_hygiene.SecretScan:
    found: secret_hygiene.SecretScan = request.node.stash[secret_hygiene.SECRET_SCAN]
    return found


@pytest.fixture
def sdk_at_debug() -> Iterator[None]:
    """A user who sets the SDK loggers to DEBUG after keyturn started (restored afterwards)."""
    saved = {name: logging.getLogger(name).level for name in SDK_LOGGERS}
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def lifecycle(world: World) -> None:
    """Create, rotate, remind (opt-in), deactivate, restore, deactivate again, delete and
    rotate."""
    in_grace_reminded(world)
    steps = [
        (timedelta(days=6, hours=12), "run"),
        (timedelta(days=7, minutes=1), "run"),
        (timedelta(days=8), "restore"),
        (timedelta(days=15, minutes=2), "run"),
        (timedelta(days=23), "run"),
    ]
    for offset, step in steps:
        world.at(offset)
        rotator = world.rotator()
        if step == "run":
            assert not rotator.run().failures
        else:
            rotator.restore(USER)


def test_sdk_debug_logs_carry_the_secret_without_keyturn_filter(aws: EmbeddedAws) -> None:
    """Negative control: botocore at DEBUG, no filter, logs CreateAccessKey's secret."""
    parsers = logging.getLogger("botocore.parsers")
    records: list[str] = []
    private = logging.Handler(logging.DEBUG)
    private.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    saved = (parsers.level, parsers.propagate)
    keyturn_filters = [f for f in parsers.filters if isinstance(f, DropSdkDebug)]
    for sdk_filter in keyturn_filters:
        parsers.removeFilter(sdk_filter)
    parsers.setLevel(logging.DEBUG)
    parsers.propagate = False  # seen only by this test's handler, not the suite's scan
    parsers.addHandler(private)
    try:
        iam = fresh_session(aws).client("iam", endpoint_url=aws.url)
        iam.create_user(UserName=USER)
        secret = iam.create_access_key(UserName=USER)["AccessKey"]["SecretAccessKey"]
    finally:
        parsers.removeHandler(private)
        parsers.setLevel(saved[0])
        parsers.propagate = saved[1]
        for sdk_filter in keyturn_filters:
            parsers.addFilter(sdk_filter)
    assert any(secret in r for r in records), "botocore's DEBUG output holds the secret"


@pytest.mark.usefixtures("sdk_at_debug")
def test_sdk_at_debug_after_start_leaks_nothing(
    aws: EmbeddedAws, scan: secret_hygiene.SecretScan
) -> None:
    world = World(aws)
    world.rotator()  # keyturn starts, then the user lowers the SDK loggers (fixture order)
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    assert logging.getLogger("botocore.parsers").isEnabledFor(logging.DEBUG)
    lifecycle(world)
    assert len(scan.issued) >= 2
    assert scan.hits() == []
    report("secret leaks with botocore at DEBUG (full lifecycle)", f"{len(scan.hits())}")


@pytest.mark.usefixtures("sdk_at_debug")
def test_handler_at_debug_leaks_nothing(
    aws: EmbeddedAws,
    scan: secret_hygiene.SecretScan,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = World(aws)
    world.add_user()
    world.add_foreign_key(81)
    monkeypatch.setenv(ENV_TOPIC_ARN, world.topic_arn)
    handler.logger.setLevel("DEBUG")

    def factory(settings: Settings, run_id: str) -> object:
        return build_rotator(settings, session=fresh_session(aws), run_id=run_id)

    try:
        answer = handler.handle({"action": "create", "username": USER}, "run-1", factory)  # type: ignore[arg-type]
        scheduled = {"detail-type": "Scheduled Event", "source": "aws.events"}
        handler.handle(scheduled, "run-2", factory)  # type: ignore[arg-type]
    finally:
        handler.logger.setLevel("INFO")
    assert answer["statusCode"] == 200
    printed = capsys.readouterr()
    assert scan.hits((("handler stdout", printed.out), ("handler stderr", printed.err))) == []
    assert scan.hits((("handler answer", json.dumps(answer, default=str)),)) == []


def test_cli_output_and_errors_leak_nothing(
    aws: EmbeddedAws, scan: secret_hygiene.SecretScan
) -> None:
    world = World(aws)
    world.add_user()
    world.add_foreign_key(81)
    runner = CliRunner()
    for args in (["rotate", USER], ["--output", "json", "scan"], ["restore", USER], ["run"]):
        runner.invoke(cli, args, catch_exceptions=False)
    assert len(scan.issued) == 2
    assert any(source == "CLI output" for source, _ in scan.texts)
    assert scan.hits() == []


def test_only_the_opt_in_notification_carries_the_secret(
    aws: EmbeddedAws, scan: secret_hygiene.SecretScan, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(aws)
    world.add_user()
    world.add_foreign_key(81)
    monkeypatch.setenv(ENV_TOPIC_ARN, world.topic_arn)
    monkeypatch.setenv(ENV_NOTIFY_INCLUDE_SECRET, "true")
    result = CliRunner().invoke(cli, ["rotate", USER], catch_exceptions=False)
    assert result.exit_code == 0
    (message,) = [m.message for m in aws.sent_notifications(world.topic_arn)]
    assert json.loads(message)["SecretAccessKey"] in scan.issued
    assert scan.opt_in == 1
    assert scan.hits() == []
    assert client(aws, "iam").list_access_keys(UserName=USER)["AccessKeyMetadata"]
