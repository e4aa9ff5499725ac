"""Secrets Manager's rotation events: parsing, and the steps on the in-memory fakes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from keyturn.errors import BadRequestError, RefusedError
from keyturn.handler import handle
from keyturn.handler.events import parse_event
from keyturn.rotation.rotator import Rotator
from keyturn.rotation.secrets_manager import RotationEvent, Step
from keyturn.settings import Settings
from keyturn.testing import FakeAws

# Eight days on: the previous key's grace is over, so a requested rotation may retire it.
pytestmark = pytest.mark.world(users={"app": 85}, rotate=["app"], advance_days=8)

SECRET = "keyturn/app"
TOKEN = "6f7a2c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"


def test_a_rotation_event_is_parsed() -> None:
    event = {
        "Step": "testSecret",
        "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/app-AbCdEf",
        "ClientRequestToken": TOKEN,
        "RotationToken": "opaque",
    }
    assert parse_event(event) == RotationEvent(Step.TEST, event["SecretId"], TOKEN)


@pytest.mark.parametrize(
    "event",
    [
        {"Step": "dropSecret", "SecretId": "keyturn/app", "ClientRequestToken": TOKEN},
        {"Step": "createSecret", "SecretId": "", "ClientRequestToken": TOKEN},
        {"Step": "createSecret", "SecretId": "keyturn/app", "ClientRequestToken": "short"},
        {"Step": "createSecret", "SecretId": "keyturn/app", "ClientRequestToken": TOKEN, "x": 1},
    ],
)
def test_malformed_rotation_events_are_refused(event: dict[str, Any]) -> None:
    with pytest.raises(BadRequestError):
        parse_event(event)


def _step(world: FakeAws, step: str, token: str, secret_id: str = SECRET) -> dict[str, Any]:
    def factory(settings: Settings, run_id: str) -> Rotator:
        del settings, run_id
        return world.rotator()

    event = {"Step": step, "SecretId": secret_id, "ClientRequestToken": token}
    return handle(event, "unit", factory)


def _labels(world: FakeAws) -> dict[str, set[str]]:
    return {token: set(stages) for token, _, stages in world.secrets.secrets["app"].versions}


def test_every_step_is_safe_to_repeat_and_the_end_state_is_valid(world: FakeAws) -> None:
    token = str(uuid.uuid4())
    before = world.current("app")
    outcomes = [
        _step(world, step, token)["outcome"]
        for step in ("createSecret", "createSecret", "setSecret", "testSecret", "testSecret")
    ]
    assert outcomes == ["created", "already-created", "nothing-to-set", "verified", "verified"]
    assert world.current("app") == before
    assert len(world.key_ids("app")) == 2
    assert _step(world, "finishSecret", token)["outcome"] == "promoted"
    assert _step(world, "finishSecret", token)["outcome"] == "already-current"
    assert _step(world, "testSecret", token)["outcome"] == "already-current"
    assert _labels(world)[token] == {"AWSCURRENT", "AWSPENDING"}
    assert world.current("app") != before
    assert [n.kind.value for n in world.notifier.sent][-1] == "rotated"


def test_finish_proves_a_key_test_never_saw(world: FakeAws) -> None:
    token = str(uuid.uuid4())
    _step(world, "createSecret", token)
    assert _step(world, "finishSecret", token)["outcome"] == "promoted"
    state = world.secrets.read_state("app")
    assert state is not None
    assert state.verified_key_id == state.current_key_id


def test_only_keyturn_secrets_are_rotated(world: FakeAws) -> None:
    with pytest.raises(RefusedError):
        _step(world, "createSecret", str(uuid.uuid4()), secret_id="someone/else")


def test_steps_for_an_unknown_rotation_fail(world: FakeAws) -> None:
    with pytest.raises(RefusedError):
        _step(world, "testSecret", str(uuid.uuid4()))
