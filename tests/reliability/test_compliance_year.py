"""Issue 6.6: a fleet lives a year under keyturn; the figures go to the terminal summary.

Goals, for keyturn's default schedule (80/87/94, usage-aware retirement capped at 90 days):
no active key older than 90 days; no outage-day for a consumer that switches within the grace
period; no lost secret; no more days with two active keys than the consumer's own switch
delay plus one. The same schedule with a cap of 89 days, and the 90/100/110 and 90/97/107
schedules, run on the same fleet for comparison.

Issue 10 adds three rows: the hourly retirement pass (two active keys at most 4 hours past the
consumer's switch), consumer-aware lead time (no outage-day for a stable late consumer once
keyturn saw it switch, max age still <= 90 days), and both.

Every goal is asserted on keyturn's schedules; the other rows are printed for comparison.
"""

from __future__ import annotations

from statistics import mean

import pytest

from keyturn.core.policy import COMPLIANCE_MAX_AGE_DAYS, Policy
from tests import secret_hygiene

from .conftest import SLOW, report
from .fleet_year import FleetYear, Schedule, YearFigures

# Sized by KEYTURN_SLOW: small in `make test`, full in `make test-slow` (-m slow). The years are
# simulated in the first test's setup (about 2 minutes under coverage on an idle 2-core machine,
# over 5 on a busy one): its hang guard is longer than the suite's 300 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DEFAULT = Schedule(Policy().rotate_after_days, Policy().grace_days, Policy().delete_after_days)
CAP_89 = Schedule(DEFAULT.rotate, DEFAULT.grace, DEFAULT.delete, cap=89)
"""keyturn's schedule with ``max_active_days=89``: a key in use is deactivated on the last
daily run before its cap (issue 10's run clock)."""
HOURLY = Schedule(DEFAULT.rotate, DEFAULT.grace, DEFAULT.delete, hourly=True)
"""Issue 10.3: the retirement pass every hour between the daily runs."""
LEAD = Schedule(DEFAULT.rotate, DEFAULT.grace, DEFAULT.delete, lead=True)
"""Issue 10.4: consumer-aware lead time (daily runs)."""
BOTH = Schedule(DEFAULT.rotate, DEFAULT.grace, DEFAULT.delete, hourly=True, lead=True)
SECOND_YEAR = Schedule(
    DEFAULT.rotate, DEFAULT.grace, DEFAULT.delete, hourly=True, lead=True, warm_up_days=365
)
"""Lead time and the hourly pass in the year after keyturn's first: every consumer's delay has
been seen at least once."""
OURS = (DEFAULT, HOURLY, LEAD, BOTH, SECOND_YEAR)
COMPARED = (Schedule(90, 10, 10, enforce=False), Schedule(90, 7, 10, enforce=False))
USERS = 1000 if SLOW else 200
COLUMNS = (
    ("schedule", 34),
    ("max age", 8),
    ("outage-days in-grace/late/erratic/never", 40),
    ("late after 1st switch", 22),
    ("2-key days mean/max", 20),
    ("within delay+1", 15),
    ("2-key h after switch max", 25),
    ("lost", 5),
    ("notices", 8),
    ("faults", 7),
)


@pytest.fixture(scope="module")
def year() -> dict[Schedule, YearFigures]:
    """The three years, under the same secret scan as every test (this fixture outlives one)."""
    with pytest.MonkeyPatch.context() as patch, secret_hygiene.scanning(patch) as scan:
        years = {s: FleetYear(s, users=USERS).run() for s in (*OURS, CAP_89, *COMPARED)}
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
        f"{outage['switch within grace']}/{outage['switch after grace']}/"
        f"{outage['erratic']}/{outage['never switch']}",
        str(figures.learned_outage_days),
        f"{mean(two_keys):.1f}/{max(two_keys)}",
        f"{sum(e <= 0 for e in excess)}/{len(excess)}",
        f"{max(figures.switch_excess_hours(), default=0):.1f}",
        str(len(figures.lost_secrets)),
        str(sum(figures.notifications.values())),
        str(figures.delivery_faults),
    )
    return "  ".join(cell.ljust(width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))


def test_no_active_key_outlives_90_days(year: dict[Schedule, YearFigures]) -> None:
    assert year[DEFAULT].max_active_age <= COMPLIANCE_MAX_AGE_DAYS
    for ours in OURS:
        assert year[ours].max_active_age <= COMPLIANCE_MAX_AGE_DAYS, ours
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


def test_hourly_retirement_keeps_two_keys_at_most_4_hours_past_the_switch(
    year: dict[Schedule, YearFigures],
) -> None:
    """Issue 10.3: two-active-key time per rotation <= the consumer's switch delay + 4 hours
    (the switch delay runs from storing the new key to the consumer's first use of it)."""
    for schedule in (HOURLY, BOTH):
        excess = year[schedule].switch_excess_hours()
        assert excess, schedule
        assert max(excess) <= 4, schedule
    assert max(year[DEFAULT].switch_excess_hours()) > 4, "daily runs alone wait up to a day"


def test_lead_time_ends_outages_of_stable_late_consumers(
    year: dict[Schedule, YearFigures],
) -> None:
    """Issue 10.4: once keyturn saw a stable late consumer switch, it starts the rotation
    early enough: no more outage-days for it, and still no active key past 90 days."""
    assert year[DEFAULT].learned_outage_days > 0, "without lead time they lose access"
    for schedule in (LEAD, BOTH):
        assert year[schedule].learned_outage_days == 0, schedule
        assert year[schedule].max_active_age <= COMPLIANCE_MAX_AGE_DAYS
        late = year[schedule].outage_days["switch after grace"]
        assert late < year[DEFAULT].outage_days["switch after grace"], schedule


def test_in_keyturns_second_year_stable_late_consumers_lose_no_access(
    year: dict[Schedule, YearFigures],
) -> None:
    """Issue 10.4, done-when: once keyturn has seen each consumer switch (its first year), a
    consumer whose delay is stable, up to 30 days, has no outage-day at all, and no active
    key is older than 90 days."""
    figures = year[SECOND_YEAR]
    assert figures.rotations > 0
    assert figures.outage_days["switch after grace"] == 0
    assert figures.outage_days["switch within grace"] == 0
    assert figures.max_active_age <= COMPLIANCE_MAX_AGE_DAYS
