"""People: phone numbers read in the patient's country and stored in E.164, the emergency contact both or
neither, the pages where the patient and the care team change them (errors at the field), tel: links on the
patient page, and reminders that follow a new time zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from journal import people as people_module
from journal.accounts import EnrolmentError, PatientDetails, enrol_patient
from journal.db import db, utcnow
from journal.models import AuditEvent, OutboxMessage, Patient, ProgrammeChange, User
from journal.people import (
    CONTACT_BOTH,
    PHONE_LETTERS,
    PHONE_TOO_LONG,
    PHONE_TOO_SHORT,
    DetailsError,
    contact_from,
    display_phone,
    parse_phone,
    region_for_zone,
)
from journal.reminders import queue_daily_reminders
from tests.conftest import NOW

# --- Phone numbers (pure) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "region", "stored"),
    [
        ("(312) 555-0123", "US", "+13125550123"),  # national, as people write it in the US
        ("312.555.0123", "US", "+13125550123"),
        ("1 312 555 0123", "US", "+13125550123"),  # with the trunk prefix
        ("+44 7400 123456", "US", "+447400123456"),  # international from a US patient
        ("0044 7400 123456", "GB", "+447400123456"),  # international with the UK's exit code
        ("07400 123456", "GB", "+447400123456"),  # national in the UK
        ("98765 43210", "IN", "+919876543210"),
    ],
)
def test_a_national_or_international_number_is_stored_in_e164(typed, region, stored):
    assert parse_phone(typed, region) == stored


@pytest.mark.parametrize("typed", ["", "   ", None])
def test_no_number_typed_is_no_number(typed):
    assert parse_phone(typed, "US") is None


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("call me", PHONE_LETTERS),
        ("1-800-FLOWERS", PHONE_LETTERS),  # letters are refused, not turned into digits
        ("555 01", PHONE_TOO_SHORT),
        ("+1 312", PHONE_TOO_SHORT),
        ("+1 312 555 0123 4567 89", PHONE_TOO_LONG),
    ],
)
def test_letters_and_numbers_of_the_wrong_length_are_refused_with_what_to_do(typed, message):
    with pytest.raises(DetailsError) as refused:
        parse_phone(typed, "US")
    assert refused.value.field == "phone"
    assert refused.value.message == message


@pytest.mark.parametrize("typed", ["(012) 555-0123", "+1 112 555 0123", "+999 1234 5678", "+44 0000 000000"])
def test_a_number_of_the_right_shape_that_no_phone_can_have_is_refused(typed):
    with pytest.raises(DetailsError) as refused:
        parse_phone(typed, "US")
    assert refused.value.field == "phone"
    assert refused.value.message


def test_a_number_without_country_code_is_read_in_the_country_of_the_patients_time_zone():
    assert region_for_zone("America/Chicago") == "US"
    assert region_for_zone("Europe/London") == "GB"
    assert region_for_zone("Asia/Kolkata") == "IN"
    assert region_for_zone("UTC") == region_for_zone("Etc/GMT+5") == region_for_zone(None) == "US"
    assert contact_from({"phone": "07400 123456"}, "Europe/London") == {"phone": "+447400123456"}
    with pytest.raises(DetailsError):  # the same digits are no US number
        contact_from({"phone": "07400 123456"}, "America/Chicago")


def test_a_stored_number_is_shown_nationally_at_home_and_internationally_from_abroad():
    assert display_phone("+13125550123", "America/Chicago") == "(312) 555-0123"
    assert display_phone("+447400123456", "America/Chicago") == "+44 7400 123456"
    assert display_phone(None) == ""


def test_an_emergency_contact_is_a_name_and_a_number_or_neither():
    both = contact_from({"emergency_contact": {"name": " Sam Reed ", "phone": "312 555 0199"}}, "America/Chicago")
    assert both == {"emergency_contact_name": "Sam Reed", "emergency_contact_phone": "+13125550199"}
    for neither in (None, {"name": "", "phone": ""}, {"name": "  ", "phone": None}):
        assert contact_from({"emergency_contact": neither}, "America/Chicago") == {
            "emergency_contact_name": None,
            "emergency_contact_phone": None,
        }
    with pytest.raises(DetailsError) as name_only:
        contact_from({"emergency_contact": {"name": "Sam", "phone": ""}}, "America/Chicago")
    assert (name_only.value.field, name_only.value.message) == ("emergency_contact_phone", CONTACT_BOTH)
    with pytest.raises(DetailsError) as phone_only:
        contact_from({"emergency_contact": {"name": "", "phone": "312 555 0199"}}, "America/Chicago")
    assert phone_only.value.field == "emergency_contact_name"
    assert phone_only.value.json_errors == {"emergency_contact": {"name": [CONTACT_BOTH]}}
    with pytest.raises(DetailsError) as bad:
        contact_from({"emergency_contact": {"name": "Sam", "phone": "12"}}, "America/Chicago")
    assert bad.value.field == "emergency_contact_phone"


# --- Enrolment ------------------------------------------------------------------------------------------------


def _details(**overrides) -> PatientDetails:
    values = {"name": "Robin Reed", "email": "robin@patient.test", "timezone": "America/Chicago"}
    return PatientDetails(**{**values, "substances": ["alcohol"], **overrides})


def test_enrolment_stores_the_phone_in_e164_the_contact_and_sex_and_starts_the_programme_history(app, people):
    user, _ = enrol_patient(
        db.session,
        people.alice,
        _details(phone="312-555-0123", emergency_contact={"name": "Sam Reed", "phone": "+44 7400 123456"}, sex="male"),
        NOW,
        7,
    )
    db.session.commit()
    patient = db.session.get(Patient, user.id)
    assert (patient.phone, patient.emergency_contact_name, patient.emergency_contact_phone, patient.sex) == (
        "+13125550123",
        "Sam Reed",
        "+447400123456",
        "male",
    )
    rows = db.session.scalars(select(ProgrammeChange).where(ProgrammeChange.patient_id == user.id)).all()
    assert [(r.effective_at, r.changed_by_id, r.substances, r.tracks_pain, r.sleep_detail) for r in rows] == [
        (NOW, people.alice.id, ["alcohol"], False, True)
    ]


def test_enrolment_with_a_bad_phone_names_the_field_and_writes_nothing(app, people):
    before = db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1))
    with pytest.raises(EnrolmentError) as refused:
        enrol_patient(db.session, people.alice, _details(phone="12345"), NOW, 7)
    assert refused.value.field == "phone"
    with pytest.raises(EnrolmentError) as half_contact:
        enrol_patient(db.session, people.alice, _details(emergency_contact={"name": "Sam", "phone": ""}), NOW, 7)
    assert half_contact.value.field == "emergency_contact_phone"
    db.session.rollback()
    assert db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) == before


def test_enrolment_page_takes_phone_contact_and_sex(auth, client, people):
    auth.login(people.alice)
    form = {
        "name": "Robin Reed",
        "email": "robin@patient.test",
        "timezone": "Europe/London",
        "phone": "07400 123456",
        "emergency_contact_name": "Sam Reed",
        "emergency_contact_phone": "07400 123457",
        "sex": "female",
        "indications": ["depression"],
    }
    assert auth.post("/clinician/patients/new", form).status_code == 200
    patient = db.session.scalar(select(User).where(User.email == "robin@patient.test")).patient
    assert (patient.phone, patient.emergency_contact_phone, patient.sex) == ("+447400123456", "+447400123457", "female")


@pytest.mark.parametrize(
    ("fields", "error_id"),
    [
        ({"phone": "not a number"}, "phone-error"),
        ({"phone": "555 01"}, "phone-error"),
        ({"emergency_contact_name": "Sam Reed"}, "emergency_contact_phone-error"),
        (
            {"emergency_contact_name": "x" * 121, "emergency_contact_phone": "312 555 0199"},
            "emergency_contact_name-error",
        ),
        ({"sex": "yes"}, "sex-error"),
    ],
)
def test_enrolment_page_shows_a_bad_detail_at_its_field_and_enrols_no_one(auth, client, people, fields, error_id):
    auth.login(people.alice)
    form = {"name": "Robin Reed", "email": "robin@patient.test", "timezone": "America/Chicago", **fields}
    response = auth.post("/clinician/patients/new", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{error_id}"' in page
    assert "There is a problem" in page
    assert db.session.scalar(select(User).where(User.email == "robin@patient.test")) is None


# --- The patient's own page -----------------------------------------------------------------------------------


def _field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', page)
    assert match, f"no error at {name}"
    return match.group(1)


def test_patient_sets_phone_contact_and_time_zone_on_their_page(auth, client, people):
    auth.login(people.pat)
    assert "Contact details and time zone" in client.get("/home").get_data(as_text=True)
    page = client.get("/settings/contact").get_data(as_text=True)
    assert "Now: America/Chicago" in page  # the current zone named
    assert '<option value="America/Chicago" selected>' in page
    response = auth.post(
        "/settings/contact",
        {
            "phone": "(312) 555-0123",
            "emergency_contact_name": "Sam Reed",
            "emergency_contact_phone": "312 555 0199",
            "timezone": "America/Denver",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    pat = db.session.get(User, people.pat.id)
    assert (pat.timezone, pat.patient.phone, pat.patient.emergency_contact_name) == (
        "America/Denver",
        "+13125550123",
        "Sam Reed",
    )
    again = client.get("/settings/contact").get_data(as_text=True)
    assert "Your details are saved." in again
    assert 'value="(312) 555-0123"' in again and "Now: America/Denver" in again
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "details.update")).one()
    assert (event.actor_id, event.patient_id, event.detail) == (
        people.pat.id,
        people.pat.id,
        "timezone, phone, emergency_contact",
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone": "123"}, "phone"),
        ({"phone": "my mobile"}, "phone"),
        ({"emergency_contact_name": "Sam Reed"}, "emergency_contact_phone"),
        ({"emergency_contact_phone": "312 555 0199"}, "emergency_contact_name"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ],
)
def test_patients_page_shows_each_error_at_its_field_and_saves_nothing(auth, client, people, fields, field):
    auth.login(people.pat)
    form = {"timezone": "America/Chicago", "phone": "312 555 0123", **fields}
    response = auth.post("/settings/contact", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _field_error(page, field)
    assert f'href="#{field}"' in page  # the summary links to the field
    db.session.expire_all()
    assert db.session.get(Patient, people.pat.id).phone is None
    assert db.session.get(User, people.pat.id).timezone == "America/Chicago"


def test_staff_do_not_get_the_patients_contact_page(app, auth, client, people):
    for staff in (people.alice, people.ada):
        client = app.test_client()
        from tests.conftest import AuthActions

        AuthActions(client).login(staff)
        assert client.get("/settings/contact").status_code == 404


# --- The care team's Edit details page ------------------------------------------------------------------------


def _edit_form(**overrides) -> dict:
    form = {
        "timezone": "America/Chicago",
        "phone": "",
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "sex": "unknown",
        "substances": ["alcohol"],
        "indications": ["depression"],
        "sleep_detail": "yes",
        "induction_until": "",
    }
    return {**form, **overrides}


def test_edit_page_clears_the_urinary_check_and_the_induction_end(auth, client, people):
    patient = people.pat.patient
    patient.urinary_check, patient.induction_until = True, NOW.date()
    patient.indications = ["depression"]  # as the form gives them (_edit_form)
    db.session.commit()
    auth.login(people.alice)
    path = f"/clinician/patients/{people.pat.id}/details"
    page = client.get(path).get_data(as_text=True)
    assert 'name="urinary_check" value="yes" checked' in page and f'value="{NOW.date().isoformat()}"' in page
    assert auth.post(path, _edit_form()).status_code == 302  # an unticked box and an empty date clear both
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.urinary_check, patient.induction_until) == (False, None)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update")).all()
    assert [event.detail for event in events] == ["urinary_check, induction_until"]


def test_care_team_changes_details_and_programme_and_the_history_shows_who_and_what(auth, client, people):
    people.pat.patient.indications = ["depression"]  # as the form gives them (_edit_form)
    db.session.commit()
    auth.login(people.alice)
    path = f"/clinician/patients/{people.pat.id}/details"
    page = client.get(path).get_data(as_text=True)
    assert "Programme history" in page and "At enrolment: Substances: Alcohol" in page
    response = auth.post(
        path,
        _edit_form(
            phone="312 555 0123",
            sex="female",
            substances=["alcohol", "opioids"],
            tracks_pain="yes",
            urinary_check="yes",
            induction_until="2026-03-20",
        ),
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/clinician/patients/{people.pat.id}")
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.phone, patient.sex, patient.substances, patient.tracks_pain, patient.urinary_check) == (
        "+13125550123",
        "female",
        ["alcohol", "opioids"],
        True,
        True,
    )
    assert patient.induction_until.isoformat() == "2026-03-20"
    page = client.get(path).get_data(as_text=True)
    assert "Started tracking Opioids; Started tracking pain" in page
    assert page.index("Started tracking Opioids") < page.index("At enrolment")  # newest first
    assert "<td>Alice Adams</td>" in page
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update")).one()
    assert event.detail == "phone, sex, substances, tracks_pain, urinary_check, induction_until"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"emergency_contact_name": "Sam"}, "emergency_contact_phone"),
        ({"sex": "m"}, "sex"),
        ({"substances": ["glue"]}, "substances"),
        ({"induction_until": "next Tuesday"}, "induction_until"),
        ({"induction_until": "20-03-2026"}, "induction_until"),
        ({"induction_until": "2026-02-30"}, "induction_until"),
        ({"induction_until": "1026-03-20"}, "induction_until"),
        ({"timezone": "Nowhere/Special"}, "timezone"),
    ],
)
def test_edit_page_shows_each_error_at_its_field_and_saves_nothing(auth, client, people, fields, field):
    auth.login(people.alice)
    response = auth.post(f"/clinician/patients/{people.pat.id}/details", _edit_form(tracks_pain="yes", **fields))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _field_error(page, field)
    assert 'id="tracks_pain" name="tracks_pain" value="yes" checked' in page  # what was entered is kept
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.tracks_pain, patient.phone) == (False, None)
    assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.update")).all() == []


def test_edit_page_records_the_birth_date_and_rems_enrolment_and_the_patient_page_shows_them(auth, client, people):
    people.pat.patient.indications = ["depression"]  # as the form gives them (_edit_form)
    db.session.commit()
    auth.login(people.alice)
    path = f"/clinician/patients/{people.pat.id}/details"
    assert auth.post(path, _edit_form(birth_date="1980-04-23", rems_enrolled="yes")).status_code == 302
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.birth_date, patient.rems_enrolled) == (date(1980, 4, 23), True)
    page = client.get(path).get_data(as_text=True)
    assert 'id="birth_date" name="birth_date" value="1980-04-23"' in page
    assert '<option value="yes" selected>Yes</option>' in page
    shown = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "<dt>Birth date</dt><dd>23 Apr 1980</dd>" in shown
    assert "<dt>Enrolled in the REMS</dt><dd>Yes</dd>" in shown
    assert auth.post(path, _edit_form(birth_date="", rems_enrolled="")).status_code == 302  # both cleared
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.birth_date, patient.rems_enrolled) == (None, None)
    shown = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "<dt>Birth date</dt><dd>Not recorded</dd>" in shown


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("future", "A birth date cannot be in the future. Check the date."),
        ("1880-01-01", "Check the year: this birth date would make the patient over 120."),
        ("23 April 1980", "Give a date such as 1980-04-23, or leave it empty."),
    ],
)
def test_edit_page_shows_a_bad_birth_date_at_its_field_and_saves_nothing(auth, client, people, typed, message):
    if typed == "future":
        typed = (utcnow().astimezone(ZoneInfo("America/Chicago")).date() + timedelta(days=1)).isoformat()
    auth.login(people.alice)
    response = auth.post(
        f"/clinician/patients/{people.pat.id}/details", _edit_form(birth_date=typed, phone="312 555 0123")
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _field_error(page, "birth_date") == message
    assert 'href="#birth_date"' in page  # the summary links to it
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.birth_date, patient.phone) == (None, None)


def test_enrolment_page_takes_an_optional_birth_date(auth, client, people):
    auth.login(people.alice)
    form = {"name": "Robin Reed", "timezone": "America/Chicago", "indications": ["depression"], "birth_date": ""}
    assert auth.post("/clinician/patients/new", {**form, "email": "robin@patient.test"}).status_code == 200
    born = {**form, "email": "rowan@patient.test", "birth_date": "1975-11-02"}
    assert auth.post("/clinician/patients/new", born).status_code == 200
    robin, rowan = (
        db.session.scalar(select(User).where(User.email == email)).patient
        for email in ("robin@patient.test", "rowan@patient.test")
    )
    assert (robin.birth_date, rowan.birth_date) == (None, date(1975, 11, 2))
    future = {**form, "email": "rory@patient.test", "birth_date": "2999-01-01"}
    response = auth.post("/clinician/patients/new", future)
    assert response.status_code == 400
    assert (
        _field_error(response.get_data(as_text=True), "birth_date")
        == "A birth date cannot be in the future. Check the date."
    )
    assert db.session.scalar(select(User).where(User.email == "rory@patient.test")) is None


def test_another_teams_clinician_and_the_admin_cannot_open_or_post_the_edit_page(app, people):
    from tests.conftest import AuthActions

    path = f"/clinician/patients/{people.pat.id}/details"
    for outsider in (people.charlie, people.ada, people.quinn):
        client = app.test_client()
        auth = AuthActions(client)
        auth.login(outsider)
        assert client.get(path).status_code == 404
        assert auth.post(path, _edit_form(phone="312 555 0123", substances=[])).status_code == 404
    db.session.expire_all()
    patient = db.session.get(Patient, people.pat.id)
    assert (patient.phone, patient.substances) == (None, ["alcohol"])


# --- The patient page: tel: links -----------------------------------------------------------------------------


def test_patient_page_header_links_the_phone_and_the_emergency_contact_as_tel(auth, client, people):
    patient = people.pat.patient
    patient.phone, patient.emergency_contact_name, patient.emergency_contact_phone = (
        "+13125550123",
        "Sam Reed",
        "+447400123456",
    )
    db.session.commit()
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    header = page[page.index('id="contact-line"') : page.index("</p>", page.index('id="contact-line"'))]
    assert '<a href="tel:+13125550123">(312) 555-0123</a>' in header
    assert 'Sam Reed, <a href="tel:+447400123456">+44 7400 123456</a>' in header
    assert f'href="/clinician/patients/{people.pat.id}/details"' in header


def test_patient_page_says_when_no_phone_is_recorded(auth, client, people):
    auth.login(people.alice)
    page = client.get(f"/clinician/patients/{people.pat.id}").get_data(as_text=True)
    assert "No phone number recorded" in page and "No emergency contact recorded" in page
    assert "tel:" not in page[page.index('id="contact-line"') : page.index("</p>", page.index('id="contact-line"'))]


# --- Reminders follow the time zone ---------------------------------------------------------------------------


def _reminders_queued(user: User) -> int:
    return len(
        db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.recipient_id == user.id, OutboxMessage.template == "daily_reminder"
            )
        ).all()
    )


def test_a_new_time_zone_moves_the_reminder_instant(app, people):
    # Pat's reminder is at 20:00 local. In Chicago (UTC-6 in March) that is 02:00 UTC; in Tokyo (UTC+9) 11:00 UTC.
    chicago_evening = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    tokyo_evening = datetime(2026, 3, 3, 11, 30, tzinfo=UTC)
    people_module.update_details(db.session, people.pat.patient, {"timezone": "Asia/Tokyo"}, people.pat, NOW)
    db.session.commit()
    queue_daily_reminders(db.session, chicago_evening)
    db.session.commit()
    assert _reminders_queued(people.pat) == 0  # 11:30 in the morning in Tokyo: not yet
    queue_daily_reminders(db.session, tokyo_evening)
    db.session.commit()
    assert _reminders_queued(people.pat) == 1


def test_without_the_change_the_reminder_comes_at_the_chicago_instant(app, people):
    queue_daily_reminders(db.session, datetime(2026, 3, 3, 2, 30, tzinfo=UTC))
    db.session.commit()
    assert _reminders_queued(people.pat) == 1


def test_every_phone_problem_is_reported_at_once_each_at_its_field(auth, client, people):
    with pytest.raises(DetailsError) as refused:
        contact_from({"phone": "12", "emergency_contact": {"name": "Sam", "phone": ""}}, "America/Chicago")
    assert refused.value.errors == {"phone": PHONE_TOO_SHORT, "emergency_contact_phone": CONTACT_BOTH}
    assert refused.value.json_errors == {"phone": [PHONE_TOO_SHORT], "emergency_contact": {"phone": [CONTACT_BOTH]}}
    auth.login(people.pat)
    response = auth.post(
        "/settings/contact", {"timezone": "America/Chicago", "phone": "12", "emergency_contact_name": "Sam"}
    )
    page = response.get_data(as_text=True)
    assert _field_error(page, "phone") == PHONE_TOO_SHORT
    assert _field_error(page, "emergency_contact_phone") == CONTACT_BOTH


def test_a_refused_time_zone_and_a_bad_number_show_together(auth, client, people):
    auth.login(people.pat)
    response = auth.post("/settings/contact", {"timezone": "Mars/Olympus_Mons", "phone": "12"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert _field_error(page, "timezone").startswith("Choose a time zone from the list")
    assert _field_error(page, "phone") == PHONE_TOO_SHORT


def test_enrolment_page_shows_every_refused_number_at_once_each_at_its_field(auth, client, people):
    auth.login(people.alice)
    form = {
        "name": "Robin Reed", "email": "robin@patient.test", "timezone": "America/Chicago",
        "phone": "555 01", "emergency_contact_name": "Sam Reed", "emergency_contact_phone": "call me",
    }  # fmt: skip
    page = auth.post("/clinician/patients/new", form).get_data(as_text=True)
    assert 'id="phone-error"' in page and 'id="emergency_contact_phone-error"' in page
    assert db.session.scalar(select(User).where(User.email == "robin@patient.test")) is None
