"""Settings from the environment and policy overrides from tags: validated once, clearly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from keyturn.core import Policy
from keyturn.errors import ConfigurationError
from keyturn.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.policy == Policy()
    assert settings.secret_name("app") == "keyturn/app"
    assert settings.topic_arn is None
    assert not settings.notify_include_secret


def test_environment_variables() -> None:
    settings = Settings.from_env(
        {
            "KEYTURN_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
            "KEYTURN_NOTIFY_INCLUDE_SECRET": "TRUE",
            "KEYTURN_SECRET_PREFIX": "creds/",
            "KEYTURN_ROTATE_AFTER_DAYS": "60",
            "KEYTURN_GRACE_DAYS": "3",
            "KEYTURN_DELETE_AFTER_DAYS": "0",
            "KEYTURN_USER_PATH": "/svc/",
            "KEYTURN_USERS": "a, b,,c",
            "KEYTURN_DELETE_FOREIGN_KEYS": "true",
        }
    )
    assert settings.notify_include_secret
    assert settings.secret_name("a") == "creds/a"
    assert settings.policy == Policy(60, 3, 0, delete_foreign_keys=True)
    assert settings.scope.user_names == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("env", "interval", "tolerance"),
    [
        ({}, timedelta(days=1), timedelta(minutes=5)),
        ({"KEYTURN_RUN_INTERVAL_HOURS": "1"}, timedelta(hours=1), timedelta(minutes=5)),
        (
            {"KEYTURN_RUN_INTERVAL_HOURS": "168", "KEYTURN_RUN_TOLERANCE_SECONDS": "3600"},
            timedelta(days=7),
            timedelta(hours=1),
        ),
        ({"KEYTURN_RUN_INTERVAL_HOURS": "0"}, None, timedelta(minutes=5)),
        ({"KEYTURN_RUN_INTERVAL_HOURS": ""}, timedelta(days=1), timedelta(minutes=5)),
    ],
)
def test_the_run_clock_comes_from_the_environment(
    env: dict[str, str], interval: timedelta | None, tolerance: timedelta
) -> None:
    policy = Settings.from_env(env).policy
    assert (policy.run_interval, policy.run_tolerance) == (interval, tolerance)
    assert policy.clock.scheduled is (interval is not None)


def test_explicit_arguments_beat_the_environment() -> None:
    settings = Settings.from_env({"AWS_REGION": "eu-west-1"}, region="us-east-2", profile=None)
    assert settings.region == "us-east-2"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEYTURN_GRACE_DAYS": "seven"}, "KEYTURN_GRACE_DAYS must be a whole number"),
        ({"KEYTURN_ROTATE_AFTER_DAYS": "0"}, "between 1 and 3650"),
        ({"KEYTURN_DELETE_AFTER_DAYS": "-1"}, "whole number"),
        ({"KEYTURN_NOTIFY_INCLUDE_SECRET": "yes"}, "must be true or false"),
        ({"KEYTURN_USER_PATH": "svc"}, "must start and end with '/'"),
        ({"KEYTURN_RUN_INTERVAL_HOURS": "1.5"}, "KEYTURN_RUN_INTERVAL_HOURS must be a whole"),
        ({"KEYTURN_RUN_INTERVAL_HOURS": "745"}, "from 0 to 744"),
        ({"KEYTURN_RUN_TOLERANCE_SECONDS": "-1"}, "KEYTURN_RUN_TOLERANCE_SECONDS must be"),
        (
            {"KEYTURN_RUN_INTERVAL_HOURS": "1", "KEYTURN_RUN_TOLERANCE_SECONDS": "1800"},
            "under half the run interval",
        ),
    ],
)
def test_bad_environment_values_are_explained(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(env)


def test_tag_overrides() -> None:
    policy = Policy().for_user(
        "app",
        {
            "keyturn:rotate-after-days": "30",
            "keyturn:grace-days": "2",
            "keyturn:delete-after-days": "1",
            "keyturn:exempt": "false",
        },
    )
    assert policy == Policy(30, 2, 1)
    assert Policy().for_user("vip", {"keyturn:exempt": "True"}).exempt


def test_a_bad_tag_names_the_user_and_the_tag() -> None:
    with pytest.raises(ConfigurationError, match="user app: tag keyturn:grace-days"):
        Policy().for_user("app", {"keyturn:grace-days": "1w"})
