"""Issue 6.6: a fleet lives a year under keyturn; the figures go to the terminal summary.

Goals, for keyturn's default schedule (80/87/94, usage-aware retirement capped at 90 days):
no active key older than 90 days; no outage-day for a consumer that switches within the grace
period; no lost secret; no more days with two active keys than the consumer's own switch
delay plus one. The same schedule with a cap of 89 days, and the 90/100/110 and 90/97/107
schedules, run on the same fleet for comparison.

Every goal is asserted on the default schedule; the other rows are printed for comparison.
"""

from __future__ import annotations

from statistics import mean

import pytest

from keyturn.core.policy import COMPLIANCE_MAX_AGE_DAYS, Policy
from tests import secret_hygiene

from .conftest import SLOW, report
from .fleet_year import FleetYear, Schedule, YearFigures

# Sized by KEYTURN_SLOW: small in `make test`, full in `make test-slow` (-m slow).
pytestmark = pytest.mark.slow

DEFAULT = Schedule(Policy().rotate_after_days, Policy().grace_days, Policy().delete_after_days)
CAP_89 = Schedule(DEFAULT.rotate, DEFAULT.grace, DEFAULT.delete, cap=89)
"""keyturn's schedule with ``max_active_days=89``: a key in use is deactivated on the last
daily run before its cap (issue 10's run clock)."""
COMPARED = (Schedule(90, 10, 10, enforce=False), Schedule(90, 7, 10, enforce=False))
USERS = 1000 if SLOW else 200

COLUMNS = (
    ("schedule", 17),
    ("max age", 8),
    ("outage-days in-grace/late/never", 32),
    ("2-key days mean/max", 20),
    ("within delay+1", 15),
    ("lost", 5),
    ("notices", 8),
    ("faults", 7),
)


@pytest.fixture(scope="module")
def year() -> dict[Schedule, YearFigures]:
    """The three years, under the same secret scan as every test (this fixture outlives one)."""
    with pytest.MonkeyPatch.context() as patch, secret_hygiene.scanning(patch) as scan:
        years = {s: FleetYear(s, users=USERS).run() for s in (DEFAULT, CAP_89, *COMPARED)}
    assert len(scan.issued) > sum(y.rotations for y in years.values())
    assert scan.settle() == []
    report_the_year(years)
    return years


def report_the_year(years: dict[Schedule, YearFigures]) -> None:
    """The table of figures, for the terminal summary."""
    figures = years[DEFAULT]
    header = "  ".join(name.ljust(width) for name, width in COLUMNS)
    lines = [header, *(row(f) for f in years.values())]
    title = (
        f"compliance year ({figures.users} users, {figures.exempt} exempt, 365 daily runs, "
        f"{figures.rotations} rotations under {DEFAULT})"
    )
    report(title, "\n" + "\n".join(lines))


def row(figures: YearFigures) -> str:
    outage = figures.outage_days
    two_keys = list(figures.two_active_days.values()) or [0]
    excess = figures.two_active_excess()
    cells = (
        str(figures.schedule),
        f"{figures.max_active_age:.1f}",
        f"{outage['switch within grace']}/{outage['switch after grace']}/{outage['never switch']}",
        f"{mean(two_keys):.1f}/{max(two_keys)}",
        f"{sum(e <= 0 for e in excess)}/{len(excess)}",
        str(len(figures.lost_secrets)),
        str(sum(figures.notifications.values())),
        str(figures.delivery_faults),
    )
    return "  ".join(cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))


def test_no_active_key_outlives_90_days(year: dict[Schedule, YearFigures]) -> None:
    assert year[DEFAULT].max_active_age <= COMPLIANCE_MAX_AGE_DAYS
    assert year[CAP_89].max_active_age <= COMPLIANCE_MAX_AGE_DAYS
    assert all(year[s].max_active_age > COMPLIANCE_MAX_AGE_DAYS for s in COMPARED)


def test_consumers_that_switch_within_grace_never_lose_access(
    year: dict[Schedule, YearFigures],
) -> None:
    for figures in year.values():
        assert figures.outage_days["switch within grace"] == 0, figures.schedule


def test_no_secret_is_lost(year: dict[Schedule, YearFigures]) -> None:
    for figures in year.values():
        assert figures.lost_secrets == set(), figures.schedule
        assert figures.delivery_faults > 0, "the year includes failed deliveries"


def test_every_user_is_notified_of_each_rotation(year: dict[Schedule, YearFigures]) -> None:
    figures = year[DEFAULT]
    assert figures.notifications["rotated"] == figures.rotations


def test_two_active_keys_no_longer_than_the_consumer_needs(
    year: dict[Schedule, YearFigures],
) -> None:
    excess = year[DEFAULT].two_active_excess()
    assert max(excess) <= 0
