"""Bad API input found by the fuzzer (tests/test_api_fuzz.py): each is refused with a 4xx, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from journal.db import db
from journal.links import IdConverter
from journal.models import User
from journal.schemas import iana_zones
from tests.conftest import bearer

ENROLMENT = {"name": "Robin Reed", "email": "robin@patient.test", "timezone": "Asia/Kathmandu"}


def _field_errors(response) -> dict:
    assert response.status_code == 422, response.get_json()
    return response.get_json()["errors"]["json"]


def test_nul_character_in_text_is_refused_not_a_database_error(client, people):
    # PostgreSQL cannot store NUL and refused even to compare with it: this was a 500 there.
    token = client.post("/api/v1/auth/token", json={"email": "pat\x00@patient.test", "password": "anything"})
    assert list(_field_errors(token)) == ["email"]
    enrolment = {**ENROLMENT, "name": "Robin\x00", "substances": ["alcohol\x00"]}
    enrol = client.post("/api/v1/patients", json=enrolment, headers=bearer(client, people.alice))
    assert sorted(_field_errors(enrol)) == ["name", "substances"]
    assert db.session.scalar(select(User).where(User.email == ENROLMENT["email"])) is None


@pytest.mark.parametrize("patient_id", [IdConverter.MAX, IdConverter.MAX + 1, 2**63, 10**30])
def test_patient_id_too_large_for_the_database_is_not_found(client, people, patient_id):
    # Beyond a PostgreSQL integer (or SQLite's 64 bits) the database refused the query: this was a 500.
    response = client.get(f"/api/v1/patients/{patient_id}", headers=bearer(client, people.alice))
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


@pytest.mark.parametrize("value", [0, 1, "true", "yes", "on", None])
def test_only_true_or_false_is_accepted_as_a_boolean(client, people, value):
    # marshmallow's Boolean takes 0, 1, "yes", "on" and more, although the document says boolean.
    response = client.post(
        "/api/v1/patients", json={**ENROLMENT, "sleep_detail": value}, headers=bearer(client, people.alice)
    )
    assert list(_field_errors(response)) == ["sleep_detail"]


def test_a_real_boolean_is_still_accepted(client, people):
    enrolment = {**ENROLMENT, "tracks_pain": True, "sleep_detail": False}
    response = client.post("/api/v1/patients", json=enrolment, headers=bearer(client, people.alice))
    assert response.status_code == 201
    assert (response.get_json()["tracks_pain"], response.get_json()["sleep_detail"]) == (True, False)


def test_timezone_is_documented_as_the_zones_it_accepts(client, people):
    # Documented as any string before, so no generated enrolment could ever succeed.
    documented = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["PatientEnrolment"]
    assert documented["properties"]["timezone"]["enum"] == sorted(iana_zones())
    unknown = client.post(
        "/api/v1/patients", json={**ENROLMENT, "timezone": "Mars/Olympus_Mons"}, headers=bearer(client, people.alice)
    )
    assert _field_errors(unknown)["timezone"] == [
        "Choose a time zone from the list (an IANA name such as America/New_York)."
    ]


def test_errors_for_list_items_and_the_whole_list_together_are_json_not_a_500(client, people):
    # marshmallow keys item errors by number and list-wide ones by "_schema"; sorting that mix for JSON failed.
    enrolment = {**ENROLMENT, "substances": ["glue", "other", "other"]}
    response = client.post("/api/v1/patients", json=enrolment, headers=bearer(client, people.alice))
    assert _field_errors(response)["substances"] == {
        "0": ["Unknown substance."],
        "_schema": ["List each substance once."],
    }


def test_unknown_query_parameters_are_refused(client, people):
    response = client.get("/api/v1/checkins?surprise=1", headers=bearer(client, people.pat))
    assert response.status_code == 422
    assert "surprise" in response.get_json()["errors"]["query"]
