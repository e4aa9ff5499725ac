"""The emulator fixture itself: a reset world, reachable by boto3 and the AWS CLI."""

from __future__ import annotations

from collections.abc import Callable

from keyturn.emulator import EmbeddedAws


def test_emulator_starts_empty_and_answers_the_aws_cli(
    aws: EmbeddedAws, aws_cli: Callable[..., object]
) -> None:
    aws.client("iam").create_user(UserName="probe")
    listed = aws_cli("iam", "list-users")
    assert isinstance(listed, dict)
    assert [u["UserName"] for u in listed["Users"]] == ["probe"]


def test_each_test_gets_a_reset_emulator(aws: EmbeddedAws) -> None:
    assert aws.client("iam").list_users()["Users"] == []
