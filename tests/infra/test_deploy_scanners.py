"""The three scanners on keyturn's templates: cfn-lint, checkov, parliament. Each must be clean.

checkov and parliament live in their own virtual environments under .tools/ (``make scanners``
creates them from the pinned files in infra/scanners/). Each test prints what its scanner
said, so ``make scan`` (pytest -rA) shows the outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keyturn.emulator import EmbeddedAws

from .stack import (
    INTEGRATION_USER,
    MEMBER_ROLE,
    ROOT,
    TEMPLATE,
    deploy_integration_user,
    deploy_keyturn,
    deploy_member_role,
    make,
    role_policy,
    stack_resources,
    translate,
    user_policy,
)

TEMPLATES = [TEMPLATE, INTEGRATION_USER, MEMBER_ROLE]
CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
PARLIAMENT = ROOT / ".tools" / "parliament" / "bin" / "parliament"
# Every optional part on, and every parameter at its default: between them each Fn::If branch.
VARIANTS = {
    "full": {
        "NotificationEmail": "ops@example.com",
        "RecipeUserName": "keyturn-sqs-integration",
        "SecretsKmsKey": "create",
        "ExtraUserNames": "bob,carol",
        "ManageTaggedUsers": "true",
        "PermissionsBoundaryArn": "arn:aws:iam::123456789012:policy/boundary",
        "FleetMode": "hub",
        "FleetOrganizationId": "o-keyturnscan",
        "FleetExternalId": "keyturn-scan-external-id",
        "FleetScanHorizonDays": "60",
    },
    "defaults": {},
}
FLEET_ROLES = ("FleetDispatcherRole", "FleetWorkerRole")
MEMBER_ROLES = ("keyturn-member", "keyturn-member-reader")


@pytest.fixture(scope="module")
def scanners() -> None:
    """The scanners' virtual environments (created once, then kept by make)."""
    make("scanners")


def _run(
    *command: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        timeout=300,
        check=False,
    )
    print(f"$ {' '.join(str(c) for c in command)}\n{done.stdout}{done.stderr}")
    return done


def test_cfn_lint_finds_nothing_in_the_templates_nor_the_translation(tmp_path: Path) -> None:
    translated = tmp_path / "keyturn-translated.json"
    translated.write_text(json.dumps(translate({}, "s3://bucket/keyturn-lambda.zip")))
    hub = tmp_path / "keyturn-fleet-hub-translated.json"
    hub.write_text(json.dumps(translate(VARIANTS["full"], "s3://bucket/keyturn-lambda.zip")))

    done = _run(Path(sys.executable).with_name("cfn-lint"), *TEMPLATES, translated, hub)

    assert (done.returncode, done.stdout) == (0, "")


def test_checkov_fails_nothing_and_every_skip_says_why(scanners: None, tmp_path: Path) -> None:
    # Offline: no platform key, no download of guidelines or mappings.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_GITHUB_CONFIG_FETCH_DATA": "False"}
    files = [arg for template in TEMPLATES for arg in ("-f", template)]

    done = _run(
        CHECKOV, *files, "--framework", "cloudformation", "--skip-download", "--compact",
        "-o", "cli", "-o", "json", "--output-file-path", f"console,{tmp_path / 'checkov.json'}",
        env=env,
    )  # fmt: skip

    assert done.returncode == 0
    report: dict[str, Any] = json.loads((tmp_path / "checkov.json").read_text())
    results = report["results"]
    assert results["failed_checks"] == []
    assert report["summary"]["passed"] > 0
    for skipped in results["skipped_checks"]:
        assert skipped["check_result"].get("suppress_comment", "").strip(), skipped["check_id"]


def _identity_policies(aws: EmbeddedAws) -> dict[str, dict[str, Any]]:
    """Every identity policy the templates create, resolved, for each variant of parameters:
    the rotation role, the integration user, the fleet hub's roles and the member roles.

    Key policies and the role's trust policy are resource policies, which parliament does not
    audit (it reports their Resource "*" and missing Resource as findings); checkov's key and
    trust checks and test_deploy_stack cover them.
    """
    policies = {}
    for variant, parameters in VARIANTS.items():
        aws.reset()
        deploy_integration_user(aws, "keyturn-sqs-integration")
        policies[f"{variant}-rotation-role"] = deploy_keyturn(
            aws, "keyturn", parameters
        ).role_policy()
        policies[f"{variant}-integration-user"] = user_policy(aws, "keyturn-sqs-integration")
        if parameters.get("FleetMode") == "hub":
            resources = stack_resources(aws, "keyturn")
            for role in FLEET_ROLES:
                policies[f"{variant}-{role}"] = role_policy(aws, resources[role]["id"])
        tagged = parameters.get("ManageTaggedUsers", "false")
        deploy_member_role(aws, {"ManageTaggedUsers": tagged})
        for role in MEMBER_ROLES:
            policies[f"{variant}-{role}"] = role_policy(aws, role)
    return policies


def test_parliament_finds_nothing_in_any_identity_policy(
    scanners: None, cloud: EmbeddedAws, tmp_path: Path
) -> None:
    files = []
    for name, document in _identity_policies(cloud).items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document, indent=2))
        files.append(str(path))

    done = _run(PARLIAMENT, "--files", ",".join(files), "--json")

    hubs = sum(v.get("FleetMode") == "hub" for v in VARIANTS.values())
    assert len(files) == (2 + len(MEMBER_ROLES)) * len(VARIANTS) + len(FLEET_ROLES) * hubs
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_parliament_would_report_a_bad_policy(scanners: None, tmp_path: Path) -> None:
    """The scanner test can fail: the article's batch 'actions' are no IAM actions."""
    bad = tmp_path / "bad.json"
    statement = {"Effect": "Allow", "Action": "sqs:DeleteMessageBatch", "Resource": "*"}
    bad.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))

    done = _run(PARLIAMENT, "--files", str(bad), "--json")

    assert done.returncode != 0
    assert json.loads(done.stdout.splitlines()[0])["issue"] == "UNKNOWN_ACTION"
