"""Rich tables for scan and run results. Key ids are masked; secrets are never in a result."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rich.markup import escape
from rich.table import Table

from keyturn.core.actions import Action, ActionKind
from keyturn.core.forecast import OnboardingForecast
from keyturn.core.models import AccessKey, mask_key_id
from keyturn.rotation.results import RunResult, Status, UserResult


def scan_table(run: RunResult) -> Table:
    table = Table(title=f"keyturn scan at {run.at:%Y-%m-%d %H:%M} UTC", expand=False)
    columns = ("user", "key id", "status", "age", "last used", "keyturn", "next action", "when")
    for column in columns:
        # Short one-word values keep their width; the rest wrap, and a word longer than its
        # column (a user name at 80 columns) folds onto the next line rather than being cut.
        fixed = column in {"key id", "status", "age", "keyturn"}
        table.add_column(column, no_wrap=fixed, overflow="ellipsis" if fixed else "fold")
    for user in run.users:
        _scan_rows(table, user, run.at)
    return table


def _scan_rows(table: Table, user: UserResult, now: datetime) -> None:
    next_action, when = _next(user, now)
    if not user.keys:
        table.add_row(user.user_name, "-", "-", "-", "-", "-", next_action, when)
        return
    for index, key in enumerate(user.keys):
        first = index == 0
        table.add_row(
            user.user_name if first else "",
            mask_key_id(key.key_id),
            key.status.value,
            f"{(now - key.created).days}d",
            _last_used(key, now),
            user.status.value if first else "",
            next_action if first else "",
            when if first else "",
        )


def _next(user: UserResult, now: datetime) -> tuple[str, str]:
    """The next action, or why there is none: a refused or failed user shows its reason."""
    found = user.plan
    if user.status in {Status.REFUSED, Status.FAILED}:
        return f"{user.status.value}: {escape(found.refusal or user.message)}", ""
    if found.actions:
        return ", ".join(describe(a, a.key_id) for a in found.actions), "now"
    upcoming = found.next_upcoming
    if upcoming is None:
        return ("-" if user.status is Status.EXEMPT else "; ".join(found.notes) or "-"), ""
    verb = "rotate" if upcoming.kind.value == "create" else upcoming.kind.value
    days = (upcoming.when - now).days
    return f"{verb} {mask_key_id(upcoming.key_id)}", f"{upcoming.when:%Y-%m-%d} ({days}d)"


def run_table(run: RunResult, title: str) -> Table:
    table = Table(title=title)
    for column in ("user", "status", "done", "note"):
        table.add_column(column, overflow="fold")
    for user in run.users:
        table.add_row(user.user_name, user.status.value, _done(user), _note(user))
    return table


def _done(user: UserResult) -> str:
    if user.done:
        return ", ".join(describe(d.action, d.key_id) for d in user.done)
    if user.plan.actions:
        return "would: " + ", ".join(describe(a, a.key_id) for a in user.plan.actions)
    return "-"


def describe(action: Action, key_id: str | None) -> str:
    """One action for a table: ``rotate AKIA...WXYZ`` for a planned creation, else verb + key."""
    if action.kind is ActionKind.CREATE:
        if key_id == action.key_id:
            return f"rotate {_mask(key_id)}" if key_id else "create a key"
        return f"new key {_mask(key_id)}"
    return f"{action.kind.value} {_mask(key_id)}".strip()


def _note(user: UserResult) -> str:
    return escape(user.message or user.plan.refusal or "; ".join(user.plan.notes) or "")


def _last_used(key: AccessKey, now: datetime) -> str:
    if key.last_used is None:
        return "never"
    return f"{(now - key.last_used).days}d ago"


def _mask(key_id: str | None) -> str:
    return mask_key_id(key_id) if key_id else ""


def forecast_lines(found: OnboardingForecast) -> list[str]:
    """The onboarding forecast under the plan's table: what a first run rotates, the keys past
    their cap with the date each goes, and the date by which every managed key is compliant."""
    lines = ["", "Onboarding forecast (every consumer assumed to hold on to its old key):"]
    lines.append(f"  a first run rotates {found.rotation_count} key(s)")
    for aged in found.past_cap:
        goes = f", deactivated on {aged.retires_at:%Y-%m-%d}" if aged.retires_at else ""
        lines.append(
            f"  past the cap: {escape(aged.user_name)} {mask_key_id(aged.key_id)} "
            f"({aged.age_days:g} days old{goes})"
        )
    if found.compliant_by is not None:
        lines.append(f"  every managed key compliant by {found.compliant_by:%Y-%m-%d %H:%M} UTC")
    else:
        lines.append("  no date by which every managed key is compliant:")
    for missing in found.no_date:
        lines.append(f"  no date for {escape(missing.user_name)}: {escape(missing.reason)}")
    if found.exempt:
        lines.append(f"  exempt (reported only): {escape(', '.join(found.exempt))}")
    return lines


SUMMARY = (Status.CHANGED, Status.REFUSED, Status.FAILED, Status.DEFERRED, Status.UNCHANGED)
"""Always in a run's summary line, 0 included; the other statuses only when some user has it."""


def summary_line(run: RunResult) -> str:
    """One line for the end of a command: how many users ended in each status, e.g.
    ``1 changed, 1 refused, 0 failed, 0 deferred, 3 unchanged, 2 unmanaged (7 users)``."""
    counts = Counter(user.status for user in run.users)
    shown = [*SUMMARY, *(s for s in Status if s not in SUMMARY and counts[s])]
    parts = ", ".join(f"{counts[status]} {status.value}" for status in shown)
    looked = f"{len(run.users)} user{'' if len(run.users) == 1 else 's'}"
    if run.idle_users:
        looked += f"; {len(run.idle_users)} more idle in the credential report"
    return f"{parts} ({looked})"
