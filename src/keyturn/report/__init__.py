"""The key-age report: every key's age per account against the 90-day line, as HTML and CSV.

Built from ordinary scan results (one :class:`~keyturn.rotation.results.RunResult` per
account); pure.
"""

from keyturn.report.model import AgeReport, DueAction, KeyAge, build_report
from keyturn.report.page import render_html
from keyturn.report.table import write_csv

__all__ = ["AgeReport", "DueAction", "KeyAge", "build_report", "render_html", "write_csv"]
