"""Dosing sessions (KET-R1, SPEC 7.4): recorded by the patient's clinicians through the API, grouped into
courses, validated field by field, audited, and each write raises the patient's data version."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from journal.db import db, utcnow
from journal.models import AuditEvent, DosingSession, Patient, TreatmentCourse
from tests.conftest import bearer

GIVEN = {
    "status": "given",
    "route": "iv",
    "product": "Racemic ketamine",
    "dose": 0.5,
    "dose_unit": "mg/kg",
    "weight_kg": 72.5,
    "course": "induction",
    "bp_systolic_pre": 128,
    "bp_diastolic_pre": 82,
    "heart_rate_pre": 71,
    "bp_systolic_post": 142,
    "bp_diastolic_post": 88,
    "heart_rate_post": 78,
    "dissociation_score": 12,
    "observation_minutes": 120,
}


def _at(hours: float) -> str:
    return (utcnow() + timedelta(hours=hours)).isoformat()


def _version(people) -> int:
    db.session.expire_all()
    return db.session.get(Patient, people.pat.id).data_version


def test_clinician_records_a_given_session_with_its_measures_and_it_is_audited(client, people):
    before = _version(people)
    response = client.post(
        f"/api/v1/patients/{people.pat.id}/sessions",
        json={**GIVEN, "start": _at(-3), "discharge_at": _at(-0.5)},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["route"], body["dose"], body["dose_mg_per_kg"], body["course"]) == (
        "given", "iv", 0.5, 0.5, "induction",
    )  # fmt: skip
    assert (body["bp_systolic_post"], body["dissociation_score"]) == (142, 12)
    assert _version(people) == before + 1
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == people.pat.id)).all()
    assert "session.write" in actions


def test_an_mg_dose_with_a_weight_reports_mg_per_kg(client, people):
    body = client.post(
        f"/api/v1/patients/{people.pat.id}/sessions",
        json={**GIVEN, "dose": 36, "dose_unit": "mg", "weight_kg": 72, "start": _at(-3)},
        headers=bearer(client, people.alice),
    ).get_json()
    assert body["dose_mg_per_kg"] == 0.5


def test_a_planned_session_is_later_marked_given_and_listed_in_order(client, people):
    headers = bearer(client, people.alice)
    url = f"/api/v1/patients/{people.pat.id}/sessions"
    planned = {key: GIVEN[key] for key in ("route", "product", "dose", "dose_unit", "course")}
    created = client.post(url, json={**planned, "status": "planned", "start": _at(48)}, headers=headers)
    first, etag = created.get_json(), created.headers["ETag"]
    client.post(url, json={**GIVEN, "start": _at(-72)}, headers=headers)
    given = client.put(f"{url}/{first['id']}", json={**GIVEN, "start": _at(-1)}, headers={**headers, "If-Match": etag})
    assert given.status_code == 200 and given.get_json()["status"] == "given"
    listed = client.get(url, headers=headers).get_json()
    assert [row["status"] for row in listed] == ["given", "given"]
    assert listed[0]["start"] < listed[1]["start"]
    assert len(db.session.scalars(select(TreatmentCourse)).all()) == 1  # both in the open induction course


def test_a_maintenance_session_ends_the_open_induction_series(client, people):
    headers = bearer(client, people.alice)
    url = f"/api/v1/patients/{people.pat.id}/sessions"
    client.post(url, json={**GIVEN, "start": _at(-24 * 20)}, headers=headers)
    client.post(url, json={**GIVEN, "course": "maintenance", "start": _at(-24)}, headers=headers)
    courses = {c.kind.value: c for c in db.session.scalars(select(TreatmentCourse))}
    assert courses["induction"].ended_on is not None
    assert courses["induction"].ended_on < courses["maintenance"].started_on


def test_bad_sessions_get_a_clear_422_and_nothing_is_written(client, people):
    headers = bearer(client, people.alice)
    url = f"/api/v1/patients/{people.pat.id}/sessions"
    cases = [
        ({**GIVEN, "start": _at(24)}, "start"),  # given in the future
        ({**GIVEN, "start": _at(-3), "dose": 0}, "dose"),
        ({**GIVEN, "start": _at(-3), "route": "rectal"}, "route"),
        ({**GIVEN, "start": _at(-3), "bp_diastolic_pre": None}, "bp_diastolic_pre"),
        ({**GIVEN, "start": _at(-3), "bp_diastolic_post": 150}, "bp_diastolic_post"),
        ({**GIVEN, "start": _at(-3), "discharge_at": _at(-4)}, "discharge_at"),
        ({**GIVEN, "status": "planned", "start": _at(3)}, "status"),  # post-dose measures on a planned one
        ({**GIVEN, "start": "2026-03-02T10:00:00"}, "start"),  # no offset
    ]
    for body, field in cases:
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 422, (field, response.get_json())
        assert field in response.get_json()["errors"]["json"], (field, response.get_json())
    assert db.session.scalars(select(DosingSession)).all() == []


def test_another_clinicians_patient_and_patients_themselves_get_404(client, people):
    url = f"/api/v1/patients/{people.pat.id}/sessions"
    assert client.post(url, json={}, headers=bearer(client, people.charlie)).status_code == 404
    assert client.get(url, headers=bearer(client, people.charlie)).status_code == 404
    assert client.get(url, headers=bearer(client, people.pat)).status_code == 404
