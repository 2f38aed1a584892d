"""The reminder run's shortcut (journal/reminders.py) agrees with the rules it stands in for: a form the run takes to
be inside its minimum gap, without working out its schedule, is one ``schedules.due_since`` never finds due, in any
zone; and it reads each clinic's settings once, a clinic made during the run included. (What the run sends is
checked end to end in tests/test_reminder_simulation.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journal.db import db
from journal.models import Clinic
from journal.reminders import _Clinics, inside_every_gap_from
from journal.schedules import Anchors, Rules, due_since, reopens_on
from tests.conftest import NOW

# Every zone, and more often the ones at the ends of the range, half-hour and 45-minute offsets and a southern DST.
EDGES = [
    "Etc/GMT+12",
    "Pacific/Pago_Pago",
    "Pacific/Kiritimati",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "America/New_York",
]
zones = st.sampled_from(EDGES) | st.sampled_from(sorted(available_timezones()))
days = st.integers(1, 400)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    zone_name=zones,
    now=st.datetimes(datetime(2020, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    batch_ahead=st.integers(0, 1),
    shortest_gap=days,
    longer_by=st.integers(0, 30),
    completed_after=st.timedeltas(timedelta(0), timedelta(days=3)),
    every=st.none() | days,
    after_session=st.none() | days,
    before_session=st.none() | days,
    given_after=st.timedeltas(timedelta(days=-10), timedelta(days=10)),
    planned_after=st.timedeltas(timedelta(days=-10), timedelta(days=30)),
)
def test_a_form_completed_from_the_bound_on_is_inside_its_minimum_gap_in_every_zone(
    zone_name,
    now,
    batch_ahead,
    shortest_gap,
    longer_by,
    completed_after,
    every,
    after_session,
    before_session,
    given_after,
    planned_after,
):
    zone = ZoneInfo(zone_name)
    today = now.astimezone(zone).date()
    # The bound is worked out from the batch's latest local date: this patient's, or the next one when another
    # patient of the batch is in a zone further east.
    last = inside_every_gap_from(today + timedelta(days=batch_ahead), shortest_gap) + completed_after
    rules = Rules(every, after_session, before_session, shortest_gap + longer_by)

    assert today < reopens_on(last, rules.min_gap_days, zone)
    anchors = Anchors(last, last + given_after, now + planned_after)
    assert due_since(rules, anchors, date(2019, 1, 1), now, zone) is None


def test_the_bound_is_when_the_last_zone_reaches_the_first_date_inside_the_gap():
    """On 4 March a 7-day gap holds every form from the local date 26 February on, and the last zone to reach that
    date is 12 hours behind UTC (Etc/GMT+12, Baker Island): a weekly form filled in there at 23:59 on 25 February
    is due again on 4 March, so it must not be taken for one inside the gap."""
    baker = ZoneInfo("Etc/GMT+12")
    bound = inside_every_gap_from(date(2026, 3, 4), 7)
    assert bound == datetime(2026, 2, 26, 0, 0, tzinfo=baker)

    late_on_the_25th = datetime(2026, 2, 25, 23, 59, tzinfo=baker)
    now = datetime(2026, 3, 4, 12, 0, tzinfo=baker)
    assert late_on_the_25th < bound
    weekly = Rules(every_days=7, days_after_session=None, days_before_session=None, min_gap_days=7)
    assert due_since(weekly, Anchors(late_on_the_25th), date(2026, 1, 1), now, baker) == date(2026, 3, 4)


def test_a_clinic_made_after_the_run_began_is_read_when_its_first_patient_is_seen(app, people):
    """The run reads every clinic's settings once at its start; a clinic made since is read on first sight."""
    clinics = _Clinics(db.session)
    assert clinics[people.clinic.id].depression_instrument == people.clinic.depression_instrument

    lakeside = Clinic(
        name="Lakeside Clinic", created_at=NOW, depression_instrument="phq8", follow_up_minutes=45,
        assessment_interval_days=28, weekly_during_induction=False,
    )  # fmt: skip
    db.session.add(lakeside)
    db.session.commit()
    assert clinics[lakeside.id] == (28, False, "phq8", 45)
    with pytest.raises(KeyError):
        clinics[lakeside.id + 1]
