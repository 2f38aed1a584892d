"""Enrolment: a clinician enrols a patient; the patient's single-use, 7-day link activates the account."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from journal.accounts import (
    ADDRESS_UNAVAILABLE,
    AccountActive,
    PatientDetails,
    accept_invitation,
    create_invitation,
    enrol_patient,
    hash_password,
    open_invitation,
    password_matches,
)
from journal.db import db, utcnow
from journal.models import CareTeamMember, Invitation, Patient, User
from tests.conftest import NOW, PASSWORD, bearer, csrf_token

ENROLMENT = {"name": "Robin Reed", "email": "robin@patient.test", "timezone": "Asia/Kathmandu"}


def _link_token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _enrol_by_page(auth, client, **overrides) -> str:
    form = {
        **ENROLMENT,
        "indications": ["depression"],
        "substances": ["alcohol", "nicotine"],
        "tracks_pain": "yes",
        **overrides,
    }
    response = auth.post("/clinician/patients/new", form, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    match = re.search(r'id="invitation-url" class="copy" readonly value="([^"]+)"', response.get_data(as_text=True))
    assert match, "the invitation link is shown on the page after enrolment"
    return match.group(1)


def test_clinician_enrols_patient_by_page_with_their_programme(auth, client, people):
    auth.login(people.alice)
    url = _enrol_by_page(auth, client)
    assert url.startswith("http://journal.test/invite/")
    patient = db.session.scalar(select(User).where(User.email == "robin@patient.test"))
    assert patient.timezone == "Asia/Kathmandu"
    assert patient.activated_at is None
    assert patient.patient.substances == ["alcohol", "nicotine"]
    assert patient.patient.tracks_pain is True
    assert patient.patient.sleep_detail is False  # an unticked box is a no
    assert [c.id for c in patient.patient.clinicians] == [people.alice.id]


def test_invitation_link_is_shown_once_only(auth, client, people):
    auth.login(people.alice)
    url = _enrol_by_page(auth, client)
    patient_id = db.session.scalar(select(User.id).where(User.email == "robin@patient.test"))
    again = client.get(f"/clinician/patients/{patient_id}").get_data(as_text=True)
    assert url not in again


def test_patient_sets_password_from_link_and_lands_home(app, auth, client, people):
    auth.login(people.alice)
    url = _enrol_by_page(auth, client)
    phone = app.test_client()
    path = url.removeprefix("http://journal.test")
    page = phone.get(path)
    assert page.status_code == 200
    assert "Welcome, Robin Reed" in page.get_data(as_text=True)
    token = csrf_token(phone, path)
    response = phone.post(path, data={"password": PASSWORD, "password_confirm": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/home"
    assert "Hello, Robin" in phone.get("/home").get_data(as_text=True)


def test_invitation_link_works_once(app, auth, client, people):
    auth.login(people.alice)
    path = _enrol_by_page(auth, client).removeprefix("http://journal.test")
    phone = app.test_client()
    form = {"password": PASSWORD, "password_confirm": PASSWORD, "csrf_token": csrf_token(phone, path)}
    assert phone.post(path, data=form).status_code == 302
    assert app.test_client().get(path).status_code == 404


def test_mismatched_passwords_are_asked_again_and_nothing_changes(app, auth, client, people):
    auth.login(people.alice)
    path = _enrol_by_page(auth, client).removeprefix("http://journal.test")
    phone = app.test_client()
    form = {"password": PASSWORD, "password_confirm": "something else!", "csrf_token": csrf_token(phone, path)}
    response = phone.post(path, data=form)
    assert response.status_code == 400
    assert "The two passwords are not the same." in response.get_data(as_text=True)
    assert db.session.scalar(select(User.activated_at).where(User.email == "robin@patient.test")) is None
    assert phone.get(path).status_code == 200  # the link still works


def test_short_password_is_refused_with_the_rule(app, auth, client, people):
    auth.login(people.alice)
    path = _enrol_by_page(auth, client).removeprefix("http://journal.test")
    phone = app.test_client()
    form = {"password": "short", "password_confirm": "short", "csrf_token": csrf_token(phone, path)}
    response = phone.post(path, data=form)
    assert response.status_code == 400
    assert "at least 10 characters" in response.get_data(as_text=True)


@pytest.fixture
def robin(people) -> User:
    """Enrolled by Alice, not yet active: her invitation is still to be used."""
    user, _token = enrol_patient(db.session, people.alice, PatientDetails(**ENROLMENT, substances=[]), NOW, 7)
    db.session.commit()
    return user


def test_invitation_expires_after_seven_days(app, people, robin):
    token = create_invitation(db.session, robin, people.alice, NOW, days=7)
    db.session.commit()
    assert open_invitation(db.session, token, NOW + timedelta(days=7) - timedelta(seconds=1)) is not None
    assert open_invitation(db.session, token, NOW + timedelta(days=7)) is None
    assert accept_invitation(db.session, token, PASSWORD, NOW + timedelta(days=8)) is None


def test_a_new_link_revokes_the_earlier_one(app, people, robin):
    first = create_invitation(db.session, robin, people.alice, NOW, days=7)
    second = create_invitation(db.session, robin, people.alice, NOW, days=7)
    db.session.commit()
    assert open_invitation(db.session, first, NOW) is None
    assert open_invitation(db.session, second, NOW) is not None


def test_only_the_hash_of_an_invitation_token_is_stored(app, people, robin):
    token = create_invitation(db.session, robin, people.alice, NOW, days=7)
    db.session.commit()
    stored = db.session.scalars(select(Invitation.token_hash)).all()
    assert token not in stored
    assert all(len(digest) == 64 for digest in stored)


def test_no_invitation_is_made_for_an_account_already_active(app, people):
    with pytest.raises(AccountActive):
        create_invitation(db.session, people.pat, people.alice, NOW, days=7)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Invitation).where(Invitation.used_at.is_(None))) == 0


def test_an_open_invitation_never_touches_the_account_once_it_is_active(app, client, auth, people, robin):
    """Robin's link is still open when she becomes active another way (here: a link to set a password): the
    invitation then opens nothing, and accepting it changes neither her password nor her sessions."""
    token = create_invitation(db.session, robin, people.alice, NOW, days=7)
    robin.activated_at, robin.password_hash = NOW, hash_password(PASSWORD)
    db.session.commit()
    auth.login(robin)
    assert client.get("/home").status_code == 200
    assert open_invitation(db.session, token, NOW) is None
    assert accept_invitation(db.session, token, "a brand new passphrase for robin", NOW) is None
    db.session.commit()
    assert password_matches(db.session.get(User, robin.id).password_hash, PASSWORD)
    assert client.get("/home").status_code == 200  # still signed in
    assert app.test_client().get(f"/invite/{token}").status_code == 404


def test_enrolment_form_errors_name_each_field_and_write_nothing(auth, client, people):
    auth.login(people.alice)
    before = db.session.scalar(select(func.count()).select_from(User))
    form = {"name": "", "email": "not-an-address", "timezone": "Mars/Olympus_Mons", "substances": ["glue"]}
    response = auth.post("/clinician/patients/new", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for field in ("name", "email", "timezone", "substances"):
        assert f'id="{field}-error"' in page
    assert "Choose a time zone from the list" in page
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_enrolling_an_address_in_use_is_refused_alike_whoever_uses_it(auth, client, people):
    """Alice's own patient, Charlie's patient, a colleague and a member of staff: one answer for all, which names
    no clinic, team or role (the address of another clinic's patient must not say so)."""
    auth.login(people.alice)
    pages = []
    for address in (people.pat.email, people.quinn.email, people.bob.email, people.ada.email.upper()):
        response = auth.post("/clinician/patients/new", {**ENROLMENT, "email": address, "indications": ["ptsd"]})
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert ADDRESS_UNAVAILABLE in page
        pages.append(re.sub(r'name="csrf_token" value="[^"]+"|value="[^"]*@[^"]*"', "", page))
    assert len(set(pages)) == 1


def test_api_enrolment_returns_id_and_invitation_url_whose_last_segment_is_the_token(client, people):
    headers = bearer(client, people.alice)
    response = client.post("/api/v1/patients", json={**ENROLMENT, "substances": ["opioids"]}, headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["care_team"] == [{"id": people.alice.id, "name": "Alice Adams"}]
    token = _link_token(body["invitation_url"])
    activated = client.post(f"/api/v1/invitations/{token}", json={"password": PASSWORD})
    assert activated.status_code == 200
    assert activated.get_json() == {"id": body["id"], "role": "patient"}
    me = client.get("/api/v1/me", headers=bearer(client, db.session.get(User, body["id"])))
    assert me.get_json()["timezone"] == "Asia/Kathmandu"


def test_api_activation_with_a_used_or_unknown_token_is_404(client, people):
    headers = bearer(client, people.alice)
    token = _link_token(client.post("/api/v1/patients", json=ENROLMENT, headers=headers).get_json()["invitation_url"])
    assert client.post(f"/api/v1/invitations/{token}", json={"password": PASSWORD}).status_code == 200
    assert client.post(f"/api/v1/invitations/{token}", json={"password": PASSWORD}).status_code == 404
    assert client.post("/api/v1/invitations/not-a-token", json={"password": PASSWORD}).status_code == 404


def test_api_enrolment_of_an_address_in_use_is_one_409_whoever_uses_it_and_writes_nothing(client, people):
    headers = bearer(client, people.alice)
    before = db.session.scalar(select(func.count()).select_from(Patient))
    answers = [
        client.post("/api/v1/patients", json={**ENROLMENT, "email": address}, headers=headers)
        for address in (people.pat.email, people.quinn.email, people.charlie.email)
    ]
    assert [answer.status_code for answer in answers] == [409, 409, 409]
    assert answers[0].get_json()["errors"]["json"]["email"] == [ADDRESS_UNAVAILABLE]
    assert answers[0].get_json() == answers[1].get_json() == answers[2].get_json()
    assert db.session.scalar(select(func.count()).select_from(Patient)) == before


def test_clinician_adds_a_colleague_to_the_care_team(auth, client, people):
    auth.login(people.alice)
    assert client.get(f"/clinician/patients/{people.pat.id}").status_code == 200
    auth.logout()
    auth.login(people.bob)
    assert client.get(f"/clinician/patients/{people.pat.id}").status_code == 404
    auth.logout()
    auth.login(people.alice)
    auth.post(f"/clinician/patients/{people.pat.id}/care-team", {"clinician_id": str(people.bob.id)})
    auth.logout()
    auth.login(people.bob)
    assert client.get(f"/clinician/patients/{people.pat.id}").status_code == 200
    members = db.session.scalars(select(CareTeamMember.clinician_id).where(CareTeamMember.patient_id == people.pat.id))
    assert sorted(members) == sorted([people.alice.id, people.bob.id])


def test_opening_a_patients_link_while_signed_in_as_staff_never_switches_accounts(app, client, auth, people, robin):
    token = create_invitation(db.session, robin, people.alice, utcnow(), days=7)
    db.session.commit()
    auth.login(people.alice)
    page = client.get(f"/invite/{token}")
    assert page.status_code == 409
    assert "This link is for someone else" in page.get_data(as_text=True)
    sneaky = auth.post(f"/invite/{token}", {"password": PASSWORD, "password_confirm": PASSWORD})
    assert sneaky.status_code == 409
    with client.session_transaction() as session:
        assert session["_user_id"].startswith(f"{people.alice.id}:")
    assert open_invitation(db.session, token, utcnow()) is not None  # unused, still valid for the patient
