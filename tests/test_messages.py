"""PRIV-R1 / PRIV-R4: nothing sent outside the app carries health information, in any language a patient reads.

Every e-mail template is rendered in English and in Spanish and checked against both lists of health words
below, which are matched at the start of a word whatever the case and the accents ("sesion" catches "sesión",
"animo" catches "Ánimo")."""

from __future__ import annotations

import re
import unicodedata

import pytest

from journal.i18n import LANGUAGES
from journal.messages import PATIENT_TEMPLATES, TEMPLATES, push_title, render

# Condition, substance, drug, treatment, appointment, score, mood and questionnaire words, and specialties.
FORBIDDEN_ENGLISH = [
    "depress", "anxi", "ptsd", "trauma", "addict", "substance", "alcohol", "drink", "opioid", "heroin", "fentanyl",
    "stimulant", "cocaine", "meth", "cannabis", "marijuana", "nicotine", "benzo", "ketamine", "esketamine",
    "spravato", "infusion", "dose", "dosing", "session", "appointment", "treatment", "therapy", "psychiatr",
    "mental", "score", "phq", "gad", "questionnaire", "mood", "craving", "relapse", "sober", "recovery", "pain",
    "sleep", "suicid", "self-harm", "crisis", "clinic", "diagnos", "medication", "symptom",
]  # fmt: skip
# The same in Spanish, written without accents (they are ignored when matching): conditions and their words
# (depresión, ansiedad, trastorno, estrés postraumático/TEPT), substances and using them, the drug and how it is
# given, the visit (sesión, cita, consulta), care and who gives it, scores and questionnaires, mood and craving
# (ánimo, antojo, ansias), relapse and recovery, pain, sleep, suicide and self-harm, the clinic, medicines.
FORBIDDEN_SPANISH = [
    "depresi", "deprimid", "ansiedad", "ansios", "ansia", "trastorno", "estres postraum", "tept", "trauma",
    "adicci", "adict", "sustancia", "droga", "alcohol", "bebida", "beber", "borrach", "consum", "opioide",
    "opiaceo", "heroina", "fentanilo", "estimulante", "cocaina", "metanfetamina", "marihuana", "cannabis",
    "canabis", "nicotina", "tabaco", "benzodiazepina", "ketamina", "esketamina", "spravato", "infusion", "dosis",
    "sesion", "cita", "consulta", "tratamiento", "terapia", "terapeut", "psiquiatr", "psicolog", "salud mental",
    "mental", "puntuacion", "puntaje", "resultado", "cuestionario", "encuesta", "escala", "phq", "gad", "animo",
    "humor", "antojo", "recaida", "sobrio", "sobriedad", "recuperaci", "rehabilitaci", "dolor", "sueno", "dormir",
    "insomnio", "suicid", "autolesi", "hacerse dano", "crisis", "clinica", "hospital", "diagnos", "medicament",
    "medicina", "medic", "receta", "sintoma", "enfermedad", "paciente", "salud",
]  # fmt: skip
FORBIDDEN = FORBIDDEN_ENGLISH + FORBIDDEN_SPANISH

LINK = "https://journal.example/m/0123456789abcdef"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_message_template_is_free_of_health_words_in_every_language(template, language):
    subject, text = render(template, link=LINK, language=language)
    for word in FORBIDDEN:
        assert not _says(word, subject), f"{template} ({language}) subject says {word!r}"
        assert not _says(word, text), f"{template} ({language}) text says {word!r}"
    assert LINK in text


@pytest.mark.parametrize("template", sorted(PATIENT_TEMPLATES))
def test_a_patients_email_goes_in_spanish_when_spanish_is_their_language(template):
    english, spanish = render(template, link=LINK), render(template, link=LINK, language="es")
    assert spanish[0] != english[0] and spanish[1] != english[1]  # a missing translation falls back to English
    assert spanish[1].startswith("Hola:")


def test_clinicians_alert_emails_stay_english_whatever_language_is_asked():
    for template in set(TEMPLATES) - PATIENT_TEMPLATES:
        assert render(template, link=LINK, language="es") == render(template, link=LINK)


def test_the_push_title_is_the_apps_name_in_the_patients_language():
    assert (push_title(), push_title("es")) == ("Journal", "Diario")


def test_the_forbidden_list_would_catch_a_careless_template():
    careless = "Time for your ketamine session check-in: how is your mood?"
    assert [word for word in FORBIDDEN if _says(word, careless)] == ["ketamine", "session", "mood"]


def test_the_spanish_list_would_catch_a_careless_template_with_or_without_accents():
    careless = "Su sesión de ketamina es mañana. ¿Cómo está su Ánimo? Conteste el cuestionario"
    assert [word for word in FORBIDDEN_SPANISH if _says(word, careless)] == [
        "ketamina", "sesion", "cuestionario", "animo",
    ]  # fmt: skip
    assert _says("depresi", "DEPRESIÓN") and _says("sueno", "sueño") and _says("puntuacion", "su puntuación")
    assert not _says("cita", "solicitar") and not _says("animo", "unanimous")


def _plain(text: str) -> str:
    """``text`` without its accents and tildes: "sesión" -> "sesion", "sueño" -> "sueno"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _says(word: str, text: str) -> bool:
    # At the start of a word, so "meth" catches "methadone" but not "something"; accents ignored.
    return re.search(rf"\b{re.escape(_plain(word))}", _plain(text), re.IGNORECASE) is not None


def test_alert_emails_say_how_urgent_by_priority_and_never_what():
    from journal.messages import alert_template

    subjects = {severity: render(alert_template(severity), link="")[0] for severity in ("high", "medium", "low")}
    assert subjects == {
        "high": "Urgent: please check the portal now",
        "medium": "Please check the portal today",
        "low": "Please check the portal when you can",
    }
    assert render("alert_escalation", link="")[0] == "Urgent: an item is still waiting in the portal"
    for subject in [*subjects.values(), render("alert_escalation", link="")[0]]:
        assert [word for word in FORBIDDEN if _says(word, subject)] == []
    with pytest.raises(KeyError):
        alert_template("critical")  # an unknown priority is a bug to see, not a silent default
