"""Who keyturn's clients are, asked of STS at most once (in-process moto)."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from keyturn.aws.session import AwsClients, CallerIdentity
from keyturn.emulator.calls import CallCounter
from keyturn.wiring.fleet import function_account


def test_the_caller_is_asked_of_sts_once_for_account_and_arn() -> None:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        counter = CallCounter().attach(session)
        clients = AwsClients.connect(session=session)
        arn, account = clients.caller_arn(), clients.account_id()
        assert (clients.caller_arn(), clients.account_id()) == (arn, account)
        assert counter.calls["sts.GetCallerIdentity"] == 1


def test_a_known_account_alone_still_asks_sts_for_the_arn() -> None:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        counter = CallCounter().attach(session)
        clients = AwsClients.connect(session=session)
        clients.identity = CallerIdentity("123456789012")
        assert clients.account_id() == "123456789012"
        assert counter.calls["sts.GetCallerIdentity"] == 0
        assert ":" in clients.caller_arn()
        assert counter.calls["sts.GetCallerIdentity"] == 1


def test_assumed_role_clients_know_their_session_arn_and_account() -> None:
    with mock_aws():
        hub = AwsClients.connect(session=boto3.Session(region_name="us-east-1"))
        member, _ = hub.assume_role("keyturn-member", "210987654321", "keyturn-fleet", None)
        counter = CallCounter().attach(member.session)
        assert member.account_id() == "210987654321"
        assert member.caller_arn() == (
            "arn:aws:sts::210987654321:assumed-role/keyturn-member/keyturn-fleet"
        )
        # what STS would answer for the same credentials
        asked = member.sts().get_caller_identity()
        assert (asked["Account"], asked["Arn"]) == (member.account_id(), member.caller_arn())
        assert counter.calls["sts.GetCallerIdentity"] == 1  # only the comparison's


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        ("arn:aws:lambda:eu-west-1:123456789012:function:keyturn-worker", "123456789012"),
        ("arn:aws:lambda:eu-west-1:123456789012:function:keyturn-worker:live", "123456789012"),
        ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:w", "123456789012"),
        ("arn:aws:sqs:eu-west-1:123456789012:queue", None),
        ("arn:aws:lambda:eu-west-1:12345:function:w", None),
        ("local", None),
        (None, None),
    ],
)
def test_the_functions_account_is_read_from_its_arn(arn: str | None, account: str | None) -> None:
    assert function_account(SimpleNamespace(invoked_function_arn=arn)) == account
    assert function_account(object()) is None
