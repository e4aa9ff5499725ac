"""Security Hub findings from runs: opened per key past the cap, refused and failed user;
resolved only when the run looked and saw the condition clear; never failing the run."""

from __future__ import annotations

from keyturn.core.models import User
from keyturn.errors import AwsError
from keyturn.rotation.findings import Condition, FindingsPublisher, assess, finding_ident
from keyturn.rotation.outcomes import deferred
from keyturn.rotation.results import RunResult
from keyturn.testing import FakeAws, InMemoryFindings

CAP = 90


def world_with_trouble() -> FakeAws:
    world = FakeAws()
    world.iam.add_user("twin")  # two active keys keyturn did not create: refused
    world.iam.add_key("twin", age_days=10)
    world.iam.add_key("twin", age_days=20)
    world.iam.add_user("ancient")
    world.iam.add_key("ancient", age_days=200)  # past the cap
    world.iam.add_user("broken")
    world.iam.add_key("broken", age_days=85)
    world.iam.add_user("fine")
    world.iam.add_key("fine", age_days=5)
    return world


def test_a_run_opens_one_finding_per_condition() -> None:
    world = world_with_trouble()
    world.secrets.fail_deliveries = 2  # ancient's and broken's rotations fail
    run = world.rotator().run()
    found = assess(run, CAP)
    conditions = sorted((f.condition.value, f.user_name, f.severity.value) for f in found.findings)
    assert conditions == [
        ("failed", "ancient", "HIGH"),
        ("failed", "broken", "HIGH"),
        ("refused", "twin", "MEDIUM"),
    ]
    # the failed users' keys were not read after the failure: their key findings stay as is
    assert "ancient" not in found.keys_known
    assert found.settled == {"twin", "ancient", "broken", "fine"}


def test_a_key_past_the_cap_is_a_finding_with_its_key() -> None:
    world = FakeAws()
    world.iam.add_user("old")
    key = world.iam.add_key("old", age_days=200)
    found = assess(world.rotator().plan_all(), CAP)
    (finding,) = [f for f in found.findings if f.condition is Condition.KEY_PAST_CAP]
    assert finding.key is not None
    assert finding.key.key_id == key.key_id
    assert finding.severity.value == "HIGH"  # more than twice the cap
    assert finding.ident == f"key-past-cap/old/{key.key_id}"


def test_a_user_whose_tag_lengthens_the_cap_is_judged_by_its_own_cap() -> None:
    world = FakeAws()
    world.iam.add_user("long", tags={"keyturn:max-active-days": "180"})
    world.iam.add_key("long", age_days=120)  # past the default cap, within its own
    world.iam.add_user("short")
    world.iam.add_key("short", age_days=120)
    found = assess(world.rotator().plan_all(), CAP)
    past_cap = {f.user_name for f in found.findings if f.condition is Condition.KEY_PAST_CAP}
    assert past_cap == {"short"}


def test_findings_open_update_and_resolve_with_the_state() -> None:
    world = world_with_trouble()
    store = InMemoryFindings()
    publisher = FindingsPublisher(store, CAP)
    world.secrets.fail_deliveries = 1
    first = publisher.publish(world.rotator().run())
    assert first.failed == 0
    opened = store.open_idents()
    assert finding_ident(Condition.REFUSED, "twin") in opened
    # WHEN the refused user's foreign key goes and the run repeats
    world.iam.delete_key("twin", world.key_ids("twin")[0])
    world.clock.advance(days=1)
    second = publisher.publish(world.rotator().run())
    # THEN its finding is resolved, archived; the others were looked at too
    assert store.records[finding_ident(Condition.REFUSED, "twin")]["workflow"] == "RESOLVED"
    assert finding_ident(Condition.REFUSED, "twin") not in store.open_idents()
    assert second.resolved >= 1


def test_users_the_run_did_not_look_at_keep_their_findings() -> None:
    world = world_with_trouble()
    store = InMemoryFindings()
    publisher = FindingsPublisher(store, CAP)
    publisher.publish(world.rotator().plan_all())
    before = store.open_idents()
    assert finding_ident(Condition.REFUSED, "twin") in before
    # GIVEN a run that deferred twin and did not list ancient at all
    later = RunResult("r2", world.clock.now(), (deferred(User("twin")),))
    publisher.publish(later)
    assert store.open_idents() == before


def test_a_findings_failure_never_fails_the_run() -> None:
    store = InMemoryFindings(fail_with=AwsError("GetFindings", "AccessDeniedException", "no"))
    world = world_with_trouble()
    done = FindingsPublisher(store, CAP).publish(world.rotator().plan_all())
    assert done.failed >= 1
    assert "AccessDeniedException" in done.errors[0]
