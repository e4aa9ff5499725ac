"""The chart: one strip per account that needs attention, a mark per key at its age, and the
90-day line.

Inline SVG drawn here (no script, nothing fetched). Each strip stretches to the page width;
its labels are HTML, so text stays legible however narrow the screen. Only accounts with an
overdue key or a refused or failed user get a strip, worst first and at most
:data:`MAX_STRIPS` of them: at hundreds of accounts the summary table carries the rest.
"""

from __future__ import annotations

from html import escape

from keyturn.report.model import AccountLine, AgeReport, KeyAge, Standing

WIDTH = 1000
HEIGHT = 36
MARK = 6
TICK_DAYS = 30
MAX_STRIPS = 30


def scale_days(report: AgeReport) -> int:
    """Days shown on the axis: past the limit and the oldest key, rounded up to a tick."""
    oldest = max((k.age_days for k in report.keys), default=0)
    days = max(report.limit_days + TICK_DAYS, oldest + 5)
    return -(-days // TICK_DAYS) * TICK_DAYS


def render_chart(report: AgeReport) -> str:
    """The strips of the accounts that need attention, or a sentence saying none does."""
    attention = [a for a in report.account_lines if a.needs_attention]
    if not attention:
        return '<p class="empty">No account has an overdue key or a refused or failed user.</p>'
    days = scale_days(report)
    shown = attention[:MAX_STRIPS]
    strips = [_strip(report, account, days) for account in shown]
    more = len(attention) - len(shown)
    rest = f" {more} more account(s) need attention; see the table above." if more else ""
    return (
        '<figure class="chart" aria-label="Access key ages per account needing attention">'
        + "".join(strips)
        + _axis(report, days)
        + "<figcaption>Each mark is one access key at its age: red marks are active keys past "
        f"the {report.limit_days}-day line, amber ones keys of users keyturn refuses or failed "
        "on, hollow ones keys of exempt or unmanaged users, grey ones inactive keys."
        f"{rest}</figcaption></figure>"
    )


def _x(age: int, days: int) -> float:
    return round(min(age, days) / days * WIDTH, 1)


def _strip(report: AgeReport, line: AccountLine, days: int) -> str:
    account = line.account
    keys = [k for k in report.keys if k.account == account]
    limit = _x(report.limit_days, days)
    marks = "".join(_mark(k, days) for k in keys)
    label = f"{len(keys)} keys" + (f", {line.overdue} overdue" if line.overdue else "")
    label += f", {line.refused} user(s) refused or failed" if line.refused else ""
    return (
        f'<div class="strip"><div class="strip-label"><b>{escape(account)}</b> '
        f"<span>{label}</span></div>"
        f'<svg class="strip-plot" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none" '
        f'role="img" aria-label="{escape(account)}: {label}">'
        f'<rect class="band" x="0" y="0" width="{WIDTH}" height="{HEIGHT}"/>'
        f'<rect class="late" x="{limit}" y="0" width="{WIDTH - limit}" height="{HEIGHT}"/>'
        f"{marks}"
        f'<line class="limit" x1="{limit}" y1="0" x2="{limit}" y2="{HEIGHT}"/>'
        "</svg></div>"
    )


def _mark(key: KeyAge, days: int) -> str:
    x = _x(key.age_days, days) - MARK / 2
    title = f"{key.user} {key.key}: {key.age_days} days, {key.status.lower()}, {key.standing}"
    return (
        f'<rect class="key {mark_kind(key)}" x="{x}" y="4" width="{MARK}" height="{HEIGHT - 8}">'
        f"<title>{escape(title)}</title></rect>"
    )


def mark_kind(key: KeyAge) -> str:
    """The mark's class: overdue wins, then inactive, refused, hands-off (exempt, unmanaged)."""
    if key.overdue:
        return "overdue"
    if not key.active:
        return "inactive"
    if key.standing.troubled:
        return "refused"
    if key.standing in {Standing.EXEMPT, Standing.UNMANAGED}:
        return "handsoff"
    return "active"


def _axis(report: AgeReport, days: int) -> str:
    ticks = "".join(
        f'<span style="left:{_x(d, days) / WIDTH * 100:.2f}%">{d}</span>'
        for d in range(0, days + 1, TICK_DAYS)
    )
    limit = _x(report.limit_days, days) / WIDTH * 100
    return (
        f'<div class="axis">{ticks}<span class="limit-label" style="left:{limit:.2f}%">'
        f"{report.limit_days}-day line</span></div>"
        '<div class="axis-title">key age (days)</div>'
    )
