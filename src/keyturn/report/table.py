"""The report's rows as CSV (the same rows the page lists), with the standard csv module.

One row per key, then one row (empty key columns) per user without keys, so no user keyturn
saw is missing; ``standing`` and ``reason`` say why keyturn refuses or leaves a user alone.

Cells are escaped against formula injection: IAM user names may start with ``=``, ``+``, ``-``
or ``@``, which a spreadsheet opening the file would evaluate (``=1+1``). As OWASP advises, a
text cell starting with one of those, a tab or a carriage return gets a leading ``'``, which
spreadsheets read as "text follows" and do not show.
"""

from __future__ import annotations

import csv
from typing import TextIO

from keyturn.report.model import AgeReport

COLUMNS = (
    "account",
    "user",
    "key",
    "status",
    "age_days",
    "overdue",
    "created",
    "last_used",
    "keyturn_status",
    "next_action",
    "next_when",
    "standing",
    "reason",
)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value``, with a leading ``'`` if it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(report: AgeReport, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    reasons = {(u.account, u.user): u.reason for u in report.people}
    for k in report.keys:
        row = [
            k.account,
            k.user,
            k.key,
            k.status,
            k.age_days,
            "yes" if k.overdue else "no",
            k.created.isoformat(timespec="seconds"),
            k.last_used.isoformat(timespec="seconds") if k.last_used else "",
            k.keyturn_status,
            k.next_action,
            k.next_when.isoformat(timespec="seconds") if k.next_when else "",
            k.standing.value,
            reasons.get((k.account, k.user), ""),
        ]
        writer.writerow([safe_cell(v) for v in row])
    for u in report.people:
        if not u.keys:
            row = [u.account, u.user, "", "", "", "no", "", "", u.keyturn_status, "", ""]
            writer.writerow([safe_cell(v) for v in [*row, u.standing.value, u.reason]])
