"""Security Hub findings over real HTTP (the embedded moto server): the scheduled Lambda run
opens a finding for a refused user, and `keyturn run` resolves it once the state clears."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from keyturn.cli import cli
from keyturn.emulator import EmbeddedAws
from keyturn.handler import handle
from keyturn.wiring import forget_clients

from .helpers import keys_of, make_user

SCHEDULED = json.loads((Path(__file__).parents[1] / "events" / "scheduled.json").read_text())


def keyturn_findings(aws: EmbeddedAws) -> dict[str, dict[str, Any]]:
    pages = aws.client("securityhub").get_paginator("get_findings").paginate()
    return {
        f["Id"]: f for page in pages for f in page["Findings"] if f["Id"].startswith("keyturn/")
    }


def test_a_refused_user_opens_a_finding_that_resolves_when_cleared(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYTURN_SECURITY_HUB", "true")
    forget_clients()
    aws.client("securityhub").enable_security_hub()
    # GIVEN a managed user with two active keys keyturn did not create
    first, _ = make_user(aws, "stuck", key_ages=(40, 20), tags={"keyturn:managed": "true"})
    # WHEN the scheduled run refuses it
    answer = handle(SCHEDULED, "run-1")
    assert answer["statusCode"] == 200
    (finding,) = keyturn_findings(aws).values()
    assert finding["Id"].endswith("/refused/stuck")
    assert finding["RecordState"] == "ACTIVE"
    assert finding["Resources"][0]["Id"].endswith(":user/stuck")
    assert "two active keys" in finding["Description"]
    # WHEN the owner removes the foreign key and `keyturn run` looks again
    aws.client("iam").delete_access_key(UserName="stuck", AccessKeyId=first)
    done = CliRunner().invoke(cli, ["run"])
    assert done.exit_code == 0, done.output
    assert "Security Hub: 0 finding(s) open, 1 resolved" in done.output
    assert len(keys_of(aws, "stuck")) == 1  # 20 days old: nothing to do, nothing refused
    # THEN the same finding is archived and resolved
    (resolved,) = keyturn_findings(aws).values()
    assert resolved["Id"] == finding["Id"]
    assert resolved["RecordState"] == "ARCHIVED"
    assert resolved["Workflow"] == {"Status": "RESOLVED"}
    assert resolved["Compliance"]["Status"] == "PASSED"
    forget_clients()
