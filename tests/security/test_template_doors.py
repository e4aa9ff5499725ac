"""The doors issue 9 found in keyturn's templates, each tried by an insider and found shut.

The fleet (hub and member roles) is deployed into moto once for the module and its policy
documents are read back from the stacks (tests/security/stacks.py); each test, on its own copy
of them, asks the policy evaluator what AWS would answer: the attack is denied, and the
legitimate request beside it is still allowed. moto itself would
let every attack through (it evaluates no condition or resource policy), so the decision is the
evaluator's; the documents are moto's.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pytest

from keyturn.emulator import EmbeddedAws
from tests.infra import moto_shims
from tests.security.policy_eval import ContextValue, Document, Outcome, Request, evaluate
from tests.security.stacks import EXTERNAL_ID, OUTSIDE, READER, WRITER, FleetDocuments, deploy_fleet

ADMIN_EVERYWHERE: Document = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
"""The identity policy of an insider who administers an account (and so every role in it)."""


@pytest.fixture(scope="module")
def deployed_fleet(_emulator: EmbeddedAws) -> FleetDocuments:
    """The fleet deployed once for this module: its tests only read the documents back."""
    _emulator.reset()
    moto_shims.install()
    return deploy_fleet(_emulator)


@pytest.fixture
def fleet(deployed_fleet: FleetDocuments) -> FleetDocuments:
    """This test's own copy of the deployed fleet's documents."""
    return copy.deepcopy(deployed_fleet)


def _allowed(
    principal: str,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue] | None = None,
    *,
    identity: tuple[Document, ...] = (),
    resource_policy: Document | None = None,
    must: bool = False,
) -> bool:
    request = Request(principal, action, resource, context or {})
    return evaluate(request, identity, resource_policy, resource_must_allow=must).allowed


@pytest.mark.attack("template: PutResourcePolicy without BlockPublicPolicy")
def test_a_secret_policy_that_does_not_block_public_access_is_refused(
    fleet: FleetDocuments,
) -> None:
    # GIVEN keyturn's own roles: the single-account function's and the worker's member role
    roles = ((fleet.rotation_role, fleet.hub), (fleet.writer, fleet.member))
    for role, account in roles:
        secret = fleet.secret_arn("keyturn/app", account)
        put = "secretsmanager:PutResourcePolicy"
        # WHEN a policy is written without Secrets Manager's public-access check, or with it off
        # THEN it is refused
        assert not evaluate(Request("", put, secret), [role]).allowed
        unchecked = {"secretsmanager:BlockPublicPolicy": False}
        assert not evaluate(Request("", put, secret, unchecked), [role]).allowed
        # ... and a checked policy, and the rest of the secret's upkeep, are still allowed
        checked = {"secretsmanager:BlockPublicPolicy": True}
        assert evaluate(Request("", put, secret, checked), [role]).allowed
        for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"):
            assert evaluate(Request("", action, secret), [role]).allowed


def _invoke(fleet: FleetDocuments, source_arn: str, source_account: str) -> bool:
    context = {"aws:SourceArn": source_arn, "aws:SourceAccount": source_account}
    return _allowed(
        "secretsmanager.amazonaws.com",
        "lambda:InvokeFunction",
        fleet.function_arn,
        context,
        resource_policy=fleet.invoke_policy,
    )


@pytest.mark.attack("template: Secrets Manager invokes keyturn for a secret not keyturn's")
def test_secrets_manager_runs_keyturn_for_keyturn_secrets_only(fleet: FleetDocuments) -> None:
    hub = fleet.hub
    # GIVEN an insider's own secret in the hub account, with keyturn named as its rotation
    # function: Secrets Manager would call it with that secret's ARN
    assert not _invoke(fleet, fleet.secret_arn("team/db", hub), hub)
    # ... nor for a keyturn/ secret of another account
    assert not _invoke(fleet, fleet.secret_arn("keyturn/app", OUTSIDE), OUTSIDE)
    # ... nor with no source at all
    assert not _allowed(
        "secretsmanager.amazonaws.com",
        "lambda:InvokeFunction",
        fleet.function_arn,
        resource_policy=fleet.invoke_policy,
    )
    # THEN only keyturn's own secrets may start its rotation steps
    assert _invoke(fleet, fleet.secret_arn("keyturn/app", hub), hub)


def _alarm(account: str) -> str:
    return f"arn:aws:cloudwatch:us-east-1:{account}:alarm:keyturn-errors"


@pytest.mark.attack("template: CloudWatch uses the notification key for another account")
def test_the_notification_key_serves_this_accounts_alarms_only(fleet: FleetDocuments) -> None:
    def uses_key(context: Mapping[str, ContextValue]) -> bool:
        return _allowed(
            "cloudwatch.amazonaws.com",
            "kms:GenerateDataKey",
            fleet.key_arn,
            context,
            resource_policy=fleet.key_policy,
            must=True,
        )

    # WHEN an alarm in another account publishes to keyturn's topic (the confused deputy)
    assert not uses_key({"aws:SourceAccount": OUTSIDE, "aws:SourceArn": _alarm(OUTSIDE)})
    assert not uses_key({"aws:SourceAccount": fleet.hub, "aws:SourceArn": _alarm(OUTSIDE)})
    assert not uses_key({})
    # THEN CloudWatch may still encrypt for this account's alarms
    assert uses_key({"aws:SourceAccount": fleet.hub, "aws:SourceArn": _alarm(fleet.hub)})
    # ... and the account's administrators keep the key (through IAM)
    assert _allowed(
        f"arn:aws:iam::{fleet.hub}:role/admin",
        "kms:PutKeyPolicy",
        fleet.key_arn,
        identity=(ADMIN_EVERYWHERE,),
        resource_policy=fleet.key_policy,
        must=True,
    )


def _assumes(fleet: FleetDocuments, caller: str, role_name: str) -> bool:
    """The member role's trust policy alone (the caller's identity policy allows anything)."""
    trust = fleet.writer_trust if role_name == WRITER else fleet.reader_trust
    return _allowed(
        caller,
        "sts:AssumeRole",
        fleet.member_role_arn(role_name),
        {"sts:ExternalId": EXTERNAL_ID},
        identity=(ADMIN_EVERYWHERE,),
        resource_policy=trust,
        must=True,
    )


@pytest.mark.attack("template: a look-alike hub role assumes the member role")
def test_the_member_roles_trust_one_exact_hub_role_each(fleet: FleetDocuments) -> None:
    # GIVEN an insider who creates a role in the hub whose name fits the old keyturn-fleet-*
    evil = f"arn:aws:iam::{fleet.hub}:role/keyturn-fleet-evil"
    for role_name in (WRITER, READER):
        # THEN neither member role lets it in, whatever its own policies allow
        assert not _assumes(fleet, evil, role_name)
        assert not _assumes(fleet, f"arn:aws:iam::{fleet.hub}:role/admin", role_name)
    # ... the dispatcher may not take the write-capable role, the worker not the reader
    assert not _assumes(fleet, fleet.dispatcher_arn, WRITER)
    assert not _assumes(fleet, fleet.worker_arn, READER)
    # ... and each hub role still enters its own
    assert _assumes(fleet, fleet.worker_arn, WRITER)
    assert _assumes(fleet, fleet.dispatcher_arn, READER)


@pytest.mark.attack("template: the dispatcher writes through its member role")
def test_the_dispatcher_reads_member_accounts_and_changes_nothing(fleet: FleetDocuments) -> None:
    reader = fleet.reader
    user = fleet.user_arn("keyturn/app")
    secret = fleet.secret_arn("keyturn/app")
    writes = [
        ("iam:CreateAccessKey", user),
        ("iam:UpdateAccessKey", user),
        ("iam:DeleteAccessKey", user),
        ("iam:TagUser", user),
        ("secretsmanager:GetSecretValue", secret),
        ("secretsmanager:PutSecretValue", secret),
        ("secretsmanager:PutResourcePolicy", secret),
        ("secretsmanager:TagResource", secret),
    ]
    # WHEN the dispatcher's session (or anyone who steals it) tries to change keys or read one
    for action, resource in writes:
        assert not evaluate(Request("", action, resource), [reader]).allowed, action
    # ... or to enter the write-capable role instead
    assert not _hub_assumes(fleet, fleet.dispatcher, WRITER, fleet.org_id)
    # THEN it is refused, and what the dispatcher does is still allowed
    reads = [
        ("iam:GenerateCredentialReport", "*"),
        ("iam:GetCredentialReport", "*"),
        ("secretsmanager:ListSecrets", "*"),
        ("iam:ListUserTags", fleet.user_arn("anyone")),
    ]
    for action, resource in reads:
        assert evaluate(Request("", action, resource), [reader]).allowed, action
    assert _hub_assumes(fleet, fleet.dispatcher, READER, fleet.org_id)


def _hub_assumes(
    fleet: FleetDocuments,
    identity: Document,
    role_name: str,
    org_id: str | None,
    account: str | None = None,
) -> bool:
    """The hub role's identity policy alone, for a role in `account` of organization `org_id`
    (None: an account in no organization, where AWS sets no aws:ResourceOrgID)."""
    context = {} if org_id is None else {"aws:ResourceOrgID": org_id}
    role = fleet.member_role_arn(role_name, account)
    return evaluate(Request("", "sts:AssumeRole", role, context), [identity]).allowed


@pytest.mark.attack("template: a hub role assumes a member role outside the organization")
def test_hub_roles_enter_accounts_of_the_organization_only(fleet: FleetDocuments) -> None:
    for identity, role_name in ((fleet.worker, WRITER), (fleet.dispatcher, READER)):
        # GIVEN an account outside the organization whose role trusts the hub (set up by an
        # insider to receive keyturn's calls and keys)
        assert not _hub_assumes(fleet, identity, role_name, "o-someoneelse", OUTSIDE)
        assert not _hub_assumes(fleet, identity, role_name, None, OUTSIDE)
        # THEN the hub roles do not go there, and still enter the organization's accounts
        assert _hub_assumes(fleet, identity, role_name, fleet.org_id)


@pytest.mark.attack("template: a principal other than the dispatcher enqueues work")
def test_only_the_dispatcher_may_send_work_to_the_queue(fleet: FleetDocuments) -> None:
    def sends(principal: str, identity: Document) -> Outcome:
        request = Request(principal, "sqs:SendMessage", fleet.queue_arn)
        return evaluate(request, [identity], fleet.queue_policy).outcome

    # GIVEN an administrator of the hub account, whose identity policy allows everything
    admin = f"arn:aws:iam::{fleet.hub}:role/admin"
    # WHEN they (or the worker, or the single-account function) put a message on the queue
    assert sends(admin, ADMIN_EVERYWHERE) is Outcome.EXPLICIT_DENY
    assert sends(fleet.worker_arn, fleet.worker) is not Outcome.ALLOWED
    assert sends(f"arn:aws:iam::{OUTSIDE}:root", ADMIN_EVERYWHERE) is not Outcome.ALLOWED
    # THEN the queue refuses, and the dispatcher still enqueues
    assert sends(fleet.dispatcher_arn, fleet.dispatcher) is Outcome.ALLOWED
