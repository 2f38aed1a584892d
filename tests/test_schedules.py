"""When questionnaires fall due (journal/schedules.py): every N days from the last form (the baseline at once), N
days after each given session, N days before each planned one, never twice inside the instrument's minimum gap,
on the patient's local calendar dates (PHQ-R13, PCL-R10, PEG-R6, PACS-R6, AUDC-R7, SPEC 11).

The rules are tested as pure functions with explicit instants; the query layer on both databases with Pat
(Alice's patient, America/Chicago; tests/conftest.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from journal import instruments
from journal.assessments import due_instruments, submit
from journal.checkins import save_checkin
from journal.db import db
from journal.models import DosingSession, InstrumentSchedule, OutboxMessage, SessionStatus
from journal.people import set_programme, start_indications
from journal.reminders import queue_daily_reminders
from journal.schedules import Anchors, Cadence, Rules, due_since, indications_added, rules_for, scheduled_instruments
from tests.conftest import NOW, questionnaires_done

NEW_YORK = ZoneInfo("America/New_York")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
CHICAGO = ZoneInfo("America/Chicago")


def at(zone: ZoneInfo, *parts: int) -> datetime:
    """A local wall-clock instant in ``zone``, as UTC."""
    return datetime(*parts, tzinfo=zone).astimezone(UTC)


EVERY_14 = Rules(every_days=14, days_after_session=None, days_before_session=None, min_gap_days=7)


# --- Every N days ----------------------------------------------------------------------------------------------


def test_a_form_never_completed_is_due_at_once_as_the_baseline():
    now = at(NEW_YORK, 2026, 3, 20, 9, 0)
    assert due_since(EVERY_14, Anchors(None), date(2026, 3, 2), now, NEW_YORK) == date(2026, 3, 2)
    # a first day later than today (a clock skew) is never a future due date
    assert due_since(EVERY_14, Anchors(None), date(2026, 3, 25), now, NEW_YORK) == date(2026, 3, 20)


def test_every_n_days_falls_due_on_the_local_date_n_days_after_the_last_form():
    done = at(NEW_YORK, 2026, 3, 2, 9, 0)
    anchors = Anchors(done)
    assert due_since(EVERY_14, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 15, 23, 59), NEW_YORK) is None
    assert due_since(EVERY_14, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 16, 0, 1), NEW_YORK) == date(
        2026, 3, 16
    )
    # and stays due, since that date, until a form is completed
    assert due_since(EVERY_14, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 20, 12), NEW_YORK) == date(2026, 3, 16)


def test_without_an_every_rule_only_the_baseline_and_the_session_rules_bring_a_form():
    rules = Rules(None, None, None, 7)
    done = at(NEW_YORK, 2026, 3, 2, 9, 0)
    assert due_since(rules, Anchors(done), date(2026, 3, 1), at(NEW_YORK, 2027, 3, 2, 9), NEW_YORK) is None


# --- The minimum gap -------------------------------------------------------------------------------------------


def test_min_gap_is_in_local_calendar_days_so_a_weekly_form_keeps_its_weekday_whatever_the_hour():
    weekly = Rules(every_days=7, days_after_session=None, days_before_session=None, min_gap_days=7)
    done = at(NEW_YORK, 2026, 3, 12, 20, 0)  # a Thursday evening
    assert due_since(weekly, Anchors(done), date(2026, 3, 1), at(NEW_YORK, 2026, 3, 18, 23, 59), NEW_YORK) is None
    # from the start of the next Thursday, though fewer than 7 times 24 hours have passed
    assert due_since(weekly, Anchors(done), date(2026, 3, 1), at(NEW_YORK, 2026, 3, 19, 0, 0), NEW_YORK) == date(
        2026, 3, 19
    )


def test_the_min_gap_holds_back_a_session_rule_too():
    rules = Rules(every_days=None, days_after_session=1, days_before_session=None, min_gap_days=7)
    done = at(NEW_YORK, 2026, 3, 9, 9, 0)
    session = at(NEW_YORK, 2026, 3, 10, 10, 0)  # after the form, so the rule wants one on the 11th ...
    anchors = Anchors(done, last_given=session)
    assert due_since(rules, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 11, 20), NEW_YORK) is None
    # ... and gives it once the 7 days since the last form have passed
    assert due_since(rules, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 16, 9, 0), NEW_YORK) == date(2026, 3, 11)


def test_across_the_spring_clock_change_the_gap_is_seven_local_days():
    """New York moved its clocks forward on 8 March 2026: the 1st to the 8th is 7 local days, 6 days 23 hours."""
    weekly = Rules(every_days=7, days_after_session=None, days_before_session=None, min_gap_days=7)
    done = at(NEW_YORK, 2026, 3, 1, 21, 0)
    assert due_since(weekly, Anchors(done), date(2026, 2, 1), at(NEW_YORK, 2026, 3, 7, 23, 59), NEW_YORK) is None
    assert due_since(weekly, Anchors(done), date(2026, 2, 1), at(NEW_YORK, 2026, 3, 8, 0, 30), NEW_YORK) == date(
        2026, 3, 8
    )


# --- After each given session ----------------------------------------------------------------------------------


DAY_AFTER = Rules(every_days=None, days_after_session=1, days_before_session=None, min_gap_days=1)


def test_after_a_given_session_the_form_falls_due_n_days_later_on_the_local_date():
    done = at(NEW_YORK, 2026, 3, 1, 9, 0)
    session = at(NEW_YORK, 2026, 3, 10, 10, 0)
    anchors = Anchors(done, last_given=session)
    assert due_since(DAY_AFTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 10, 20), NEW_YORK) is None
    assert due_since(DAY_AFTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 11, 0, 5), NEW_YORK) == date(
        2026, 3, 11
    )


def test_a_form_completed_since_the_session_satisfies_the_after_session_rule():
    session = at(NEW_YORK, 2026, 3, 10, 10, 0)
    done_after = at(NEW_YORK, 2026, 3, 10, 18, 0)  # the same evening
    anchors = Anchors(done_after, last_given=session)
    assert due_since(DAY_AFTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 11, 20), NEW_YORK) is None
    # but a form the morning of the session, before it began, does not
    done_before = at(NEW_YORK, 2026, 3, 10, 8, 0)
    anchors = Anchors(done_before, last_given=session)
    assert due_since(DAY_AFTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 3, 11, 20), NEW_YORK) == date(2026, 3, 11)


def test_the_session_date_is_the_patients_local_date_not_utcs():
    """20:00 UTC on 10 March is 01:45 on the 11th in Kathmandu (+05:45): the day after is the 12th there."""
    session = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
    anchors = Anchors(at(KATHMANDU, 2026, 3, 1, 9, 0), last_given=session)
    assert due_since(DAY_AFTER, anchors, date(2026, 3, 1), at(KATHMANDU, 2026, 3, 11, 21, 0), KATHMANDU) is None
    assert due_since(DAY_AFTER, anchors, date(2026, 3, 1), at(KATHMANDU, 2026, 3, 12, 0, 10), KATHMANDU) == date(
        2026, 3, 12
    )


# --- Before each planned session -------------------------------------------------------------------------------


BOOSTER = Rules(every_days=None, days_after_session=None, days_before_session=3, min_gap_days=7)


def test_before_a_planned_session_the_form_falls_due_n_days_ahead_of_it():
    planned = at(NEW_YORK, 2026, 4, 10, 10, 0)
    anchors = Anchors(at(NEW_YORK, 2026, 3, 20, 9, 0), next_planned=planned)
    assert due_since(BOOSTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 4, 6, 20), NEW_YORK) is None
    assert due_since(BOOSTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 4, 7, 20), NEW_YORK) == date(2026, 4, 7)
    assert due_since(BOOSTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 4, 10, 9), NEW_YORK) == date(2026, 4, 7)


def test_a_form_inside_the_window_before_the_session_satisfies_the_booster_rule():
    planned = at(NEW_YORK, 2026, 4, 10, 10, 0)
    anchors = Anchors(at(NEW_YORK, 2026, 4, 7, 21, 0), next_planned=planned)
    assert due_since(BOOSTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 4, 9, 20), NEW_YORK) is None


def test_a_planned_session_that_has_begun_no_longer_calls_for_a_form():
    planned = at(NEW_YORK, 2026, 4, 10, 10, 0)
    anchors = Anchors(at(NEW_YORK, 2026, 3, 20, 9, 0), next_planned=planned)
    assert due_since(BOOSTER, anchors, date(2026, 3, 1), at(NEW_YORK, 2026, 4, 10, 11), NEW_YORK) is None


def test_of_several_rules_that_fire_the_form_is_due_since_the_earliest():
    rules = Rules(every_days=14, days_after_session=1, days_before_session=3, min_gap_days=7)
    anchors = Anchors(
        at(NEW_YORK, 2026, 3, 1, 9, 0),
        last_given=at(NEW_YORK, 2026, 3, 12, 10, 0),
        next_planned=at(NEW_YORK, 2026, 3, 19, 10, 0),
    )
    now = at(NEW_YORK, 2026, 3, 17, 20, 0)
    # every 14 days: the 15th; the day after the session: the 13th; 3 days before the next: the 16th
    assert due_since(rules, anchors, date(2026, 2, 1), now, NEW_YORK) == date(2026, 3, 13)


# --- An indication added after enrolment ---------------------------------------------------------------------
# Enrolled 1 January for depression; PTSD added on day 60 (1 March), 10:00 in New York.
ENROLLED = date(2026, 1, 1)
PTSD_ADDED = at(NEW_YORK, 2026, 3, 1, 10, 0)
EVERY_28 = Rules(every_days=28, days_after_session=1, days_before_session=None, min_gap_days=21)


def test_a_questionnaire_whose_indication_was_added_on_day_60_is_due_from_day_60_not_overdue_since_day_1():
    from journal.schedules import available_at

    now = at(NEW_YORK, 2026, 3, 3, 20, 0)
    anchors = Anchors(None, added_at=PTSD_ADDED)
    assert due_since(EVERY_28, anchors, ENROLLED, now, NEW_YORK) == date(2026, 3, 1)
    # it could be filled in from the moment it was added, not from the start of that day
    assert available_at(EVERY_28, anchors, date(2026, 3, 1), NEW_YORK) == PTSD_ADDED
    # without the addition (in the programme since enrolment) it is due since the first day, as before
    assert due_since(EVERY_28, Anchors(None), ENROLLED, now, NEW_YORK) == ENROLLED
    assert available_at(EVERY_28, Anchors(None), ENROLLED, NEW_YORK) == at(NEW_YORK, 2026, 1, 1, 0, 0)


def test_an_indication_removed_and_added_again_counts_from_the_re_addition_not_the_earlier_spell():
    first_spell = Anchors(
        at(NEW_YORK, 2026, 1, 5, 9, 0),  # filled in during the first spell; 28 days on was 2 February
        last_given=at(NEW_YORK, 2026, 1, 20, 10, 0),  # and a session the day after which it would have been due
        added_at=PTSD_ADDED,
    )
    now = at(NEW_YORK, 2026, 3, 2, 20, 0)
    assert due_since(EVERY_28, first_spell, ENROLLED, now, NEW_YORK) == date(2026, 3, 1)
    forgotten = Anchors(first_spell.last_completed, first_spell.last_given)  # as if never removed
    assert due_since(EVERY_28, forgotten, ENROLLED, now, NEW_YORK) == date(2026, 1, 21)
    # a rule that fires after the re-addition keeps its own date
    later = Anchors(at(NEW_YORK, 2026, 1, 5, 9, 0), last_given=at(NEW_YORK, 2026, 3, 4, 10, 0), added_at=PTSD_ADDED)
    assert due_since(Rules(None, 1, None, 21), later, ENROLLED, at(NEW_YORK, 2026, 3, 6, 9, 0), NEW_YORK) == date(
        2026, 3, 5
    )
    # the minimum gap still holds: a form 10 days before the re-addition keeps it closed for 21 local days
    recent = Anchors(at(NEW_YORK, 2026, 2, 19, 9, 0), added_at=PTSD_ADDED)
    assert due_since(EVERY_28, recent, ENROLLED, at(NEW_YORK, 2026, 3, 11, 20, 0), NEW_YORK) is None


def test_an_addition_on_the_day_of_enrolment_changes_nothing():
    anchors = Anchors(at(NEW_YORK, 2026, 3, 1, 9, 0), added_at=at(NEW_YORK, 2026, 1, 1, 15, 0))
    now = at(NEW_YORK, 2026, 3, 30, 9, 0)
    assert due_since(EVERY_28, anchors, ENROLLED, now, NEW_YORK) == due_since(
        EVERY_28, Anchors(anchors.last_completed), ENROLLED, now, NEW_YORK
    )


def test_when_an_indication_was_added_moves_only_the_date_a_form_counts_from_never_whether_it_is_due():
    """The reminder job reads the programme's history only for patients already found due (journal/reminders.py):
    this holds that shortcut to the rules, over a grid of forms, sessions, additions and instants."""
    rules = [EVERY_28, Rules(None, 1, 3, 21), Rules(7, None, None, 7), Rules(14, 2, 2, 7)]
    instants = [at(NEW_YORK, 2026, 2, 1, 9, 0) + timedelta(days=n, hours=7 * n) for n in range(0, 60, 4)]
    for rule in rules:
        for last in [None, *instants[::3]]:
            for given in [None, *instants[1::5]]:
                for planned in [None, *instants[2::5]]:
                    for added in instants[::2]:
                        for now in instants:
                            if added > now:
                                continue
                            plain = due_since(rule, Anchors(last, given, planned), ENROLLED, now, NEW_YORK)
                            later = due_since(rule, Anchors(last, given, planned, added), ENROLLED, now, NEW_YORK)
                            assert (plain is None) == (later is None), (rule, last, given, planned, added, now)
                            if later is not None:  # never from before the day it was added, never in the future
                                added_on, today = added.astimezone(NEW_YORK).date(), now.astimezone(NEW_YORK).date()
                                assert max(plain, added_on) == later <= today


# --- Which rules, which instruments --------------------------------------------------------------------------


def test_phq_r13_the_phq9_and_gad7_keep_the_clinics_interval_and_weekly_induction_settings():
    fortnightly = Cadence(assessment_interval_days=14, weekly_during_induction=True)
    in_induction = rules_for(instruments.PHQ9, None, fortnightly, date(2026, 3, 20), date(2026, 3, 10))
    after = rules_for(instruments.GAD7, None, fortnightly, date(2026, 3, 20), date(2026, 3, 21))
    assert (in_induction.every_days, after.every_days, after.min_gap_days) == (7, 14, 7)
    row = Rules(every_days=None, days_after_session=1, days_before_session=3, min_gap_days=10)
    with_row = rules_for(instruments.PHQ8, row, Cadence(21, False), None, date(2026, 3, 10))
    assert with_row == Rules(21, 1, 3, 10)  # the row adds the session rules and the gap, not the interval


def test_a_clinic_row_replaces_the_definitions_default_schedule():
    cadence = Cadence(14, False)
    assert rules_for(instruments.PCL5, None, cadence, None, date(2026, 3, 10)) == Rules(28, None, None, 21)
    assert rules_for(instruments.PEG, None, cadence, None, date(2026, 3, 10)) == Rules(7, None, None, 7)
    row = Rules(every_days=None, days_after_session=2, days_before_session=None, min_gap_days=28)
    assert rules_for(instruments.PCL5, row, cadence, None, date(2026, 3, 10)) == row


def test_the_instruments_follow_the_indications_and_never_include_a_care_team_only_form():
    keys = [i.key for i in scheduled_instruments(("ptsd", "chronic_pain", "alcohol"), "phq9")]
    assert keys == ["phq9", "gad7", "pcl5", "peg", "auditc"]  # PACS is entered by the care team (PACS-R3)
    assert [i.key for i in scheduled_instruments((), "phq8")] == ["phq8", "gad7"]  # SAFE-R4


# --- The query layer, on both databases --------------------------------------------------------------------------


def _session(patient_id: int, start: datetime, status: SessionStatus) -> None:
    db.session.add(
        DosingSession(
            patient_id=patient_id, status=status, start=start, route="iv", product="ketamine", dose=0.5,
            dose_unit="mg/kg",
        )
    )  # fmt: skip


def test_due_instruments_reads_forms_sessions_and_the_clinics_rows(app, people):
    pat = people.pat
    pat.patient.indications = ["depression", "ptsd"]
    db.session.commit()
    start = at(CHICAGO, 2026, 3, 2, 9, 0)
    assert due_instruments(db.session, pat.patient, start) == ["phq9", "gad7", "pcl5"]  # the baselines
    for instrument, count in (("phq9", 9), ("gad7", 7), ("pcl5", 20)):
        submit(db.session, pat.patient, {"instrument": instrument, "answers": [1] * count}, start, pat)
    db.session.commit()
    assert due_instruments(db.session, pat.patient, at(CHICAGO, 2026, 3, 15, 20)) == []
    assert due_instruments(db.session, pat.patient, at(CHICAGO, 2026, 3, 16, 9, 30)) == ["phq9", "gad7"]

    # The clinic asks the PCL-5 the day after each given session, at least 21 days apart.
    db.session.add(
        InstrumentSchedule(
            clinic_id=people.clinic.id, instrument="pcl5", every_days=None, days_after_session=1,
            days_before_session=None, min_gap_days=21, updated_at=start,
        )
    )  # fmt: skip
    _session(pat.id, at(CHICAGO, 2026, 3, 24, 10, 0), SessionStatus.GIVEN)
    _session(pat.id, at(CHICAGO, 2026, 3, 27, 10, 0), SessionStatus.CANCELLED)  # never counts
    db.session.commit()
    assert "pcl5" not in due_instruments(db.session, pat.patient, at(CHICAGO, 2026, 3, 24, 20))
    assert "pcl5" in due_instruments(db.session, pat.patient, at(CHICAGO, 2026, 3, 25, 8))


def test_a_planned_session_brings_the_booster_decision_form(app, people):
    pat = people.pat
    start = at(CHICAGO, 2026, 3, 2, 9, 0)
    for instrument, count in (("phq9", 9), ("gad7", 7)):
        submit(db.session, pat.patient, {"instrument": instrument, "answers": [0] * count}, start, pat)
    db.session.add(
        InstrumentSchedule(
            clinic_id=people.clinic.id, instrument="phq9", every_days=None, days_after_session=None,
            days_before_session=2, min_gap_days=7, updated_at=start,
        )
    )  # fmt: skip
    _session(pat.id, at(CHICAGO, 2026, 3, 12, 10, 0), SessionStatus.PLANNED)
    db.session.commit()
    assert due_instruments(db.session, pat.patient, at(CHICAGO, 2026, 3, 9, 20)) == []
    assert due_instruments(db.session, pat.patient, at(CHICAGO, 2026, 3, 10, 20)) == ["phq9"]


def test_another_clinics_schedule_rows_do_not_apply(app, people):
    from journal.models import Clinic

    elsewhere = Clinic(name="Elsewhere")
    db.session.add(elsewhere)
    db.session.flush()
    start = at(CHICAGO, 2026, 3, 2, 9, 0)
    for instrument, count in (("phq9", 9), ("gad7", 7)):
        submit(db.session, people.pat.patient, {"instrument": instrument, "answers": [0] * count}, start, people.pat)
    db.session.add(
        InstrumentSchedule(
            clinic_id=elsewhere.id, instrument="phq9", every_days=None, days_after_session=1,
            days_before_session=None, min_gap_days=7, updated_at=start,
        )
    )  # fmt: skip
    _session(people.pat.id, at(CHICAGO, 2026, 3, 10, 10, 0), SessionStatus.GIVEN)
    db.session.commit()
    assert due_instruments(db.session, people.pat.patient, at(CHICAGO, 2026, 3, 11, 20)) == []


def test_the_session_anchors_are_the_latest_given_and_the_next_planned_as_aware_instants(app, people):
    from journal.schedules import session_anchors

    given = at(CHICAGO, 2026, 3, 10, 10, 0)
    planned = at(CHICAGO, 2026, 3, 20, 10, 0)
    _session(people.pat.id, given, SessionStatus.GIVEN)
    _session(people.pat.id, planned, SessionStatus.PLANNED)
    _session(people.pat.id, at(CHICAGO, 2026, 3, 25, 10, 0), SessionStatus.PLANNED)
    db.session.commit()
    anchors = session_anchors(db.session, (people.pat.id - 1, people.pat.id), at(CHICAGO, 2026, 3, 15, 9))
    assert anchors == {people.pat.id: (given, planned)}
    assert anchors[people.pat.id][0].tzinfo is not None


def _change(user, by, at_: datetime, **values) -> None:
    assert set_programme(db.session, user.patient, values, by, at_)


def test_indications_added_gives_when_each_current_indication_joined_the_programme(app, people):
    pat, quinn, alice = people.pat, people.quinn, people.alice
    start_indications(db.session, pat.patient, ["depression"])
    start_indications(db.session, quinn.patient, ["depression", "ptsd"])  # present since enrolment
    _change(pat, alice, NOW + timedelta(days=60), indications=["depression", "ptsd"])
    _change(pat, alice, NOW + timedelta(days=65), substances=["alcohol", "opioids"])  # not an indication
    _change(pat, alice, NOW + timedelta(days=70), indications=["depression", "ptsd", "chronic_pain"])
    _change(pat, alice, NOW + timedelta(days=75), indications=["depression", "chronic_pain"])  # PTSD removed ...
    _change(pat, alice, NOW + timedelta(days=80), indications=["depression", "chronic_pain", "ptsd"])  # ... and back
    _change(quinn, people.charlie, NOW + timedelta(days=10), substances=["opioids"])
    db.session.commit()
    found = indications_added(db.session, (0, max(pat.id, quinn.id)))
    assert found == {pat.id: {"chronic_pain": NOW + timedelta(days=70), "ptsd": NOW + timedelta(days=80)}}
    assert found[pat.id]["ptsd"].tzinfo is not None
    assert indications_added(db.session, (pat.id, quinn.id)) == {}  # only the ids in the range


def _questionnaire_reminders(user) -> list[str]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage.dedup_key)
        .where(OutboxMessage.recipient_id == user.id, OutboxMessage.template == "assessment_due")
        .order_by(OutboxMessage.id)
    ).all()


ENTRY = {  # Pat's programme tracks alcohol (tests/conftest.py)
    "mood": 5,
    "cravings": [{"substance": "alcohol", "intensity": 1}],
    "use": [{"substance": "alcohol", "used": False}],
}


@pytest.fixture
def reminded_pat(people):
    """Pat, enrolled for depression on 2 March 2026 (Chicago) and reminded of her first questionnaires that
    evening; she checked in on each of the three days before 1 May, 60 days on (so her reminders still go)."""
    pat = people.pat
    people.quinn.disabled_at = NOW  # not part of these tests
    start_indications(db.session, pat.patient, ["depression"])
    db.session.commit()
    queue_daily_reminders(db.session, at(CHICAGO, 2026, 3, 2, 20, 30))
    assert _questionnaire_reminders(pat) == [f"assessment:{pat.id}:2026-03-02:email"]
    for back in range(1, 4):
        day = DAY_60 - timedelta(days=back)
        save_checkin(db.session, pat.patient, day, ENTRY, at(CHICAGO, day.year, day.month, day.day, 19), pat)
    db.session.commit()
    return pat


DAY_60 = date(2026, 5, 1)  # 60 days after enrolment


def test_a_questionnaire_added_on_day_60_brings_a_reminder_that_day_though_the_others_are_done(
    app, people, reminded_pat
):
    pat = reminded_pat
    questionnaires_done(pat, at(CHICAGO, 2026, 4, 28, 9))
    _change(pat, people.alice, at(CHICAGO, 2026, 5, 1, 10), indications=["depression", "ptsd"])
    db.session.commit()
    run = at(CHICAGO, 2026, 5, 1, 20, 30)
    assert due_instruments(db.session, pat.patient, run) == ["pcl5"]
    queue_daily_reminders(db.session, run)
    # Counted from day 1 it would have been due, unannounced, since before the last nudge, and brought none.
    assert _questionnaire_reminders(pat) == [
        f"assessment:{pat.id}:2026-03-02:email",
        f"assessment:{pat.id}:2026-05-01:email",
    ]


def test_an_indication_added_after_the_days_reminder_brings_one_the_next_day(app, people, reminded_pat):
    pat = reminded_pat
    questionnaires_done(pat, at(CHICAGO, 2026, 4, 17, 9))  # 14 days on: due again on day 60
    db.session.commit()
    queue_daily_reminders(db.session, at(CHICAGO, 2026, 5, 1, 20, 30))
    _change(pat, people.alice, at(CHICAGO, 2026, 5, 1, 21, 0), indications=["depression", "ptsd"])
    save_checkin(db.session, pat.patient, DAY_60, ENTRY, at(CHICAGO, 2026, 5, 1, 22), pat)
    db.session.commit()
    queue_daily_reminders(db.session, at(CHICAGO, 2026, 5, 1, 21, 30))  # that day's is already sent
    queue_daily_reminders(db.session, at(CHICAGO, 2026, 5, 2, 20, 30))
    assert _questionnaire_reminders(pat) == [
        f"assessment:{pat.id}:2026-03-02:email",
        f"assessment:{pat.id}:2026-05-01:email",
        f"assessment:{pat.id}:2026-05-02:email",  # the PCL-5 became available after the one before
    ]


def test_a_form_due_by_a_session_inside_the_gap_becomes_available_when_the_gap_ends():
    from journal.schedules import Due, due_list

    rules = {"pcl5": Rules(every_days=None, days_after_session=1, days_before_session=None, min_gap_days=21)}
    done = at(NEW_YORK, 2026, 3, 1, 20, 0)
    anchors = {"pcl5": Anchors(done, last_given=at(NEW_YORK, 2026, 3, 6, 10, 0))}
    now = at(NEW_YORK, 2026, 3, 23, 9, 0)
    # due since the day after the session, but open only from the start of the 21st local day after the last form
    assert due_list([instruments.PCL5], rules, anchors, date(2026, 2, 1), now, NEW_YORK) == [
        Due("pcl5", date(2026, 3, 7), at(NEW_YORK, 2026, 3, 22, 0, 0))
    ]
    # a form never completed is available from the start of its first day
    assert due_list([instruments.PCL5], rules, {}, date(2026, 2, 1), now, NEW_YORK) == [
        Due("pcl5", date(2026, 2, 1), at(NEW_YORK, 2026, 2, 1, 0, 0))
    ]


# --- The patient's home page lists what is due -------------------------------------------------------------------


def _home(client, auth, user) -> str:
    auth.login(user)
    return client.get("/home").get_data(as_text=True)


def test_home_lists_each_questionnaire_due_with_its_link_and_recall(client, auth, people):
    page = _home(client, auth, people.pat)
    assert "2 short questionnaires:" in page
    assert '<a href="/assessments/phq9">PHQ-9, about the last 2 weeks</a>' in page
    assert '<a href="/assessments/gad7">GAD-7, about the last 2 weeks</a>' in page
    assert 'href="/assessments">Start</a>' in page


def test_home_lists_nothing_once_the_forms_are_done(client, auth, people):
    now = datetime.now(UTC)
    for instrument, count in (("phq9", 9), ("gad7", 7)):
        submit(db.session, people.pat.patient, {"instrument": instrument, "answers": [0] * count}, now, people.pat)
    db.session.commit()
    page = _home(client, auth, people.pat)
    assert "Questionnaires to fill in" not in page and "/assessments/phq9" not in page


def test_home_of_a_ptsd_patient_lists_the_pcl5(app, client, auth, people):
    people.pat.patient.indications = ["ptsd"]
    db.session.commit()
    page = _home(client, auth, people.pat)
    assert "3 short questionnaires:" in page
    assert '<a href="/assessments/pcl5">PCL-5, about the past month</a>' in page


def test_safe_r4_home_of_a_phq8_clinic_lists_the_phq8_not_the_phq9(app, client, auth, people):
    people.clinic.depression_instrument = "phq8"
    db.session.commit()
    page = _home(client, auth, people.pat)
    assert '<a href="/assessments/phq8">PHQ-8, about the last 2 weeks</a>' in page
    assert "/assessments/phq9" not in page
