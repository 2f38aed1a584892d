"""A questionnaire in Spanish is its published Spanish version, word for word, or else the English one.

The PHQ-9's "Spanish for the USA" (Pfizer, phqscreeners.com) is the one verified (sources in journal/instruments.py):
a Spanish-speaking patient sees it, answers it, and the answers are stored exactly as an English-speaking patient's
would be; item 9 still leads to the crisis screen and raises the alert. The others stay English, with a Spanish
sentence saying why (tests/test_translations.py)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from journal import instruments
from journal.db import db
from journal.models import Alert, Assessment
from tests.conftest import make_patient

# The published text, as recorded from the form: a second copy, so that a change to the data fails here.
PUBLISHED_STEM = (
    "Durante las últimas 2 semanas, ¿qué tan seguido ha tenido molestias debido a los siguientes problemas?"
)
PUBLISHED_ITEMS = [
    "Poco interés o placer en hacer cosas",
    "Se ha sentido decaído(a), deprimido(a) o sin esperanzas",
    "Ha tenido dificultad para quedarse o permanecer dormido(a), o ha dormido demasiado",
    "Se ha sentido cansado(a) o con poca energía",
    "Sin apetito o ha comido en exceso",
    "Se ha sentido mal con usted mismo(a) \u2013 o que es un fracaso o que ha quedado mal con usted mismo(a) o con su "
    "familia",
    "Ha tenido dificultad para concentrarse en ciertas actividades, tales como leer el periódico o ver la televisión",
    "¿Se ha movido o hablado tan lento que otras personas podrían haberlo notado? o lo contrario \u2013 muy "
    "inquieto(a) o agitado(a) que ha estado moviéndose mucho más de lo normal",
    "Pensamientos de que estaría mejor muerto(a) o de lastimarse de alguna manera",
]
PUBLISHED_ANSWERS = ["Ningún día", "Varios días", "Más de la mitad de los días", "Casi todos los días"]
PUBLISHED_GAD7_ITEMS = [
    "Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta",
    "No ha sido capaz de parar o controlar su preocupación",
    "Se ha preocupado demasiado por motivos diferentes",
    "Ha tenido dificultad para relajarse",
    "Se ha sentido tan inquieto(a) que no ha podido quedarse quieto(a)",
    "Se ha molestado o irritado fácilmente",
    "Ha tenido miedo de que algo terrible fuera a pasar",
]
PUBLISHED_DIFFICULTY = (
    "Si marcó cualquiera de los problemas, ¿qué tanta dificultad le han dado estos problemas para hacer su trabajo, "
    "encargarse de las tareas del hogar, o llevarse bien con otras personas?"
)
PUBLISHED_DIFFICULTY_ANSWERS = ["No ha sido difícil", "Un poco difícil", "Muy difícil", "Extremadamente difícil"]


def _speaks(user, code: str) -> None:
    user.patient.language = code
    db.session.commit()


def _legends(page: str) -> list[str]:
    return [
        " ".join(text.split())
        for text in re.findall(r'<legend><span class="item-number">\d+\.</span>(.*?)</legend>', page, re.S)
    ]


def _labels(page: str, field: str) -> list[str]:
    return re.findall(rf'<label for="{field}-[\w]+">(.*?)</label>', page)


def test_the_spanish_phq9_has_the_english_codes_points_order_and_scoring():
    spanish = instruments.in_language(instruments.PHQ9, "es")
    english = instruments.PHQ9
    assert spanish.language == "es" and english.language == "en"
    assert [item.code for item in spanish.items] == [item.code for item in english.items]
    for es_item, en_item in zip(spanish.items, english.items, strict=True):
        assert [(a.points, a.code) for a in es_item.answers] == [(a.points, a.code) for a in en_item.answers]
    for name in ("key", "panel_code", "total_code", "scorer", "total_max", "bands", "has_difficulty", "schedule"):
        assert getattr(spanish, name) == getattr(english, name), name
    _question, answers = instruments.DIFFICULTY["es"]
    assert list(answers) == list(instruments.DIFFICULTY["en"][1])  # the same keys, so the same stored value
    assert [code for _label, code in answers.values()] == [
        code for _label, code in instruments.DIFFICULTY["en"][1].values()
    ]


@pytest.mark.parametrize("key", ["phq8", "pcl5", "peg", "pacs", "auditc"])
def test_an_instrument_without_a_verified_spanish_version_has_none(key):
    definition = instruments.get(key)
    assert instruments.in_language(definition, "es") is None
    assert instruments.in_language(definition, "en") is definition


def test_a_spanish_patient_sees_the_phq9_in_its_published_spanish_text_item_by_item(client, auth, people):
    auth.login(people.pat)
    _speaks(people.pat, "es")
    page = client.get("/assessments/phq9").get_data(as_text=True)
    assert '<html lang="es"' in page
    assert 'id="english-only"' not in page and 'lang="en"' not in page  # no English-only sentence, no English form
    assert f'<p class="stem">{PUBLISHED_STEM}</p>' in page
    assert _legends(page) == PUBLISHED_ITEMS
    for number in range(1, 10):
        assert _labels(page, f"item-{number}") == PUBLISHED_ANSWERS, number
    assert f"<legend>{PUBLISHED_DIFFICULTY}</legend>" in page
    assert _labels(page, "difficulty") == PUBLISHED_DIFFICULTY_ANSWERS
    assert "Little interest or pleasure" not in page and "Not at all" not in page


def test_an_english_patient_still_sees_the_english_phq9(client, auth, people):
    auth.login(people.pat)
    _speaks(people.pat, "en")
    page = client.get("/assessments/phq9").get_data(as_text=True)
    assert _legends(page)[0] == "Little interest or pleasure in doing things"
    assert _labels(page, "item-1") == ["Not at all", "Several days", "More than half the days", "Nearly every day"]
    assert 'id="english-only"' not in page and PUBLISHED_ITEMS[0] not in page


def _stored(user) -> tuple:
    (form,) = db.session.scalars(select(Assessment).where(Assessment.patient_id == user.id)).all()
    return (form.instrument, form.answers, form.difficulty, form.total, form.band, form.item9, form.safety,
            form.two_item_total, form.scores)  # fmt: skip


def test_answering_the_phq9_in_spanish_stores_the_same_as_in_english(client, auth, people):
    eve = make_patient(people.alice, "eve", "Eve English")
    db.session.commit()
    answers = {f"item-{n}": str(points) for n, points in enumerate([3, 2, 1, 0, 3, 2, 1, 0, 0], start=1)}
    answers["difficulty"] = "very_difficult"
    for user, code in ((people.pat, "es"), (eve, "en")):
        _speaks(user, code)
        auth.login(user)
        response = auth.post("/assessments/phq9", answers)
        assert response.status_code == 302 and "/support" not in response.headers["Location"]
        auth.logout()
    spanish, english = _stored(people.pat), _stored(eve)
    assert spanish == english
    assert spanish[:4] == ("phq9", [3, 2, 1, 0, 3, 2, 1, 0, 0], "very_difficult", 12)


def test_item_9_answered_in_spanish_leads_to_the_crisis_screen_and_raises_the_alert(client, auth, people):
    auth.login(people.pat)
    _speaks(people.pat, "es")
    page = client.get("/assessments/phq9").get_data(as_text=True)
    assert _legends(page)[8] == PUBLISHED_ITEMS[8]
    answers = {f"item-{n}": "0" for n in range(1, 9)} | {"item-9": "1"}  # "Varios días"
    response = auth.post("/assessments/phq9", answers)
    assert response.status_code == 302
    assert re.search(r"/assessments/\d+/support$", response.headers["Location"])
    assert [alert.kind for alert in db.session.scalars(select(Alert)).all()] == ["safety_item9"]
    assert _stored(people.pat)[5:7] == (1, "positive")
    support = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<html lang="es"' in support and "llame al 988 y oprima el 2" in support


def test_a_form_sent_back_with_an_error_keeps_the_spanish_wording(client, auth, people):
    auth.login(people.pat)
    _speaks(people.pat, "es")
    response = auth.post("/assessments/phq9", {"item-1": "2"})  # items 2 to 9 missing
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert _legends(page) == PUBLISHED_ITEMS and 'id="english-only"' not in page
    assert re.search(r'id="item-1-2" name="item-1" value="2" required checked', page)


def test_the_spanish_gad7_has_the_english_codes_points_order_and_scoring():
    spanish, english = instruments.in_language(instruments.GAD7, "es"), instruments.GAD7
    assert [item.code for item in spanish.items] == [item.code for item in english.items]
    for es_item, en_item in zip(spanish.items, english.items, strict=True):
        assert [(a.points, a.code) for a in es_item.answers] == [(a.points, a.code) for a in en_item.answers]
    for name in ("key", "panel_code", "total_code", "scorer", "total_max", "bands", "has_difficulty", "schedule"):
        assert getattr(spanish, name) == getattr(english, name), name


def test_a_spanish_patient_answers_the_gad7_in_its_published_spanish_text_and_it_is_stored_as_in_english(
    client, auth, people
):
    auth.login(people.pat)
    _speaks(people.pat, "es")
    page = client.get("/assessments/gad7").get_data(as_text=True)
    assert 'id="english-only"' not in page and 'lang="en"' not in page
    assert f'<p class="stem">{PUBLISHED_STEM}</p>' in page
    assert _legends(page) == PUBLISHED_GAD7_ITEMS
    for number in range(1, 8):
        assert _labels(page, f"item-{number}") == PUBLISHED_ANSWERS, number
    assert "Feeling nervous" not in page
    answers = {f"item-{n}": str(points) for n, points in enumerate([3, 2, 1, 0, 3, 2, 1], start=1)}
    assert auth.post("/assessments/gad7", answers).status_code == 302
    (form,) = db.session.scalars(select(Assessment).where(Assessment.patient_id == people.pat.id)).all()
    assert (form.instrument, form.answers, form.total) == ("gad7", [3, 2, 1, 0, 3, 2, 1], 12)
