"""The API of people's details: enrolment takes phone, emergency contact, sex and birth date; GET /patients/{id}
and the alerts give them back; PATCH /me (the patient) and PATCH /patients/{id} (the care team, who also set the
birth date and REMS enrolment, staff only) change them, field by field, audited, with a 422 naming the field;
nobody else gets in."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from journal.alerts import raise_alert
from journal.db import db, utcnow
from journal.models import AuditEvent, CheckIn, EntrySource, Patient, ProgrammeChange, ReportMode, User
from tests.conftest import NOW, bearer

ENROLMENT = {"name": "Robin Reed", "email": "robin@patient.test", "timezone": "America/Chicago"}


# --- Enrolment and reading --------------------------------------------------------------------------------------


def test_enrolment_takes_phone_emergency_contact_and_sex_and_gives_them_back(client, people):
    body = {
        **ENROLMENT,
        "phone": "(312) 555-0123",
        "emergency_contact": {"name": "Sam Reed", "phone": "+44 7400 123456"},
        "sex": "female",
    }
    response = client.post("/api/v1/patients", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["phone"] == "+13125550123"
    assert created["emergency_contact"] == {"name": "Sam Reed", "phone": "+447400123456"}
    assert created["sex"] == "female"
    history = db.session.scalars(select(ProgrammeChange).where(ProgrammeChange.patient_id == created["id"])).all()
    assert len(history) == 1 and history[0].changed_by_id == people.alice.id


@pytest.mark.parametrize("phone", ["12", "call me", "+1 312 555 0123 4567 89", "(012) 555-0123"])
def test_enrolment_with_an_invalid_phone_is_a_422_naming_phone_and_enrols_no_one(client, people, phone):
    response = client.post("/api/v1/patients", json={**ENROLMENT, "phone": phone}, headers=bearer(client, people.alice))
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["phone"]
    assert db.session.scalar(select(User).where(User.email == ENROLMENT["email"])) is None


@pytest.mark.parametrize(
    ("contact", "member"),
    [({"name": "Sam Reed"}, "phone"), ({"phone": "312 555 0199"}, "name"), ({"name": "Sam", "phone": "99"}, "phone")],
)
def test_enrolment_with_half_an_emergency_contact_is_a_422_at_the_missing_half(client, people, contact, member):
    response = client.post(
        "/api/v1/patients", json={**ENROLMENT, "emergency_contact": contact}, headers=bearer(client, people.alice)
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]["emergency_contact"]) == [member]


@pytest.mark.parametrize(("field", "value"), [("sex", "M"), ("sex", None), ("language", "fr"), ("phone", 3125550123)])
def test_enrolment_refuses_an_unknown_sex_field_or_a_phone_that_is_not_text(client, people, field, value):
    response = client.post("/api/v1/patients", json={**ENROLMENT, field: value}, headers=bearer(client, people.alice))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]


def test_get_patient_gives_phone_contact_sex_timezone_and_unseen_notes(client, people):
    patient = people.pat.patient
    patient.phone, patient.emergency_contact_name, patient.emergency_contact_phone = (
        "+13125550123",
        "Sam Reed",
        "+13125550199",
    )
    for day, note, seen in ((1, "a note", None), (2, "another", None), (3, "seen already", NOW), (4, "", None)):
        db.session.add(
            CheckIn(
                patient_id=people.pat.id,
                local_date=NOW.date().replace(day=day),
                mood=5,
                note=note,
                note_seen_at=seen,
                report_mode=ReportMode.ON_TIME,
                source=EntrySource.PATIENT,
            )
        )
    db.session.commit()
    body = client.get(f"/api/v1/patients/{people.pat.id}", headers=bearer(client, people.alice)).get_json()
    assert body["phone"] == "+13125550123"
    assert body["emergency_contact"] == {"name": "Sam Reed", "phone": "+13125550199"}
    assert (body["sex"], body["timezone"], body["unseen_notes"]) == ("unknown", "America/Chicago", 2)


def test_alerts_give_the_patients_phone_and_emergency_contact_in_a_fixed_number_of_statements(client, people):
    patient = people.pat.patient
    patient.phone, patient.emergency_contact_name, patient.emergency_contact_phone = (
        "+13125550123",
        "Sam Reed",
        "+13125550199",
    )
    raise_alert(db.session, NOW, patient_id=people.pat.id, kind="craving", severity="high", reason="r", dedup_key="a")
    db.session.commit()
    headers = bearer(client, people.alice)

    def listed() -> tuple[list, int]:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            body = client.get("/api/v1/alerts", headers=headers).get_json()
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return body, count

    body, one = listed()
    assert [(a["patient_phone"], a["emergency_contact"]) for a in body] == [
        ("+13125550123", {"name": "Sam Reed", "phone": "+13125550199"})
    ]
    from tests.conftest import make_patient

    for n in range(4):
        other = make_patient(people.alice, f"extra{n}", f"Extra {n}")
        raise_alert(
            db.session, NOW, patient_id=other.id, kind="craving", severity="high", reason="r", dedup_key=f"x{n}"
        )
    db.session.commit()
    body, five = listed()
    assert len(body) == 5 and five == one
    assert {a["patient_phone"] for a in body} == {"+13125550123", None}


# --- PATCH /me ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "column", "stored"),
    [
        ({"timezone": "Europe/Lisbon"}, "timezone", "Europe/Lisbon"),
        ({"phone": "312 555 0123"}, "phone", "+13125550123"),
        ({"emergency_contact": {"name": "Sam", "phone": "+1 312 555 0199"}}, "emergency_contact_phone", "+13125550199"),
    ],
)
def test_patient_changes_one_field_with_patch_me_and_the_rest_stays(client, people, body, column, stored):
    people.pat.patient.phone = "+13125550100"
    db.session.commit()
    response = client.patch("/api/v1/me", json=body, headers=bearer(client, people.pat))
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    pat = db.session.get(User, people.pat.id)
    record = pat if column == "timezone" else pat.patient
    assert getattr(record, column) == stored
    if column != "phone":
        assert pat.patient.phone == "+13125550100"  # not given, not changed
    if column != "timezone":
        assert pat.timezone == "America/Chicago"
    assert response.get_json()["phone"] == pat.patient.phone
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "details.update")).one()
    assert (event.actor_id, event.patient_id) == (people.pat.id, people.pat.id)


def test_a_phone_in_the_new_time_zone_is_read_in_that_zones_country(client, people):
    response = client.patch(
        "/api/v1/me", json={"timezone": "Europe/London", "phone": "07400 123456"}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 200
    assert response.get_json()["phone"] == "+447400123456"


def test_null_or_empty_removes_the_phone_and_the_emergency_contact(client, people):
    patient = people.pat.patient
    patient.phone, patient.emergency_contact_name, patient.emergency_contact_phone = (
        "+13125550123",
        "S",
        "+13125550199",
    )
    db.session.commit()
    response = client.patch(
        "/api/v1/me", json={"phone": None, "emergency_contact": None}, headers=bearer(client, people.pat)
    )
    assert response.status_code == 200
    assert (response.get_json()["phone"], response.get_json()["emergency_contact"]) == (None, None)
    response = client.patch("/api/v1/me", json={"phone": ""}, headers=bearer(client, people.pat))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "555 01"}, "phone"),
        ({"phone": "1-800-FLOWERS"}, "phone"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"emergency_contact": {"name": "Sam"}}, "emergency_contact"),
        ({"language": "fr"}, "language"),  # en or es only
        ({"substances": ["opioids"]}, "substances"),  # the programme is the care team's
        ({"sex": "female"}, "sex"),
    ],
)
def test_patch_me_refuses_a_bad_or_unknown_field_with_a_422_naming_it_and_saves_nothing(client, people, body, field):
    response = client.patch("/api/v1/me", json={"timezone": "Asia/Tokyo", **body}, headers=bearer(client, people.pat))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    db.session.expire_all()
    assert db.session.get(User, people.pat.id).timezone == "America/Chicago"  # nothing half-written


def test_patch_me_is_for_patients_only(client, people):
    for staff in (people.alice, people.ada):
        response = client.patch("/api/v1/me", json={"timezone": "Asia/Tokyo"}, headers=bearer(client, staff))
        assert response.status_code == 404
    assert client.patch("/api/v1/me", json={"timezone": "Asia/Tokyo"}).status_code == 401
    db.session.expire_all()
    assert db.session.get(User, people.alice.id).timezone == "America/New_York"


def test_patch_me_changes_only_the_callers_own_details(client, people):
    response = client.patch("/api/v1/me", json={"phone": "312 555 0123"}, headers=bearer(client, people.quinn))
    assert response.status_code == 422  # Quinn is in India: a US number without +1 is no Indian number
    response = client.patch("/api/v1/me", json={"phone": "+1 312 555 0123"}, headers=bearer(client, people.quinn))
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Patient, people.quinn.id).phone == "+13125550123"
    assert db.session.get(Patient, people.pat.id).phone is None


# --- PATCH /patients/{id} -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"timezone": "Asia/Tokyo"}, {"timezone": "Asia/Tokyo"}),
        ({"phone": "+1 (312) 555-0123"}, {"phone": "+13125550123"}),
        (
            {"emergency_contact": {"name": "Sam", "phone": "3125550199"}},
            {"emergency_contact": {"name": "Sam", "phone": "+13125550199"}},
        ),
        ({"sex": "male"}, {"sex": "male"}),
        ({"substances": ["opioids", "alcohol"]}, {"substances": ["opioids", "alcohol"]}),
        ({"tracks_pain": True}, {"tracks_pain": True}),
        ({"sleep_detail": False}, {"sleep_detail": False}),
        ({"urinary_check": True}, {"urinary_check": True}),
        ({"induction_until": "2026-03-20"}, {"induction_until": "2026-03-20"}),
    ],
)
def test_care_team_changes_each_field_with_patch_and_is_audited(client, people, body, expected):
    response = client.patch(f"/api/v1/patients/{people.pat.id}", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 200, response.get_json()
    returned = response.get_json()
    for name, value in expected.items():
        assert returned[name] == value
    assert returned["substances"] == expected.get("substances", ["alcohol"])  # in the order given
    assert "unseen_notes" in returned
    again = client.get(f"/api/v1/patients/{people.pat.id}", headers=bearer(client, people.alice)).get_json()
    assert {name: again[name] for name in expected} == expected
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update")).one()
    assert (event.actor_id, event.patient_id, event.detail) == (people.alice.id, people.pat.id, next(iter(body)))


def test_a_programme_change_is_kept_in_the_history_and_a_same_programme_is_not(client, people):
    headers = bearer(client, people.alice)
    path = f"/api/v1/patients/{people.pat.id}"
    assert client.patch(path, json={"substances": ["alcohol", "nicotine"]}, headers=headers).status_code == 200
    assert client.patch(path, json={"substances": ["nicotine", "alcohol"]}, headers=headers).status_code == 200
    assert client.patch(path, json={"phone": "312 555 0123"}, headers=headers).status_code == 200
    rows = db.session.scalars(
        select(ProgrammeChange).where(ProgrammeChange.patient_id == people.pat.id).order_by(ProgrammeChange.id)
    ).all()
    assert [(r.substances, r.changed_by_id) for r in rows] == [
        (["alcohol"], people.alice.id),
        (["alcohol", "nicotine"], people.alice.id),
    ]
    details = [e.detail for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update"))]
    assert details == ["substances", "no change", "phone"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"sex": "yes"}, "sex"),
        ({"substances": ["glue"]}, "substances"),
        ({"substances": ["alcohol", "alcohol"]}, "substances"),
        ({"tracks_pain": "yes"}, "tracks_pain"),
        ({"induction_until": "next week"}, "induction_until"),
        ({"emergency_contact": {"name": "", "phone": "3125550199"}}, "emergency_contact"),
        ({"language": "fr"}, "language"),
        ({"name": "Someone Else"}, "name"),
    ],
)
def test_patch_patient_refuses_a_bad_or_unknown_field_with_a_422_naming_it_and_saves_nothing(
    client, people, body, field
):
    response = client.patch(
        f"/api/v1/patients/{people.pat.id}",
        json={"tracks_pain": True, **body} if field != "tracks_pain" else body,
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.tracks_pain, patient.substances) == (False, ["alcohol"])
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update")).all() == []


def test_another_teams_clinician_the_admin_and_patients_get_404_and_change_nothing(client, people):
    path = f"/api/v1/patients/{people.pat.id}"
    for caller in (people.charlie, people.ada, people.pat, people.quinn):
        response = client.patch(path, json={"phone": "312 555 0123"}, headers=bearer(client, caller))
        assert response.status_code == 404, caller.email
        # An outsider learns nothing from validation either: a bad body is the same 404.
        assert client.patch(path, json={"phone": "12"}, headers=bearer(client, caller)).status_code == 404
    assert client.patch(path, json={"phone": "312 555 0123"}).status_code == 401
    db.session.expire_all()
    assert db.session.get(Patient, people.pat.id).phone is None
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update")).all() == []


def test_a_colleague_added_to_the_care_team_may_change_the_details(client, people):
    from journal.models import CareTeamMember

    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=people.bob.id, added_at=NOW))
    db.session.commit()
    response = client.patch(
        f"/api/v1/patients/{people.pat.id}", json={"sex": "other"}, headers=bearer(client, people.bob)
    )
    assert response.status_code == 200
    assert response.get_json()["sex"] == "other"


def test_enrolment_names_every_bad_number_at_once(client, people):
    body = {**ENROLMENT, "phone": "12", "emergency_contact": {"name": "Sam", "phone": "call me"}}
    response = client.post("/api/v1/patients", json=body, headers=bearer(client, people.alice))
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert set(errors) == {"phone", "emergency_contact"} and list(errors["emergency_contact"]) == ["phone"]


def test_a_patch_without_a_body_changes_nothing(client, people):
    response = client.patch("/api/v1/me", headers=bearer(client, people.pat))
    assert response.status_code == 200
    response = client.patch(f"/api/v1/patients/{people.pat.id}", headers=bearer(client, people.alice))
    assert response.status_code == 200
    assert response.get_json()["substances"] == ["alcohol"]
    details = [e.detail for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("%.update")))]
    assert details == ["no change", "no change"]


# --- Birth date and REMS enrolment (the esketamine REMS form's first item): the care team's only ------------------


def _pats_today() -> date:
    return utcnow().astimezone(ZoneInfo("America/Chicago")).date()  # Pat's zone


def test_enrolment_takes_a_birth_date_and_the_care_team_gets_it_back(client, people):
    headers = bearer(client, people.alice)
    created = client.post("/api/v1/patients", json={**ENROLMENT, "birth_date": "1980-04-23"}, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["birth_date"], created.get_json()["rems_enrolled"]) == ("1980-04-23", None)
    read = client.get(f"/api/v1/patients/{created.get_json()['id']}", headers=headers).get_json()
    assert read["birth_date"] == "1980-04-23"
    assert db.session.get(Patient, created.get_json()["id"]).birth_date == date(1980, 4, 23)


def test_enrolment_without_a_birth_date_records_none(client, people):
    created = client.post("/api/v1/patients", json=ENROLMENT, headers=bearer(client, people.alice))
    assert created.status_code == 201
    assert created.get_json()["birth_date"] is None


def test_enrolment_with_a_birth_date_in_the_future_is_a_422_naming_it_and_enrols_no_one(client, people):
    tomorrow = (_pats_today() + timedelta(days=1)).isoformat()
    response = client.post(
        "/api/v1/patients", json={**ENROLMENT, "birth_date": tomorrow}, headers=bearer(client, people.alice)
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {
        "birth_date": ["A birth date cannot be in the future. Check the date."]
    }
    assert db.session.scalar(select(User).where(User.email == ENROLMENT["email"])) is None


def test_the_care_team_sets_changes_and_clears_the_birth_date_and_rems_enrolment(client, people):
    headers = bearer(client, people.alice)
    url = f"/api/v1/patients/{people.pat.id}"
    response = client.patch(url, json={"birth_date": "1980-04-23", "rems_enrolled": True}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["birth_date"], response.get_json()["rems_enrolled"]) == ("1980-04-23", True)
    assert client.patch(url, json={"rems_enrolled": False}, headers=headers).get_json()["rems_enrolled"] is False
    cleared = client.patch(url, json={"birth_date": None, "rems_enrolled": None}, headers=headers).get_json()
    assert (cleared["birth_date"], cleared["rems_enrolled"]) == (None, None)
    details = [e.detail for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update"))]
    assert details == ["birth_date, rems_enrolled", "rems_enrolled", "birth_date, rems_enrolled"]


def test_a_birth_date_of_today_or_120_years_back_is_taken(client, people):
    headers = bearer(client, people.alice)
    today = _pats_today()
    for born in (today, date(today.year - 120, 1, 1)):
        response = client.patch(
            f"/api/v1/patients/{people.pat.id}", json={"birth_date": born.isoformat()}, headers=headers
        )
        assert response.status_code == 200, (born, response.get_json())


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("tomorrow", "Give a date such as 1980-04-23, or leave it empty."),
        ("23/04/1980", "Give a date such as 1980-04-23, or leave it empty."),
        ("1980-02-30", "Give a date such as 1980-04-23, or leave it empty."),
        (19800423, "Give a date such as 1980-04-23, or leave it empty."),
        ("future", "A birth date cannot be in the future. Check the date."),
        ("too old", "Check the year: this birth date would make the patient over 120."),
    ],
)
def test_a_bad_birth_date_is_a_422_naming_it_and_nothing_else_in_the_patch_is_written(client, people, typed, message):
    today = _pats_today()
    typed = {"future": (today + timedelta(days=1)).isoformat(), "too old": f"{today.year - 121}-12-31"}.get(
        typed, typed
    )
    response = client.patch(
        f"/api/v1/patients/{people.pat.id}",
        json={"birth_date": typed, "phone": "312 555 0123", "rems_enrolled": True},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {"birth_date": [message]}
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.birth_date, patient.phone, patient.rems_enrolled) == (None, None, None)


def test_rems_enrolment_is_true_false_or_null(client, people):
    response = client.patch(
        f"/api/v1/patients/{people.pat.id}", json={"rems_enrolled": "yes"}, headers=bearer(client, people.alice)
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {"rems_enrolled": ["Choose yes, no or not recorded."]}


def test_charlie_can_neither_read_nor_set_pats_birth_date(client, people):
    people.pat.patient.birth_date = date(1980, 4, 23)
    db.session.commit()
    charlie = bearer(client, people.charlie)
    url = f"/api/v1/patients/{people.pat.id}"
    assert client.get(url, headers=charlie).status_code == 404
    assert client.patch(url, json={"birth_date": "1990-01-01"}, headers=charlie).status_code == 404
    listed = client.get("/api/v1/patients", headers=charlie).get_data(as_text=True)
    assert "1980-04-23" not in listed
    db.session.expire_all()
    assert db.session.get(Patient, people.pat.id).birth_date == date(1980, 4, 23)


def test_the_patient_neither_sees_nor_sets_their_birth_date_or_rems_enrolment(client, people):
    people.pat.patient.birth_date, people.pat.patient.rems_enrolled = date(1980, 4, 23), True
    db.session.commit()
    pat = bearer(client, people.pat)
    me = client.get("/api/v1/me", headers=pat).get_json()
    assert "birth_date" not in me and "rems_enrolled" not in me
    for field, value in (("birth_date", "1990-01-01"), ("rems_enrolled", False)):
        response = client.patch("/api/v1/me", json={field: value}, headers=pat)
        assert response.status_code == 422
        assert list(response.get_json()["errors"]["json"]) == [field]


def test_the_birth_date_and_rems_enrolment_are_in_no_export(client, people):
    """Exports leave the app (an EHR, another clinic, the patient's own files): the birth date stays inside."""
    people.pat.patient.birth_date, people.pat.patient.rems_enrolled = date(1980, 4, 23), True
    db.session.commit()
    alice, pat = bearer(client, people.alice), bearer(client, people.pat)
    downloads = [
        client.get(f"/api/v1/patients/{people.pat.id}/export.csv", headers=alice),
        client.get(f"/api/v1/patients/{people.pat.id}/export.fhir.json", headers=alice),
        client.get("/api/v1/me/export.csv", headers=pat),
        client.get("/api/v1/me/export.fhir.json", headers=pat),
    ]
    for response in downloads:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        for said in ("1980-04-23", "birth", "rems_enrolled", "enrolled in the rems"):
            assert said not in text.lower(), (said, response.mimetype)
