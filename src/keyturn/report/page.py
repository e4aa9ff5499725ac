"""The self-contained HTML page: inline CSS, inline SVG, no script, nothing to fetch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

from keyturn.report.chart import render_chart
from keyturn.report.model import LABELS, AccountLine, AgeReport

STYLE = """
:root { color-scheme: light; --late: #c62828; --ok: #2e7d32; --muted: #6b7280;
  --refused: #b45309; }
* { box-sizing: border-box; }
body { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #111827; background: #f9fafb; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; } h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.meta { color: var(--muted); margin: 0 0 1rem; }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: .5rem; margin: 0; }
.summary div { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: .6rem; }
.summary dt { color: var(--muted); font-size: .85rem; } .summary dd { margin: 0;
  font-size: 1.3rem; font-weight: 600; }
.summary .bad dd { color: var(--late); }
.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; margin: 0;
  padding: .75rem; }
.strip { margin-bottom: .6rem; } .strip-label { font-size: .9rem; }
.strip-label span { color: var(--muted); }
.strip-plot { display: block; width: 100%; height: 36px; }
.band { fill: #ecfdf5; } .late { fill: #fef2f2; }
.key.active { fill: var(--ok); } .key.overdue { fill: var(--late); }
.key.inactive { fill: #9ca3af; } .key.refused { fill: var(--refused); }
.key.handsoff { fill: #fff; stroke: #475569; stroke-width: 2; vector-effect: non-scaling-stroke; }
.limit { stroke: var(--late); stroke-width: 3; stroke-dasharray: 6 4; }
.axis { position: relative; height: 2.6rem; font-size: .8rem; color: var(--muted); }
.axis span { position: absolute; top: 0; transform: translateX(-50%); }
.axis .limit-label { top: 1.2rem; color: var(--late); font-weight: 600; white-space: nowrap; }
.axis-title { text-align: center; font-size: .8rem; color: var(--muted); }
figcaption { font-size: .85rem; color: var(--muted); margin-top: .4rem; }
table { width: 100%; border-collapse: collapse; background: #fff; font-size: .92rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #e5e7eb; }
th { background: #f3f4f6; } td.num { text-align: right; }
tr.overdue td { color: var(--late); } tr.refused td { color: var(--refused); }
details { margin-top: .5rem; } summary { cursor: pointer; color: var(--muted); }
.empty { color: var(--muted); }
@media (max-width: 640px) {
  main { padding: .6rem; }
  table, thead, tbody, tr, td { display: block; } thead { display: none; }
  tr { border: 1px solid #e5e7eb; border-radius: 8px; margin-bottom: .6rem; background: #fff; }
  td { border: 0; padding: .25rem .6rem; } td.num { text-align: left; }
  td::before { content: attr(data-label) ": "; font-weight: 600; color: #374151; }
}
"""


def render_html(report: AgeReport) -> str:
    """The whole page as one string."""
    troubled = report.troubled
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>keyturn key ages {_day(report.at)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>IAM access key ages</h1>"
        f'<p class="meta">As of {_time(report.at)} UTC; the line marks {report.limit_days} days '
        "(CIS / Security Hub IAM.3). Key ids are shortened; no secret is ever shown.</p>"
        f"<h2>Summary</h2>{_summary(report)}"
        f"<h2>Accounts ({len(report.accounts)})</h2>{_accounts(report)}"
        f"<h2>Key ages in the accounts needing attention</h2>{render_chart(report)}"
        f"<h2>Users keyturn refuses or failed on ({len(troubled)})</h2>{_troubled(report)}"
        f"<h2>Overdue keys ({len(report.overdue)})</h2>{_overdue(report)}"
        f"<h2>Actions in the next {report.horizon_days} days ({len(report.upcoming)})</h2>"
        f"{_upcoming(report)}</main></body></html>\n"
    )


BAD = ("Active keys over", "Users refused", "Accounts needing")


def _summary(report: AgeReport) -> str:
    items = "".join(
        f'<div class="{"bad" if label.startswith(BAD) and value != "0" else ""}">'
        f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd></div>"
        for label, value in report.summary()
    )
    return f'<dl class="summary">{items}</dl>'


ACCOUNT_HEADERS = (
    "Account",
    "Compliant",
    "Overdue",
    "Refused or failed",
    "Oldest key (days)",
    "Active keys",
    "Managed",
    "Exempt",
    "Unmanaged",
)


def _accounts(report: AgeReport) -> str:
    """Accounts needing attention, worst first; the rest folded away (no script needed)."""
    lines = report.account_lines
    attention = [_account_row(a) for a in lines if a.needs_attention]
    calm = [_account_row(a) for a in lines if not a.needs_attention]
    shown = _table(ACCOUNT_HEADERS, attention, "No account needs attention.")
    if not calm:
        return shown
    return (
        f"{shown}<details><summary>{len(calm)} account(s) with every active key inside the "
        f"line and no refused user</summary>{_table(ACCOUNT_HEADERS, calm, '')}</details>"
    )


def _account_row(line: AccountLine) -> tuple[str, list[str]]:
    oldest = "-" if line.oldest_active is None else str(line.oldest_active)
    cells = [
        line.account,
        f"{math.floor(line.compliant_percent)}%",
        str(line.overdue),
        str(line.refused),
        oldest,
        str(line.active_keys),
        str(line.managed),
        str(line.exempt),
        str(line.unmanaged),
    ]
    return ("overdue" if line.overdue else "refused" if line.refused else ""), cells


def _troubled(report: AgeReport) -> str:
    rows = [
        (
            "refused",
            [
                u.account,
                u.user,
                LABELS[u.standing],
                u.reason,
                str(u.keys),
                "-" if u.oldest_active is None else str(u.oldest_active),
            ],
        )
        for u in report.troubled
    ]
    headers = ("Account", "User", "keyturn", "Reason", "Keys", "Oldest key (days)")
    return _table(headers, rows, "keyturn refuses no user and failed on none.")


def _overdue(report: AgeReport) -> str:
    rows = [
        (
            "overdue",
            [k.account, k.user, k.key, str(k.age_days), _last(k.last_used), _plan(k.next_action)],
        )
        for k in report.overdue
    ]
    headers = ("Account", "User", "Key", "Age (days)", "Last used", "keyturn")
    return _table(headers, rows, "No active key is past the line.")


def _upcoming(report: AgeReport) -> str:
    rows = [("", [u.account, u.user, u.action, u.key, _day(u.when)]) for u in report.upcoming]
    headers = ("Account", "User", "Action", "Key", "When")
    return _table(headers, rows, "Nothing is scheduled.")


def _table(headers: Sequence[str], rows: list[tuple[str, list[str]]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        f'<tr class="{css}">'
        + "".join(
            f'<td data-label="{escape(h)}"{_num(h)}>{escape(v)}</td>'
            for h, v in zip(headers, cells, strict=True)
        )
        + "</tr>"
        for css, cells in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


NUMERIC = frozenset(ACCOUNT_HEADERS[1:]) | {"Age (days)", "Keys", "Oldest key (days)"}


def _num(header: str) -> str:
    return ' class="num"' if header in NUMERIC else ""


def _plan(action: str) -> str:
    return action or "nothing planned"


def _last(when: datetime | None) -> str:
    return _day(when) if when else "never"


def _day(when: datetime) -> str:
    return f"{when:%Y-%m-%d}"


def _time(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M}"
