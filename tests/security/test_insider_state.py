"""Issue 9, rows T1, T3, T4, T6 and T7: an insider who may tag users or secrets, or ask Secrets
Manager for a rotation, must not steer keyturn into harm.

Each test plays the attack against moto server through the Lambda handler, as the deployed
function would see it, and asserts that it fails: the user is refused (or left alone), someone
is told, nothing changes for that user, and every other user is handled as usual.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyturn.emulator import EmbeddedAws
from keyturn.handler import lambda_handler
from tests.integration.helpers import LambdaContext, keys_of, make_topic, make_user, world_state

SCHEDULED = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
SHORTEST = {
    "keyturn:rotate-after-days": "1",
    "keyturn:grace-days": "0",
    "keyturn:delete-after-days": "0",
}


@pytest.fixture
def deployment(aws: EmbeddedAws, no_scope: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The template's defaults: users under /integrations/, the recipe's user listed, tag
    opt-in off; notifications to a topic. Returns the topic's ARN."""
    monkeypatch.setenv("KEYTURN_USER_PATH", "/integrations/")
    monkeypatch.setenv("KEYTURN_USERS", "test")
    topic = make_topic(aws)
    monkeypatch.setenv("KEYTURN_TOPIC_ARN", topic)
    return topic


def _handle(event: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = lambda_handler(event, LambdaContext())
    return answer


def _statuses(answer: dict[str, Any]) -> dict[str, str]:
    return {u["UserName"]: u["status"] for u in answer["body"]["users"]}


def _notices(aws: EmbeddedAws, topic: str) -> list[dict[str, Any]]:
    return [json.loads(m.message) for m in aws.sent_notifications(topic)]


def _tag_secret(aws: EmbeddedAws, user: str, key: str, value: str) -> None:
    aws.client("secretsmanager").tag_resource(
        SecretId=f"keyturn/{user}", Tags=[{"Key": key, "Value": value}]
    )


def _user_state(aws: EmbeddedAws, user: str) -> dict[str, Any]:
    state = world_state(aws)
    return {
        "keys": state["users"].get(user),
        "secret": {k: v for k, v in state["secrets"].items() if k.startswith(f"keyturn/{user}")},
    }


# T1: iam:TagUser on an admin user -----------------------------------------------------------


@pytest.mark.attack("T1: tag an admin user keyturn:managed with the shortest schedule")
def test_tagging_an_admin_managed_does_not_hand_its_keys_to_keyturn(
    aws: EmbeddedAws, deployment: str
) -> None:
    make_user(aws, "admin", key_ages=(85,), tags={"keyturn:managed": "true", **SHORTEST})
    make_user(aws, "sqs-adapter", key_ages=(85,), path="/integrations/")
    before = _user_state(aws, "admin")
    answer = _handle(SCHEDULED)
    assert answer["statusCode"] == 200
    # outside the scope (tag opt-in is off): the report-driven run does not even read it
    assert _statuses(answer) == {"sqs-adapter": "changed"}
    assert _user_state(aws, "admin") == before


@pytest.mark.attack("T1: the recipe's create event for a user outside the scope")
@pytest.mark.parametrize("action", ["create", "restore"])
def test_explicit_events_for_a_user_outside_the_scope_are_refused(
    aws: EmbeddedAws, deployment: str, action: str
) -> None:
    make_user(aws, "admin", key_ages=(85,), tags={"keyturn:managed": "true"})
    before = world_state(aws)
    answer = _handle({"action": action, "username": "admin"})
    assert answer["statusCode"] == 409
    assert "outside keyturn's scope" in answer["error"]
    assert "KEYTURN_MANAGE_TAGGED" in answer["error"]
    assert world_state(aws) == before
    assert [n["Event"] for n in _notices(aws, deployment)] == ["refused"]


@pytest.mark.attack("T1: a Secrets Manager rotation of a secret named after an admin")
def test_a_secrets_manager_rotation_for_a_user_outside_the_scope_is_refused(
    aws: EmbeddedAws, deployment: str
) -> None:
    make_user(aws, "admin", key_ages=(85,))
    sm = aws.client("secretsmanager")
    arn = sm.create_secret(Name="keyturn/admin", Tags=[{"Key": "keyturn:user", "Value": "admin"}])
    before = world_state(aws)
    step = {"Step": "createSecret", "SecretId": arn["ARN"], "ClientRequestToken": str(uuid.uuid4())}
    with pytest.raises(Exception, match="outside keyturn's scope"):
        _handle(step)
    assert world_state(aws) == before


@pytest.mark.attack("T1: user tags that shorten the schedule below the operator's floors")
@pytest.mark.parametrize(("tag", "value"), sorted(SHORTEST.items()))
def test_tags_may_lengthen_the_schedule_but_never_shorten_it(
    aws: EmbeddedAws, deployment: str, monkeypatch: pytest.MonkeyPatch, tag: str, value: str
) -> None:
    monkeypatch.setenv("KEYTURN_MANAGE_TAGGED", "true")
    make_user(aws, "tagged", key_ages=(85,), tags={"keyturn:managed": "true", tag: value})
    before = _user_state(aws, "tagged")
    answer = _handle(SCHEDULED)
    assert _statuses(answer)["tagged"] == "refused"
    assert _user_state(aws, "tagged") == before
    [notice] = _notices(aws, deployment)
    assert notice["Event"] == "refused"
    assert "below the operator's floor" in notice["Reason"]


# T3: secretsmanager:TagResource on one keyturn/* secret -----------------------------------


@pytest.mark.attack("T3: a forged in-flight mark dated at another team's key")
def test_a_forged_in_flight_mark_never_gets_a_foreign_key_deleted(
    aws: EmbeddedAws, deployment: str
) -> None:
    # GIVEN a user keyturn rotated, and another team's active key added to it afterwards
    make_user(aws, "victim", key_ages=(85,), path="/integrations/")
    assert _statuses(_handle(SCHEDULED))["victim"] == "changed"
    iam = aws.client("iam")
    old = [k for k, s in keys_of(aws, "victim").items() if s == "Active"]
    for key_id in old[:1]:  # make room as the team would: their old key is theirs to drop
        iam.update_access_key(UserName="victim", AccessKeyId=key_id, Status="Inactive")
    state = keys_of(aws, "victim")
    current = json.loads(
        aws.client("secretsmanager").get_secret_value(SecretId="keyturn/victim")["SecretString"]
    )["AccessKeyId"]
    for key_id in state:
        if key_id != current:
            iam.delete_access_key(UserName="victim", AccessKeyId=key_id)
    foreign = iam.create_access_key(UserName="victim")["AccessKey"]
    aws.backdate_key("victim", foreign["AccessKeyId"], 30)
    [meta] = [
        k
        for k in iam.list_access_keys(UserName="victim")["AccessKeyMetadata"]
        if k["AccessKeyId"] == foreign["AccessKeyId"]
    ]
    # WHEN the attacker dates the in-flight mark at the foreign key's creation
    created = meta["CreateDate"].astimezone(UTC) - timedelta(seconds=1)
    _tag_secret(aws, "victim", "keyturn:pending-since", created.isoformat())
    answer = _handle(SCHEDULED)
    # THEN the foreign key keyturn never created is still there and still active
    assert answer["statusCode"] == 200
    assert keys_of(aws, "victim")[foreign["AccessKeyId"]] == "Active"
    assert keys_of(aws, "victim")[current] == "Active"


# T4: values keyturn cannot use, and one user never stops the others -----------------------


@pytest.mark.attack("T4: a tag value that passes str.isdigit, and a naive time in a mark")
@pytest.mark.parametrize(
    "poison",
    [
        ("user", "keyturn:grace-days", "²"),
        ("user", "keyturn:rotate-after-days", "٣٠"),
        ("secret", "keyturn:deactivated", "AKIAAAAAAAAAAAAAAAAA@2026-01-01T00:00:00"),
        ("secret", "keyturn:pending-since", "2026-01-01T00:00:00"),
        ("secret", "keyturn:verified", "not a stamp"),
        ("secret", "keyturn:current", "not a mirror"),
        ("secret", "keyturn:current", "0" * 36 + "/AKIAAAAAAAAAAAAAAAAA/2026-01-01T00:00:00//7/7"),
        ("secret", "keyturn:current", "0" * 36 + "/AKIAAAAAAAAAAAAAAAAA///99999/7"),
    ],
    ids=lambda p: f"{p[0]}:{p[1]}",
)
def test_a_poisoned_user_is_refused_and_the_run_goes_on(
    aws: EmbeddedAws, deployment: str, poison: tuple[str, str, str]
) -> None:
    where, tag, value = poison
    make_user(aws, "poisoned", key_ages=(85,), path="/integrations/")
    if where == "secret":
        assert _statuses(_handle(SCHEDULED))["poisoned"] == "changed"
        _tag_secret(aws, "poisoned", tag, value)
    else:
        aws.client("iam").tag_user(UserName="poisoned", Tags=[{"Key": tag, "Value": value}])
    for name in ("a-before", "z-after"):
        make_user(aws, name, key_ages=(85,), path="/integrations/")
    before = _user_state(aws, "poisoned")
    answer = _handle(SCHEDULED)
    assert answer["statusCode"] == 200
    statuses = _statuses(answer)
    assert statuses["poisoned"] == "refused"
    assert statuses["a-before"] == statuses["z-after"] == "changed"
    assert _user_state(aws, "poisoned") == before
    refusals = [n for n in _notices(aws, deployment) if n["Event"] == "refused"]
    assert [n["UserName"] for n in refusals] == ["poisoned"]
    assert tag in refusals[0]["Reason"]


# T6: secretsmanager:RotateSecret twice -----------------------------------------------------


@pytest.mark.attack("T6: two Secrets Manager rotations seconds apart")
def test_a_second_rotation_in_a_row_is_refused_and_the_grace_is_kept(
    aws: EmbeddedAws, deployment: str
) -> None:
    # GIVEN a user rotated just now: its consumer was promised seven days on the old key
    make_user(aws, "app", key_ages=(85,), path="/integrations/")
    assert _statuses(_handle(SCHEDULED))["app"] == "changed"
    arn = aws.client("secretsmanager").describe_secret(SecretId="keyturn/app")["ARN"]
    before = world_state(aws)
    # WHEN someone asks Secrets Manager to rotate it again
    step = {"Step": "createSecret", "SecretId": arn, "ClientRequestToken": str(uuid.uuid4())}
    with pytest.raises(Exception, match="second requested rotation in a row is refused"):
        _handle(step)
    # THEN both keys are as they were: the old one still active through its grace
    assert world_state(aws) == before
    assert sorted(keys_of(aws, "app").values()) == ["Active", "Active"]


# T7: a mark in the far future ---------------------------------------------------------------


@pytest.mark.attack("T7: an in-flight mark in 9999 that silently stops rotation")
def test_a_mark_in_the_future_is_refused_loudly(aws: EmbeddedAws, deployment: str) -> None:
    make_user(aws, "app", key_ages=(85,), path="/integrations/")
    assert _statuses(_handle(SCHEDULED))["app"] == "changed"
    future = datetime(9999, 12, 31, tzinfo=UTC).isoformat()
    _tag_secret(aws, "app", "keyturn:pending-since", f"{future}@")
    answer = _handle(SCHEDULED)
    [user] = [u for u in answer["body"]["users"] if u["UserName"] == "app"]
    assert user["status"] == "refused"
    assert "in the future" in user["message"]
    assert [n["Event"] for n in _notices(aws, deployment)][-1] == "refused"
