"""The rules over daily check-ins and questionnaires that raise alerts for the care team, and the questionnaire
reminder: craving runs (CRV-R3), use after abstinent days (SUD-R2), urinary symptoms (KET-R4), the
loss-of-response watch (KET-R2) and the PHQ-9/GAD-7 cadence (PHQ-R13, EMA-R3, EMA-R5).

Every threshold here is a clinic setting, not a published cut-off; the tests change them as an admin would.
Pat is in America/Chicago and tracks alcohol; each day's check-in is saved that evening, local time.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from journal.assessments import set_baseline, submit
from journal.checkins import save_checkin, urinary_check_due
from journal.db import db
from journal.messages import render
from journal.models import Alert, CheckIn, OutboxMessage
from journal.reminders import queue_daily_reminders
from tests.conftest import bearer, make_patient
from tests.test_messages import FORBIDDEN, _says

CHICAGO = ZoneInfo("America/Chicago")
DAY1 = date(2026, 3, 10)  # after the clock change of 8 March


def _day(n: int) -> date:
    return DAY1 + timedelta(days=n - 1)


def _evening(day: date, hour: int = 20, minute: int = 30) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CHICAGO)


def _check_in(patient, day: date, *, craving: int = 0, used: bool = False, urinary=None, now: datetime | None = None):
    save_checkin(
        db.session,
        patient.patient,
        day,
        {
            "mood": 5,
            "cravings": [{"substance": "alcohol", "intensity": craving}],
            "use": [{"substance": "alcohol", "used": used}],
            "urinary": urinary,
        },
        now or _evening(day),
        patient,
    )
    db.session.commit()


def _alerts(kind: str | None = None) -> list[Alert]:
    db.session.expire_all()
    query = select(Alert).order_by(Alert.id)
    if kind:
        query = query.where(Alert.kind == kind)
    return db.session.scalars(query).all()


# --- Craving (CRV-R3) --------------------------------------------------------------------------------------------


def test_crv_r3_three_days_in_a_row_at_the_threshold_raise_one_medium_alert_for_the_run(app, people):
    _check_in(people.pat, _day(1), craving=7)
    _check_in(people.pat, _day(2), craving=9)
    assert _alerts() == []
    _check_in(people.pat, _day(3), craving=7)
    (alert,) = _alerts()
    assert (alert.kind, alert.severity, alert.patient_id) == ("craving", "medium", people.pat.id)
    assert "3 days in a row" in alert.reason and "clinic threshold" in alert.reason
    for n in (4, 5, 6):  # the run goes on: still one alert, not one per day
        _check_in(people.pat, _day(n), craving=8)
    assert len(_alerts("craving")) == 1
    # The team was told once, in the same transaction.
    mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "alert_medium")).all()
    assert [m.recipient_id for m in mails] == [people.alice.id]


def test_crv_r3_a_long_run_past_the_rules_window_is_still_one_alert(app, people):
    for n in range(1, 21):
        _check_in(people.pat, _day(n), craving=8)
    assert len(_alerts("craving")) == 1


def test_crv_r3_below_the_threshold_no_alert(app, people):
    for n in (1, 2, 3, 4):
        _check_in(people.pat, _day(n), craving=6)
    assert _alerts() == []


def test_crv_r3_a_day_without_a_check_in_breaks_the_run(app, people):
    _check_in(people.pat, _day(1), craving=8)
    _check_in(people.pat, _day(2), craving=8)
    # no check-in on day 3: never assumed to have been a high day (or a low one)
    _check_in(people.pat, _day(4), craving=8)
    _check_in(people.pat, _day(5), craving=8)
    assert _alerts() == []
    _check_in(people.pat, _day(6), craving=8)  # days 4, 5, 6
    (alert,) = _alerts("craving")
    assert _day(4).isoformat() in alert.reason


def test_crv_r3_a_low_day_ends_the_run_and_a_new_run_raises_again(app, people):
    for n in (1, 2, 3):
        _check_in(people.pat, _day(n), craving=8)
    _check_in(people.pat, _day(4), craving=2)
    for n in (5, 6, 7):
        _check_in(people.pat, _day(n), craving=7)
    assert len(_alerts("craving")) == 2


def test_crv_r3_replacing_the_days_check_in_does_not_raise_twice(app, people):
    for n in (1, 2, 3):
        _check_in(people.pat, _day(n), craving=8)
    _check_in(people.pat, _day(3), craving=9, now=_evening(_day(3), 21))
    assert len(_alerts("craving")) == 1


def test_crv_r3_check_ins_through_the_api_raise_the_alert_with_the_entry(client, people):
    headers = bearer(client, people.pat)
    today = datetime.now(CHICAGO).date()
    for lag in (2, 1, 0):  # two back-filled days, then today
        day = today - timedelta(days=lag)
        body = {
            "mood": 4,
            "cravings": [{"substance": "alcohol", "intensity": 9}],
            "use": [{"substance": "alcohol", "used": False}],
        }
        assert client.put(f"/api/v1/checkins/{day.isoformat()}", json=body, headers=headers).status_code == 201
    (alert,) = _alerts()
    assert (alert.kind, alert.severity) == ("craving", "medium")
    assert (today - timedelta(days=2)).isoformat() in alert.reason


def test_crv_r3_a_back_filled_day_that_completes_a_run_raises(app, people):
    _check_in(people.pat, _day(1), craving=8)
    _check_in(people.pat, _day(3), craving=8)
    _check_in(people.pat, _day(2), craving=8, now=_evening(_day(3), 21))  # day 2 filled in late
    (alert,) = _alerts("craving")
    assert alert.dedup_key.endswith(_day(1).isoformat())


def test_crv_r3_a_back_filled_day_that_extends_an_alerted_run_backwards_raises_nothing_new(app, people):
    for n in (2, 3, 4):
        _check_in(people.pat, _day(n), craving=8)
    assert len(_alerts("craving")) == 1
    _check_in(people.pat, _day(1), craving=9, now=_evening(_day(4), 21))  # the run now starts a day earlier
    assert len(_alerts("craving")) == 1


def test_a_back_filled_abstinent_day_that_completes_the_run_before_a_use_raises(app, people):
    people.clinic.abstinent_run_days = 3
    db.session.commit()
    _check_in(people.pat, _day(1))
    _check_in(people.pat, _day(3))
    _check_in(people.pat, _day(4), used=True)
    assert _alerts("use_after_abstinence") == []  # day 2 is missing: no run
    _check_in(people.pat, _day(2), now=_evening(_day(4), 21))  # filled in late: three abstinent days
    (alert,) = _alerts("use_after_abstinence")
    assert alert.dedup_key.endswith(_day(4).isoformat())


@pytest.mark.parametrize(
    ("threshold", "days", "raised"),
    [
        (7, 3, False),  # the defaults: 6 is below 7
        (6, 3, True),
        (6, 4, False),  # three days are not four
        (5, 2, True),
        (10, 1, False),
    ],
)
def test_crv_r3_thresholds_are_the_clinics_own(app, people, threshold, days, raised):
    people.clinic.craving_threshold = threshold
    people.clinic.craving_days = days
    db.session.commit()
    for n in (1, 2, 3):
        _check_in(people.pat, _day(n), craving=6)
    assert len(_alerts("craving")) == (1 if raised else 0)


def test_craving_alerts_are_per_patient(app, people):
    sam = make_patient(people.alice, "sam", "Sam Second")
    db.session.commit()
    for n in (1, 2, 3):
        _check_in(people.pat, _day(n), craving=8)
        _check_in(sam, _day(n), craving=8 if n != 2 else 1)
    assert [a.patient_id for a in _alerts("craving")] == [people.pat.id]


# --- Use after a run of abstinent days (SUD-R2) ------------------------------------------------------------------


def test_use_after_seven_abstinent_check_ins_raises_a_medium_alert(app, people):
    for n in range(1, 8):
        _check_in(people.pat, _day(n), used=False)
    _check_in(people.pat, _day(8), used=True)
    (alert,) = _alerts()
    assert (alert.kind, alert.severity) == ("use_after_abstinence", "medium")
    assert "7 check-ins in a row" in alert.reason
    _check_in(people.pat, _day(9), used=True)  # a second day of use is no longer "after abstinence"
    assert len(_alerts()) == 1


def test_use_after_six_abstinent_check_ins_raises_nothing(app, people):
    for n in range(2, 8):
        _check_in(people.pat, _day(n), used=False)
    _check_in(people.pat, _day(8), used=True)
    assert _alerts() == []


def test_sud_r2_a_missing_day_is_not_counted_as_abstinent(app, people):
    # Seven abstinent check-ins, but day 4 is missing: the run before the use is only days 5-7... and 8.
    for n in (1, 2, 3, 5, 6, 7, 8):
        _check_in(people.pat, _day(n), used=False)
    _check_in(people.pat, _day(9), used=True)
    assert _alerts() == []


def test_the_abstinent_run_length_is_the_clinics_own(app, people):
    people.clinic.abstinent_run_days = 3
    db.session.commit()
    for n in (1, 2, 3):
        _check_in(people.pat, _day(n), used=False)
    _check_in(people.pat, _day(4), used=True)
    assert [a.kind for a in _alerts()] == ["use_after_abstinence"]


# --- Urinary symptoms (KET-R4) -----------------------------------------------------------------------------------


@pytest.fixture
def pat_on_course(people):
    people.pat.patient.urinary_check = True
    db.session.commit()
    return people.pat


def test_ket_r4_blood_in_the_urine_always_raises(app, people, pat_on_course):
    _check_in(pat_on_course, _day(1), urinary=["blood"])
    _check_in(pat_on_course, _day(2), urinary=["blood", "frequency"])
    alerts = _alerts("urinary")
    assert [(a.severity, "blood in the urine" in a.reason) for a in alerts] == [("medium", True), ("medium", True)]


@pytest.mark.parametrize("severity", ["high", "low"])
def test_ket_r4_the_clinic_sets_how_urgent_a_urinary_alert_is(app, people, pat_on_course, severity):
    people.clinic.urinary_alert_severity = severity
    db.session.commit()
    _check_in(pat_on_course, _day(1), urinary=["blood"])
    assert [a.severity for a in _alerts("urinary")] == [severity]


def test_ket_r4_bladder_pain_raises_only_when_new(app, people, pat_on_course):
    _check_in(pat_on_course, _day(1), urinary=[])
    _check_in(pat_on_course, _day(2), urinary=["bladder_pain"])
    assert len(_alerts("urinary")) == 1
    _check_in(pat_on_course, _day(3), urinary=["bladder_pain", "urgency"])  # not new
    _check_in(pat_on_course, _day(4))  # not asked that day: says nothing either way
    _check_in(pat_on_course, _day(5), urinary=["bladder_pain"])  # the last answered check had it too
    assert len(_alerts("urinary")) == 1
    _check_in(pat_on_course, _day(6), urinary=[])
    _check_in(pat_on_course, _day(7), urinary=["bladder_pain"])  # gone, then back: new again
    days = [re.search(r"Urinary check on (\S+):", a.reason).group(1) for a in _alerts("urinary")]
    assert days == [_day(2).isoformat(), _day(7).isoformat()]


def test_ket_r4_other_urinary_symptoms_are_recorded_without_an_alert(app, people, pat_on_course):
    _check_in(pat_on_course, _day(1), urinary=["frequency", "urgency", "pain"])
    assert _alerts() == []


def test_ket_r4_the_urinary_check_is_weekly_and_daily_while_positive(app, people, pat_on_course):
    patient = pat_on_course.patient
    assert urinary_check_due(db.session, patient, _day(1))  # never asked yet
    _check_in(pat_on_course, _day(1), urinary=[])
    assert [urinary_check_due(db.session, patient, _day(n)) for n in range(2, 9)] == [False] * 6 + [True]
    _check_in(pat_on_course, _day(3))  # a check-in that did not ask does not restart the week
    assert urinary_check_due(db.session, patient, _day(8))
    _check_in(pat_on_course, _day(8), urinary=["frequency"])
    assert urinary_check_due(db.session, patient, _day(9))  # daily while positive
    _check_in(pat_on_course, _day(9), urinary=[])
    assert not urinary_check_due(db.session, patient, _day(10))
    assert urinary_check_due(db.session, patient, _day(16))


def test_ket_r4_no_urinary_check_outside_a_course_of_repeated_dosing(app, people):
    assert people.pat.patient.urinary_check is False
    assert not urinary_check_due(db.session, people.pat.patient, _day(1))


# --- Loss-of-response watch (KET-R2) -----------------------------------------------------------------------------


def _phq9(people, day: date, total: int):
    """A PHQ-9 entered from paper by Alice, completed that morning, with item 9 at 0."""
    answers = [0] * 9
    for index in range(8):
        answers[index] = min(3, total - sum(answers))
    completed = datetime.combine(day, time(9), tzinfo=CHICAGO)
    data = {"instrument": "phq9", "answers": answers, "completed_at": completed}
    form, _ = submit(db.session, people.pat.patient, data, completed + timedelta(hours=1), people.alice)
    db.session.commit()
    return form


@pytest.fixture
def after_induction(people):
    people.pat.patient.induction_until = _day(1)
    db.session.commit()
    return people


def test_ket_r2_five_points_above_the_post_series_nadir_raise_one_booster_review(app, after_induction):
    people = after_induction
    _phq9(people, _day(1), 3)  # during the series: not the nadir
    _phq9(people, _day(8), 9)
    _phq9(people, _day(22), 6)  # the nadir after the series
    _phq9(people, _day(36), 10)  # 4 points above: nothing
    assert _alerts() == []
    form = _phq9(people, _day(50), 11)  # 5 points above
    (alert,) = _alerts()
    assert (alert.kind, alert.severity, alert.assessment_id) == ("booster_review", "medium", form.id)
    assert "5 points above" in alert.reason
    _phq9(people, _day(64), 14)  # still above the same nadir: the review is already asked for
    assert len(_alerts("booster_review")) == 1


def test_ket_r2_a_new_lower_nadir_can_raise_again(app, after_induction):
    people = after_induction
    _phq9(people, _day(8), 6)
    _phq9(people, _day(22), 11)
    _phq9(people, _day(36), 2)  # a new nadir
    _phq9(people, _day(50), 6)  # 4 above it
    assert len(_alerts("booster_review")) == 1
    _phq9(people, _day(64), 7)
    assert len(_alerts("booster_review")) == 2


def test_ket_r2_no_longer_a_response_against_the_baseline_raises_a_booster_review(app, after_induction):
    people = after_induction
    baseline = _phq9(people, _day(-5), 20)
    set_baseline(db.session, people.pat.patient, baseline.id, people.alice, _evening(_day(-5)))
    db.session.commit()
    _phq9(people, _day(8), 8)  # a response: 8 is under half of 20
    _phq9(people, _day(22), 10)  # exactly half: still a response, and only 2 above the nadir
    assert _alerts() == []
    _phq9(people, _day(36), 11)  # 3 above the nadir, but no longer a response
    (alert,) = _alerts()
    assert alert.kind == "booster_review"
    assert "No longer a response against the baseline of 20" in alert.reason
    assert "points above" not in alert.reason


def test_ket_r2_the_points_are_the_clinics_own(app, after_induction):
    people = after_induction
    people.clinic.booster_review_points = 3
    db.session.commit()
    _phq9(people, _day(8), 6)
    _phq9(people, _day(22), 9)
    assert [a.kind for a in _alerts()] == ["booster_review"]


def test_ket_r2_no_watch_without_an_induction_series(app, people):
    _phq9(people, _day(8), 6)
    _phq9(people, _day(22), 15)
    assert _alerts() == []


# --- The questionnaire reminder (PHQ-R13, EMA-R3, EMA-R5) ----------------------------------------------------------


@pytest.fixture
def pat_checking_in(people):
    """Pat, active since 1 March, filled in both questionnaires on day 1 (10 March) in the morning and checks
    in every evening (so she is never "missing" and the daily reminder is not due)."""
    people.pat.activated_at = datetime(2026, 3, 1, 12, tzinfo=CHICAGO)
    people.quinn.disabled_at = people.pat.activated_at  # not part of these tests
    db.session.commit()
    done = datetime.combine(_day(1), time(9), tzinfo=CHICAGO)
    for instrument, count in (("phq9", 9), ("gad7", 7)):
        submit(db.session, people.pat.patient, {"instrument": instrument, "answers": [0] * count}, done, people.pat)
    db.session.commit()
    return people.pat


def _questionnaire_reminders(patient) -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.template == "assessment_due", OutboxMessage.recipient_id == patient.id)
        .order_by(OutboxMessage.id)
    ).all()


def _evening_run(patient, day: date, hour: int = 20, minute: int = 30) -> None:
    """The scheduler's run that evening, after the day's check-in was saved at 19:00."""
    if db.session.scalar(select(CheckIn.id).where(CheckIn.patient_id == patient.id, CheckIn.local_date == day)) is None:
        _check_in(patient, day, now=_evening(day, 19, 0))
    queue_daily_reminders(db.session, _evening(day, hour, minute))


def test_phq_r13_one_neutral_reminder_on_the_day_the_questionnaires_fall_due(app, people, pat_checking_in):
    for n in range(2, 15):  # 11 to 23 March: not due
        _evening_run(pat_checking_in, _day(n))
    assert _questionnaire_reminders(pat_checking_in) == []
    _evening_run(pat_checking_in, _day(15), 19, 59)  # the due date, before the reminder time
    assert _questionnaire_reminders(pat_checking_in) == []
    _evening_run(pat_checking_in, _day(15))  # 24 March, 14 days on, at 20:30
    (message,) = _questionnaire_reminders(pat_checking_in)
    assert message.dedup_key == f"assessment:{pat_checking_in.id}:{_day(15).isoformat()}:email"
    assert (message.channel, message.address, message.link_path) == ("email", pat_checking_in.email, "/assessments")
    for later in ((_day(15), 21), (_day(15), 23), (_day(16), 20), (_day(17), 20)):
        _evening_run(pat_checking_in, later[0], later[1])
    assert len(_questionnaire_reminders(pat_checking_in)) == 1  # never a second nudge (EMA-R3)
    subject, text = render(message.template, link="https://journal.example/m/token")
    assert [word for word in FORBIDDEN if _says(word, subject) or _says(word, text)] == []


def test_phq_r13_weekly_during_induction_when_the_clinic_chooses(app, people, pat_checking_in):
    people.clinic.weekly_during_induction = True
    pat_checking_in.patient.induction_until = _day(20)
    db.session.commit()
    _evening_run(pat_checking_in, _day(7))
    assert _questionnaire_reminders(pat_checking_in) == []
    _evening_run(pat_checking_in, _day(8))  # 7 days on
    assert [m.dedup_key.split(":")[2] for m in _questionnaire_reminders(pat_checking_in)] == [_day(8).isoformat()]


def test_phq_r13_fortnightly_once_the_induction_series_is_over(app, people, pat_checking_in):
    people.clinic.weekly_during_induction = True
    pat_checking_in.patient.induction_until = _day(5)
    db.session.commit()
    _evening_run(pat_checking_in, _day(8))
    assert _questionnaire_reminders(pat_checking_in) == []


def test_phq_r13_no_weekly_reminder_unless_the_clinic_chooses_it(app, people, pat_checking_in):
    pat_checking_in.patient.induction_until = _day(20)
    db.session.commit()
    _evening_run(pat_checking_in, _day(8))
    assert _questionnaire_reminders(pat_checking_in) == []
