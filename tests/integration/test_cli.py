"""The CLI against moto server: every command, its exit codes, and never a secret."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from keyturn.cli import cli
from keyturn.emulator import EmbeddedAws
from tests.integration.helpers import current_secret, keys_of, make_user


@pytest.fixture
def keyturn(aws: EmbeddedAws) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--endpoint-url", aws.url, "--region", aws.region, *args])

    return invoke


def test_scan_lists_keys_and_next_actions(aws: EmbeddedAws, keyturn: Callable[..., Result]) -> None:
    make_user(aws, "app", key_ages=(85,), tags={"keyturn:managed": "true"})
    result = keyturn("scan")
    assert result.exit_code == 0, result.output
    assert "app" in result.output
    assert "85d" in result.output
    assert "rotate AKIA..." in result.output


def test_scan_json_has_full_rows(aws: EmbeddedAws, keyturn: Callable[..., Result]) -> None:
    [key] = make_user(aws, "app", key_ages=(10,), tags={"keyturn:managed": "true"})
    result = keyturn("--output", "json", "scan")
    data = json.loads(result.output)
    [user] = data["users"]
    assert user["keys"][0]["AccessKeyId"] == key
    assert user["plan"]["upcoming"][0]["action"] == "create"


def test_plan_at_changes_nothing(aws: EmbeddedAws, keyturn: Callable[..., Result]) -> None:
    [key] = make_user(aws, "app", key_ages=(10,), tags={"keyturn:managed": "true"})
    result = keyturn("--output", "json", "plan", "--at", "2099-01-01")
    assert result.exit_code == 0
    assert json.loads(result.output)["users"][0]["plan"]["actions"][0]["action"] == "create"
    assert keys_of(aws, "app") == {key: "Active"}


def test_run_rotates_due_users_and_exits_3_when_one_is_refused(
    aws: EmbeddedAws, keyturn: Callable[..., Result]
) -> None:
    make_user(aws, "due", key_ages=(85,), tags={"keyturn:managed": "true"})
    make_user(aws, "stuck", key_ages=(95, 20), tags={"keyturn:managed": "true"})
    result = keyturn("run")
    assert result.exit_code == 3
    assert len(keys_of(aws, "due")) == 2
    assert "refused" in result.output


def test_rotate_and_restore(aws: EmbeddedAws, keyturn: Callable[..., Result]) -> None:
    make_user(aws, "app")
    assert keyturn("rotate", "app").exit_code == 0
    [first] = keys_of(aws, "app")
    aws.backdate_key("app", first, 85)
    assert keyturn("rotate", "app").exit_code == 0
    assert current_secret(aws, "app")["AccessKeyId"] != first
    result = keyturn("restore", "app")
    assert result.exit_code == 0, result.output
    assert current_secret(aws, "app")["AccessKeyId"] == first


def test_rotate_with_grace_zero_replaces_the_key(
    aws: EmbeddedAws, keyturn: Callable[..., Result]
) -> None:
    [old] = make_user(aws, "app", key_ages=(30,))
    result = keyturn("rotate", "app", "--grace-days", "0")
    assert result.exit_code == 0
    assert old not in keys_of(aws, "app")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("rotate", "bad/name"), 2, "1-64 characters"),
        (("rotate", "app", "--grace-days", "-1"), 2, "Invalid value"),
        (("plan", "--at", "someday"), 2, "not an ISO 8601 date"),
        (("rotate", "ghost"), 1, "does not exist"),
        (("frobnicate",), 2, "No such command"),
    ],
)
def test_exit_codes(
    aws: EmbeddedAws,
    keyturn: Callable[..., Result],
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    make_user(aws, "app", key_ages=(10,))
    result = keyturn(*args)
    assert result.exit_code == code
    assert message in result.output


def test_a_refusal_exits_3(aws: EmbeddedAws, keyturn: Callable[..., Result]) -> None:
    make_user(aws, "app", key_ages=(95, 20))
    result = keyturn("rotate", "app")
    assert result.exit_code == 3
    assert "two active keys" in result.output


def test_no_command_prints_a_secret(
    aws: EmbeddedAws, keyturn: Callable[..., Result], issued_secrets: Callable[[], set[str]]
) -> None:
    make_user(aws, "app", key_ages=(85,), tags={"keyturn:managed": "true"})
    outputs = [
        keyturn("rotate", "app").output,
        keyturn("--output", "json", "rotate", "app", "--grace-days", "0").output,
        keyturn("--output", "json", "scan").output,
        keyturn("run").output,
        keyturn("--output", "json", "plan").output,
    ]
    secrets = issued_secrets()
    assert len(secrets) >= 2
    assert not any(secret in out for secret in secrets for out in outputs)


def test_the_console_script_is_installed(aws: EmbeddedAws) -> None:
    script = Path(sys.executable).with_name("keyturn")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    for command in ("scan", "plan", "run", "rotate", "restore", "demo"):
        assert command in done.stdout


def test_a_run_with_nothing_to_do_prints_its_count_not_an_empty_table(
    keyturn: Callable[..., Result],
) -> None:
    result = keyturn("run")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        "0 changed, 0 refused, 0 failed, 0 deferred, 0 unchanged (0 users)"
    ]
