"""AWS Organizations: every account with the OUs above it, by walking the tree (paginated).

Costs one ListRoots plus, per root and OU, one ListOrganizationalUnitsForParent and one
ListAccountsForParent per page: O(OUs + accounts / page size), not O(accounts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keyturn.aws.errors import aws_call
from keyturn.fleet.accounts import OrgAccount

if TYPE_CHECKING:
    from mypy_boto3_organizations import OrganizationsClient


class OrganizationAccounts:
    """Lists the organization's accounts from the management or a delegated admin account."""

    def __init__(self, client: OrganizationsClient) -> None:
        self._org = client

    def accounts(self) -> list[OrgAccount]:
        with aws_call("ListRoots"):
            roots = [
                r["Id"]
                for p in self._org.get_paginator("list_roots").paginate()
                for r in p["Roots"]
            ]
        found: list[OrgAccount] = []
        pending: list[tuple[str, tuple[str, ...]]] = [(root, (root,)) for root in roots]
        while pending:
            parent, path = pending.pop()
            found.extend(self._accounts_under(parent, path))
            pending.extend((ou, (*path, ou)) for ou in self._ous_under(parent))
        return found

    def _ous_under(self, parent: str) -> list[str]:
        with aws_call("ListOrganizationalUnitsForParent"):
            pages = self._org.get_paginator("list_organizational_units_for_parent").paginate(
                ParentId=parent
            )
            return [ou["Id"] for page in pages for ou in page["OrganizationalUnits"]]

    def _accounts_under(self, parent: str, path: tuple[str, ...]) -> list[OrgAccount]:
        with aws_call("ListAccountsForParent"):
            pages = self._org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent)
            raw = [a for page in pages for a in page["Accounts"]]
        return [
            OrgAccount(a["Id"], a.get("Name", ""), str(a.get("Status", "ACTIVE")), path)
            for a in raw
        ]
