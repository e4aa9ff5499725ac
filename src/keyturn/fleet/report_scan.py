"""User directories for report-driven runs: report-selected users, a fixed list of names,
and the scheduled run's report-first directory (the listing as its fallback).

All are :class:`~keyturn.rotation.ports.UserDirectory` implementations, so the ordinary
:class:`~keyturn.rotation.rotator.Rotator` runs on them unchanged. They serve the single-account
run as well as the fleet (they live here for history; nothing in them is fleet-specific).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from keyturn.core.credential_report import Candidate, ReportRow, select_candidates
from keyturn.core.models import User
from keyturn.errors import AwsError, UserNotFoundError
from keyturn.fleet.ports import CredentialReportSource, InFlightIndex
from keyturn.rotation.pool import in_order
from keyturn.rotation.ports import Clock, UserDirectory
from keyturn.rotation.results import FOUND_BY_LISTING, FOUND_BY_REPORT
from keyturn.settings import Scope

log = logging.getLogger(__name__)
FALLBACK_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "ReportNotReady",  # keyturn's own wait ran out
        "ReportInProgress",  # IAM's answers while a report is (re)generated
        "ReportNotPresent",
        "ReportExpired",
    }
)
"""Why a scheduled run lists every user instead: the role may not read the credential report,
or IAM was still generating it when the bounded wait ran out."""


@dataclass
class ReportSelection:
    """What the last report read showed: every user, and those that need a look."""

    users_in_report: int = 0
    candidates: list[Candidate] = field(default_factory=list)
    in_flight_only: list[str] = field(default_factory=list)
    """Users with an in-flight mark that the report does not show yet."""
    idle: frozenset[str] = frozenset()
    """Users the report shows with nothing that could be due (not looked at one by one)."""

    @property
    def names(self) -> list[str]:
        return [c.row.user_name for c in self.candidates] + self.in_flight_only


@dataclass
class ReportDirectory:
    """Lists only the users the credential report shows as possibly due (O(1) IAM calls).

    ``users`` answers ``get_user`` (user and tags) for those candidates only.
    """

    users: UserDirectory
    reports: CredentialReportSource
    in_flight: InFlightIndex
    clock: Clock
    horizon_days: int
    last: ReportSelection = field(default_factory=ReportSelection)

    def get_user(self, user_name: str) -> User:
        return self.users.get_user(user_name)

    def select(self) -> ReportSelection:
        """Read the report and the in-flight marks; decide who needs a look."""
        report = self.reports.fetch()
        marked = self.in_flight.users_in_flight()
        candidates = select_candidates(report.rows, self.clock.now(), self.horizon_days, marked)
        shown = {row.user_name for row in report.rows}
        looked_at = {c.row.user_name for c in candidates}
        idle = frozenset(shown - looked_at)
        self.last = ReportSelection(len(report.rows), candidates, sorted(marked - shown), idle)
        log.info(
            "credential report: %d users, %d to look at",
            len(report.rows),
            len(self.last.names),
        )
        return self.last

    def list_users(self) -> Iterator[User]:
        return NamedUsers(self.users, self.select().names).list_users()


def in_scope(
    selection: ReportSelection, scope: Scope, tags_of: Callable[[str], dict[str, str]]
) -> list[str]:
    """The selected users keyturn manages, reading tags only where path and name do not tell
    and only when tag opt-in is on.

    Users with an in-flight mark but no report row are kept: a creation of keyturn's own is
    under way there.
    """
    kept = []
    for candidate in selection.candidates:
        row = candidate.row
        user = User(row.user_name, row.arn, row.path)
        if scope.manages(user) or (
            scope.manage_tagged and scope.manages(replace(user, tags=tags_of(row.user_name)))
        ):
            kept.append(row.user_name)
    return kept + selection.in_flight_only


@dataclass
class NamedUsers:
    """The named users that exist, in the given order (a fan-out worker's directory)."""

    users: UserDirectory
    names: Iterable[str]

    def get_user(self, user_name: str) -> User:
        return self.users.get_user(user_name)

    def list_users(self) -> Iterator[User]:
        for name in self.names:
            try:
                yield self.users.get_user(name)
            except UserNotFoundError:
                log.info("user %s no longer exists; skipped", name)


@dataclass
class ReportFirst:
    """A scheduled run's users: those the credential report shows as possibly due, or every
    user when the report cannot be had (:data:`FALLBACK_CODES`), said in ``found_by`` and
    ``note``. The report's rows go to ``know`` (the key store's last-use hints).

    A candidate outside ``scope`` is not read at all (keyturn's role may not): path and name
    decide without a call, tags (``tags_of``, only with tag opt-in) otherwise. Each candidate
    in scope costs one call: its tags, or ``GetUser`` (which carries them), ``workers`` of
    them at once, in the report's order.
    """

    report: ReportDirectory
    listing: UserDirectory
    scope: Scope
    tags_of: Callable[[str], dict[str, str]]
    know: Callable[[Iterable[ReportRow]], None] | None = None
    found_by: str = FOUND_BY_LISTING
    note: str = ""
    idle: frozenset[str] = frozenset()
    """After ``list_users``: the users the report showed idle (none when it fell back)."""
    workers: int = 1
    """Candidates resolved at once (the run's work slots): each is one IAM round trip, and
    one after another they were most of a large run's time."""

    def get_user(self, user_name: str) -> User:
        return self.listing.get_user(user_name)

    def list_users(self) -> Iterator[User]:
        try:
            selection = self.report.select()
        except AwsError as exc:
            if exc.code not in FALLBACK_CODES:
                raise
            self.found_by, self.idle = FOUND_BY_LISTING, frozenset()
            self.note = (
                f"the credential report could not be had ({exc.code}); every user was listed"
            )
            log.warning(self.note)
            return self.listing.list_users()
        if self.know is not None:
            self.know(c.row for c in selection.candidates)
        self.found_by, self.note, self.idle = FOUND_BY_REPORT, "", selection.idle
        return self._in_scope(selection)

    def _in_scope(self, selection: ReportSelection) -> Iterator[User]:
        for user in in_order(selection.candidates, self._resolve, self.workers):
            if user is not None:
                yield user
        yield from NamedUsers(self.listing, selection.in_flight_only).list_users()

    def _resolve(self, candidate: Candidate) -> User | None:
        """The candidate as a user in scope (one IAM read), or None: out of scope, or gone."""
        row = candidate.row
        user = User(row.user_name, row.arn, row.path)
        try:
            if self.scope.manages(user):
                return self.listing.get_user(row.user_name)
            if self.scope.manage_tagged:
                tagged = replace(user, tags=self.tags_of(row.user_name))
                return tagged if self.scope.manages(tagged) else None
        except (UserNotFoundError, AwsError) as exc:
            if isinstance(exc, AwsError) and exc.code != "NoSuchEntity":
                raise
            log.info("user %s no longer exists; skipped", row.user_name)
        return None
