"""A clinic's own words (its hours and when its team reads answers and notes) in Spanish, as the clinic writes them.

The journal never translates these: they are promises only the clinic can keep. An admin may give each in Spanish;
a patient who chose Spanish then reads the Spanish, and until then reads the English, marked lang="en" so that a
screen reader does not read English words as Spanish. A patient who chose English always reads the English.
"""

from __future__ import annotations

import pytest

from journal.checkins import local_today
from journal.db import db, utcnow
from journal.models import Clinic
from tests.test_clinic_settings import SETTINGS

HOURS = ("Monday to Saturday, 8 am to 6 pm", "de lunes a sábado, de 8 a. m. a 6 p. m.")
ANSWERS = ("Your care team reads answers every day.", "Su equipo de atención lee las respuestas todos los días.")
NOTES = ("Dr Lee reads notes each weekday morning.", "La Dra. Lee lee las notas cada mañana de lunes a viernes.")


@pytest.fixture
def bilingual_clinic(people):
    clinic = people.clinic
    clinic.clinic_phone = "(617) 555-0100"
    clinic.clinic_hours, clinic.clinic_hours_es = HOURS
    clinic.review_promise, clinic.review_promise_es = ANSWERS
    clinic.note_review_promise, clinic.note_review_promise_es = NOTES
    db.session.commit()
    return people


def _speaks(people, code: str) -> None:
    people.pat.patient.language = code
    db.session.commit()


def _pages(client, people) -> str:
    """The pages that carry the clinic's words: help, the check-in (its note field), and the crisis screen."""
    day = local_today(people.pat, utcnow()).isoformat()
    return "".join(client.get(path).get_data(as_text=True) for path in ("/help", f"/checkin/{day}"))


def test_a_spanish_reading_patient_reads_the_clinics_spanish_words_unmarked(client, auth, bilingual_clinic):
    people = bilingual_clinic
    auth.login(people.pat)
    _speaks(people, "es")
    pages = _pages(client, people)
    for english, spanish in (HOURS, ANSWERS, NOTES):
        assert spanish in pages and english not in pages
    assert 'lang="en"' not in pages


def test_without_the_clinics_spanish_a_spanish_reading_patient_reads_its_english_marked_as_english(
    client, auth, bilingual_clinic
):
    people = bilingual_clinic
    people.clinic.clinic_hours_es = people.clinic.review_promise_es = people.clinic.note_review_promise_es = ""
    db.session.commit()
    auth.login(people.pat)
    _speaks(people, "es")
    pages = _pages(client, people)
    for english, spanish in (HOURS, ANSWERS, NOTES):
        assert f'<span lang="en">{english}</span>' in pages and spanish not in pages


def test_an_english_reading_patient_always_reads_the_english(client, auth, bilingual_clinic):
    people = bilingual_clinic
    auth.login(people.pat)
    _speaks(people, "en")
    pages = _pages(client, people)
    for english, spanish in (HOURS, ANSWERS, NOTES):
        assert english in pages and spanish not in pages


def test_the_crisis_screen_gives_the_clinics_spanish_hours_and_promise(client, auth, bilingual_clinic):
    people = bilingual_clinic
    auth.login(people.pat)
    _speaks(people, "es")
    answers = {f"item-{n}": "0" for n in range(1, 9)} | {"item-9": "1"}
    support = auth.post("/assessments/phq9", answers).headers["Location"]
    page = client.get(support).get_data(as_text=True)
    assert HOURS[1] in page and ANSWERS[1] in page and ANSWERS[0] not in page


def test_before_sign_in_the_help_page_gives_the_journals_own_promise_in_the_browsers_language(client):
    page = client.get("/help", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Su equipo de atención lee lo que usted anota durante el horario de la clínica." in page
    assert 'lang="en"' not in page.split("<html", 1)[1].split(">", 1)[1]  # nothing left in English


def test_the_admin_saves_the_spanish_words_and_may_empty_them(client, auth, people):
    auth.login(people.ada)
    spanish = {"clinic_hours_es": HOURS[1], "review_promise_es": ANSWERS[1], "note_review_promise_es": NOTES[1]}
    assert auth.post("/admin/clinic", SETTINGS | spanish).status_code == 302
    clinic = db.session.get(Clinic, people.clinic.id)
    db.session.refresh(clinic)
    assert (clinic.clinic_hours_es, clinic.review_promise_es, clinic.note_review_promise_es) == (
        HOURS[1],
        ANSWERS[1],
        NOTES[1],
    )
    page = client.get("/admin/clinic").get_data(as_text=True)
    assert HOURS[1] in page and "For patients who read Spanish" in page
    assert auth.post("/admin/clinic", SETTINGS | dict.fromkeys(spanish, "  ")).status_code == 302
    db.session.refresh(clinic)
    assert (clinic.clinic_hours_es, clinic.review_promise_es, clinic.note_review_promise_es) == ("", "", "")


def test_spanish_words_too_long_are_refused_with_a_clear_error_and_nothing_saved(client, auth, people):
    auth.login(people.ada)
    response = auth.post("/admin/clinic", SETTINGS | {"clinic_hours_es": "x" * 201, "clinic_phone": "(617) 555-0199"})
    assert response.status_code == 400
    assert "Use at most 200 characters." in response.get_data(as_text=True)
    db.session.refresh(people.clinic)
    assert people.clinic.clinic_hours_es == "" and people.clinic.clinic_phone != "(617) 555-0199"


def test_the_score_page_gives_the_clinics_spanish_promise(client, auth, bilingual_clinic):
    people = bilingual_clinic
    auth.login(people.pat)
    _speaks(people, "es")
    done = auth.post("/assessments/phq9", {f"item-{n}": "0" for n in range(1, 10)}).headers["Location"]
    page = client.get(done).get_data(as_text=True)
    assert ANSWERS[1] in page and ANSWERS[0] not in page
