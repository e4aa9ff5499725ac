"""The hourly retirement pass on moto (issue 10.3): the CLI and the Lambda event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from moto.iam.models import AccessKeyLastUsed, iam_backends

from keyturn.aws.secrets import SecretsManagerStore
from keyturn.cli import cli
from keyturn.core.secret_trust import SecretTrust
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.handler import handle
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings
from keyturn.wiring import build_rotator
from tests.integration.helpers import current_secret, event, keys_of, make_user


@pytest.fixture
def keyturn(aws: EmbeddedAws) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--endpoint-url", aws.url, "--region", aws.region, *args])

    return invoke


def _used(user: str, key_id: str, at: datetime) -> None:
    """IAM's last-used record of a key (moto records none for keys used against it)."""
    for key in iam_backends[ACCOUNT_ID]["global"].users[user].access_keys:
        if key.access_key_id == key_id:
            naive = at.astimezone(UTC).replace(tzinfo=None)  # moto keeps naive UTC
            key.last_used = AccessKeyLastUsed(timestamp=naive, service="sts", region="us-east-1")


def _tags(aws: EmbeddedAws, user: str) -> dict[str, str]:
    described = aws.client("secretsmanager").describe_secret(SecretId=f"keyturn/{user}")
    return {t["Key"]: t["Value"] for t in described.get("Tags", [])}


def test_keyturn_retire_deactivates_the_old_key_once_the_consumer_switched(
    aws: EmbeddedAws, keyturn: Callable[..., Result]
) -> None:
    # GIVEN "app" rotated by a run: two active keys, its secret tagged keyturn:in-grace
    [old] = make_user(aws, "app", key_ages=(85,))
    assert keyturn("run").exit_code == 0
    new = current_secret(aws, "app")["AccessKeyId"]
    assert _tags(aws, "app")["keyturn:in-grace"] == f"grace:{old}"
    # WHEN the pass runs before the consumer switched THEN nothing changes
    assert keyturn("retire").exit_code == 0
    assert keys_of(aws, "app") == {old: "Active", new: "Active"}
    # WHEN the consumer uses the new key (IAM's record, 30 minutes on: the CLI's clock is
    # the real one) and the pass runs
    _used("app", new, datetime.now(UTC) + timedelta(minutes=30))
    result = keyturn("--output", "json", "retire")
    # THEN the old key is inactive, the tag gone, the switch delay recorded
    assert result.exit_code == 0, result.output
    assert keys_of(aws, "app") == {old: "Inactive", new: "Active"}
    tags = _tags(aws, "app")
    assert tags["keyturn:in-grace"] == ""  # emptied in the deactivation's one TagResource
    assert tags["keyturn:switch-days"].startswith(f"{new}@0.0")
    # AND the emptied tag is not listed by the next pass: it stays O(users in grace)
    store = SecretsManagerStore(aws.client("secretsmanager"), trust=SecretTrust(()))
    assert store.in_grace() == []


def test_the_retire_event_looks_only_at_users_in_grace(aws: EmbeddedAws) -> None:
    make_user(aws, "app", key_ages=(85,))
    [quiet] = make_user(aws, "test", key_ages=(10,))

    def factory(settings: Settings, run_id: str) -> Rotator:
        return build_rotator(settings, run_id=run_id)

    assert handle({"action": "run"}, "r1", factory)["statusCode"] == 200
    answer = handle(event("retire"), "r2", factory)
    assert answer["statusCode"] == 200
    assert [u["UserName"] for u in answer["body"]["users"]] == ["app"]
    assert keys_of(aws, "test") == {quiet: "Active"}
