"""The report's rows as CSV (the same rows the page lists), with the standard csv module."""

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
)


def write_csv(report: AgeReport, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for k in report.keys:
        writer.writerow(
            [
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
            ]
        )
