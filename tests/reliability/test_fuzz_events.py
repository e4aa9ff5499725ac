"""Issue 6.3: hypothesis-generated handler events never escape as exceptions, never change AWS.

Events are random JSON, near-valid events (a valid template with one field replaced, removed
or added), huge strings, unicode and wrong types. The world is arranged so that no well-formed
event may change it either: the only user is exempt, so "create" and "restore" are refused,
"run" and "plan" find nothing to do. AWS state (IAM users, keys and their status; secrets with
their versions, stages and tags) is read from moto's backends before and after every event.

Default: a few hundred examples. ``KEYTURN_SLOW=1``: 10,000 for each test.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from moto.iam.models import iam_backends
from moto.secretsmanager.models import secretsmanager_backends

from keyturn import handler
from keyturn.core.policy import TAG_EXEMPT
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.errors import BadRequestError
from keyturn.handler.events import parse_event
from keyturn.rotation.rotator import Rotator
from keyturn.settings import Settings
from keyturn.wiring import build_rotator

from .conftest import SLOW, report
from .world import USER, World, client, fresh_session

# Sized by KEYTURN_SLOW: small in `make test`, full in `make test-slow` (-m slow).
pytestmark = pytest.mark.slow

PARSE_EXAMPLES = 10_000 if SLOW else 1_000
HANDLER_EXAMPLES = 10_000 if SLOW else 200
OUTCOMES: Counter[str] = Counter()


def record_outcome(outcome: str) -> None:
    """Count one fuzzed event's outcome and refresh the figure for the terminal summary."""
    OUTCOMES[outcome] += 1
    handled = sum(n for k, n in OUTCOMES.items() if k.startswith("handler"))
    parsed = sum(n for k, n in OUTCOMES.items() if k.startswith("parse"))
    answers = ", ".join(
        f"{k.split()[-1]}: {n}" for k, n in sorted(OUTCOMES.items()) if k.startswith("handler")
    )
    report(
        "fuzzed events",
        f"{parsed} parsed, {handled} through the handler ({answers}); "
        "0 unhandled exceptions, 0 changes to AWS state",
    )


# Strategies ------------------------------------------------------------------------------

HUGE = st.builds(
    str.__mul__, st.sampled_from(["a", "é", "💥", "\x00", "alice", " "]), st.integers(1, 200_000)
)
TEXT = st.one_of(st.text(), HUGE, st.sampled_from(["", "run", "create", "plan", "restore"]))
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=20,
)
USER_NAMES = st.one_of(st.sampled_from([USER, "mallory", "bob", "a" * 64, "a" * 65]), TEXT)
TEMPLATES: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [
        {"action": "create", "username": USER},
        {"action": "create", "username": USER, "grace_days": 3, "delete_after_days": 2},
        {"action": "restore", "username": USER},
        {"action": "run"},
        {"action": "plan"},
        {"action": "plan", "at": "2027-01-01"},
        {"detail-type": "Scheduled Event", "source": "aws.events"},
        {"detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}},
    ]
)
FIELDS = st.sampled_from(
    ["action", "username", "grace_days", "delete_after_days", "at", "detail-type", "source"]
)


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one or two fields replaced, removed or added."""
    event: dict[str, Any] = dict(draw(TEMPLATES))
    for _ in range(draw(st.integers(1, 2))):
        name = draw(FIELDS)
        change = draw(st.sampled_from(["replace", "remove", "user", "day", "date"]))
        if change == "remove":
            event.pop(name, None)
        elif change == "user":
            event["username"] = draw(USER_NAMES)
        elif change == "day":
            event[name] = draw(st.one_of(st.integers(-5, 4000), SCALAR))
        elif change == "date":
            event["at"] = draw(st.one_of(st.datetimes().map(lambda d: d.isoformat()), TEXT))
        else:
            event[name] = draw(JSON)
    return event


EVENTS = st.one_of(JSON, near_valid(), st.lists(near_valid(), max_size=2))

# The world -------------------------------------------------------------------------------


def aws_state() -> dict[str, Any]:
    """IAM users and keys, secrets with versions, stages and tags, straight from moto."""
    iam = iam_backends[ACCOUNT_ID]["global"]
    users = {
        name: sorted((k.access_key_id, k.status) for k in user.access_keys)
        for name, user in iam.users.items()
    }
    tags = {
        name: dict(iam.tagger.get_tag_dict_for_resource(u.arn)) for name, u in iam.users.items()
    }
    secrets = {
        secret.name: (
            sorted(
                (v, tuple(d["version_stages"]), d.get("secret_string"))
                for v, d in secret.versions.items()
            ),
            sorted((t["Key"], t["Value"]) for t in secret.tags or []),
        )
        for secret in secretsmanager_backends[ACCOUNT_ID]["us-east-1"].secrets.values()
    }
    return {"users": users, "user tags": tags, "secrets": secrets}


@pytest.fixture
def exempt_world(aws: EmbeddedAws) -> World:
    """One user with a key keyturn delivered, then exempted: nothing may change it."""
    world = World(aws)
    world.add_user()
    world.rotator().run()
    client(aws, "iam").tag_user(UserName=USER, Tags=[{"Key": TAG_EXEMPT, "Value": "true"}])
    return world


# Tests -----------------------------------------------------------------------------------


UNHASHABLE_SOURCE = {"detail-type": "Scheduled Event", "source": []}
"""Found by this fuzzer: ``source in frozenset`` raised TypeError for a list."""


def test_a_scheduled_event_with_an_unhashable_source_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError):
        parse_event(UNHASHABLE_SOURCE)


@settings(max_examples=PARSE_EXAMPLES, deadline=None)
@example(event=UNHASHABLE_SOURCE)
@given(event=EVENTS)
def test_parse_event_answers_a_request_or_bad_request(event: object) -> None:
    message = None
    try:
        parse_event(event)
    except BadRequestError as exc:
        message = str(exc)
    record_outcome("parse: bad request" if message else "parse: request")
    assert message is None or len(message) < 300, "messages stay short whatever the input"


@settings(
    max_examples=HANDLER_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(event=UNHASHABLE_SOURCE)
@given(event=EVENTS)
def test_handler_never_raises_and_never_changes_aws(
    aws: EmbeddedAws, exempt_world: World, event: object
) -> None:
    def factory(settings: Settings, run_id: str) -> Rotator:
        return build_rotator(settings, session=fresh_session(aws), run_id=run_id)

    before = aws_state()
    answer = handler.handle(event, "fuzz", factory)
    assert aws_state() == before
    assert answer["statusCode"] in {200, 400, 404, 409}
    record_outcome(f"handler: {answer['statusCode']}")
    assert exempt_world.access_keys()
