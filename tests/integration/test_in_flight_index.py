"""The in-flight mark on moto server: the report-first run's index (ListSecrets' filters, as AWS
has them), and a mark on a secret that has no policy yet.

Secrets Manager's ``tag-key`` and ``tag-value`` filters are case-sensitive prefix matches, the
value one on *any* tag's value (not the tag the key filter named). An in-flight mark is emptied,
not removed, when its rotation ends, so the index filters on the ``since:`` value prefix and
checks each listed secret's own mark again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from keyturn.aws.secret_index import SecretsInFlightIndex
from keyturn.aws.secrets import SecretsManagerStore
from keyturn.core.delivery import Marks
from keyturn.core.secret_trust import SecretTrust, creation_tags
from keyturn.emulator import ACCOUNT_ID, EmbeddedAws
from keyturn.emulator.calls import CallCounter
from tests.integration.helpers import make_user

SINCE = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/keyturn-rotation"


MARK = "keyturn:pending-since"


def _secret(aws: EmbeddedAws, name: str, tags: dict[str, str]) -> None:
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    aws.client("secretsmanager").create_secret(Name=name, Tags=tag_list)


def test_only_this_keyturns_non_empty_marks_under_the_prefix_are_listed(aws: EmbeddedAws) -> None:
    # GIVEN secrets with every kind of mark, and one under another prefix
    _secret(aws, "keyturn/a", {MARK: f"since:{SINCE}@"})
    _secret(aws, "keyturn/b", {MARK: ""})  # emptied: the rotation ended
    _secret(aws, "keyturn/c", {MARK: f"{SINCE}@"})  # an older keyturn's
    # emptied, but another tag's value starts the same: the tag-value filter lets it through
    _secret(aws, "keyturn/d", {MARK: "", "note": "since:yesterday"})
    _secret(aws, "other/e", {MARK: f"since:{SINCE}@"})
    sm = aws.client("secretsmanager")
    # THEN moto's filters are prefix matches, the value one on any tag (as AWS documents)
    filters = [
        {"Key": "name", "Values": ["keyturn/"]},
        {"Key": "tag-key", "Values": ["keyturn:pending-since"]},
        {"Key": "tag-value", "Values": ["since:"]},
    ]
    answer = sm.list_secrets(Filters=filters)
    listed = {s["Name"] for s in answer["SecretList"]}
    assert listed == {"keyturn/a", "keyturn/d"}
    # AND the index keeps only the secret whose own mark is this keyturn's, not emptied
    assert SecretsInFlightIndex(sm).users_in_flight() == frozenset({"a"})


def test_a_first_rotations_mark_is_listed_from_creation_until_it_is_emptied(
    aws: EmbeddedAws,
) -> None:
    # GIVEN a user's secret created with a rotation's in-flight mark in its tags
    make_user(aws, "app", key_ages=(85,))
    sm = aws.client("secretsmanager")
    store = SecretsManagerStore(sm, trust=SecretTrust((ROLE,)))
    owner = aws.client("iam").get_user(UserName="app")["User"]["Arn"]
    in_flight = Marks(pending_since=datetime.now(UTC), keys_before=("AKIAOLD0000000000000",))
    store.claim("app", owner, in_flight)
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="keyturn/app")["Tags"]}
    assert tags[MARK].startswith("since:")
    assert sm.get_resource_policy(SecretId="keyturn/app").get("ResourcePolicy")
    index = SecretsInFlightIndex(sm)
    assert index.users_in_flight() == frozenset({"app"})
    # WHEN the mark is cleared THEN it is emptied, not removed, and no longer listed
    store.set_marks("app", Marks(clear_pending=True))
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId="keyturn/app")["Tags"]}
    assert tags[MARK] == ""
    assert index.users_in_flight() == frozenset()


def test_a_mark_on_a_bare_secret_is_believed_only_once_a_policy_is_on(aws: EmbeddedAws) -> None:
    # GIVEN a secret with keyturn's creation tags and a mark, but no policy and no version
    _secret(aws, "keyturn/app", {**creation_tags("app"), MARK: f"since:{SINCE}@"})
    session = aws.session()
    counter = CallCounter().attach(session)
    sm = session.client("secretsmanager", endpoint_url=aws.url)
    # THEN a writer reads no rotation in flight (one look at the policy) ...
    store = SecretsManagerStore(sm, trust=SecretTrust((ROLE,)))
    assert store.read_state("app") is None
    assert counter.calls["secretsmanager.GetResourcePolicy"] == 1
    # ... and the auditor, which may not read policies, shows the mark as it is
    auditor = SecretsManagerStore(sm, trust=SecretTrust((ROLE,)), metadata_only=True)
    state = auditor.read_state("app")
    assert state is not None
    assert state.pending_since == datetime.fromisoformat(SINCE)
    assert counter.calls["secretsmanager.GetResourcePolicy"] == 1
