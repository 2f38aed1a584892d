"""The audit trail: every staff read or change of a patient's data, viewable and filterable by admins."""

from __future__ import annotations

from sqlalchemy import select

from journal.db import db
from journal.models import AuditEvent
from tests.conftest import bearer


def _events(**where) -> list[tuple]:
    query = select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.patient_id).order_by(AuditEvent.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return db.session.execute(query).all()


def test_clinician_reading_a_patient_by_page_and_api_is_recorded(client, auth, people):
    auth.login(people.alice)
    client.get(f"/clinician/patients/{people.pat.id}")
    client.get(f"/api/v1/patients/{people.pat.id}", headers=bearer(client, people.alice))
    assert _events(patient_id=people.pat.id) == [
        (people.alice.id, "patient.read", people.pat.id),
        (people.alice.id, "patient.read", people.pat.id),
    ]


def test_refused_access_reads_nothing_and_records_nothing(client, auth, people):
    auth.login(people.charlie)
    assert client.get(f"/clinician/patients/{people.pat.id}").status_code == 404
    assert _events(patient_id=people.pat.id) == []


def test_enrolment_and_list_are_recorded(client, people):
    headers = bearer(client, people.alice)
    created = client.post(
        "/api/v1/patients", json={"name": "Sam", "email": "sam@patient.test", "timezone": "UTC"}, headers=headers
    ).get_json()
    client.get("/api/v1/patients", headers=headers)
    assert _events(actor_id=people.alice.id) == [
        (people.alice.id, "patient.create", created["id"]),
        (people.alice.id, "invitation.create", created["id"]),  # the link in the answer, for whom
        (people.alice.id, "patient.list", None),
    ]


def test_patients_reading_their_own_data_are_not_staff_access(client, auth, people):
    auth.login(people.pat)
    client.get("/home")
    assert _events() == []


def test_admin_filters_the_audit_log_by_action_as_shown_to_admins(client, auth, people):
    auth.login(people.alice)
    client.get(f"/clinician/patients/{people.pat.id}")
    client.get("/clinician/patients")
    auth.logout()
    auth.login(people.ada)
    page = client.get("/admin/audit?action=patient-record").get_data(as_text=True)
    assert "1 event;" in page  # the record Alice opened, as a patient-record.read with no patient
    assert "alice@clinic.test" in page
    page = client.get("/admin/audit?action=patient.read").get_data(as_text=True)
    assert "0 events;" in page  # what it really was is not a filter either
    page = client.get("/admin/audit?action=patient.list").get_data(as_text=True)
    assert "1 event;" in page
    page = client.get("/admin/audit?actor=bob").get_data(as_text=True)
    assert "0 events;" in page


def test_admin_audit_log_shows_only_their_own_clinics_staff(client, auth, people):
    from journal.models import Clinic
    from tests.conftest import make_patient, make_staff

    other_clinic = Clinic(name="Elsewhere")
    db.session.add(other_clinic)
    db.session.flush()
    stranger = make_staff(other_clinic, "dana", "Dana Elsewhere")
    make_patient(stranger, "eve", "Eve Elsewhere")
    db.session.commit()
    auth.login(stranger)
    client.get("/clinician/patients")
    auth.logout()
    auth.login(people.ada)
    assert "dana@clinic.test" not in client.get("/admin/audit").get_data(as_text=True)
