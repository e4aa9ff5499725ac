"""Plans (scan, plan, report, the forecast) and listings read many users at once, in order."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import boto3
import pytest
from moto import mock_aws

from keyturn.aws.iam import IamUsers
from keyturn.core.models import AccessKey, User
from keyturn.rotation.results import Status
from keyturn.testing import FakeAws
from keyturn.wiring import many_at_once

AT_ONCE = 4


def _due_users(aws: FakeAws, count: int) -> list[str]:
    names = [f"user{n:02d}" for n in range(count)]
    for name in names:
        aws.iam.add_user(name)
        aws.iam.add_key(name, age_days=85)
    return names


def _meeting(aws: FakeAws, monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """Every key listing waits until ``parties`` listings are under way (or fails after 5 s,
    which a plan made one user after another would)."""
    barrier = threading.Barrier(parties, timeout=5)
    listed = aws.iam.list_keys

    def list_keys(user_name: str, **kwargs: Any) -> list[AccessKey]:
        barrier.wait()
        return listed(user_name, **kwargs)

    monkeypatch.setattr(aws.iam, "list_keys", list_keys)


def test_a_plan_reads_many_users_at_once_and_reports_them_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN eight due users whose key listings only return once four are under way at once
    aws = FakeAws()
    names = _due_users(aws, 2 * AT_ONCE)
    _meeting(aws, monkeypatch, AT_ONCE)
    told: list[str] = []
    # WHEN every user is planned
    result = aws.rotator().plan_all(progress=lambda r: told.append(r.user_name))
    # THEN each was planned (none failed waiting), in the directory's order, and told in it
    assert [u.user_name for u in result.users] == names
    assert {u.status for u in result.users} == {Status.PLANNED}
    assert told == names


def test_the_forecast_reads_many_users_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    aws = FakeAws()
    names = _due_users(aws, AT_ONCE)
    _meeting(aws, monkeypatch, AT_ONCE)
    outlook = aws.rotator().forecast()
    assert sorted(k.user_name for k in outlook.rotations) == names


def test_one_user_s_failure_is_its_result_and_the_others_are_planned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN four users, the listing of one of them failing
    aws = FakeAws()
    names = _due_users(aws, AT_ONCE)
    listed = aws.iam.list_keys

    def list_keys(user_name: str, **kwargs: Any) -> list[AccessKey]:
        if user_name == names[1]:
            raise RuntimeError("surprise")
        return listed(user_name, **kwargs)

    monkeypatch.setattr(aws.iam, "list_keys", list_keys)
    # WHEN every user is planned
    result = aws.rotator().plan_all()
    # THEN that user failed and the rest were planned, in order
    statuses = {u.user_name: u.status for u in result.users}
    assert [u.user_name for u in result.users] == names
    assert statuses.pop(names[1]) is Status.FAILED
    assert set(statuses.values()) == {Status.PLANNED}


def test_a_listing_reads_each_user_s_tags_through_the_concurrent_map() -> None:
    # GIVEN users whose tags ListUsers does not carry
    with mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        names = [f"user{n:02d}" for n in range(6)]
        for name in names:
            client.create_user(UserName=name, Tags=[{"Key": "team", "Value": name}])
        mapped: list[int] = []
        concurrent = many_at_once(AT_ONCE)

        def many(work: Callable[[Any], User], items: Sequence[Any]) -> Iterable[User]:
            mapped.append(len(items))
            return concurrent(work, items)

        # WHEN the users are listed with a concurrent map
        users = list(IamUsers(client, many).list_users())
    # THEN every listed user went through it once, and each has its own tags, in order
    assert mapped == [len(names)]
    assert [(u.name, u.tags) for u in users] == [(n, {"team": n}) for n in names]
