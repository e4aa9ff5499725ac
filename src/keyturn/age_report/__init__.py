"""The key-age report: every key's age per account against the 90-day line, as HTML and CSV.

Built from ordinary scan results (one :class:`~keyturn.results.RunResult` per account); pure.
"""

from keyturn.age_report.model import AgeReport, KeyAge, Upcoming, build_report
from keyturn.age_report.page import render_html
from keyturn.age_report.table import write_csv

__all__ = ["AgeReport", "KeyAge", "Upcoming", "build_report", "render_html", "write_csv"]
