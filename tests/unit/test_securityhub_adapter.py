"""The Security Hub adapter on in-process moto (``mock_aws``) with keyturn's fidelity patches
(moto 5.2 lacks BatchUpdateFindings; see keyturn.emulator.fidelity): ASFF shape, batches of
at most 100, stable Ids, resolution, and findings keyturn did not write left alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from keyturn.aws.securityhub import BATCH, GENERATOR, SecurityHubFindings
from keyturn.core.models import AccessKey, KeyStatus
from keyturn.emulator import fidelity
from keyturn.rotation.findings import Condition, Finding, Severity

ACCOUNT = "123456789012"
REGION = "us-east-1"
AT = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def hub() -> Iterator[Any]:
    with mock_aws(), fidelity.patched():
        client = boto3.client("securityhub", region_name=REGION)
        client.enable_security_hub()
        yield client


def refused(user: str) -> Finding:
    return Finding(Condition.REFUSED, user, f"refused {user}", "two keys", Severity.MEDIUM)


def all_findings(client: Any) -> list[dict[str, Any]]:
    pages = client.get_paginator("get_findings").paginate()
    return [f for page in pages for f in page["Findings"]]


def test_a_key_finding_is_asff_with_the_user_and_key(hub: Any) -> None:
    store = SecurityHubFindings(hub, ACCOUNT, REGION)
    key = AccessKey("AKIAEXAMPLEKEY000001", KeyStatus.ACTIVE, AT - timedelta(days=120))
    found = Finding(Condition.KEY_PAST_CAP, "app", "old key", "past cap", Severity.MEDIUM, key)
    assert store.upsert([found], AT, {}) == 0
    (doc,) = all_findings(hub)
    assert doc["Id"] == f"keyturn/{REGION}/{ACCOUNT}/key-past-cap/app/AKIAEXAMPLEKEY000001"
    assert doc["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
    assert doc["GeneratorId"] == GENERATOR
    assert doc["Types"] == ["Software and Configuration Checks/AWS Security Best Practices"]
    assert doc["Compliance"]["Status"] == "FAILED"
    assert any("IAM.3" in r for r in doc["Compliance"]["RelatedRequirements"])
    assert [r["Type"] for r in doc["Resources"]] == ["AwsIamUser", "AwsIamAccessKey"]
    assert doc["Resources"][0]["Id"] == f"arn:aws:iam::{ACCOUNT}:user/app"
    assert doc["Severity"] == {"Label": "MEDIUM"}


def test_imports_are_batched_and_reimports_update(
    hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SecurityHubFindings(hub, ACCOUNT, REGION)
    calls: list[int] = []
    original = hub.batch_import_findings

    def counting(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Findings"]))
        return original(**kwargs)

    monkeypatch.setattr(hub, "batch_import_findings", counting)
    many = [refused(f"user-{n}") for n in range(BATCH + 50)]
    store.upsert(many, AT, {})
    known = store.active()
    store.upsert(many, AT + timedelta(days=1), known)
    assert calls == [BATCH, 50, BATCH, 50]
    assert len(all_findings(hub)) == BATCH + 50  # same Ids: updated, not duplicated
    again = store.active()["refused/user-0"]
    assert again["CreatedAt"] == known["refused/user-0"]["CreatedAt"]  # kept on update
    assert again["UpdatedAt"] != again["CreatedAt"]


def test_resolving_archives_and_resolves_only_keyturns_findings(hub: Any) -> None:
    store = SecurityHubFindings(hub, ACCOUNT, REGION)
    store.upsert([refused("a"), refused("b")], AT, {})
    foreign = {
        **store.active()["refused/a"],
        "Id": "someone-else/a",
        "GeneratorId": "another-tool",
    }
    hub.batch_import_findings(Findings=[foreign])
    # WHEN keyturn resolves "a" and is handed the foreign record too
    failed = store.resolve([store.active()["refused/a"], foreign], AT + timedelta(days=1))
    assert failed == 0
    by_id = {f["Id"]: f for f in all_findings(hub)}
    resolved = by_id[store.finding_id("refused/a")]
    assert resolved["RecordState"] == "ARCHIVED"
    assert resolved["Workflow"] == {"Status": "RESOLVED"}
    assert resolved["Compliance"]["Status"] == "PASSED"
    assert by_id[store.finding_id("refused/b")]["RecordState"] == "ACTIVE"
    assert by_id["someone-else/a"].get("RecordState") == "ACTIVE"
    assert "Workflow" not in by_id["someone-else/a"]
    assert set(store.active()) == {"refused/b"}  # moto ignores Filters; the adapter does not
