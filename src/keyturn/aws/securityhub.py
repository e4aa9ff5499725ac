"""keyturn's findings in AWS Security Hub, in the AWS Security Finding Format (ASFF).

Findings are imported under the account's own default product
(``arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default``), at most 100 per
``BatchImportFindings`` call, with Ids derived from each finding's stable ident so a re-import
updates it. Resolving re-imports the finding as ``RecordState=ARCHIVED`` and ``Compliance``
``PASSED`` (what a finding provider may change), then sets ``Workflow.Status=RESOLVED`` with
``BatchUpdateFindings`` (what a customer changes). ``GetFindings`` lists keyturn's active
findings; its results are checked again here (product, generator, account, Id prefix), so a
finding keyturn did not write is never touched whatever the filter returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from keyturn.aws.errors import aws_call
from keyturn.rotation.findings import Finding, FindingStore

BATCH = 100
"""BatchImportFindings and BatchUpdateFindings take at most 100 findings per call."""
GENERATOR = "keyturn/access-key-rotation"
TYPES = ["Software and Configuration Checks/AWS Security Best Practices"]
CONTROL = "IAM.3"
RESOLVED_NOTE = "Resolved by keyturn: its last run saw the condition clear."
RELATED = [
    f"AWS Foundational Security Best Practices {CONTROL}",
    "CIS AWS Foundations Benchmark v1.4.0 1.14",
]

__all__ = ["BATCH", "GENERATOR", "SecurityHubFindings", "asff"]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SecurityHubFindings(FindingStore):
    """keyturn's findings in one account and region's Security Hub."""

    def __init__(
        self,
        client: Any,
        account_id: str | Callable[[], str],
        region: str,
        partition: str = "aws",
    ) -> None:
        """``account_id`` may be a callable (STS GetCallerIdentity), asked on first use only,
        so a Lambda invocation that publishes nothing makes no extra call."""
        self._hub = client
        self._account = account_id
        self.region = region
        self.partition = partition

    @cached_property
    def account_id(self) -> str:
        return self._account if isinstance(self._account, str) else self._account()

    @property
    def product_arn(self) -> str:
        account, region = self.account_id, self.region
        return f"arn:{self.partition}:securityhub:{region}:{account}:product/{account}/default"

    @property
    def prefix(self) -> str:
        return f"keyturn/{self.region}/{self.account_id}/"

    def finding_id(self, ident: str) -> str:
        return self.prefix + ident

    def active(self) -> Mapping[str, Mapping[str, Any]]:
        found: dict[str, Mapping[str, Any]] = {}
        for record in self._findings():
            if self._ours(record) and record.get("RecordState", "ACTIVE") == "ACTIVE":
                found[str(record["Id"])[len(self.prefix) :]] = record
        return found

    def upsert(
        self, findings: Sequence[Finding], at: datetime, known: Mapping[str, Mapping[str, Any]]
    ) -> int:
        documents = [asff(f, self, at, known.get(f.ident)) for f in findings]
        return self._import(documents)

    def resolve(self, records: Sequence[Mapping[str, Any]], at: datetime) -> int:
        archived = [_archived(r, _iso(at)) for r in records if self._ours(r)]
        failed = self._import(archived)
        for batch in _batches(archived):
            identifiers = [{"Id": r["Id"], "ProductArn": r["ProductArn"]} for r in batch]
            with aws_call("BatchUpdateFindings"):
                answer = self._hub.batch_update_findings(
                    FindingIdentifiers=identifiers,
                    Workflow={"Status": "RESOLVED"},
                    Note={"Text": RESOLVED_NOTE, "UpdatedBy": "keyturn"},
                )
            failed += len(answer.get("UnprocessedFindings") or [])
        return failed

    def _import(self, documents: list[dict[str, Any]]) -> int:
        failed = 0
        for batch in _batches(documents):
            with aws_call("BatchImportFindings"):
                answer = self._hub.batch_import_findings(Findings=batch)
            failed += int(answer.get("FailedCount", 0))
        return failed

    def _findings(self) -> Iterator[Mapping[str, Any]]:
        filters = {
            "ProductArn": [{"Value": self.product_arn, "Comparison": "EQUALS"}],
            "GeneratorId": [{"Value": GENERATOR, "Comparison": "EQUALS"}],
            "AwsAccountId": [{"Value": self.account_id, "Comparison": "EQUALS"}],
            "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
        }
        pages = self._hub.get_paginator("get_findings")
        with aws_call("GetFindings"):
            for page in pages.paginate(Filters=filters, PaginationConfig={"PageSize": BATCH}):
                yield from page.get("Findings", [])

    def _ours(self, record: Mapping[str, Any]) -> bool:
        return (
            record.get("ProductArn") == self.product_arn
            and record.get("GeneratorId") == GENERATOR
            and record.get("AwsAccountId") == self.account_id
            and str(record.get("Id", "")).startswith(self.prefix)
        )


def asff(
    finding: Finding,
    hub: SecurityHubFindings,
    at: datetime,
    known: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``finding`` as an ASFF document for ``hub``'s account (active, compliance FAILED); an
    update of a ``known`` finding keeps its creation time."""
    stamp = _iso(at)
    created = str(known.get("CreatedAt") or stamp) if known else stamp
    user_arn = f"arn:{hub.partition}:iam::{hub.account_id}:user/{finding.user_name}"
    resources: list[dict[str, Any]] = [
        {
            "Type": "AwsIamUser",
            "Id": user_arn,
            "Partition": hub.partition,
            "Region": hub.region,
            "Details": {"AwsIamUser": {"UserName": finding.user_name}},
        }
    ]
    if finding.key is not None:
        resources.append(
            {
                "Type": "AwsIamAccessKey",
                "Id": finding.key.key_id,
                "Partition": hub.partition,
                "Region": hub.region,
                "Details": {
                    "AwsIamAccessKey": {
                        "PrincipalName": finding.user_name,
                        "PrincipalType": "IAMUser",
                        "Status": finding.key.status.value,
                        "CreatedAt": _iso(finding.key.created),
                    }
                },
            }
        )
    return {
        "SchemaVersion": "2018-10-08",
        "Id": hub.finding_id(finding.ident),
        "ProductArn": hub.product_arn,
        "GeneratorId": GENERATOR,
        "AwsAccountId": hub.account_id,
        "Types": TYPES,
        "CreatedAt": created,
        "UpdatedAt": stamp,
        "Severity": {"Label": finding.severity.value},
        "Title": finding.title[:256],
        "Description": finding.description[:1024],
        "ProductFields": {"keyturn/condition": finding.condition.value},
        "Compliance": {"Status": "FAILED", "RelatedRequirements": RELATED},
        "Resources": resources,
        "RecordState": "ACTIVE",
    }


def _archived(record: Mapping[str, Any], stamp: str) -> dict[str, Any]:
    document = dict(record)
    for computed in ("Workflow", "WorkflowState", "FirstObservedAt", "ProcessedAt"):
        document.pop(computed, None)
    compliance = dict(document.get("Compliance") or {})
    compliance["Status"] = "PASSED"
    document.update(Compliance=compliance, RecordState="ARCHIVED", UpdatedAt=stamp)
    return document


def _batches(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]
