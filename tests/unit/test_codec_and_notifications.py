"""The secret document, the state marks and the notification bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from keyturn.core import NewKey, SecretValue, StoredState
from keyturn.core import codec as state_codec
from keyturn.core.delivery import Delivery, Marks, SecretRef
from keyturn.errors import ConfigurationError
from keyturn.rotation import notices as notifications

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SECRET = SecretValue("example-not-a-real-secret-0123456789abcd")
KEY = NewKey("app", "AKIANEWNEWNEWNEWNEW1", SECRET, NOW)
REF = SecretRef("keyturn/app", "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/app")


def test_document_round_trips_into_state() -> None:
    delivery = Delivery(KEY, NOW, "AKIAOLDOLDOLDOLDOLD1", 7, 7, "token")
    doc = json.loads(json.dumps(state_codec.document(delivery)))
    assert doc["SecretAccessKey"] == SECRET.reveal()
    marks = state_codec.mark_tags(
        Marks(deactivated=("AKIAOLDOLDOLDOLDOLD1", NOW), warned_key_id="AKIAOLDOLDOLDOLDOLD1")
    )
    state = state_codec.state_from(doc, marks)
    assert state == StoredState(
        current_key_id=KEY.key_id,
        stored_at=NOW,
        previous_key_id="AKIAOLDOLDOLDOLDOLD1",
        grace_days=7,
        delete_after_days=7,
        deactivated_key_id="AKIAOLDOLDOLDOLDOLD1",
        deactivated_at=NOW,
        deactivation_told=True,
        warned_key_id="AKIAOLDOLDOLDOLDOLD1",
    )


def test_a_deactivation_mark_says_whether_its_notice_went_out() -> None:
    stamp = f"AKIAOLDOLDOLDOLDOLD1@{NOW.isoformat()}"
    tags = state_codec.mark_tags(Marks(deactivated=("AKIAOLDOLDOLDOLDOLD1", NOW)))
    assert tags["keyturn:deactivated"] == f"told:{stamp}"
    older = state_codec.state_from(None, {"keyturn:deactivated": stamp})  # an older keyturn's
    assert older is not None
    assert older.deactivated_time("AKIAOLDOLDOLDOLDOLD1") == NOW
    assert not older.deactivation_told


def test_a_secret_with_nothing_stored_has_no_state() -> None:
    assert state_codec.state_from(None, {}) is None
    pending = state_codec.mark_tags(Marks(pending_since=NOW))
    # The mark records the keys before the creation (none here).
    assert state_codec.state_from(None, pending) == StoredState(
        pending_since=NOW, keys_before=frozenset()
    )


OLD_ID = "AKIAOLDOLDOLDOLDOLD1"


def test_the_in_flight_mark_is_written_with_its_prefix_and_emptied_not_removed() -> None:
    tags = state_codec.mark_tags(Marks(pending_since=NOW, keys_before=(OLD_ID,)))
    assert tags == {state_codec.TAG_PENDING_SINCE: f"since:{NOW.isoformat()}@{OLD_ID}"}
    assert state_codec.mark_tags(Marks(clear_pending=True)) == {state_codec.TAG_PENDING_SINCE: ""}


@pytest.mark.parametrize(
    ("raw", "since", "before", "listed"),
    [
        (f"since:{NOW.isoformat()}@{OLD_ID}", NOW, frozenset({OLD_ID}), True),
        (f"since:{NOW.isoformat()}@", NOW, frozenset(), True),
        (f"{NOW.isoformat()}@{OLD_ID}", NOW, frozenset({OLD_ID}), False),  # an older keyturn
        (NOW.isoformat(), NOW, None, False),  # older still: no record of the keys
        ("", None, None, False),  # emptied: no rotation in flight
        ("since:", "refused", None, False),
        (f"since:since:{NOW.isoformat()}@", "refused", None, True),
        (f"Since:{NOW.isoformat()}@", "refused", None, False),
    ],
)
def test_the_in_flight_mark_is_read_in_every_format_and_listed_only_in_this_one(
    raw: str, since: datetime | str | None, before: frozenset[str] | None, listed: bool
) -> None:
    tags = {state_codec.TAG_PENDING_SINCE: raw}
    assert state_codec.pending_listed(raw) is listed
    if since == "refused":
        with pytest.raises(ConfigurationError, match="pending-since"):
            state_codec.state_from(None, tags)
        return
    state = state_codec.state_from(None, tags)
    if since is None:
        assert state is None
        return
    assert isinstance(since, datetime)
    assert state == StoredState(pending_since=since, keys_before=before)


def test_the_delivery_token_is_one_per_generation() -> None:
    first = StoredState(current_key_id="AKIA1", stored_at=NOW)
    assert state_codec.delivery_token("app", first) == state_codec.delivery_token("app", first)
    later = StoredState(current_key_id="AKIA1", stored_at=NOW + timedelta(days=1))
    assert state_codec.delivery_token("app", first) != state_codec.delivery_token("app", later)
    assert state_codec.delivery_token("app", None) != state_codec.delivery_token("other", None)


def test_the_secret_value_never_prints() -> None:
    assert SECRET.reveal() not in f"{SECRET} {SECRET!r} {KEY}"


def test_rotated_notice_carries_a_pointer_not_the_secret() -> None:
    schedule = (NOW + timedelta(days=7), NOW + timedelta(days=14))
    message = notifications.rotated(KEY, "AKIAOLD", REF, schedule, include_secret=False)
    text = json.dumps(message.body) + message.subject
    assert SECRET.reveal() not in text
    assert message.body["SecretName"] == "keyturn/app"
    assert message.body["DeactivatePreviousAt"] == "2026-03-08T00:00:00+00:00"
    assert message.subject.isascii()
    assert len(message.subject) < 100


def test_the_secret_is_in_the_notice_only_when_opted_in() -> None:
    message = notifications.rotated(KEY, None, REF, (None, None), include_secret=True)
    assert message.body["SecretAccessKey"] == SECRET.reveal()
