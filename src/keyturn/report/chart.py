"""The chart: one strip per account, a mark per key at its age, and the 90-day line.

Inline SVG drawn here (no script, nothing fetched). Each strip stretches to the page width;
its labels are HTML, so text stays legible however narrow the screen.
"""

from __future__ import annotations

from html import escape

from keyturn.report.model import AgeReport, KeyAge

WIDTH = 1000
HEIGHT = 36
MARK = 6
TICK_DAYS = 30


def scale_days(report: AgeReport) -> int:
    """Days shown on the axis: past the limit and the oldest key, rounded up to a tick."""
    oldest = max((k.age_days for k in report.keys), default=0)
    days = max(report.limit_days + TICK_DAYS, oldest + 5)
    return -(-days // TICK_DAYS) * TICK_DAYS


def render_chart(report: AgeReport) -> str:
    days = scale_days(report)
    strips = [_strip(report, account, days) for account in report.accounts]
    return (
        '<figure class="chart" aria-label="Access key ages per account">'
        + "".join(strips)
        + _axis(report, days)
        + "<figcaption>Each mark is one access key at its age; red marks are active keys past "
        f"the {report.limit_days}-day line, grey ones inactive keys.</figcaption></figure>"
    )


def _x(age: int, days: int) -> float:
    return round(min(age, days) / days * WIDTH, 1)


def _strip(report: AgeReport, account: str, days: int) -> str:
    keys = [k for k in report.keys if k.account == account]
    overdue = sum(k.overdue for k in keys)
    limit = _x(report.limit_days, days)
    marks = "".join(_mark(k, days) for k in keys)
    label = f"{len(keys)} keys" + (f", {overdue} overdue" if overdue else "")
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
    kind = "overdue" if key.overdue else ("active" if key.status == "Active" else "inactive")
    x = _x(key.age_days, days) - MARK / 2
    title = f"{key.user} {key.key}: {key.age_days} days, {key.status.lower()}"
    return (
        f'<rect class="key {kind}" x="{x}" y="4" width="{MARK}" height="{HEIGHT - 8}">'
        f"<title>{escape(title)}</title></rect>"
    )


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
