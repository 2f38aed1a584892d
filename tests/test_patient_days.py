"""A patient's days reach the care team: the last 30 days on the patient's page (a missing day stays missing),
any day opened whole, and the check-in note, which says truthfully who reads it and when, marked new until a
member of the care team opens it (audited), counted on the dashboard, and unseen again when the patient changes
it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from journal import diary, patient_data
from journal.checkins import save_checkin
from journal.dashboard import triage
from journal.db import db, utcnow
from journal.models import AuditEvent, CheckIn
from tests.conftest import NOW
from tests.outcome_data import at_local, local_today

NOTE = "I don't see the point any more. I have pills saved up."


def _form(note: str, submission: str, **overrides) -> dict:
    """Pat's phone form for today (alcohol is Pat's one substance; pain and the sleep diary are not tracked)."""
    return {
        "mood": "0",
        "craving-alcohol": "9",
        "used-alcohol": "yes",
        "amount-alcohol": "6 beers",
        "side_effects": "nausea",
        "note": note,
        "submission_id": submission,
        **overrides,
    }


def _today(people) -> str:
    return local_today(people.pat, utcnow()).isoformat()


def _note_seen_events() -> list[tuple[int, int, str]]:
    return db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail).where(AuditEvent.action == "note.seen")
    ).all()


def _stored() -> CheckIn:
    db.session.expire_all()
    return db.session.scalar(select(CheckIn))


# --- The note field tells the truth -----------------------------------------------------------------------------


def test_note_field_says_who_reads_notes_and_when_from_the_clinic_setting_and_where_help_is_now(client, auth, people):
    people.clinic.note_review_promise = "Dr Lee reads notes each weekday morning."
    db.session.commit()
    auth.login(people.pat)
    page = client.get(f"/checkin/{_today(people)}").get_data(as_text=True)
    hint = page[page.index('id="note-hint"') : page.index("</p>", page.index('id="note-hint"'))]
    assert "Dr Lee reads notes each weekday morning." in hint
    assert "not watched around the" in hint and "clock" in hint
    assert '<a href="/help">Need help now?</a>' in hint
    assert 'aria-describedby="note-hint"' in page  # read out with the field
    assert "only your care team reads it)" not in page  # the old promise that nobody kept


def test_saved_page_repeats_the_promise_only_when_a_note_was_saved(client, auth, people):
    auth.login(people.pat)
    day = _today(people)
    with_note = auth.post(f"/checkin/{day}", _form(NOTE, "days-form-01"), follow_redirects=True).get_data(as_text=True)
    assert people.clinic.note_review_promise in with_note.replace("&#39;", "'")
    assert "Need help now?" in with_note
    without = auth.post(f"/checkin/{day}", _form("", "days-form-02"), follow_redirects=True).get_data(as_text=True)
    assert people.clinic.note_review_promise not in without.replace("&#39;", "'")


def test_admin_sets_the_note_promise_on_the_clinic_settings_page(client, auth, people):
    auth.login(people.ada)
    page = client.get("/admin/clinic").get_data(as_text=True)
    assert 'name="note_review_promise"' in page
    assert "Your care team reads notes at your next review, usually within 2 working days." in page


# --- The promise holds ---------------------------------------------------------------------------------------


def test_a_patients_note_reaches_the_care_team_is_counted_until_opened_and_opening_it_is_audited(client, auth, people):
    auth.login(people.pat)
    day = _today(people)
    assert auth.post(f"/checkin/{day}", _form(NOTE, "days-form-03")).status_code == 302
    auth.logout()

    auth.login(people.alice)
    dashboard = client.get("/clinician/dashboard").get_data(as_text=True)
    assert "1 new note" in dashboard
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True).replace("&#39;", "'")
    days = page[page.index('id="days"') :]
    assert "New note" in days and "I don't see the point any more." in days
    assert "Alcohol: craving 9; used (6 beers)" in days and "Nausea or vomiting" in days
    assert f'href="/clinician/patients/{people.pat.id}/days/{day}"' in days
    assert _stored().note_seen_at is None  # the table shows it; only opening the day marks it seen

    opened = client.get(f"/clinician/patients/{people.pat.id}/days/{day}")
    assert opened.status_code == 200
    assert NOTE in opened.get_data(as_text=True).replace("&#39;", "'")
    stored = _stored()
    assert stored.note_seen_by_id == people.alice.id and stored.note_seen_at is not None
    assert _note_seen_events() == [(people.alice.id, people.pat.id, f"check-in {stored.id}")]
    reads = db.session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "patient.read", AuditEvent.patient_id == people.pat.id)
    ).all()
    assert f"day {day}" in reads  # the day's page is a read of the patient's data, audited as one

    assert "new note" not in client.get("/clinician/dashboard").get_data(as_text=True)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "New note" not in page[page.index('id="days"') :]
    client.get(f"/clinician/patients/{people.pat.id}/days/{day}")
    assert len(_note_seen_events()) == 1  # a note is seen once


def test_only_the_care_team_opens_a_day(client, auth, people):
    day = local_today(people.pat, utcnow())
    save_checkin(db.session, people.pat.patient, day, _api_day(NOTE), utcnow(), people.pat)
    db.session.commit()
    for outsider in (people.charlie, people.bob, people.ada, people.pat):
        auth.login(outsider)
        response = client.get(f"/clinician/patients/{people.pat.id}/days/{day.isoformat()}")
        assert response.status_code == 404, outsider.name
        auth.logout()
    assert _stored().note_seen_at is None and _note_seen_events() == []
    auth.login(people.alice)
    assert client.get(f"/clinician/patients/{people.pat.id}/days/not-a-date").status_code == 404
    assert client.get(f"/clinician/patients/{people.quinn.id}/days/{day.isoformat()}").status_code == 404


def test_a_note_changed_later_the_same_day_is_unseen_again_and_an_unchanged_one_stays_seen(client, auth, people):
    auth.login(people.pat)
    day = _today(people)
    auth.post(f"/checkin/{day}", _form("Rough night.", "days-form-04"))
    auth.logout()
    auth.login(people.alice)
    client.get(f"/clinician/patients/{people.pat.id}/days/{day}")
    auth.logout()
    assert _stored().note_seen_at is not None

    auth.login(people.pat)
    auth.post(f"/checkin/{day}", _form("Rough night.", "days-form-05", mood="3"))  # the note as it was
    assert _stored().note_seen_at is not None
    auth.post(f"/checkin/{day}", _form("Rough night. Worse now.", "days-form-06", mood="3"))
    stored = _stored()
    assert (stored.note_seen_at, stored.note_seen_by_id) == (None, None)


# --- The last 30 days -------------------------------------------------------------------------------------------


def _api_day(note: str = "", *, mood: int = 5, used: bool = False) -> dict:
    return {
        "mood": mood,
        "cravings": [{"substance": "alcohol", "intensity": 4}],
        "use": [{"substance": "alcohol", "used": used, **({"amount": "2 glasses"} if used else {})}],
        "note": note,
    }


def test_last_30_days_are_most_recent_first_with_missing_days_missing_and_how_each_was_entered(people):
    pat = people.pat
    today = local_today(pat, NOW)
    save_checkin(db.session, pat.patient, today, _api_day(mood=7), at_local(pat, today, 20), pat)
    back = today - timedelta(days=4)
    save_checkin(db.session, pat.patient, back, _api_day(mood=4, used=True), at_local(pat, back + timedelta(3)), pat)
    paper = today - timedelta(days=6)
    save_checkin(db.session, pat.patient, paper, _api_day(mood=2), at_local(pat, today, 9), people.alice)
    db.session.commit()

    rows = diary.last_days(patient_data.load(db.session, pat.patient, NOW))
    assert len(rows) == 30
    assert [row.day for row in rows[:3]] == [today, today - timedelta(days=1), today - timedelta(days=2)]
    by_day = {row.day: row for row in rows}
    assert by_day[today].entry == "On time" and by_day[today].checkin.mood == 7
    assert by_day[back].entry == "Back-filled 3 days later"
    assert by_day[back].substances[0].used is True and by_day[back].substances[0].amount == "2 glasses"
    assert by_day[paper].entry == "Entered by the care team"
    assert by_day[today - timedelta(days=1)].missing and by_day[today - timedelta(days=1)].checkin is None
    assert sum(not row.missing for row in rows) == 3


def test_a_long_note_is_shortened_in_the_table_and_whole_on_the_days_page(client, auth, people):
    day = local_today(people.pat, utcnow())
    long_note = "Slept badly again. " * 10 + "THE END"
    save_checkin(db.session, people.pat.patient, day, _api_day(long_note), utcnow(), people.pat)
    db.session.commit()
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "THE END" not in page and "Slept badly again. Slept badly again." in page and "…" in page
    assert "THE END" in client.get(f"/clinician/patients/{people.pat.id}/days/{day.isoformat()}").get_data(as_text=True)


def test_a_missing_day_opens_as_missing_not_as_zero(client, auth, people):
    day = local_today(people.pat, utcnow()) - timedelta(days=2)
    auth.login(people.alice)
    response = client.get(f"/clinician/patients/{people.pat.id}/days/{day.isoformat()}")
    assert response.status_code == 200
    assert "No check-in for this day." in response.get_data(as_text=True)


# --- The dashboard ----------------------------------------------------------------------------------------------


def test_dashboard_counts_unseen_notes_and_puts_their_patient_after_alerts_before_missed_days(people):
    from tests.conftest import make_patient

    rory = make_patient(people.alice, "rory", "Rory Reader")
    pat = people.pat
    for user in (pat, rory):
        user.activated_at = NOW - timedelta(days=10)
    yesterday = local_today(pat, NOW) - timedelta(days=1)
    # Rory checked in yesterday, with two notes over two days; Pat has missed more days and left no note.
    for day in (yesterday - timedelta(days=1), yesterday):
        save_checkin(db.session, rory.patient, day, _api_day("A note."), at_local(rory, day, 20), rory)
    save_checkin(db.session, pat.patient, yesterday - timedelta(days=5), _api_day(), NOW - timedelta(days=5), pat)
    db.session.commit()

    rows = {row.name: row for row in triage(db.session, people.alice, NOW)}
    assert rows["Rory Reader"].unseen_notes == 2 and rows["Pat Patient"].unseen_notes == 0
    assert rows["Pat Patient"].missed_days > rows["Rory Reader"].missed_days
    order = [row.name for row in triage(db.session, people.alice, NOW)]
    assert order.index("Rory Reader") < order.index("Pat Patient")

    seen = db.session.scalars(select(CheckIn).where(CheckIn.patient_id == rory.id)).all()
    diary.mark_seen(db.session, people.bob, seen[:1], NOW)
    db.session.commit()
    assert {row.name: row for row in triage(db.session, people.alice, NOW)}["Rory Reader"].unseen_notes == 1


# --- The report -------------------------------------------------------------------------------------------------


def test_report_ends_with_the_last_30_days_notes_whole_and_missing_days_missing(people):
    import io

    from pypdf import PdfReader

    from journal import report

    pat = people.pat
    today = local_today(pat, NOW)
    long_note = "Slept badly again. " * 6 + "THE END"
    save_checkin(db.session, pat.patient, today, _api_day(long_note, mood=3, used=True), at_local(pat, today, 20), pat)
    db.session.commit()
    data = patient_data.load(db.session, pat.patient, NOW)
    pdf = report.build(data, patient_data.summary(data, NOW), [], NOW)
    pages = [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]
    days = " ".join(pages[pages.index(next(p for p in pages if "Last 30 days" in p)) :])
    assert "THE END" in days  # the note whole: paper has no day page
    assert "Mood 3" in days and "Alcohol: craving 4, used (2 glasses)" in days and "On time" in days
    assert days.count("No check-in") == 29
