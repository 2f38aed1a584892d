"""The questionnaire and session pages' own wording is in Spanish for a Spanish-speaking patient. The instruments'
wording is their published Spanish version where the journal has one (PHQ-9, GAD-7: tests/test_spanish_instruments.py),
else the published English, marked lang="en".

Pages covered, each rendered as Pat in Spanish and in English (the pattern of tests/test_translations.py):
  - a questionnaire page (PHQ-9; the AUDIT-C's two steps; the PEG's scales), empty and with its errors;
  - the score page after a PHQ-9 (with its band) and after a PEG (its average);
  - "nothing to fill in", for a form filled in recently (with the day it opens again) and with nothing due;
  - "About the questionnaires", signed in and before sign-in (by the browser's Accept-Language);
  - getting ready for a session (planned, given, cancelled);
  - the side-effect check: the form, its errors, answered, skipped, refused (too late to change), closed, and
    not open yet.
Inside a questionnaire form marked lang="en", the page's own words carry lang="es": the parser here reads them
as visible again, so an unmarked string there is caught too."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from journal.assessments import submit
from journal.db import db, utcnow
from journal.models import DosingSession
from journal.sessions import save_session, save_side_effect_check
from tests.conftest import NOW, questionnaires_done
from tests.test_translations import _both, _lang, _same_in_both, _VisibleText


class _VisibleInItsLanguage(_VisibleText):
    """As _VisibleText, but an element marked with another language inside one marked lang="en" is visible
    again: the page's own words inside an English questionnaire form."""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        lang = attrs.get("lang") if tag != "html" else None
        if tag in ("script", "style", "head"):
            skipped = True
        elif lang is not None:
            skipped = lang == "en"
        else:
            skipped = self._skipped()
        if not skipped:
            for name in ("alt", "aria-label", "title"):
                if attrs.get(name):
                    self._add(attrs[name])
        if tag not in self.VOID:
            self.stack.append((tag, skipped))


def _visible(html: str) -> set[str]:
    parser = _VisibleInItsLanguage()
    parser.feed(html)
    return parser.texts


def _assert_all_translated(pages: dict[str, str], people, what: str) -> None:
    assert _lang(pages["es"]) == "es" and _lang(pages["en"]) == "en", what
    names = {"AUDIT-C", "PEG", "Esketamine"}  # questionnaires' and products' names
    untranslated = (_visible(pages["es"]) & _visible(pages["en"])) - _same_in_both(people) - names
    assert not untranslated, f"{what}: the same in Spanish as in English: {sorted(untranslated)}"


def _get(client, url: str):
    return lambda: client.get(url).get_data(as_text=True)


def _form(answers: list[int]) -> dict:
    return {f"item-{number}": str(value) for number, value in enumerate(answers, start=1)}


@pytest.fixture
def pat(people):
    """Pat, treated for alcohol use and chronic pain (so the AUDIT-C and the PEG are hers too), with the clinic's
    phone and hours set."""
    patient = people.pat.patient
    patient.indications = ["alcohol", "chronic_pain"]
    people.clinic.clinic_phone = "(617) 555-0100"
    people.clinic.clinic_hours = "Monday to Friday, 9 am to 5 pm"
    db.session.commit()
    return people


# --- Questionnaires ----------------------------------------------------------------------------------------------


def test_the_phq9_page_and_its_errors_are_in_spanish_with_its_published_spanish_version(client, auth, pat):
    people = pat
    auth.login(people.pat)
    pages = _both(people, _get(client, "/assessments/phq9"))
    _assert_all_translated(pages, people, "PHQ-9")
    assert "Enviar mis respuestas" in pages["es"] and "Acerca de los cuestionarios" in pages["es"]
    assert "Poco interés o placer en hacer cosas" in pages["es"]  # the published Spanish item (instruments.py)
    assert "Sus respuestas van a su equipo de atención." in pages["es"]
    pages = _both(people, lambda: auth.post("/assessments/phq9", {"item-1": "0"}).get_data(as_text=True))
    _assert_all_translated(pages, people, "PHQ-9 with errors")
    assert "Responda estas preguntas, por favor." in pages["es"] and "Elija una respuesta." in pages["es"]
    assert 'id="item-2-error">Elija una respuesta.' in pages["es"]  # a Spanish form: no lang of its own
    assert 'id="item-2-error">Choose an answer.' in pages["en"]


def test_the_auditc_steps_are_in_spanish_around_its_published_english_answers(client, auth, pat):
    people = pat
    auth.login(people.pat)
    pages = _both(people, _get(client, "/assessments/auditc"))
    _assert_all_translated(pages, people, "AUDIT-C first step")
    assert 'Si responde “<span lang="en">Never</span>”, esta es la única pregunta.' in pages["es"]
    assert "Siguiente" in pages["es"]
    step_two = {"item-1": "2", "step": "1"}
    pages = _both(people, lambda: auth.post("/assessments/auditc", step_two).get_data(as_text=True))
    _assert_all_translated(pages, people, "AUDIT-C second step")
    assert '<span lang="es">Su respuesta:</span> <strong>2 to 4 times a month</strong>' in pages["es"]
    assert "Cambiar esta respuesta" in pages["es"]
    pages = _both(people, lambda: auth.post("/assessments/auditc", {**step_two, "step": "2"}).get_data(as_text=True))
    _assert_all_translated(pages, people, "AUDIT-C second step with errors")


def test_the_peg_scales_errors_are_in_spanish(client, auth, pat):
    people = pat
    auth.login(people.pat)
    pages = _both(people, lambda: auth.post("/assessments/peg", {"item-1": "7", "item-2": "11"}).get_data(as_text=True))
    _assert_all_translated(pages, people, "PEG with errors")
    assert 'id="item-2-error" lang="es">Elija un número del 0 al 10.' in pages["es"]


def test_the_score_pages_are_in_spanish_with_the_band_and_the_average(client, auth, pat):
    people = pat
    auth.login(people.pat)
    done = auth.post("/assessments/phq9", _form([0] * 9)).headers["Location"]
    pages = _both(people, _get(client, done))
    _assert_all_translated(pages, people, "PHQ-9 score")
    assert "Sus respuestas del PHQ-9 se enviaron a su equipo de atención." in pages["es"]
    assert "0 (Ninguna o mínima)" in pages["es"] and "0 (None–minimal)" in pages["en"]
    assert "En el PHQ-9, la puntuación va de 0 a 27." in pages["es"]
    done = auth.post("/assessments/peg", _form([4, 5, 5])).headers["Location"]
    pages = _both(people, _get(client, done))
    _assert_all_translated(pages, people, "PEG score")
    assert "Su puntuación es el promedio de sus 3 respuestas." in pages["es"]


def test_nothing_to_fill_in_is_in_spanish_with_the_day_the_form_opens_again(client, auth, pat):
    people = pat
    submit(db.session, people.pat.patient, {"instrument": "phq9", "answers": [0] * 9}, utcnow(), people.pat)
    db.session.commit()
    auth.login(people.pat)
    pages = _both(people, _get(client, "/assessments/phq9"))
    _assert_all_translated(pages, people, "PHQ-9 not open")
    assert "Usted llenó el PHQ-9 hace poco. Se abre de nuevo el " in pages["es"]
    assert " de " in pages["es"].split("Se abre de nuevo el ")[1].split(".")[0]  # "lunes 7 de diciembre"


def test_no_questionnaire_due_is_said_in_spanish(client, auth, people):
    questionnaires_done(people.pat, utcnow())
    db.session.commit()
    auth.login(people.pat)
    pages = _both(people, _get(client, "/assessments"))
    _assert_all_translated(pages, people, "nothing due")
    assert "Ahora no le toca ningún cuestionario." in pages["es"]


def test_about_the_questionnaires_is_in_spanish_with_the_published_titles_and_attributions_in_english(
    client, auth, pat
):
    people = pat
    pages = {
        code: client.get("/about/questionnaires", headers={"Accept-Language": header}).get_data(as_text=True)
        for code, header in (("es", "es-US,es;q=0.9"), ("en", "en-US"))
    }
    _assert_all_translated(pages, people, "about, before sign-in")
    assert (
        '<strong lang="en">Patient Health Questionnaire (PHQ-9)</strong>: sobre las últimas 2 semanas.' in pages["es"]
    )
    assert "<strong>Patient Health Questionnaire (PHQ-9)</strong>: about the last 2 weeks." in pages["en"]
    auth.login(people.pat)
    pages = _both(people, _get(client, "/about/questionnaires"))
    _assert_all_translated(pages, people, "about, signed in")
    assert "Quién los creó" in pages["es"]


# --- Sessions ----------------------------------------------------------------------------------------------------


def _session(people, start, status: str = "given") -> DosingSession:
    data = {"status": status, "start": start, "route": "intranasal", "product": "Esketamine", "dose": 56,
            "dose_unit": "mg"}  # fmt: skip
    record = save_session(db.session, people.pat.patient, data, max(start, NOW), people.alice)
    db.session.commit()
    return record


@pytest.mark.parametrize("status", ["planned", "given", "cancelled"])
def test_getting_ready_for_a_session_is_in_spanish(client, auth, pat, status):
    people = pat
    start = utcnow() + timedelta(days=2) if status == "planned" else utcnow() - timedelta(days=2)
    record = _session(people, start, status)
    auth.login(people.pat)
    pages = _both(people, _get(client, f"/sessions/{record.id}/prepare"))
    _assert_all_translated(pages, people, f"prepare, {status}")
    assert "Cómo prepararse para su sesión" in pages["es"] and " a las " in pages["es"]
    if status == "planned":
        assert "No coma nada en las 2 horas anteriores a la sesión." in pages["es"]


def test_the_side_effect_check_and_its_errors_are_in_spanish(client, auth, pat):
    people = pat
    record = _session(people, utcnow() - timedelta(hours=73))  # the 72-hour check is open
    auth.login(people.pat)
    url = f"/sessions/{record.id}/check/72h"
    pages = _both(people, _get(client, url))
    _assert_all_translated(pages, people, "side-effect check")
    assert "¿Manejó un vehículo o usó maquinaria el día de la sesión?" in pages["es"]
    assert "Náuseas o vómitos" in pages["es"] and "0 = nada" in pages["es"]
    pages = _both(people, lambda: auth.post(url, {"nausea": "x"}).get_data(as_text=True))
    _assert_all_translated(pages, people, "side-effect check with errors")
    assert "Revise las respuestas marcadas más abajo, por favor." in pages["es"]
    assert "Responda sí o no." in pages["es"] and "Elija un número del 0 al 10." in pages["es"]


def test_the_answered_and_skipped_check_pages_are_in_spanish(client, auth, pat):
    people = pat
    record = _session(people, utcnow() - timedelta(hours=73))
    auth.login(people.pat)
    url = f"/sessions/{record.id}/check/72h"
    assert auth.post(url, {"nausea": "2", "drove": "no"}).status_code == 302
    pages = _both(people, _get(client, url))
    _assert_all_translated(pages, people, "check answered")
    assert "Gracias: sus respuestas están guardadas." in pages["es"]
    assert '(<span lang="en">Monday to Friday, 9 am to 5 pm</span>)' in pages["es"]  # the clinic's own words
    assert auth.post(url, {"action": "skip"}).status_code == 302
    pages = _both(people, _get(client, url))
    _assert_all_translated(pages, people, "check skipped")
    assert "Responder de todos modos" in pages["es"]


def test_a_check_too_late_to_change_is_refused_in_spanish(client, auth, pat):
    people = pat
    record = _session(people, utcnow() - timedelta(hours=100))  # the 72-hour check opened 28 hours ago
    save_side_effect_check(
        db.session, record, "72h", {"drove": False}, utcnow() - timedelta(hours=26), ZoneInfo(people.pat.timezone)
    )
    db.session.commit()
    auth.login(people.pat)
    url = f"/sessions/{record.id}/check/72h"
    pages = _both(people, lambda: auth.post(url, {"drove": "yes"}).get_data(as_text=True))
    _assert_all_translated(pages, people, "check refused")
    assert "Estas respuestas se enviaron hace más de un día y ya no se pueden cambiar." in pages["es"]


def test_a_closed_and_a_not_yet_open_check_are_in_spanish(client, auth, pat):
    people = pat
    old = _session(people, utcnow() - timedelta(hours=100))  # the morning-after check has closed
    auth.login(people.pat)
    pages = _both(people, _get(client, f"/sessions/{old.id}/check/morning_after"))
    _assert_all_translated(pages, people, "check closed")
    assert "Estas preguntas (la mañana después de su sesión) se cerraron el " in pages["es"]
    recent = _session(people, utcnow() - timedelta(hours=1))  # its checks open later
    pages = _both(people, _get(client, f"/sessions/{recent.id}/check/72h"))
    _assert_all_translated(pages, people, "check not yet open")
    assert "Estas preguntas (tres días después de su sesión) se abren el " in pages["es"]
    planned = _session(people, utcnow() + timedelta(days=1), "planned")
    pages = _both(people, _get(client, f"/sessions/{planned.id}/check/morning_after"))
    _assert_all_translated(pages, people, "check of a planned session")
    assert "se abren después de su sesión" in pages["es"]


def test_the_home_with_a_session_tomorrow_and_a_check_open_is_in_spanish(client, auth, pat):
    """The home's cards for sessions: the one coming (with its preparation) and the check open after the last."""
    people = pat
    _session(people, utcnow() - timedelta(hours=73))  # the 72-hour check is open
    _session(people, utcnow() + timedelta(days=1), "planned")
    auth.login(people.pat)
    pages = _both(people, _get(client, "/home"))
    _assert_all_translated(pages, people, "home with sessions")
    assert "/check/72h" in pages["es"] and "/prepare" in pages["es"]
