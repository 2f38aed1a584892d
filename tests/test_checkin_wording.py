"""The check-in names the day it asks about in every question (today, yesterday, a back-filled day), and the use
question asks about that same day: its answer is filed under the check-in's own date (SUD-R1, the diary day), so
use earlier today is recorded on today's check-in.

Pat is in America/Chicago and tracks alcohol (tests/conftest.py); Pia also rates pain and has the urinary check."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from journal.checkins import day_words, local_today, long_date, use_day
from journal.db import db, utcnow
from journal.models import CheckIn
from tests.conftest import bearer, make_patient

MONDAY = date(2026, 11, 30)


# --- The words, as plain data --------------------------------------------------------------------------------


def test_today_is_named_today_with_its_date_under_the_heading_and_last_nights_sleep():
    words = day_words(MONDAY, MONDAY)
    assert (words.today, words.when, words.date_name) == (True, "today", "Monday 30 November")
    assert words.night == "Last night's sleep: Sunday night into Monday"


def test_yesterday_is_named_yesterday_with_its_date_and_its_own_night():
    words = day_words(MONDAY - timedelta(days=1), MONDAY)
    assert (words.today, words.when, words.date_name) == (False, "yesterday", "Sunday 29 November")
    assert words.night == "Sleep: Saturday night into Sunday 29 November"


def test_a_back_filled_day_is_named_by_its_date_in_every_phrase():
    words = day_words(date(2026, 11, 25), MONDAY)
    assert (words.today, words.when, words.date_name) == (False, "on Wednesday 25 November", None)
    assert words.night == "Sleep: Tuesday night into Wednesday 25 November"
    assert words.week == "In the week up to Wednesday 25 November, did you have any of these?"


def test_the_offline_form_says_today_and_names_no_date_since_its_day_is_picked_at_save():
    words = day_words(MONDAY, MONDAY, offline=True)
    assert (words.today, words.when, words.date_name, words.night) == (True, "today", None, "Last night's sleep")


# --- The pages -----------------------------------------------------------------------------------------------


@pytest.fixture
def pia(people):
    user = make_patient(people.alice, "pia", "Pia Pain", tracks_pain=True)
    user.patient.urinary_check = True  # in a course of repeated dosing (KET-R4)
    db.session.commit()
    return user


def _questions(page: str) -> list[str]:
    """Every question the form asks, in order: the fieldset legends and the sleep heading."""
    start = page.index('class="checkin"')
    form = page[start : page.index("</form>", start)]
    found = re.findall(r'<legend>(.*?)</legend>|<h2 id="sleep-heading">(.*?)</h2>', form, re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", legend or heading)).strip() for legend, heading in found]


def _page(client, day: date) -> str:
    response = client.get(f"/checkin/{day.isoformat()}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _today(user) -> date:
    return local_today(user, utcnow())


OLD_WORDS = ("last 24 hours", "day before", "that day?", "Last night", "Anything else today")


def test_todays_form_asks_every_question_of_today_and_names_the_date(client, auth, pia):
    auth.login(pia)
    today = _today(pia)
    page = _page(client, today)
    assert f'<p id="checkin-day"><strong>{long_date(today)}</strong></p>' in page
    questions = _questions(page)
    assert questions == [
        "Overall, how has your mood been today?",
        "How strong was your strongest craving today?",
        "How often did you have cravings today? (optional)",
        "Have you used it today, at any time so far?",
        "Your average pain today",
        f"Last night's sleep: {today - timedelta(days=1):%A} night into {today:%A}",
        "How well did you sleep that night?",
        "Anything else today? (tick any)",
        "In the last week, have you had any of these? (tick any)",
    ]


@pytest.mark.parametrize("back", [1, 3, 7])
def test_a_past_days_form_names_that_day_in_every_question(client, auth, pia, back):
    auth.login(pia)
    today = _today(pia)
    day = today - timedelta(days=back)
    page = _page(client, day)
    when = "yesterday" if back == 1 else f"on {long_date(day)}"
    questions = _questions(page)
    assert questions == [
        f"Overall, how was your mood {when}?",
        f"How strong was your strongest craving {when}?",
        f"How often did you have cravings {when}? (optional)",
        f"Did you use it {when}?",
        f"Your average pain {when}",
        f"Sleep: {day - timedelta(days=1):%A} night into {long_date(day)}",
        "How well did you sleep that night?",
        f"Anything else {when}? (tick any)",
        f"In the week up to {long_date(day)}, did you have any of these? (tick any)",
    ]
    for old in OLD_WORDS:
        assert old not in page
    # The date itself is on the page: under "Yesterday's check-in", or in the heading of an earlier day.
    assert long_date(day) in page


def test_the_offline_form_asks_of_today_without_a_date(client, auth, pia):
    auth.login(pia)
    page = client.get("/checkin/offline-form").get_data(as_text=True)
    assert "data-offline-form" in page and 'id="checkin-day"' not in page
    questions = _questions(page)
    assert "Have you used it today, at any time so far?" in questions
    assert "Last night's sleep" in questions
    assert all("today" in q or q.startswith(("Last night", "How well", "In the last week")) for q in questions)


# --- The use answer is about the day it asks of ----------------------------------------------------------------


FORM = {"mood": "6", "craving-alcohol": "3", "used-alcohol": "no", "submission_id": "wording-01"}


def _stored(user, day: date) -> CheckIn:
    db.session.expire_all()
    return db.session.scalar(select(CheckIn).where(CheckIn.patient_id == user.id, CheckIn.local_date == day))


def test_use_earlier_today_is_recorded_on_todays_check_in_and_shown_as_today(client, auth, people):
    auth.login(people.pat)
    today = _today(people.pat)
    response = auth.post(f"/checkin/{today}", {**FORM, "used-alcohol": "yes", "amount-alcohol": "2"})
    assert response.status_code == 302
    checkin = _stored(people.pat, today)
    assert [(u.substance, u.used, u.amount) for u in checkin.uses] == [("alcohol", True, "2")]
    assert use_day(checkin) == today
    saved = client.get(f"/checkin/{today}/saved").get_data(as_text=True)
    assert "craving 3 out of 10; used today" in saved


def test_a_back_filled_days_use_is_filed_under_that_day_and_shown_with_its_date(client, auth, people):
    auth.login(people.pat)
    day = _today(people.pat) - timedelta(days=3)
    assert auth.post(f"/checkin/{day}", {**FORM, "used-alcohol": "yes"}).status_code == 302
    checkin = _stored(people.pat, day)
    assert use_day(checkin) == day and checkin.uses[0].used is True
    saved = client.get(f"/checkin/{day}/saved").get_data(as_text=True)
    assert f"used on {long_date(day)}" in saved


def test_the_api_files_use_under_the_day_in_its_path(client, people):
    headers = bearer(client, people.pat)
    today = _today(people.pat)
    body = {
        "mood": 5,
        "cravings": [{"substance": "alcohol", "intensity": 2}],
        "use": [{"substance": "alcohol", "used": True}],
    }
    assert client.put(f"/api/v1/checkins/{today}", json=body, headers=headers).status_code == 201
    assert use_day(_stored(people.pat, today)) == today


# --- Read back the same way by the care team's pages, figures and exports --------------------------------------
@pytest.fixture
def pat_used_today(client, people) -> date:
    """Pat's check-in of today says she drank (2 drinks) earlier today."""
    headers = bearer(client, people.pat)
    today = _today(people.pat)
    use = [{"substance": "alcohol", "used": True, "amount": "2"}]
    body = {"mood": 5, "cravings": [{"substance": "alcohol", "intensity": 2}], "use": use}
    assert client.put(f"/api/v1/checkins/{today}", json=body, headers=headers).status_code == 201
    return today


def test_the_substance_figures_count_use_on_the_day_it_was_asked_of(people, pat_used_today):
    from journal import patient_data

    data = patient_data.load(db.session, people.pat.patient, utcnow())
    assert patient_data.substance_reports(data)["alcohol"] == {pat_used_today: (True, "2")}


def test_the_fhir_export_dates_use_on_the_day_it_was_asked_of(client, people, pat_used_today):
    headers = bearer(client, people.alice)
    bundle = client.get(f"/api/v1/patients/{people.pat.id}/export.fhir.json", headers=headers).get_json(force=True)
    uses = [
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Observation"
        and entry["resource"]["code"]["coding"][0]["code"] == "substance-use"
    ]
    assert [(o["effectiveDateTime"], o["valueBoolean"]) for o in uses] == [(pat_used_today.isoformat(), True)]


def test_the_clinicians_day_page_shows_use_on_that_day_without_shifting_it(client, auth, people, pat_used_today):
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}/days/{pat_used_today}").get_data(as_text=True)
    assert "used: 2" in page
    assert "the day before" not in page


# --- Check-ins saved before the question changed (migration 0010) ----------------------------------------------
def test_a_check_in_saved_under_the_old_question_is_still_read_as_use_the_day_before(client, people, pat_used_today):
    from journal import patient_data

    checkin = _stored(people.pat, pat_used_today)
    checkin.uses_about_day_before = True  # as the migration marks every check-in that existed before it
    db.session.commit()
    day_before = pat_used_today - timedelta(days=1)
    assert use_day(checkin) == day_before
    data = patient_data.load(db.session, people.pat.patient, utcnow())
    assert patient_data.substance_reports(data)["alcohol"] == {day_before: (True, "2")}
    bundle = client.get(
        f"/api/v1/patients/{people.pat.id}/export.fhir.json", headers=bearer(client, people.alice)
    ).get_json(force=True)
    dates = [
        entry["resource"]["effectiveDateTime"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Observation"
        and entry["resource"]["code"]["coding"][0]["code"] == "substance-use"
    ]
    assert dates == [day_before.isoformat()]


def test_saving_the_day_again_asks_the_new_question_so_its_answers_are_about_that_day(client, people, pat_used_today):
    checkin = _stored(people.pat, pat_used_today)
    checkin.uses_about_day_before = True
    db.session.commit()
    body = {
        "mood": 4,
        "cravings": [{"substance": "alcohol", "intensity": 1}],
        "use": [{"substance": "alcohol", "used": False}],
    }
    response = client.put(f"/api/v1/checkins/{pat_used_today}", json=body, headers=bearer(client, people.pat))
    assert response.status_code == 200
    checkin = _stored(people.pat, pat_used_today)
    assert checkin.uses_about_day_before is False and use_day(checkin) == pat_used_today
