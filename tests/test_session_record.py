"""The at-session record (SPEC 7.4, KET-R8): the esketamine REMS monitoring form's fields validated at their edges by
the one session schema, through the clinician's form and the API, on both databases; the warnings an out-of-range
value gives (saved all the same); and the printable one-page session record, for the care team only and audited.

Alice records Pat's sessions; Bob, of the same clinic, monitors them once he joins Pat's care team; Charlie, of the
same clinic, is on no care team of Pat's; Ada is the admin."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from journal import session_record
from journal.db import db, utcnow
from journal.messages import render
from journal.models import AuditEvent, CareTeamMember, DosingSession, OutboxMessage, Patient, SessionStatus, User
from journal.sessions import queue_session_messages, save_session
from journal.vitals import CONCOMITANT_CLASSES, SEDATION_SCALE, vitals_warnings
from tests.conftest import NOW, bearer
from tests.test_patient_page import GIVEN_FORM

NEW_YORK = ZoneInfo("America/New_York")  # Alice's zone
ESCORT = "Sam Carter, 312 555 0123"

# An esketamine session with every field of the record filled in, all in range (no warning).
ESKETAMINE = {
    "status": "given",
    "route": "intranasal",
    "product": "Esketamine (Spravato)",
    "dose": 56,
    "dose_unit": "mg",
    "bp_systolic_pre": 128,
    "bp_diastolic_pre": 82,
    "heart_rate_pre": 71,
    "spo2_pre": 98,
    "bp_systolic_post": 138,
    "bp_diastolic_post": 86,
    "heart_rate_post": 76,
    "spo2_post": 96,
    "dissociation_score": 8,
    "bp_systolic_discharge": 126,
    "bp_diastolic_discharge": 80,
    "heart_rate_discharge": 70,
    "sedation": 5,
    "observation_minutes": 125,
    "ready_to_leave_minutes": 90,
    "lot_number": "AB12-345",
    "transport_arranged": True,
    "escort": ESCORT,
    "concomitant_classes": {
        "benzodiazepines": True, "sedative_hypnotics": False, "psychostimulants": False, "maois": False,
        "opioids": False,
    },
    "concomitant_medication": "Lorazepam 1 mg at night",
}  # fmt: skip


def _at(hours: float) -> str:
    return (utcnow() + timedelta(hours=hours)).isoformat()


def _sessions_url(people) -> str:
    return f"/api/v1/patients/{people.pat.id}/sessions"


def _count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(DosingSession))


def _record(people, **changes) -> DosingSession:
    """Pat's esketamine session of three hours ago, recorded by Alice, with ``changes``."""
    start = utcnow() - timedelta(hours=3)
    data = {**ESKETAMINE, "start": start, "discharge_at": start + timedelta(minutes=125), **changes}
    record = save_session(db.session, people.pat.patient, data, utcnow(), people.alice)
    db.session.commit()
    return record


# --- The API: every field stored and answered; each refused at its edge -------------------------------------------


def test_the_api_stores_every_at_session_field_and_answers_with_it(client, people):
    headers = bearer(client, people.alice)
    created = client.post(_sessions_url(people), json={**ESKETAMINE, "start": _at(-3)}, headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    for name, value in ESKETAMINE.items():
        assert body[name] == value, name
    assert body["warnings"] == []
    read = client.get(f"{_sessions_url(people)}/{body['id']}", headers=headers).get_json()
    assert {name: read[name] for name in ESKETAMINE} == ESKETAMINE
    db.session.expire_all()
    stored = db.session.get(DosingSession, body["id"])
    assert (stored.spo2_pre, stored.sedation, stored.lot_number, stored.transport_arranged, stored.escort) == (
        98, 5, "AB12-345", True, ESCORT,
    )  # fmt: skip
    assert stored.concomitant_classes == ESKETAMINE["concomitant_classes"]
    assert stored.concomitant_medication == "Lorazepam 1 mg at night"


# (field, value, accepted): the edges of each range, and values of the wrong kind.
API_EDGES = [
    ("spo2_pre", 50, True), ("spo2_pre", 100, True), ("spo2_pre", 49, False), ("spo2_pre", 101, False),
    ("spo2_pre", 97.5, False), ("spo2_pre", "97", False),
    ("spo2_post", 50, True), ("spo2_post", 49, False), ("spo2_post", 101, False),
    ("sedation", 0, True), ("sedation", 5, True), ("sedation", -1, False), ("sedation", 6, False),
    ("sedation", True, False),
    ("heart_rate_discharge", 30, True), ("heart_rate_discharge", 220, True), ("heart_rate_discharge", 29, False),
    ("heart_rate_discharge", 221, False),
    ("ready_to_leave_minutes", 0, True), ("ready_to_leave_minutes", 1440, True),
    ("ready_to_leave_minutes", -1, False), ("ready_to_leave_minutes", 1441, False),
    ("lot_number", "", True), ("lot_number", "A" * 40, True), ("lot_number", "L-2026/03.1 B", True),
    ("lot_number", "A" * 41, False), ("lot_number", "<script>", False), ("lot_number", "AB\n12", False),
    ("lot_number", 12345, False),
    ("transport_arranged", False, True), ("transport_arranged", None, True), ("transport_arranged", "yes", False),
    ("transport_arranged", 1, False),
    ("escort", "", True), ("escort", "E" * 120, True), ("escort", "E" * 121, False), ("escort", None, False),
    ("concomitant_medication", "", True), ("concomitant_medication", "M" * 500, True),
    ("concomitant_medication", "M" * 501, False), ("concomitant_medication", None, False),
    ("concomitant_medication", ["Lorazepam"], False),
    ("monitored_by_id", None, True), ("monitored_by_id", 0, False), ("monitored_by_id", 2**31, False),
    ("monitored_by_id", "1", False), ("monitored_by_id", 1.0, False),
    ("spo2_pre_at", None, True), ("spo2_pre_at", "yesterday", False), ("spo2_pre_at", 1700000000, False),
]  # fmt: skip


def test_each_at_session_field_is_refused_past_its_edge_at_the_field_and_nothing_is_written(client, people):
    headers = bearer(client, people.alice)
    accepted = 0
    for name, value, ok in API_EDGES:
        response = client.post(
            _sessions_url(people), json={**ESKETAMINE, "start": _at(-3), name: value}, headers=headers
        )
        if ok:
            assert response.status_code == 201, (name, value, response.get_json())
            assert response.get_json()[name] == (value if value is not None else None), (name, value)
            accepted += 1
        else:
            assert response.status_code == 422, (name, value, response.get_json())
            assert list(response.get_json()["errors"]["json"]) == [name], (name, value, response.get_json())
    assert _count() == accepted


def test_blood_pressure_before_discharge_comes_in_pairs_with_the_diastolic_below(client, people):
    headers = bearer(client, people.alice)
    cases = [
        ({"bp_systolic_discharge": 59}, "bp_systolic_discharge"),
        ({"bp_systolic_discharge": 261}, "bp_systolic_discharge"),
        ({"bp_diastolic_discharge": 29}, "bp_diastolic_discharge"),
        ({"bp_diastolic_discharge": 161}, "bp_diastolic_discharge"),
        ({"bp_diastolic_discharge": None}, "bp_diastolic_discharge"),  # a systolic alone
        ({"bp_systolic_discharge": None}, "bp_diastolic_discharge"),  # a diastolic alone
        ({"bp_systolic_discharge": 120, "bp_diastolic_discharge": 120}, "bp_diastolic_discharge"),
    ]
    for change, field in cases:
        response = client.post(_sessions_url(people), json={**ESKETAMINE, "start": _at(-3), **change}, headers=headers)
        assert response.status_code == 422, (change, response.get_json())
        assert field in response.get_json()["errors"]["json"], (change, response.get_json())
    assert _count() == 0
    fine = {"bp_systolic_discharge": 60, "bp_diastolic_discharge": 30}
    assert (
        client.post(_sessions_url(people), json={**ESKETAMINE, "start": _at(-3), **fine}, headers=headers).status_code
        == 201
    )


def test_a_planned_session_takes_what_is_known_before_dosing_but_no_post_dose_measure(client, people):
    headers = bearer(client, people.alice)
    planned = {key: ESKETAMINE[key] for key in ("route", "product", "dose", "dose_unit")}
    before = {"spo2_pre": 97, "lot_number": "AB12-345", "transport_arranged": True, "escort": ESCORT}
    ok = client.post(
        _sessions_url(people), json={**planned, **before, "status": "planned", "start": _at(48)}, headers=headers
    )
    assert ok.status_code == 201, ok.get_json()
    for name in ("spo2_post", "sedation", "bp_systolic_discharge", "heart_rate_discharge", "ready_to_leave_minutes"):
        change = {name: ESKETAMINE[name]}
        if name == "bp_systolic_discharge":
            change["bp_diastolic_discharge"] = ESKETAMINE["bp_diastolic_discharge"]
        response = client.post(
            _sessions_url(people), json={**planned, **change, "status": "planned", "start": _at(48)}, headers=headers
        )
        assert response.status_code == 422, name
        assert response.get_json()["errors"]["json"] == {
            "status": ["Post-dose measures belong to a session that was given."]
        }
    assert _count() == 1


def test_a_put_keeps_the_etag_rule_and_replaces_the_record_fields(client, people):
    headers = bearer(client, people.alice)
    created = client.post(_sessions_url(people), json={**ESKETAMINE, "start": _at(-3)}, headers=headers)
    url = f"{_sessions_url(people)}/{created.get_json()['id']}"
    changed = {**ESKETAMINE, "start": _at(-3), "lot_number": "CD-9", "escort": "", "transport_arranged": None}
    assert client.put(url, json=changed, headers=headers).status_code == 428
    response = client.put(url, json=changed, headers={**headers, "If-Match": created.headers["ETag"]})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["lot_number"], response.get_json()["escort"]) == ("CD-9", "")
    assert response.get_json()["transport_arranged"] is None
    stale = client.put(url, json=changed, headers={**headers, "If-Match": created.headers["ETag"]})
    assert stale.status_code == 412


# --- Concomitant medication (the REMS form's item 2) ---------------------------------------------------------------


def test_a_medication_class_left_out_is_not_recorded_rather_than_no(client, people):
    headers = bearer(client, people.alice)
    body = {**ESKETAMINE, "start": _at(-3), "concomitant_classes": {"opioids": True, "maois": False}}
    created = client.post(_sessions_url(people), json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["concomitant_classes"] == {
        "benzodiazepines": None, "sedative_hypnotics": None, "psychostimulants": None, "maois": False, "opioids": True,
    }  # fmt: skip
    without = client.post(
        _sessions_url(people), json={**ESKETAMINE, "start": _at(-2), "concomitant_classes": None}, headers=headers
    )
    assert set(without.get_json()["concomitant_classes"].values()) == {None}
    db.session.expire_all()
    assert db.session.get(DosingSession, without.get_json()["id"]).concomitant_classes is None


@pytest.mark.parametrize(
    "classes",
    [{"antidepressants": True}, {"opioids": "yes"}, {"opioids": 1}, ["opioids"], "opioids"],
)
def test_an_unknown_medication_class_or_an_answer_that_is_not_true_or_false_is_refused(client, people, classes):
    response = client.post(
        _sessions_url(people),
        json={**ESKETAMINE, "start": _at(-3), "concomitant_classes": classes},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]["json"]) == ["concomitant_classes"]
    assert _count() == 0


# --- Who monitored the patient (the REMS form's item 3): a clinician of Pat's care team -------------------------------


def _join_pats_team(people, clinician: User) -> None:
    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=clinician.id, added_at=NOW))
    db.session.commit()


def test_bob_on_pats_team_is_recorded_as_the_monitor_of_a_session_alice_entered(client, people):
    _join_pats_team(people, people.bob)
    created = client.post(
        _sessions_url(people),
        json={**ESKETAMINE, "start": _at(-3), "monitored_by_id": people.bob.id},
        headers=bearer(client, people.alice),
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["monitored_by_id"], body["monitored_by"]) == (
        people.bob.id,
        {"id": people.bob.id, "name": "Bob Brown"},
    )
    db.session.expire_all()
    stored = db.session.get(DosingSession, body["id"])
    assert (stored.monitored_by_id, stored.entered_by_id) == (people.bob.id, people.alice.id)


def test_only_a_clinician_of_pats_care_team_can_be_her_sessions_monitor(client, people):
    """Charlie (another team), Bob (not yet on Pat's), Ada (an admin), Pat herself and an id that names no one are
    each refused with the same words, so the answer tells nothing about other teams; nothing is written."""
    headers = bearer(client, people.alice)
    for outsider in (people.charlie.id, people.bob.id, people.ada.id, people.pat.id, people.quinn.id, 999_999):
        response = client.post(
            _sessions_url(people), json={**ESKETAMINE, "start": _at(-3), "monitored_by_id": outsider}, headers=headers
        )
        assert response.status_code == 422, (outsider, response.get_json())
        assert response.get_json()["errors"]["json"] == {
            "monitored_by_id": ["Choose a clinician of the patient's care team as the one who monitored the patient."]
        }
    assert _count() == 0
    _join_pats_team(people, people.bob)
    ok = client.post(
        _sessions_url(people), json={**ESKETAMINE, "start": _at(-3), "monitored_by_id": people.bob.id}, headers=headers
    )
    assert ok.status_code == 201


def test_a_disabled_clinician_cannot_be_named_the_monitor(client, people):
    _join_pats_team(people, people.bob)
    people.bob.disabled_at = NOW
    db.session.commit()
    response = client.post(
        _sessions_url(people),
        json={**ESKETAMINE, "start": _at(-3), "monitored_by_id": people.bob.id},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["monitored_by_id"]


def test_a_monitor_who_left_the_team_stays_on_the_sessions_they_monitored_but_cannot_be_named_anew(client, people):
    _join_pats_team(people, people.bob)
    headers = bearer(client, people.alice)
    body = {**ESKETAMINE, "start": _at(-3), "monitored_by_id": people.bob.id}
    created = client.post(_sessions_url(people), json=body, headers=headers)
    db.session.delete(db.session.get(CareTeamMember, {"patient_id": people.pat.id, "clinician_id": people.bob.id}))
    db.session.commit()
    url = f"{_sessions_url(people)}/{created.get_json()['id']}"
    corrected = client.put(
        url, json={**body, "lot_number": "CD-9"}, headers={**headers, "If-Match": created.headers["ETag"]}
    )
    assert corrected.status_code == 200, corrected.get_json()
    assert corrected.get_json()["monitored_by_id"] == people.bob.id
    other = client.post(_sessions_url(people), json={**body, "start": _at(-2)}, headers=headers)
    assert other.status_code == 422  # no longer on the team: not for a new session


# --- When the SpO2 and sedation readings were taken ------------------------------------------------------------------


def test_the_reading_times_are_stored_as_the_instants_given_with_their_offsets(client, people):
    start = datetime.fromisoformat(_at(-3))
    eastern = timezone(timedelta(hours=-5))
    times = {
        "spo2_pre_at": (start - timedelta(minutes=10)).astimezone(eastern),
        "spo2_post_at": (start + timedelta(minutes=40)).astimezone(eastern),
        "sedation_at": (start + timedelta(minutes=118)).astimezone(eastern),
    }
    body = {
        **ESKETAMINE, "start": start.isoformat(), "discharge_at": (start + timedelta(minutes=125)).isoformat(),
        **{name: instant.isoformat() for name, instant in times.items()},
    }  # fmt: skip
    headers = bearer(client, people.alice)
    created = client.post(_sessions_url(people), json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    read = client.get(f"{_sessions_url(people)}/{created.get_json()['id']}", headers=headers).get_json()
    db.session.expire_all()
    stored = db.session.get(DosingSession, created.get_json()["id"])
    for name, instant in times.items():
        assert datetime.fromisoformat(read[name]) == instant, name  # the same instant, with an offset
        assert getattr(stored, name) == instant, name


def test_a_reading_time_without_an_offset_is_refused(client, people):
    naive = (utcnow() - timedelta(hours=3, minutes=10)).replace(tzinfo=None).isoformat()
    response = client.post(
        _sessions_url(people),
        json={**ESKETAMINE, "start": _at(-3), "spo2_pre_at": naive},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["spo2_pre_at"]


# (field, minutes from the start, discharge minutes after the start or None, accepted)
READING_TIME_EDGES = [
    ("spo2_pre_at", 0, None, True), ("spo2_pre_at", -12 * 60, None, True),
    ("spo2_pre_at", 1, None, False), ("spo2_pre_at", -12 * 60 - 1, None, False),
    ("spo2_post_at", 0, None, True), ("spo2_post_at", 125, 125, True),
    ("spo2_post_at", -1, None, False), ("spo2_post_at", 126, 125, False),
    ("sedation_at", 0, None, True), ("sedation_at", 125, 125, True),
    ("sedation_at", -1, None, False), ("sedation_at", 126, 125, False),
    ("sedation_at", 24 * 60 + 1, None, False),
]  # fmt: skip


def test_each_reading_time_must_fall_where_its_reading_is_taken(client, people):
    headers = bearer(client, people.alice)
    start = utcnow() - timedelta(days=2)  # far enough back that 24 hours after it is not in the future
    accepted = 0
    for field, minutes, discharge, ok in READING_TIME_EDGES:
        body = {**ESKETAMINE, "start": start.isoformat(), field: (start + timedelta(minutes=minutes)).isoformat()}
        if discharge is not None:
            body["discharge_at"] = (start + timedelta(minutes=discharge)).isoformat()
        response = client.post(_sessions_url(people), json=body, headers=headers)
        if ok:
            assert response.status_code == 201, (field, minutes, response.get_json())
            accepted += 1
        else:
            assert response.status_code == 422, (field, minutes, response.get_json())
            assert list(response.get_json()["errors"]["json"]) == [field], (field, minutes, response.get_json())
    assert _count() == accepted


def test_a_reading_time_needs_its_reading_and_cannot_be_in_the_future(client, people):
    headers = bearer(client, people.alice)
    start = utcnow() - timedelta(minutes=30)
    cases = [
        ({"spo2_post": None, "spo2_post_at": (start + timedelta(minutes=20)).isoformat()}, "spo2_post_at",
         "This time has no reading: give the lowest SpO2 after dosing, or leave the time empty."),
        ({"sedation_at": (utcnow() + timedelta(hours=1)).isoformat()}, "sedation_at",
         "A reading cannot have been taken in the future."),
    ]  # fmt: skip
    for change, field, message in cases:
        response = client.post(
            _sessions_url(people), json={**ESKETAMINE, "start": start.isoformat(), **change}, headers=headers
        )
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["errors"]["json"] == {field: [message]}
    assert _count() == 0


def test_a_planned_session_takes_the_time_of_the_reading_before_dosing_but_none_after(client, people):
    headers = bearer(client, people.alice)
    start = utcnow() + timedelta(minutes=20)
    planned = {key: ESKETAMINE[key] for key in ("route", "product", "dose", "dose_unit")}
    before = {"spo2_pre": 97, "spo2_pre_at": (start - timedelta(minutes=25)).isoformat()}
    ok = client.post(
        _sessions_url(people), json={**planned, **before, "status": "planned", "start": start.isoformat()},
        headers=headers,
    )  # fmt: skip
    assert ok.status_code == 201, ok.get_json()


# --- The version (ETag) covers every field of the record --------------------------------------------------------------


def test_a_change_to_any_new_field_alone_gives_a_new_etag_and_the_old_one_is_then_refused(client, people):
    _join_pats_team(people, people.bob)
    headers = bearer(client, people.alice)
    start = datetime.fromisoformat(_at(-3))
    body = {**ESKETAMINE, "start": start.isoformat()}
    created = client.post(_sessions_url(people), json=body, headers=headers)
    url = f"{_sessions_url(people)}/{created.get_json()['id']}"
    etag = created.headers["ETag"]
    changes = {
        "concomitant_medication": "Lorazepam 0.5 mg at night",
        "concomitant_classes": {**ESKETAMINE["concomitant_classes"], "opioids": True},
        "monitored_by_id": people.bob.id,
        "spo2_pre_at": (start - timedelta(minutes=5)).isoformat(),
        "spo2_post_at": (start + timedelta(minutes=45)).isoformat(),
        "sedation_at": (start + timedelta(minutes=100)).isoformat(),
    }
    for name, value in changes.items():
        body = {**body, name: value}
        changed = client.put(url, json=body, headers={**headers, "If-Match": etag})
        assert changed.status_code == 200, (name, changed.get_json())
        assert changed.headers["ETag"] != etag, name
        stale = client.put(url, json={**body, "notes": "late"}, headers={**headers, "If-Match": etag})
        assert stale.status_code == 412, name
        etag = changed.headers["ETag"]
    assert client.get(url, headers=headers).headers["ETag"] == etag
    db.session.expire_all()
    assert db.session.get(DosingSession, created.get_json()["id"]).notes == ""  # no stale write went through


# --- Another team reads none of it -----------------------------------------------------------------------------------


def test_charlie_gets_no_session_of_pat_nor_her_birth_date_monitor_or_medication(client, people):
    _join_pats_team(people, people.bob)
    people.pat.patient.birth_date = date(1980, 4, 23)
    db.session.commit()
    created = client.post(
        _sessions_url(people),
        json={**ESKETAMINE, "start": _at(-3), "monitored_by_id": people.bob.id},
        headers=bearer(client, people.alice),
    )
    charlie = bearer(client, people.charlie)
    session_url = f"{_sessions_url(people)}/{created.get_json()['id']}"
    for path in (_sessions_url(people), session_url, f"/api/v1/patients/{people.pat.id}"):
        response = client.get(path, headers=charlie)
        assert response.status_code == 404, path
        text = response.get_data(as_text=True)
        assert "1980-04-23" not in text and "Lorazepam" not in text and "Bob Brown" not in text
    assert all(p["id"] != people.pat.id for p in client.get("/api/v1/patients", headers=charlie).get_json())


# --- The clinician's form: the same schema, errors at the fields ---------------------------------------------------


def _yesterday_at(hour: int) -> str:
    day = utcnow().astimezone(NEW_YORK).date() - timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=NEW_YORK).strftime("%Y-%m-%dT%H:%M")


FORM = {
    **GIVEN_FORM,
    "spo2_pre": "98", "spo2_post": "96", "sedation": "5", "bp_systolic_discharge": "126",
    "bp_diastolic_discharge": "80", "heart_rate_discharge": "70", "ready_to_leave_minutes": "90",
    "lot_number": " AB12-345 ", "transport_arranged": "yes", "escort": ESCORT,
}  # fmt: skip

# (field, typed, the error shown at the field)
FORM_EDGES = [
    ("spo2_pre", "49", "Give the oxygen saturation in % from 50 to 100."),
    ("spo2_post", "101", "Give the oxygen saturation in % from 50 to 100."),
    ("spo2_post", "ninety", "Not a valid integer."),
    ("sedation", "6", "Give the MOAA/S score from 0 to 5."),
    ("heart_rate_discharge", "221", "Give the heart rate from 30 to 220."),
    ("ready_to_leave_minutes", "1441", "Give the minutes from 0 to 1440."),
    ("lot_number", "A" * 41, "Give the lot number as printed"),
    ("escort", "E" * 121, "Keep this under 120 characters."),
    ("transport_arranged", "maybe", "Choose yes or no."),
    ("concomitant_classes_maois", "maybe", "Choose yes or no."),
    ("concomitant_medication", "M" * 501, "Keep this under 500 characters."),
    ("monitored_by_id", "0", "Choose a clinician of the patient"),
    ("spo2_pre_at", "yesterday morning", "Give a date and a time"),
    ("bp_diastolic_discharge", "", "Give both the systolic and the diastolic pressure."),
]


def test_the_form_records_every_field_and_shows_them_again_on_the_session_page(client, auth, people):
    auth.login(people.alice)
    response = auth.post(f"/clinician/patients/{people.pat.id}/sessions", {**FORM, "start": _yesterday_at(10)})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    (stored,) = db.session.scalars(select(DosingSession)).all()
    assert (stored.spo2_pre, stored.spo2_post, stored.sedation, stored.ready_to_leave_minutes) == (98, 96, 5, 90)
    assert (stored.bp_systolic_discharge, stored.bp_diastolic_discharge, stored.heart_rate_discharge) == (126, 80, 70)
    assert (stored.lot_number, stored.transport_arranged, stored.escort) == ("AB12-345", True, ESCORT)
    page = client.get(f"/clinician/patients/{people.pat.id}/sessions/{stored.id}").get_data(as_text=True)
    assert '<option value="5" selected>5: responds readily to name spoken in normal tone</option>' in page
    assert '<option value="yes" selected>Yes</option>' in page
    assert 'name="lot_number" value="AB12-345"' in page
    assert f'name="escort" value="{ESCORT}"' in page


def test_an_unchosen_transport_is_not_recorded_rather_than_no(client, auth, people):
    auth.login(people.alice)
    url = f"/clinician/patients/{people.pat.id}/sessions"
    assert auth.post(url, {**FORM, "start": _yesterday_at(9), "transport_arranged": ""}).status_code == 302
    assert auth.post(url, {**FORM, "start": _yesterday_at(11), "transport_arranged": "no"}).status_code == 302
    db.session.expire_all()
    assert [s.transport_arranged for s in db.session.scalars(select(DosingSession).order_by(DosingSession.start))] == [
        None, False,
    ]  # fmt: skip


@pytest.mark.parametrize(("field", "typed", "message"), FORM_EDGES)
def test_the_form_refuses_a_value_past_its_edge_at_its_field(client, auth, people, field, typed, message):
    auth.login(people.alice)
    response = auth.post(
        f"/clinician/patients/{people.pat.id}/sessions", {**FORM, "start": _yesterday_at(10), field: typed}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="session-{field}-error">([^<]*)</p>', html)
    assert error is not None and message in error.group(1), (field, error and error.group(1))
    assert f'href="#session-{field}"' in html  # the summary links to it
    assert _count() == 0


def test_the_form_records_the_reading_times_on_the_clinicians_clock_the_monitor_and_the_medication(
    client, auth, people
):
    _join_pats_team(people, people.bob)
    auth.login(people.alice)
    form = {
        **FORM, "start": _yesterday_at(10), "spo2_pre_at": _yesterday_at(9), "spo2_post_at": _yesterday_at(11),
        "sedation_at": _yesterday_at(12), "monitored_by_id": str(people.bob.id),
        "concomitant_classes_benzodiazepines": "yes", "concomitant_classes_opioids": "no",
        "concomitant_classes_maois": "", "concomitant_medication": " Lorazepam 1 mg at night ",
    }  # fmt: skip
    response = auth.post(f"/clinician/patients/{people.pat.id}/sessions", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    (stored,) = db.session.scalars(select(DosingSession)).all()
    for name in ("spo2_pre_at", "spo2_post_at", "sedation_at"):
        # Alice's wall-clock time in New York, stored as the instant it names
        assert getattr(stored, name) == datetime.fromisoformat(form[name]).replace(tzinfo=NEW_YORK), name
    assert (stored.monitored_by_id, stored.entered_by_id) == (people.bob.id, people.alice.id)
    assert stored.concomitant_classes == {"benzodiazepines": True, "opioids": False}  # the unchosen not recorded
    assert stored.concomitant_medication == "Lorazepam 1 mg at night"
    page = client.get(f"/clinician/patients/{people.pat.id}/sessions/{stored.id}").get_data(as_text=True)
    assert f'name="spo2_pre_at" value="{form["spo2_pre_at"]}"' in page
    assert f'<option value="{people.bob.id}" selected>Bob Brown</option>' in page
    assert re.search(r'name="concomitant_classes_opioids".*?<option value="no" selected>No</option>', page, re.S)
    assert "Lorazepam 1 mg at night</textarea>" in page


def test_a_time_with_microseconds_is_shown_to_the_millisecond_which_a_browser_keeps(client, auth, people):
    """A datetime-local input takes at most three decimals; with six a browser shows and sends nothing, and the
    start, which is required, would be lost on saving the page."""
    start = (utcnow() - timedelta(hours=3)).replace(second=7, microsecond=123456)
    record = _record(people, start=start, spo2_pre_at=start - timedelta(minutes=10))
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}/sessions/{record.id}").get_data(as_text=True)
    shown = start.astimezone(NEW_YORK).replace(tzinfo=None)
    assert f'name="start" value="{shown.isoformat(timespec="milliseconds")}"' in page
    assert f'name="spo2_pre_at" value="{(shown - timedelta(minutes=10)).isoformat(timespec="milliseconds")}"' in page


def test_the_monitor_choice_lists_only_pats_care_team(client, auth, people):
    _join_pats_team(people, people.bob)
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}/sessions").get_data(as_text=True)
    options = re.search(r'<select id="session-monitored_by_id".*?</select>', page, re.S).group(0)
    assert f'<option value="{people.alice.id}">Alice Adams</option>' in options
    assert f'<option value="{people.bob.id}">Bob Brown</option>' in options
    assert "Charlie Clark" not in options and "Ada Admin" not in options
    assert '<option value="" selected>Not recorded</option>' in options


def test_the_form_refuses_charlie_as_the_monitor_and_a_reading_after_the_start_at_their_fields(client, auth, people):
    auth.login(people.alice)
    url = f"/clinician/patients/{people.pat.id}/sessions"
    cases = [
        ({"monitored_by_id": str(people.charlie.id)}, "monitored_by_id", "Choose a clinician of the patient's care"),
        ({"spo2_pre_at": _yesterday_at(11)}, "spo2_pre_at", "Give a time before the start of dosing"),
        ({"sedation_at": _yesterday_at(9)}, "sedation_at", "Give a time after the start of dosing"),
    ]
    for change, field, message in cases:
        response = auth.post(url, {**FORM, "start": _yesterday_at(10), **change})
        assert response.status_code == 400, field
        html = response.get_data(as_text=True)
        error = re.search(rf'<p class="field-error" id="session-{field}-error">([^<]*)</p>', html)
        assert error is not None and message in error.group(1).replace("&#39;", "'"), (field, error and error.group(1))
        assert f'href="#session-{field}"' in html
    assert _count() == 0


def test_the_sedation_hint_explains_the_moaa_s_scale_from_5_to_0(client, auth, people):
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}/sessions").get_data(as_text=True)
    assert "Modified Observer's Assessment of Alertness/Sedation" in page
    for score, meaning in SEDATION_SCALE.items():
        assert f'<option value="{score}">{score}: {meaning}</option>' in page
    assert SEDATION_SCALE[5] == "responds readily to name spoken in normal tone"
    assert SEDATION_SCALE[0] == "no response after painful trapezius squeeze"
    assert '<option value="" selected>Not recorded</option>' in page  # nothing chosen for the clinician


# --- Warnings (SPEC 7.4): never a refusal ---------------------------------------------------------------------------


def _fields(values: dict) -> list[str]:
    return [warning["field"] for warning in vitals_warnings(values)]


def test_spo2_below_90_is_a_warning_and_90_is_not():
    assert _fields({"spo2_pre": 90, "spo2_post": 90}) == []
    assert _fields({"spo2_pre": 89}) == ["spo2_pre"]
    assert _fields({"spo2_post": 89}) == ["spo2_post"]
    assert "Oxygen saturation after dosing is 85 %, below 90 %" in vitals_warnings({"spo2_post": 85})[0]["message"]


def test_baseline_blood_pressure_above_140_over_90_suggests_delaying():
    assert _fields({"bp_systolic_pre": 140, "bp_diastolic_pre": 90}) == []
    assert _fields({"bp_systolic_pre": 141, "bp_diastolic_pre": 80}) == ["bp_systolic_pre"]
    assert _fields({"bp_systolic_pre": 130, "bp_diastolic_pre": 91}) == ["bp_systolic_pre"]
    assert "consider delaying" in vitals_warnings({"bp_systolic_pre": 141, "bp_diastolic_pre": 80})[0]["message"]


def test_a_rise_of_40_systolic_or_25_diastolic_from_before_to_after_is_a_warning():
    pre = {"bp_systolic_pre": 110, "bp_diastolic_pre": 70}
    assert _fields({**pre, "bp_systolic_post": 149, "bp_diastolic_post": 94}) == []  # 39 and 24
    assert _fields({**pre, "bp_systolic_post": 150, "bp_diastolic_post": 80}) == ["bp_diastolic_post"]
    assert _fields({**pre, "bp_systolic_post": 120, "bp_diastolic_post": 95}) == ["bp_diastolic_post"]


def test_blood_pressure_before_discharge_above_180_over_110_is_a_warning():
    assert _fields({"bp_systolic_discharge": 180, "bp_diastolic_discharge": 110}) == []
    assert _fields({"bp_systolic_discharge": 181, "bp_diastolic_discharge": 100}) == ["bp_systolic_discharge"]


def test_sedation_below_5_at_discharge_is_a_warning_naming_the_score():
    assert _fields({"sedation": 5}) == []
    (warning,) = vitals_warnings({"sedation": 4})
    assert warning["field"] == "sedation"
    assert "MOAA/S 4 (lethargic response to name spoken in normal tone), below 5" in warning["message"]
    assert _fields({"sedation": 0}) == ["sedation"]


def test_an_esketamine_observation_under_120_minutes_is_a_warning_and_racemic_ketamine_is_not_held_to_it():
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert _fields({"product": "Esketamine (Spravato)", "observation_minutes": 120}) == []
    assert _fields({"product": "Esketamine (Spravato)", "observation_minutes": 119}) == ["observation_minutes"]
    assert _fields({"product": "SPRAVATO", "observation_minutes": 60}) == ["observation_minutes"]
    assert _fields({"product": "Racemic ketamine", "observation_minutes": 60}) == []  # intranasal racemic too
    # No minutes recorded: the time from the start to discharge is the treatment duration.
    short = {"product": "Esketamine", "start": start, "discharge_at": start + timedelta(minutes=100)}
    assert _fields(short) == ["discharge_at"]
    assert "observation of 100 minutes is under the 120 minutes" in vitals_warnings(short)[0]["message"]
    assert _fields({**short, "discharge_at": start + timedelta(minutes=120)}) == []


def test_the_api_saves_out_of_range_values_and_answers_with_their_warnings(client, people):
    headers = bearer(client, people.alice)
    low = {**ESKETAMINE, "start": _at(-3), "spo2_post": 88, "sedation": 3, "observation_minutes": 100}
    response = client.post(_sessions_url(people), json=low, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert [w["field"] for w in response.get_json()["warnings"]] == ["spo2_post", "sedation", "observation_minutes"]
    assert _count() == 1


def test_the_form_asks_to_confirm_a_low_sedation_score_then_saves_it(client, auth, people):
    auth.login(people.alice)
    url = f"/clinician/patients/{people.pat.id}/sessions"
    form = {**FORM, "start": _yesterday_at(10), "sedation": "3"}
    response = auth.post(url, form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Sedation at discharge is MOAA/S 3 (responds only after name is called loudly or repeatedly)" in html
    assert 'id="session-confirm_vitals"' in html
    assert _count() == 0
    assert auth.post(url, {**form, "confirm_vitals": "yes"}).status_code == 302
    assert _count() == 1


def test_the_session_page_shows_the_stored_sessions_warnings(client, auth, people):
    quiet = _record(people)
    low = _record(people, spo2_pre=87)
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}/sessions/{low.id}").get_data(as_text=True)
    assert "Measures to look at again" in page
    assert "Oxygen saturation before dosing is 87 %, below 90 %" in page
    page = client.get(f"/clinician/patients/{people.pat.id}/sessions/{quiet.id}").get_data(as_text=True)
    assert "Measures to look at again" not in page


# --- The one-page session record ------------------------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _record_paths(people, record) -> list[str]:
    tail = f"/patients/{people.pat.id}/sessions/{record.id}/record.pdf"
    return [f"/clinician{tail}", f"/api/v1{tail}"]


def _get(client, path: str, user: User | None):
    """``path`` as ``user`` in a fresh client: a bearer token for the API, a signed-in browser for a page."""
    fresh = client.application.test_client()
    if user is None:
        return fresh.get(path)
    if path.startswith("/api/"):
        return fresh.get(path, headers=bearer(fresh, user))
    from tests.conftest import AuthActions

    assert AuthActions(fresh).login(user).status_code == 302
    return fresh.get(path)


def test_the_session_record_is_one_page_with_every_rems_field_the_journal_stores(client, people):
    people.pat.patient.sex = "female"
    people.pat.patient.birth_date = date(1980, 4, 23)
    people.pat.patient.rems_enrolled = True
    _join_pats_team(people, people.bob)
    began = utcnow() - timedelta(hours=3)
    record = _record(
        people, start=began, discharge_at=began + timedelta(minutes=125), monitored_by_id=people.bob.id,
        spo2_pre_at=began - timedelta(minutes=10), spo2_post_at=began + timedelta(minutes=40),
        sedation_at=began + timedelta(minutes=118),
    )  # fmt: skip
    zone = ZoneInfo(people.pat.timezone)

    def clock(minutes: int) -> str:
        return (began + timedelta(minutes=minutes)).astimezone(zone).strftime("%H:%M")

    for path in _record_paths(people, record):
        response = _get(client, path, people.alice)
        assert response.status_code == 200, path
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="patient-{people.pat.id}-session-{record.id}.pdf"'
        )
        assert "no-store" in response.headers["Cache-Control"]
        pages, text = _pdf_text(response.get_data())
        assert pages == 1, path
        start = record.start.astimezone(zone).strftime("%-d %b %Y, %H:%M")
        discharge = record.discharge_at.astimezone(zone).strftime("%H:%M")
        for expected in (
            "Session record: Pat Patient", "Sex Female", start, "Esketamine (Spravato), Intranasal", "56 mg",
            "Lot number AB12-345", "125 minutes (as recorded)", discharge, "90 minutes after the start of dosing",
            f"128/82 mmHg, heart rate 71/min, SpO2 98 % at {clock(-10)}",
            "administration 138/86 mmHg, heart rate 76/min Before", "126/80 mmHg, heart rate 70/min",
            f"MOAA/S 5: responds readily to name spoken in normal tone at {clock(118)}",
            "CADSS total, about 40 minutes) 8", f"Lowest SpO2 after dosing 96 % at {clock(40)}",
            "Transport home arranged (checked before dosing) Yes", f"Who took the patient home {ESCORT}",
            "Healthcare provider conducting the monitoring Bob Brown (bob@clinic.test)",
            "Recorded in the journal by Alice Adams (alice@clinic.test)", "Riverside Clinic (clinic)",
            "First given session recorded in the journal Yes", "Birth date 23 Apr 1980", "Enrolled in the REMS Yes",
            "Benzodiazepines Yes", "Non-benzodiazepine sedative hypnotics No", "Psychostimulants No",
            "Monoamine oxidase inhibitors (MAOIs) No", "Opioids No",
            "Medication relevant to the session Lorazepam 1 mg at night",
        ):  # fmt: skip
            assert expected in text, (path, expected, text)
        not_stored = text.split("Not stored in the journal (take them from the clinic's own chart): ")[1]
        assert not_stored.startswith("the monitoring provider's telephone and the setting's address (3)")
        assert "birth date" not in not_stored and "benzodiazepines" not in not_stored
        assert "Measures to look at again None." in text
        assert "Not recorded: Setting telephone." in text  # the clinic has no phone on file; all else is filled in
    assert PdfReader(io.BytesIO(response.get_data())).metadata.title == "Session record"  # names nobody


def test_the_session_record_names_each_empty_field(client, people):
    record = save_session(
        db.session, people.pat.patient,
        {"status": "planned", "start": utcnow() + timedelta(days=2), "route": "iv", "product": "Racemic ketamine",
         "dose": 0.5, "dose_unit": "mg/kg"},
        utcnow(), people.alice,
    )  # fmt: skip
    db.session.commit()
    response = _get(client, _record_paths(people, record)[1], people.alice)
    pages, text = _pdf_text(response.get_data())
    assert pages == 1
    empty = re.search(r"Not recorded: (.*?) Not stored in the journal \(take", text).group(1)
    for label in (
        "Sex", "Lot number", "Treatment duration", "Discharge", "Before administration",
        "About 40 minutes after administration", "Before completion of the session", "Sedation at discharge",
        "Lowest SpO2 after dosing", "Transport home arranged", "Who took the patient home", "Birth date",
        "Enrolled in the REMS", "Benzodiazepines", "Opioids", "Medication relevant to the session",
        "Healthcare provider conducting the monitoring",
    ):  # fmt: skip
        assert label in empty, (label, empty)
    assert "Status Planned" in text


def test_the_record_says_when_an_earlier_session_was_given_and_shows_the_warnings(client, people):
    _record(people)
    later = save_session(
        db.session, people.pat.patient,
        {**ESKETAMINE, "start": utcnow() - timedelta(hours=1), "spo2_post": 86, "sedation": 4,
         "observation_minutes": 90},
        utcnow(), people.alice,
    )  # fmt: skip
    db.session.commit()
    _pages, text = _pdf_text(_get(client, _record_paths(people, later)[0], people.alice).get_data())
    assert "First given session recorded in the journal No" in text
    assert "Oxygen saturation after dosing is 86 %" in text
    assert "Sedation at discharge is MOAA/S 4" in text
    assert "Esketamine observation of 90 minutes is under the 120 minutes" in text


def test_the_record_stays_on_one_page_with_every_text_at_its_longest_and_every_warning():
    clinic_user = User(name="W" * 120, email=("w" * 60) + "@clinic.test", timezone="America/New_York")
    user = User(name="Ŵ" * 120, email="p@patient.test", timezone="Asia/Kolkata")
    patient = Patient(user=user, sex="other", birth_date=date(1906, 2, 28), rems_enrolled=False)
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    record = DosingSession(
        id=7, status=SessionStatus.GIVEN, start=start, route="intranasal", product="Esketamine " + "X" * 110,
        dose=84, dose_unit="mg", setting="clinic", bp_systolic_pre=170, bp_diastolic_pre=100, heart_rate_pre=120,
        spo2_pre=85, bp_systolic_post=230, bp_diastolic_post=140, heart_rate_post=150, spo2_post=80,
        dissociation_score=92, bp_systolic_discharge=200, bp_diastolic_discharge=120, heart_rate_discharge=130,
        sedation=0, observation_minutes=45, ready_to_leave_minutes=1440, discharge_at=start + timedelta(minutes=45),
        lot_number="L" * 40, transport_arranged=False, escort="E" * 120, concomitant_medication="M" * 500,
        concomitant_classes=dict.fromkeys(CONCOMITANT_CLASSES, True), spo2_pre_at=start - timedelta(hours=12),
        spo2_post_at=start + timedelta(hours=20), sedation_at=start + timedelta(minutes=45),
    )  # fmt: skip
    context = session_record.RecordContext(
        patient=patient, first_given=True, monitored_by=clinic_user, entered_by=clinic_user, last_writer=clinic_user,
        clinic_name="C" * 120, clinic_phone="+1 (312) 555-0123 ext 4567 89", viewer=clinic_user,
    )  # fmt: skip
    assert len(vitals_warnings(record)) == 8
    pages, text = _pdf_text(session_record.build(record, context, start + timedelta(hours=2)))
    assert pages == 1
    assert "E" * 120 in text.replace(" ", "") and "L" * 40 in text.replace(" ", "")
    assert "M" * 500 in text.replace(" ", "")


# --- Who may read the record ----------------------------------------------------------------------------------------


def test_only_pats_care_team_gets_her_session_record(client, people):
    record = _record(people)
    for path in _record_paths(people, record):
        for outsider in (people.charlie, people.bob, people.pat, people.quinn, people.ada):
            assert _get(client, path, outsider).status_code == 404, (path, outsider.name)
        anonymous = _get(client, path, None)
        assert anonymous.status_code in (401, 302), path
        if anonymous.status_code == 302:
            assert anonymous.headers["Location"].startswith("/login?")
    db.session.add(CareTeamMember(patient_id=people.pat.id, clinician_id=people.bob.id, added_at=NOW))
    db.session.commit()
    assert _get(client, _record_paths(people, record)[1], people.bob).status_code == 200  # on the team now


def test_the_clinician_on_call_for_an_alert_about_pat_reads_the_session_but_cannot_take_its_record(client, people):
    from tests.test_on_call import _high, _shift

    now = utcnow()
    _shift(people, people.bob, people.charlie, now - timedelta(hours=3), now + timedelta(hours=3))
    assert _high(people, now - timedelta(hours=1)).on_call_id == people.bob.id
    record = _record(people)
    session_page = f"/clinician/patients/{people.pat.id}/sessions/{record.id}"
    assert _get(client, session_page, people.bob).status_code == 200  # the on-call grant is for reading
    for path in _record_paths(people, record):  # not for taking the record out of the journal, as the report
        assert _get(client, path, people.bob).status_code == 404, path


def test_a_session_of_another_patient_is_not_found_under_pats_address(client, people):
    theirs = save_session(
        db.session,
        people.quinn.patient,
        {**ESKETAMINE, "start": utcnow() - timedelta(hours=3)},
        utcnow(),
        people.charlie,
    )
    db.session.commit()
    for path in _record_paths(people, theirs):
        assert _get(client, path, people.alice).status_code == 404
        assert _get(client, path, people.charlie).status_code == 404  # Quinn's, but not under Pat's address


def test_each_download_of_the_record_is_audited_and_a_refused_one_is_not(client, people):
    record = _record(people)
    page, api = _record_paths(people, record)
    _get(client, page, people.alice)
    _get(client, api, people.alice)
    _get(client, api, people.charlie)
    db.session.expire_all()
    events = db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.patient_id, AuditEvent.detail)
        .where(AuditEvent.action == "session_record.read")
        .order_by(AuditEvent.id)
    ).all()
    assert events == [(people.alice.id, people.pat.id, f"session {record.id}")] * 2


def test_the_session_page_links_to_its_record(client, auth, people):
    record = _record(people)
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}/sessions/{record.id}").get_data(as_text=True)
    assert f'href="/clinician/patients/{people.pat.id}/sessions/{record.id}/record.pdf"' in page


# --- Who takes the patient home: staff only, never in a message (PRIV-R1) --------------------------------------------


def test_the_escort_is_in_no_message_sent_after_the_session(app, people):
    given_at = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    save_session(
        db.session, people.pat.patient, {**ESKETAMINE, "start": given_at, "escort": "Jordan Escortname"},
        given_at + timedelta(hours=3), people.alice,
    )  # fmt: skip
    db.session.commit()
    queue_session_messages(db.session, datetime(2026, 3, 3, 15, 0, tzinfo=UTC))  # the morning-after check is due
    messages = db.session.scalars(select(OutboxMessage)).all()
    assert messages, "the morning-after check should have been queued"
    for message in messages:
        subject, text = render(message.template, link=f"http://journal.test{message.link_path}")
        for said in (subject, text, message.link_path, message.dedup_key):
            assert "Escortname" not in said and "Jordan" not in said
