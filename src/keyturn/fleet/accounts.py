"""Which organization accounts a fleet run covers: include/exclude by account id and by OU.

An OU rule covers every account below that OU, however deeply nested. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from keyturn.core.rollout import Mode

ACTIVE = "ACTIVE"


@dataclass(frozen=True)
class OrgAccount:
    """An account and the OUs above it, from the root down (``("r-ab12", "ou-ab12-1", ...)``)."""

    account_id: str
    name: str = ""
    status: str = ACTIVE
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountFilter:
    """Include/exclude rules; exclusions win, and no include rule means every account."""

    include_accounts: frozenset[str] = frozenset()
    exclude_accounts: frozenset[str] = frozenset()
    include_ous: frozenset[str] = frozenset()
    exclude_ous: frozenset[str] = frozenset()

    def covers(self, account: OrgAccount) -> bool:
        if account.status != ACTIVE or account.account_id in self.exclude_accounts:
            return False
        if self.exclude_ous.intersection(account.parents):
            return False
        if not self.include_accounts and not self.include_ous:
            return True
        return account.account_id in self.include_accounts or bool(
            self.include_ous.intersection(account.parents)
        )

    def select(self, accounts: Iterable[OrgAccount]) -> list[OrgAccount]:
        """The covered accounts, in account id order."""
        return sorted((a for a in accounts if self.covers(a)), key=lambda a: a.account_id)


@dataclass(frozen=True)
class AccountRollout:
    """Staged rollout across accounts (``KEYTURN_ACT_ACCOUNTS``, ``KEYTURN_ACT_OUS``): with
    any rule set, only the accounts it selects (an OU rule: every account below it) are acted
    on; the other covered accounts run in audit mode. No rule: every covered account acts."""

    accounts: frozenset[str] = frozenset()
    ous: frozenset[str] = frozenset()

    @property
    def staged(self) -> bool:
        return bool(self.accounts or self.ous)

    def mode_for(self, account: OrgAccount, mode: Mode) -> Mode:
        """``account``'s mode under the operator's ``mode``: audit stays audit."""
        if mode is Mode.AUDIT or not self.staged:
            return mode
        selected = account.account_id in self.accounts or bool(self.ous & set(account.parents))
        return Mode.ACT if selected else Mode.AUDIT
