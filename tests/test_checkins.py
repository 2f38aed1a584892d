"""The daily check-in: one per local day, editable the day it is made, back-filled up to 7 days (SUD-R2),
nothing assumed for a missing day, and the same rules through the phone form and the API.

Pat is in America/Chicago and tracks alcohol (see tests/conftest.py)."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from journal.checkins import CheckInError, missing_days, save_checkin, timing_for
from journal.db import db
from journal.models import CheckIn, CravingRating, EntrySource, ReportMode, SleepRecord, SubstanceUse
from tests.conftest import bearer

# 2026-03-10 20:30 in Chicago (CDT since 8 March, UTC-5).
EVENING = datetime(2026, 3, 11, 1, 30, tzinfo=UTC)
TODAY = date(2026, 3, 10)

GOOD_DAY = {
    "mood": 6,
    "cravings": [{"substance": "alcohol", "intensity": 3}],
    "use": [{"substance": "alcohol", "used": False}],
}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_today_is_on_time_and_a_missed_day_is_retrospective_with_its_lag(app, people):
    assert timing_for(TODAY, people.pat, EVENING, EntrySource.PATIENT).report_mode == ReportMode.ON_TIME
    back = timing_for(TODAY - timedelta(days=3), people.pat, EVENING, EntrySource.PATIENT)
    assert (back.report_mode, back.days_after_event) == (ReportMode.RETROSPECTIVE, 3)


def test_ema_r2_yesterdays_entry_is_on_time_until_noon(app, people):
    morning = datetime(2026, 3, 11, 16, 59, tzinfo=UTC)  # 11:59 in Chicago on the 11th
    assert timing_for(TODAY, people.pat, morning, EntrySource.PATIENT).report_mode == ReportMode.ON_TIME
    noon = datetime(2026, 3, 11, 17, 0, tzinfo=UTC)
    assert timing_for(TODAY, people.pat, noon, EntrySource.PATIENT).report_mode == ReportMode.RETROSPECTIVE


def test_sud_r2_patients_back_fill_at_most_seven_days_and_never_the_future(app, people):
    timing_for(TODAY - timedelta(days=7), people.pat, EVENING, EntrySource.PATIENT)
    with pytest.raises(CheckInError, match="up to 7 days back"):
        timing_for(TODAY - timedelta(days=8), people.pat, EVENING, EntrySource.PATIENT)
    with pytest.raises(CheckInError, match="not happened yet"):
        timing_for(TODAY + timedelta(days=1), people.pat, EVENING, EntrySource.PATIENT)


def test_local_date_follows_the_patients_zone_not_utc(app, people):
    # 01:30 UTC on the 11th is still the evening of the 10th in Chicago.
    checkin, created = save_checkin(db.session, people.pat.patient, TODAY, GOOD_DAY, EVENING, people.pat)
    assert created and checkin.local_date == TODAY
    with pytest.raises(CheckInError, match="not happened yet"):
        save_checkin(db.session, people.pat.patient, TODAY + timedelta(days=1), GOOD_DAY, EVENING, people.pat)


def test_a_missing_day_is_never_assumed(app, people):
    save_checkin(db.session, people.pat.patient, TODAY, GOOD_DAY, EVENING, people.pat)
    db.session.commit()
    assert _count(CheckIn) == 1
    assert _count(SubstanceUse) == 1  # only the day that was reported; no abstinent days invented
    people.pat.patient.enrolled_at = EVENING - timedelta(days=30)
    assert missing_days(db.session, people.pat, EVENING) == [TODAY - timedelta(days=n) for n in range(1, 8)]


def test_same_day_replace_keeps_one_row_and_the_latest_answers(app, people):
    save_checkin(db.session, people.pat.patient, TODAY, GOOD_DAY, EVENING, people.pat)
    db.session.commit()
    changed = {**GOOD_DAY, "mood": 2, "cravings": [{"substance": "alcohol", "intensity": 8}]}
    checkin, created = save_checkin(
        db.session, people.pat.patient, TODAY, changed, EVENING + timedelta(hours=1), people.pat
    )
    db.session.commit()
    assert not created
    assert (_count(CheckIn), _count(CravingRating)) == (1, 1)
    assert checkin.mood == 2 and checkin.cravings[0].intensity == 8


def test_an_entry_cannot_be_changed_on_a_later_day(app, people):
    save_checkin(db.session, people.pat.patient, TODAY, GOOD_DAY, EVENING, people.pat)
    db.session.commit()
    with pytest.raises(CheckInError) as error:
        save_checkin(
            db.session, people.pat.patient, TODAY, {**GOOD_DAY, "mood": 1}, EVENING + timedelta(days=1), people.pat
        )
    assert error.value.status == 409


def test_the_same_submission_twice_records_the_day_once_even_a_day_later(app, people):
    first = {**GOOD_DAY, "submission_id": "offline-queue-0001"}
    save_checkin(db.session, people.pat.patient, TODAY, first, EVENING, people.pat)
    db.session.commit()
    again, created = save_checkin(db.session, people.pat.patient, TODAY, first, EVENING + timedelta(days=1), people.pat)
    assert not created and again.mood == 6
    assert _count(CheckIn) == 1


def test_crv_r1_sud_r1_every_tracked_substance_is_answered_and_no_other(app, people):
    with pytest.raises(CheckInError, match="Answer the craving question for: alcohol"):
        save_checkin(db.session, people.pat.patient, TODAY, {**GOOD_DAY, "cravings": []}, EVENING, people.pat)
    extra = {**GOOD_DAY, "use": [*GOOD_DAY["use"], {"substance": "opioids", "used": True}]}
    with pytest.raises(CheckInError, match="Not tracked for this patient: opioids"):
        save_checkin(db.session, people.pat.patient, TODAY, extra, EVENING, people.pat)


def test_pain_r1_pain_is_asked_only_of_patients_who_track_it(app, people):
    with pytest.raises(CheckInError, match="Pain is not tracked"):
        save_checkin(db.session, people.pat.patient, TODAY, {**GOOD_DAY, "pain": 4}, EVENING, people.pat)
    people.pat.patient.tracks_pain = True
    with pytest.raises(CheckInError, match="Rate your pain"):
        save_checkin(db.session, people.pat.patient, TODAY, GOOD_DAY, EVENING, people.pat)


def test_a_clinician_entry_never_overwrites_the_patients_own(app, people):
    save_checkin(db.session, people.pat.patient, TODAY, GOOD_DAY, EVENING, people.pat)
    db.session.commit()
    with pytest.raises(CheckInError, match="already recorded this day") as error:
        save_checkin(db.session, people.pat.patient, TODAY, {**GOOD_DAY, "mood": 0}, EVENING, people.alice)
    assert error.value.status == 409


def test_a_clinician_may_enter_any_past_day_but_not_the_future(app, people):
    long_ago = TODAY - timedelta(days=60)
    checkin, _ = save_checkin(db.session, people.pat.patient, long_ago, GOOD_DAY, EVENING, people.alice)
    assert (checkin.source, checkin.entered_by_id) == (EntrySource.CLINICIAN, people.alice.id)
    with pytest.raises(CheckInError, match="not happened yet"):
        save_checkin(db.session, people.pat.patient, TODAY + timedelta(days=1), GOOD_DAY, EVENING, people.alice)


# --- Through the API -----------------------------------------------------------------------------------------

NIGHT = {
    "into_bed": "2026-03-09T22:30:00-05:00",
    "tried_sleep": "2026-03-09T23:00:00-05:00",
    "sol_min": 20,
    "awakenings": 1,
    "waso_min": 15,
    "final_wake": "2026-03-10T06:15:00-05:00",
    "out_of_bed": "2026-03-10T06:45:00-05:00",
    "quality": "good",
}


def _today_for(people) -> str:
    from journal.checkins import local_today
    from journal.db import utcnow

    return local_today(people.pat, utcnow()).isoformat()


def test_api_put_creates_then_replaces_and_returns_sleep_metrics(client, people):
    headers = bearer(client, people.pat)
    day = _today_for(people)
    body = {**GOOD_DAY, "sleep": NIGHT, "side_effects": ["headache"], "note": "long day"}
    created = client.put(f"/api/v1/checkins/{day}", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    result = created.get_json()
    # B 22:30 -> O 06:45 is 495 min; (F - L) 435 - 20 - 15 = 400; 400 / 495 = 80.8 %
    assert (result["tib_min"], result["tst_min"], result["se_pct"]) == (495, 400, 80.8)
    assert result["sleep"]["pre_sleep_min"] == 30 and result["sleep"]["terminal_wake_min"] == 30
    assert result["report_mode"] == "on_time" and result["source"] == "patient"
    replaced = client.put(f"/api/v1/checkins/{day}", json={**body, "mood": 7}, headers=headers)
    assert replaced.status_code == 200 and replaced.get_json()["mood"] == 7
    assert _count(CheckIn) == 1 and _count(SleepRecord) == 1


def test_api_rejects_an_impossible_night_naming_the_field_and_writes_nothing(client, people):
    bad = {**NIGHT, "sol_min": 400, "waso_min": 100}
    response = client.put(
        f"/api/v1/checkins/{_today_for(people)}", json={**GOOD_DAY, "sleep": bad}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 422
    assert "sleep.waso_min" in response.get_json()["errors"]["json"]
    assert _count(CheckIn) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"mood": 11},
        {"mood": 5.5},
        {"mood": True},
        {"mood": "6"},
        {"mood": None},
        {"cravings": [{"substance": "alcohol", "intensity": -1}]},
        {"use": [{"substance": "alcohol", "used": "yes"}]},
        {"sleep": {**NIGHT, "into_bed": "2026-03-09T22:30:00"}},  # no offset
        {"side_effects": ["hiccups"]},
        {"note": "x" * 2001},
        {"surprise": 1},
    ],
)
def test_api_rejects_bad_fields_with_422_and_writes_nothing(client, people, change):
    response = client.put(
        f"/api/v1/checkins/{_today_for(people)}", json={**GOOD_DAY, **change}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]
    assert _count(CheckIn) == 0


def test_api_lists_a_date_range(client, people):
    headers = bearer(client, people.pat)
    today = date.fromisoformat(_today_for(people))
    for lag in (0, 2, 5):
        client.put(f"/api/v1/checkins/{today - timedelta(days=lag)}", json=GOOD_DAY, headers=headers)
    listed = client.get(f"/api/v1/checkins?from={today - timedelta(days=3)}&to={today}", headers=headers).get_json()
    assert [row["date"] for row in listed] == [str(today - timedelta(days=2)), str(today)]
    assert listed[0]["report_mode"] == "retrospective" and listed[0]["days_after_event"] == 2


def test_clinician_enters_a_paper_day_and_it_is_audited(client, people):
    from journal.models import AuditEvent

    day = date.fromisoformat(_today_for(people)) - timedelta(days=40)
    response = client.put(
        f"/api/v1/patients/{people.pat.id}/checkins/{day}", json=GOOD_DAY, headers=bearer(client, people.alice)
    )
    assert response.status_code == 201
    assert response.get_json()["source"] == "clinician"
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == people.pat.id)).all()
    assert "checkin.write" in actions


def test_outside_clinician_cannot_enter_or_read_alices_patients_days(client, people):
    headers = bearer(client, people.charlie)
    assert (
        client.put(f"/api/v1/patients/{people.pat.id}/checkins/2026-01-05", json=GOOD_DAY, headers=headers).status_code
        == 404
    )
    assert client.get(f"/api/v1/patients/{people.pat.id}/checkins", headers=headers).status_code == 404


# --- Through the phone form ----------------------------------------------------------------------------------


def _form(**overrides) -> dict:
    form = {
        "mood": "6",
        "craving-alcohol": "3",
        "used-alcohol": "no",
        "into_bed": "22:30",
        "tried_sleep": "23:00",
        "sol_min": "20",
        "awakenings": "1",
        "waso_min": "15",
        "final_wake": "06:15",
        "out_of_bed": "06:45",
        "quality": "good",
        "submission_id": "form-submission-01",
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def test_form_saves_and_confirms_with_the_sleep_time(client, auth, people):
    people.pat.timezone = "America/Phoenix"  # no clock changes, so the real date cannot alter the night
    db.session.commit()
    auth.login(people.pat)
    day = _today_for(people)
    page = client.get(f"/checkin/{day}").get_data(as_text=True)
    assert "checked" not in page  # MOOD-R1, CRV-R1: nothing chosen for the patient
    response = auth.post(f"/checkin/{day}", _form(), follow_redirects=True)
    assert response.status_code == 200
    assert "You slept 6 h 40 min." in response.get_data(as_text=True)  # 400 minutes, as in the API test
    assert db.session.scalar(select(CheckIn.mood)) == 6


def test_form_without_a_mood_is_returned_with_the_question_marked(client, auth, people):
    auth.login(people.pat)
    response = auth.post(f"/checkin/{_today_for(people)}", _form(mood=None))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="mood-error"' in page and "Choose a number from 0 to 10." in page
    assert 'name="craving-alcohol" value="3" required checked' in page  # what was answered is kept
    assert _count(CheckIn) == 0


def test_form_names_the_sleep_field_to_recheck(client, auth, people):
    auth.login(people.pat)
    response = auth.post(f"/checkin/{_today_for(people)}", _form(sol_min="400", waso_min="100"))
    assert response.status_code == 400
    assert 'id="waso_min-error"' in response.get_data(as_text=True)
    assert _count(CheckIn) == 0


def test_form_with_sleep_skipped_saves_without_a_night(client, auth, people):
    auth.login(people.pat)
    skipped = _form(
        **{
            name: None
            for name in (
                "into_bed",
                "tried_sleep",
                "sol_min",
                "awakenings",
                "waso_min",
                "final_wake",
                "out_of_bed",
                "quality",
            )
        }
    )
    assert auth.post(f"/checkin/{_today_for(people)}", skipped).status_code == 302
    assert _count(CheckIn) == 1 and _count(SleepRecord) == 0


def test_form_edit_same_day_shows_the_saved_answers(client, auth, people):
    auth.login(people.pat)
    day = _today_for(people)
    auth.post(f"/checkin/{day}", _form())
    page = client.get(f"/checkin/{day}").get_data(as_text=True)
    assert 'name="mood" value="6" required checked' in page
    assert 'value="22:30"' in page
    auth.post(f"/checkin/{day}", _form(mood="8", submission_id="form-submission-02"))
    assert db.session.scalar(select(CheckIn.mood)) == 8 and _count(CheckIn) == 1


def test_form_posted_twice_records_once(client, auth, people):
    auth.login(people.pat)
    day = _today_for(people)
    assert auth.post(f"/checkin/{day}", _form()).status_code == 302
    assert auth.post(f"/checkin/{day}", _form()).status_code == 302
    assert _count(CheckIn) == 1


def test_home_offers_the_missed_days_and_back_filling_marks_them(client, auth, people):
    auth.login(people.pat)
    yesterday = date.fromisoformat(_today_for(people)) - timedelta(days=1)
    people.pat.patient.enrolled_at = people.pat.patient.enrolled_at - timedelta(days=30)
    db.session.commit()
    assert f"/checkin/{yesterday}" in client.get("/home").get_data(as_text=True)
    assert auth.post(f"/checkin/{yesterday}", _form()).status_code == 302
    checkin = db.session.scalar(select(CheckIn))
    assert checkin.local_date == yesterday


def test_a_day_beyond_the_back_fill_window_is_not_offered(client, auth, people):
    auth.login(people.pat)
    too_old = date.fromisoformat(_today_for(people)) - timedelta(days=8)
    assert client.get(f"/checkin/{too_old}").status_code == 404
    assert client.get("/checkin/not-a-date").status_code == 404


def test_form_headings_name_the_day_in_sentence_case_when_editing_too(client, auth, people):
    auth.login(people.pat)
    today = date.fromisoformat(_today_for(people))
    earlier = today - timedelta(days=3)

    def heading(day: date) -> str:
        page = client.get(f"/checkin/{day}").get_data(as_text=True)
        return html.unescape(page[page.index("<h1>") + 4 : page.index("</h1>")])

    assert heading(today) == "Today's check-in"
    assert heading(earlier) == f"Check-in for {earlier:%A %-d %B}"
    auth.post(f"/checkin/{today}", _form())
    auth.post(f"/checkin/{earlier}", _form(submission_id="form-submission-02"))
    assert heading(today) == "Edit today's check-in"  # was "Edit Today's check-in"
    assert heading(earlier) == f"Edit check-in for {earlier:%A %-d %B}"  # was "Edit Check-in for ..."


def test_home_writes_day_names_with_their_capitals(client, auth, people):
    auth.login(people.pat)
    people.pat.patient.enrolled_at = people.pat.patient.enrolled_at - timedelta(days=30)
    db.session.commit()
    page = client.get("/home").get_data(as_text=True)
    three_days_ago = date.fromisoformat(_today_for(people)) - timedelta(days=3)
    assert f"{three_days_ago:%A %-d %B}" in page  # e.g. "Friday 20 November", not "Friday 20 november"
    assert ">Yesterday<" in page
