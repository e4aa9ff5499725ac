"""The ports fleet scans need besides the engine's own (adapters in ``keyturn.aws``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from keyturn.core.credential_report import CredentialReport
from keyturn.core.rollout import Mode
from keyturn.fleet.messages import WorkItem
from keyturn.rotation.rotator import Rotator


class CredentialReportSource(Protocol):
    def fetch(self) -> CredentialReport:
        """The account's current credential report (generated first if needed)."""
        ...


class InFlightIndex(Protocol):
    def users_in_flight(self) -> frozenset[str]:
        """Users whose secret carries an in-flight mark."""
        ...


class WorkQueue(Protocol):
    def send(self, items: Sequence[WorkItem]) -> list[WorkItem]:
        """Enqueue ``items``; returns those that could not be sent."""
        ...


class Fleet(Protocol):
    """The accounts of a fleet run and keyturn's adapters in each (``keyturn.aws.fleet``)."""

    def account_ids(self) -> list[str]: ...

    def start_reports(self, account_ids: Sequence[str]) -> None:
        """Start each account's credential report without waiting (best effort)."""
        ...

    def candidates(self, account_id: str) -> list[str]:
        """Users of ``account_id`` that may have something due (from the credential report)."""
        ...

    def queue(self) -> WorkQueue: ...

    def mode_of(self, account_id: str) -> Mode:
        """The mode the fleet's settings allow in ``account_id`` (audit outside the rollout)."""
        ...

    def user_rotator(
        self, account_id: str, user_names: Sequence[str], run_id: str, *, mode: Mode = Mode.ACT
    ) -> Rotator:
        """A rotator in ``account_id`` whose run covers only ``user_names``, in ``mode``."""
        ...
