"""A patient's language (en or es): set at enrolment (page and API), by the patient (their page, PATCH /me) and by
their care team (the Edit details page, PATCH /patients/{id}); anything else is a 422 naming ``language``; another
team's clinician cannot change it and a patient cannot change another's. The pages follow it: the signed-in
patient's language, else the browser's Accept-Language, else English; staff pages stay English."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from journal.db import db
from journal.models import User
from tests.conftest import bearer

ENROLMENT = {"name": "Rosa Ruiz", "email": "rosa@patient.test", "timezone": "America/Chicago"}


def _language_of(user_id: int) -> str:
    db.session.expire_all()
    return db.session.get(User, user_id).patient.language


def test_a_patient_enrolled_without_a_language_gets_english(client, people):
    response = client.post("/api/v1/patients", json=ENROLMENT, headers=bearer(client, people.alice))
    assert response.status_code == 201
    assert response.get_json()["language"] == "en"


def test_enrolment_by_the_api_takes_spanish(client, people):
    response = client.post(
        "/api/v1/patients", json={**ENROLMENT, "language": "es"}, headers=bearer(client, people.alice)
    )
    assert response.status_code == 201
    assert response.get_json()["language"] == "es"
    assert _language_of(response.get_json()["id"]) == "es"


@pytest.mark.parametrize("value", ["fr", "ES", "", None, 1, ["es"]])
def test_enrolment_refuses_any_other_language_with_a_422_naming_it(client, people, value):
    response = client.post(
        "/api/v1/patients", json={**ENROLMENT, "language": value}, headers=bearer(client, people.alice)
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["language"]
    assert db.session.scalar(select(User).where(User.email == ENROLMENT["email"])) is None


def test_enrolment_page_takes_the_language(auth, client, people):
    auth.login(people.alice)
    assert 'id="language"' in client.get("/clinician/patients/new").get_data(as_text=True)
    form = {**ENROLMENT, "language": "es", "indications": ["depression"]}
    assert auth.post("/clinician/patients/new", form).status_code == 200
    assert db.session.scalar(select(User).where(User.email == ENROLMENT["email"])).patient.language == "es"


def test_enrolment_page_shows_a_bad_language_at_its_field(auth, client, people):
    auth.login(people.alice)
    response = auth.post("/clinician/patients/new", {**ENROLMENT, "language": "fr", "indications": ["depression"]})
    assert response.status_code == 400
    assert 'id="language-error"' in response.get_data(as_text=True)


def test_patch_me_sets_the_patients_own_language_and_gives_it_back(client, people):
    headers = bearer(client, people.pat)
    response = client.patch("/api/v1/me", json={"language": "es"}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["language"] == "es"
    assert _language_of(people.pat.id) == "es"
    assert _language_of(people.quinn.id) == "en"  # nobody else's
    assert client.get("/api/v1/me", headers=headers).get_json()["language"] == "es"


@pytest.mark.parametrize("value", ["fr", "spanish", None, 0])
def test_patch_me_refuses_any_other_language_with_a_422_naming_it(client, people, value):
    response = client.patch("/api/v1/me", json={"language": value}, headers=bearer(client, people.pat))
    assert response.status_code == 422
    assert "language" in response.get_json()["errors"]["json"]
    assert _language_of(people.pat.id) == "en"


def test_the_care_team_sets_the_language_by_the_api(client, people):
    response = client.patch(
        f"/api/v1/patients/{people.pat.id}", json={"language": "es"}, headers=bearer(client, people.alice)
    )
    assert response.status_code == 200
    assert response.get_json()["language"] == "es"
    assert _language_of(people.pat.id) == "es"


def test_another_teams_clinician_cannot_change_the_language(client, people):
    response = client.patch(
        f"/api/v1/patients/{people.pat.id}", json={"language": "es"}, headers=bearer(client, people.charlie)
    )
    assert response.status_code == 404
    assert _language_of(people.pat.id) == "en"


def test_a_patient_cannot_change_another_patients_language(client, people):
    headers = bearer(client, people.pat)
    response = client.patch(f"/api/v1/patients/{people.quinn.id}", json={"language": "es"}, headers=headers)
    assert response.status_code in (403, 404)
    assert _language_of(people.quinn.id) == "en"


def test_the_patient_sets_their_language_on_their_page(auth, client, people):
    auth.login(people.pat)
    page = client.get("/settings/contact").get_data(as_text=True)
    assert '<option value="en" lang="en" selected>English</option>' in page
    form = {"timezone": "America/Chicago", "phone": "", "language": "es"}
    assert auth.post("/settings/contact", form).status_code == 302
    assert _language_of(people.pat.id) == "es"


def test_the_patients_page_refuses_another_language_and_saves_nothing(auth, client, people):
    auth.login(people.pat)
    response = auth.post("/settings/contact", {"timezone": "America/Chicago", "language": "fr"})
    assert response.status_code == 400
    assert 'id="language-error"' in response.get_data(as_text=True)
    assert _language_of(people.pat.id) == "en"


def test_the_care_team_sets_the_language_on_the_edit_page_and_another_team_cannot(auth, client, people):
    auth.login(people.charlie)
    path = f"/clinician/patients/{people.pat.id}/details"
    assert auth.post(path, {"timezone": "America/Chicago", "language": "es"}).status_code == 404
    assert _language_of(people.pat.id) == "en"
    auth.logout()
    auth.login(people.alice)
    page = client.get(path).get_data(as_text=True)
    assert 'id="language"' in page
    form = {"timezone": "America/Chicago", "language": "es", "sex": "unknown", "indications": ["depression"]}
    response = auth.post(path, form)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert _language_of(people.pat.id) == "es"
    assert "Español" in client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)


# --- Which language a page is in ---------------------------------------------------------------------------


def _lang(page: str) -> str:
    return page.split('<html lang="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("header", "lang"),
    [("es-US,es;q=0.9,en;q=0.5", "es"), ("en-US,en;q=0.9,es;q=0.5", "en"), ("fr-FR,fr;q=0.9", "en"), (None, "en")],
)
def test_before_sign_in_the_page_follows_the_browsers_language(client, header, lang):
    headers = {"Accept-Language": header} if header else {}
    assert _lang(client.get("/login", headers=headers).get_data(as_text=True)) == lang


def test_a_signed_in_patients_stored_language_wins_over_the_browsers(auth, client, people):
    people.pat.patient.language = "es"
    db.session.commit()
    auth.login(people.pat)
    assert _lang(client.get("/home", headers={"Accept-Language": "en-US"}).get_data(as_text=True)) == "es"
    auth.logout()
    auth.login(people.quinn)  # English stored: English pages, whatever the browser asks
    assert _lang(client.get("/home", headers={"Accept-Language": "es"}).get_data(as_text=True)) == "en"


def test_staff_pages_stay_english(auth, client, people):
    auth.login(people.alice)
    page = client.get("/clinician/patients", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _lang(page) == "en"
