"""The "Mark all new notes seen" action on a patient's page: POST /clinician/patients/<id>/notes/seen.

Alice is Pat's clinician; Bob is Alice's colleague, on Pat's care team only when a test adds him; Charlie has his
own patient Quinn and must never touch Pat's notes; Ada is the clinic's admin (tests/conftest.py).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from journal.checkins import save_checkin
from journal.db import db, utcnow
from journal.models import AuditEvent, CareTeamMember, CheckIn, EntrySource, ReportMode
from tests.conftest import csrf_token
from tests.outcome_data import at_local, local_today

NOTE = "I don't see the point any more. I have pills saved up."


def _day(note: str) -> dict:
    return {
        "mood": 3,
        "cravings": [{"substance": "alcohol", "intensity": 4}],
        "use": [{"substance": "alcohol", "used": False}],
        "note": note,
    }


def _notes(people, *notes: str, days_ago: int = 0) -> list[CheckIn]:
    """Pat's check-ins with these notes, one a day ending ``days_ago`` days before today ("" for no note)."""
    pat = people.pat
    today = local_today(pat, utcnow())
    saved = []
    for n, note in enumerate(reversed(notes)):
        day = today - timedelta(days=days_ago + n)
        saved.append(save_checkin(db.session, pat.patient, day, _day(note), at_local(pat, day, 20), pat)[0])
    db.session.commit()
    return saved


def _old_note(people, days_ago: int, note: str) -> None:
    """A note older than the patient page's 30 days (stored directly: the phone form back-fills a few days only)."""
    day = local_today(people.pat, utcnow()) - timedelta(days=days_ago)
    db.session.add(
        CheckIn(
            patient_id=people.pat.id, local_date=day, mood=4, note=note, report_mode=ReportMode.ON_TIME,
            days_after_event=0, source=EntrySource.PATIENT, entered_by_id=people.pat.id,
        )
    )  # fmt: skip
    db.session.commit()


def _unseen() -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(select(CheckIn.note).where(CheckIn.note != "", CheckIn.note_seen_at.is_(None))).all()
    )


def _seen_events() -> list[tuple[int, int, str]]:
    return db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail).where(AuditEvent.action == "note.seen")
    ).all()


def _url(patient) -> str:
    return f"/clinician/patients/{patient.id}/notes/seen"


def test_marking_notes_seen_marks_every_unseen_note_of_the_patient_and_audits_each(client, auth, people):
    checkins = _notes(people, NOTE, "", "Better today.")
    _old_note(people, 45, "An old note.")
    auth.login(people.alice)
    response = auth.post(_url(people.pat))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/clinician/patients/{people.pat.id}#days")
    assert _unseen() == []
    events = _seen_events()
    assert len(events) == 3 and {(actor, patient) for actor, patient, _ in events} == {(people.alice.id, people.pat.id)}
    for checkin in checkins:
        db.session.refresh(checkin)
        assert (checkin.note_seen_by_id == people.alice.id) == bool(checkin.note)


def test_the_patient_page_says_how_many_were_marked_and_counts_none_after(client, auth, people):
    _notes(people, NOTE, "Better today.")
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    days = page[page.index('id="days"') :]
    assert "2 new notes</strong>" in days
    assert f'<form method="post" action="/clinician/patients/{people.pat.id}/notes/seen">' in days
    assert ">Mark all new notes seen</button>" in days

    page = auth.post(_url(people.pat), follow_redirects=True).get_data(as_text=True)
    assert "2 new notes marked seen." in page
    days = page[page.index('id="days"') :]
    assert "Mark all new notes seen" not in days and "New note" not in days
    assert "new note" not in client.get("/clinician/dashboard").get_data(as_text=True)


def test_the_button_is_not_shown_without_unseen_notes(client, auth, people):
    _notes(people, "", "")
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "Mark all new notes seen" not in page and "notes/seen" not in page


def test_with_nothing_unseen_marking_changes_nothing_and_says_so(client, auth, people):
    _notes(people, NOTE)
    auth.login(people.alice)
    auth.post(_url(people.pat))
    page = auth.post(_url(people.pat), follow_redirects=True).get_data(as_text=True)
    assert "There were no new notes to mark seen." in page
    assert len(_seen_events()) == 1  # a note is seen once


def test_only_the_patients_own_notes_are_marked(client, auth, people):
    _notes(people, NOTE)
    quinn_day = local_today(people.quinn, utcnow())
    save_checkin(db.session, people.quinn.patient, quinn_day, _day("Quinn's note"), utcnow(), people.quinn)
    db.session.commit()
    auth.login(people.alice)
    auth.post(_url(people.pat))
    assert _unseen() == ["Quinn's note"]


def test_another_clinicians_patient_is_a_404_and_nothing_is_marked(client, auth, people):
    """Charlie is not on Pat's care team; Bob neither, until added; Alice is not on Quinn's."""
    _notes(people, NOTE)
    for outsider in (people.charlie, people.bob):
        auth.login(outsider)
        assert auth.post(_url(people.pat)).status_code == 404, outsider.name
        auth.logout()
    auth.login(people.alice)
    assert auth.post(_url(people.quinn)).status_code == 404
    assert auth.post("/clinician/patients/999999/notes/seen").status_code == 404
    assert _unseen() == [NOTE] and _seen_events() == []


def test_a_colleague_added_to_the_care_team_may_mark_them(client, auth, people):
    _notes(people, NOTE)
    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=people.bob.id))
    db.session.commit()
    auth.login(people.bob)
    assert auth.post(_url(people.pat)).status_code == 302
    assert _unseen() == [] and [actor for actor, _, _ in _seen_events()] == [people.bob.id]


def test_an_admin_or_the_patient_cannot_mark_notes_seen(client, auth, people):
    _notes(people, NOTE)
    for person in (people.ada, people.pat):
        auth.login(person)
        assert auth.post(_url(people.pat)).status_code == 404, person.name
        auth.logout()
    assert _unseen() == [NOTE]


def test_marking_needs_the_forms_csrf_token_and_a_post(client, auth, people):
    _notes(people, NOTE)
    auth.login(people.alice)
    assert client.post(_url(people.pat)).status_code == 400
    assert client.get(_url(people.pat)).status_code == 405
    assert _unseen() == [NOTE]


def test_signed_out_marking_goes_to_sign_in(client, auth, people):
    _notes(people, NOTE)
    response = client.post(_url(people.pat), data={"csrf_token": csrf_token(client, "/login")})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _unseen() == [NOTE]
