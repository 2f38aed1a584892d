"""Indications on the programme (SPEC 11): what a patient is treated for, set at enrolment (page and API) and
changed by the care team (Edit details page and PATCH /patients/{id}), kept in the programme's history and
audited. They choose the questionnaires (``instruments.for_patient``) and switch on daily items: chronic pain
the pain item, alcohol use alcohol's craving and use; other substance use needs a substance besides alcohol."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from journal import instruments
from journal.db import db
from journal.models import AuditEvent, Patient, ProgrammeChange, User
from journal.people import NEEDS_A_SUBSTANCE
from tests.conftest import bearer
from tests.test_people import _edit_form

ROBIN = {"name": "Robin Reed", "email": "robin@patient.test", "timezone": "America/Chicago"}


def _robin() -> Patient | None:
    user = db.session.scalar(select(User).where(User.email == ROBIN["email"]))
    return user.patient if user is not None else None


def _history(patient_id: int) -> list[ProgrammeChange]:
    return db.session.scalars(
        select(ProgrammeChange).where(ProgrammeChange.patient_id == patient_id).order_by(ProgrammeChange.id)
    ).all()


def _updates() -> list[str]:
    return [e.detail for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update"))]


# --- Enrolment by the API -----------------------------------------------------------------------------------------


def test_api_enrolment_stores_the_indications_and_switches_on_their_daily_items(client, people):
    body = {**ROBIN, "indications": ["ptsd", "chronic_pain", "alcohol"], "substances": ["nicotine"]}
    response = client.post("/api/v1/patients", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["indications"] == ["ptsd", "chronic_pain", "alcohol"]
    assert created["tracks_pain"] is True  # chronic pain switches the pain item on
    assert created["substances"] == ["nicotine", "alcohol"]  # alcohol use adds alcohol after those chosen
    (first,) = _history(created["id"])
    assert (first.indications, first.tracks_pain, first.substances) == (
        ["ptsd", "chronic_pain", "alcohol"], True, ["nicotine", "alcohol"],
    )  # fmt: skip
    read = client.get(f"/api/v1/patients/{created['id']}", headers=bearer(client, people.alice)).get_json()
    assert read["indications"] == ["ptsd", "chronic_pain", "alcohol"]
    keys = [instrument.key for instrument in instruments.for_patient(_robin())]
    assert keys == ["phq9", "gad7", "pcl5", "peg", "auditc", "pacs"]


def test_api_enrolment_without_indications_infers_them_from_the_daily_items_as_the_migration_did(client, people):
    body = {**ROBIN, "substances": ["alcohol", "opioids"], "tracks_pain": True}
    response = client.post("/api/v1/patients", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["indications"] == ["depression", "chronic_pain", "alcohol", "substance_use"]
    assert _robin().indications == ["depression", "chronic_pain", "alcohol", "substance_use"]


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"indications": []}, "indications", "Choose at least one indication"),
        ({"indications": ["cancer"]}, "indications", "Unknown indication"),
        ({"indications": ["ptsd", "ptsd"]}, "indications", "List each indication once"),
        ({"indications": None}, "indications", "null"),
        ({"indications": "ptsd"}, "indications", "list"),
        ({"indications": ["substance_use"]}, "substances", NEEDS_A_SUBSTANCE),
        ({"indications": ["substance_use"], "substances": ["alcohol"]}, "substances", NEEDS_A_SUBSTANCE),
    ],
)
def test_api_enrolment_refuses_a_bad_set_of_indications_at_its_field_and_enrols_no_one(
    client, people, extra, field, message
):
    response = client.post("/api/v1/patients", json={**ROBIN, **extra}, headers=bearer(client, people.alice))
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]["json"]
    assert list(errors) == [field]
    assert message.lower() in str(errors[field]).lower()
    assert _robin() is None
    assert db.session.scalar(select(func.count()).select_from(ProgrammeChange)) == 2  # Pat's and Quinn's only


def test_substance_use_with_a_substance_besides_alcohol_is_enrolled(client, people):
    body = {**ROBIN, "indications": ["substance_use"], "substances": ["stimulants"]}
    response = client.post("/api/v1/patients", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["substances"], response.get_json()["tracks_pain"]) == (["stimulants"], False)


# --- Enrolment by the page ----------------------------------------------------------------------------------------


def test_enrolment_page_says_what_each_indication_adds_from_the_instruments_definitions(auth, client, people):
    auth.login(people.alice)
    page = html.unescape(client.get("/clinician/patients/new").get_data(as_text=True))
    for key in instruments.INDICATIONS:
        assert f'id="indication-{key}" name="indications" value="{key}"' in page
        adds = re.search(rf'<p class="hint" id="indication-{key}-adds">(.*?)</p>', page, re.S).group(1)
        for instrument in instruments.ALL.values():
            if instrument.indication == key:
                assert instrument.name in adds, (key, instrument.key)
        if key == "depression":
            assert adds == "Nothing beyond what every patient is asked."
    assert re.search(
        r"Questionnaires: PACS \(entered by the care team\), AUDIT-C\. Daily: craving and use: Alcohol", page
    )
    assert "Daily: pain (0–10)." in page
    assert "Every patient is asked the PHQ-9 and GAD-7." in page


def test_clinician_enrols_by_page_with_indications_and_their_daily_items(auth, client, people):
    auth.login(people.alice)
    form = {**ROBIN, "indications": ["chronic_pain", "alcohol"], "sleep_detail": "yes"}
    response = auth.post("/clinician/patients/new", form)
    assert response.status_code == 200, response.get_data(as_text=True)
    patient = _robin()
    assert (patient.indications, patient.tracks_pain, patient.substances) == (
        ["chronic_pain", "alcohol"], True, ["alcohol"],
    )  # fmt: skip
    assert _history(patient.user_id)[0].indications == ["chronic_pain", "alcohol"]


@pytest.mark.parametrize(
    ("fields", "error_id", "message"),
    [
        ({}, "indications-error", "Choose at least one indication"),
        ({"indications": ["wellness"]}, "indications-error", "Unknown indication"),
        ({"indications": ["substance_use"], "substances": ["alcohol"]}, "substances-error", NEEDS_A_SUBSTANCE),
    ],
)
def test_enrolment_page_refuses_a_bad_set_of_indications_at_its_field(auth, client, people, fields, error_id, message):
    auth.login(people.alice)
    response = auth.post("/clinician/patients/new", {**ROBIN, **fields})
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    error = re.search(rf'<p class="field-error" id="{error_id}">(.*?)</p>', page).group(1)
    assert message in error
    assert 'href="#indications"' in page or error_id != "indications-error"  # the summary links to the field
    assert _robin() is None


# --- Changing them: PATCH /patients/{id} --------------------------------------------------------------------------


def test_patch_changes_the_indications_keeps_the_history_and_audits_it(client, people):
    path, headers = f"/api/v1/patients/{people.pat.id}", bearer(client, people.alice)
    response = client.patch(path, json={"indications": ["depression", "chronic_pain"]}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["indications"], response.get_json()["tracks_pain"]) == (
        ["depression", "chronic_pain"], True,
    )  # fmt: skip
    again = client.patch(path, json={"indications": ["chronic_pain", "depression"]}, headers=headers)
    assert again.status_code == 200  # the same indications in another order are no change
    rows = _history(people.pat.id)
    assert [(row.indications, row.tracks_pain, row.changed_by_id) for row in rows] == [
        ([], False, people.alice.id),  # Pat was enrolled (by the test fixture) before indications were given
        (["depression", "chronic_pain"], True, people.alice.id),
    ]
    assert _updates() == ["indications, tracks_pain", "no change"]
    db.session.expire_all()
    assert [i.key for i in instruments.for_patient(db.session.get(Patient, people.pat.id))] == ["phq9", "gad7", "peg"]


def test_patch_alcohol_use_adds_alcohol_to_the_substances(client, people):
    path, headers = f"/api/v1/patients/{people.pat.id}", bearer(client, people.alice)
    assert client.patch(path, json={"substances": ["opioids"]}, headers=headers).status_code == 200
    response = client.patch(path, json={"indications": ["alcohol", "substance_use"]}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["substances"] == ["opioids", "alcohol"]
    assert _updates() == ["substances", "indications, substances"]


def test_pain_stays_on_while_chronic_pain_is_an_indication_and_may_go_once_it_is_removed(client, people):
    path, headers = f"/api/v1/patients/{people.pat.id}", bearer(client, people.alice)
    client.patch(path, json={"indications": ["chronic_pain"]}, headers=headers)
    kept = client.patch(path, json={"tracks_pain": False}, headers=headers)
    assert kept.status_code == 200 and kept.get_json()["tracks_pain"] is True
    removed = client.patch(path, json={"indications": ["depression"], "tracks_pain": False}, headers=headers)
    assert removed.get_json()["tracks_pain"] is False
    assert _updates() == ["indications, tracks_pain", "no change", "indications, tracks_pain"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"indications": []}, "indications"),
        ({"indications": ["flu"]}, "indications"),
        ({"indications": None}, "indications"),
        ({"indications": ["substance_use"]}, "indications"),  # Pat tracks alcohol only: the indication is refused
        ({"indications": ["substance_use"], "substances": ["alcohol"]}, "substances"),
        ({"indications": ["ptsd"], "phone": "12"}, "phone"),
    ],
)
def test_patch_refuses_a_bad_set_of_indications_at_its_field_and_changes_nothing(client, people, body, field):
    response = client.patch(f"/api/v1/patients/{people.pat.id}", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]["json"]) == [field]
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.indications, patient.substances) == ([], ["alcohol"])
    assert len(_history(people.pat.id)) == 1 and _updates() == []


def test_a_bad_phone_and_a_substance_use_without_substance_are_both_named(client, people):
    body = {"indications": ["substance_use"], "substances": [], "phone": "12"}
    response = client.patch(f"/api/v1/patients/{people.pat.id}", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"phone", "substances"}


def test_another_clinician_the_admin_and_patients_cannot_read_or_change_the_indications(client, people):
    path = f"/api/v1/patients/{people.pat.id}"
    for caller in (people.charlie, people.ada, people.pat, people.quinn):
        headers = bearer(client, caller)
        assert client.patch(path, json={"indications": ["ptsd"]}, headers=headers).status_code == 404, caller.email
        assert client.get(path, headers=headers).status_code == 404, caller.email
    db.session.expire_all()
    assert db.session.get(Patient, people.pat.id).indications == []
    assert _updates() == []


# --- Changing them: the Edit details page -------------------------------------------------------------------------


def test_edit_page_changes_the_indications_and_the_patient_page_and_history_say_so(auth, client, people):
    auth.login(people.alice)
    path = f"/clinician/patients/{people.pat.id}/details"
    response = auth.post(path, _edit_form(indications=["ptsd", "alcohol"]))
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Patient, people.pat.id).indications == ["ptsd", "alcohol"]
    assert _updates() == ["indications"]
    edit = client.get(path).get_data(as_text=True)
    assert 'id="indication-ptsd" name="indications" value="ptsd" checked' in edit
    assert 'id="indication-depression" name="indications" value="depression" aria' in edit  # not ticked
    assert "Added the indication PTSD, Alcohol use" in edit
    page = html.unescape(client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True))
    assert "<dt>Treated for</dt><dd>PTSD, Alcohol use</dd>" in page
    assert "<dt>Questionnaires</dt><dd>PHQ-9, GAD-7, PCL-5, AUDIT-C, PACS (entered by the care team)</dd>" in page


def test_edit_page_refuses_no_indication_at_the_field_and_saves_nothing(auth, client, people):
    auth.login(people.alice)
    form = _edit_form(tracks_pain="yes")
    del form["indications"]
    response = auth.post(f"/clinician/patients/{people.pat.id}/details", form)
    assert response.status_code == 400
    assert 'id="indications-error"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Patient, people.pat.id).tracks_pain is False
    assert _updates() == []


def test_another_clinician_gets_a_404_for_the_edit_page_and_changes_nothing(auth, client, people):
    auth.login(people.charlie)
    path = f"/clinician/patients/{people.pat.id}/details"
    assert client.get(path).status_code == 404
    assert auth.post(path, _edit_form(indications=["ptsd"])).status_code == 404
    db.session.expire_all()
    assert db.session.get(Patient, people.pat.id).indications == []
