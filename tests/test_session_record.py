"""The at-session record (SPEC 7.4, KET-R8): the esketamine REMS monitoring form's fields validated at their edges by
the one session schema, through the clinician's form and the API, on both databases; the warnings an out-of-range
value gives (saved all the same); and the printable one-page session record, for the care team only and audited.

Alice records Pat's sessions; Charlie, of the same clinic, is on no care team of Pat's; Ada is the admin."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from journal import session_record
from journal.db import db, utcnow
from journal.messages import render
from journal.models import AuditEvent, CareTeamMember, DosingSession, OutboxMessage, Patient, SessionStatus, User
from journal.sessions import queue_session_messages, save_session
from journal.vitals import SEDATION_SCALE, vitals_warnings
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
}


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
    db.session.commit()
    record = _record(people)
    zone = ZoneInfo(people.pat.timezone)
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
            "128/82 mmHg, heart rate 71/min, SpO2 98 %", "administration 138/86 mmHg, heart rate 76/min Before",
            "126/80 mmHg, heart rate 70/min", "MOAA/S 5: responds readily to name spoken in normal tone",
            "CADSS total, about 40 minutes) 8", "Lowest SpO2 after dosing 96 %",
            "Transport home arranged (checked before dosing) Yes", f"Who took the patient home {ESCORT}",
            "Alice Adams (alice@clinic.test)", "Riverside Clinic (clinic)",
            "First given session recorded in the journal Yes",
        ):  # fmt: skip
            assert expected in text, (path, expected, text)
        assert "Not stored in the journal (take them from the clinic's own chart): birth date" in text
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
        "Lowest SpO2 after dosing", "Transport home arranged", "Who took the patient home",
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
    patient = Patient(user=user, sex="other")
    start = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    record = DosingSession(
        id=7, status=SessionStatus.GIVEN, start=start, route="intranasal", product="Esketamine " + "X" * 110,
        dose=84, dose_unit="mg", setting="clinic", bp_systolic_pre=170, bp_diastolic_pre=100, heart_rate_pre=120,
        spo2_pre=85, bp_systolic_post=230, bp_diastolic_post=140, heart_rate_post=150, spo2_post=80,
        dissociation_score=92, bp_systolic_discharge=200, bp_diastolic_discharge=120, heart_rate_discharge=130,
        sedation=0, observation_minutes=45, ready_to_leave_minutes=1440, discharge_at=start + timedelta(minutes=45),
        lot_number="L" * 40, transport_arranged=False, escort="E" * 120,
    )  # fmt: skip
    context = session_record.RecordContext(
        patient=patient, first_given=True, entered_by=clinic_user, last_writer=clinic_user,
        clinic_name="C" * 120, clinic_phone="+1 (312) 555-0123 ext 4567 89", viewer=clinic_user,
    )  # fmt: skip
    assert len(vitals_warnings(record)) == 8
    pages, text = _pdf_text(session_record.build(record, context, start + timedelta(hours=2)))
    assert pages == 1
    assert "E" * 120 in text.replace(" ", "") and "L" * 40 in text.replace(" ", "")


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
