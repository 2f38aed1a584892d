"""The audit trail of account actions is complete: every action on an account, by page, API or command, writes one
row naming who did it and which account (a patient's in ``patient_id``, anyone else's as ``user <id>`` in the
detail), and the admins' audit page shows it in full."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from journal import audit
from journal.accounts import request_password_reset
from journal.db import db, utcnow
from journal.models import AuditEvent, User
from tests.conftest import PASSWORD, bearer, csrf_token, make_staff

NEW_PASSWORD = "a different long passphrase 7"


def _rows(action: str) -> list[tuple[int | None, int | None]]:
    """(actor, account) of every row of ``action``, the account as admins see it named."""
    db.session.expire_all()
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    return [(event.actor_id, audit.for_admins(event).account_id) for event in events]


def _post_form(client, path: str, form_path: str, data: dict | None = None):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, form_path)})


def _seen_by_admins(client, auth, people, action: str, *shown: str) -> None:
    auth.logout()
    auth.login(people.ada)
    page = client.get(f"/admin/audit?action={action}").get_data(as_text=True)
    assert "0 events;" not in page, action
    for text in shown:
        assert text in page, text


def test_staff_created_on_the_admin_page_names_the_admin_and_the_account(client, auth, people):
    auth.login(people.ada)
    form = {"name": "Dee Nurse", "email": "dee@clinic.test", "role": "clinician", "timezone": "America/New_York"}
    assert _post_form(client, "/admin/staff/new", "/admin/staff/new", form).status_code == 200
    dee = db.session.scalar(select(User).where(User.email == "dee@clinic.test"))

    assert _rows("staff.create") == [(people.ada.id, dee.id)]
    assert _rows("invitation.create") == [(people.ada.id, dee.id)]  # and the link it made
    _seen_by_admins(client, auth, people, "staff.create", "ada@clinic.test", "dee@clinic.test")


def test_staff_created_by_the_command_names_the_account_and_the_command(app, people):
    result = app.test_cli_runner().invoke(
        args=["create-user", "--email", "eli@clinic.test", "--name", "Eli Admin", "--password", NEW_PASSWORD]
    )
    assert result.exit_code == 0, result.output
    eli = db.session.scalar(select(User).where(User.email == "eli@clinic.test"))

    assert _rows("staff.create") == [(None, eli.id)]
    assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "staff.create")) == (
        f"user {eli.id}; by flask create-user"
    )


def test_disabling_and_enabling_a_staff_account_name_the_admin_and_the_account(client, auth, people):
    auth.login(people.ada)
    for enabled in ("no", "yes"):
        response = _post_form(client, f"/admin/staff/{people.bob.id}/access", "/admin/staff", {"enabled": enabled})
        assert response.status_code == 302

    assert _rows("staff.disable") == [(people.ada.id, people.bob.id)]
    assert _rows("staff.enable") == [(people.ada.id, people.bob.id)]
    _seen_by_admins(client, auth, people, "staff.", "staff.disable", "staff.enable", "bob@clinic.test")


def test_a_new_link_for_a_staff_member_never_activated_names_the_admin_and_the_account(client, auth, people):
    dee = make_staff(people.clinic, "dee", "Dee Nurse")
    dee.activated_at, dee.password_hash = None, None
    db.session.commit()
    auth.login(people.ada)

    assert _post_form(client, f"/admin/staff/{dee.id}/invitation", "/admin/staff").status_code == 200

    assert _rows("invitation.create") == [(people.ada.id, dee.id)]


def test_a_reset_email_sent_for_an_active_staff_member_names_the_admin_and_the_account(client, auth, people):
    auth.login(people.ada)

    assert _post_form(client, f"/admin/staff/{people.bob.id}/invitation", "/admin/staff").status_code == 302

    assert _rows("password_reset.send") == [(people.ada.id, people.bob.id)]


def test_a_reset_email_sent_for_an_active_patient_names_the_clinician_and_the_patient(client, auth, people):
    auth.login(people.alice)
    path = f"/clinician/patients/{people.pat.id}"

    assert _post_form(client, f"{path}/invitation", path).status_code == 302

    assert _rows("password_reset.send") == [(people.alice.id, people.pat.id)]


def test_a_reset_requested_and_completed_name_the_account(client, people):
    assert client.post("/api/v1/auth/password-reset", json={"email": people.bob.email}).status_code == 202
    _, token = request_password_reset(db.session, people.bob.email, utcnow(), minutes=60)
    db.session.commit()
    response = client.post(f"/api/v1/auth/password-reset/{token}", json={"password": NEW_PASSWORD})
    assert response.status_code == 204

    assert _rows("password_reset.request") == [(people.bob.id, people.bob.id)]
    assert _rows("password_reset.complete") == [(people.bob.id, people.bob.id)]


def test_a_password_change_names_the_account(client, people):
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    response = client.put("/api/v1/me/password", json=body, headers=bearer(client, people.bob))
    assert response.status_code == 204

    assert _rows("password.change") == [(people.bob.id, people.bob.id)]


def test_mfa_enrolled_and_reset_name_who_and_whose(client, auth, people):
    headers = bearer(client, people.bob)
    secret = client.post("/api/v1/me/mfa", json={}, headers=headers).get_json()["secret"]
    confirmed = client.post("/api/v1/me/mfa/confirm", json={"otp": pyotp.TOTP(secret).now()}, headers=headers)
    assert confirmed.status_code == 200
    auth.login(people.ada)
    assert _post_form(client, f"/admin/staff/{people.bob.id}/mfa-reset", "/admin/staff").status_code == 302

    assert _rows("mfa.enrol") == [(people.bob.id, people.bob.id)]
    assert _rows("mfa.reset") == [(people.ada.id, people.bob.id)]
    _seen_by_admins(client, auth, people, "mfa.", "mfa.enrol", "mfa.reset", "bob@clinic.test")


def test_account_actions_on_a_patients_account_are_not_hidden_as_patient_data(people):
    """Account actions on a patient's account name the patient to admins: they are about the account."""
    event = AuditEvent(
        occurred_at=utcnow(), actor_id=people.alice.id, action="invitation.create", patient_id=people.pat.id
    )
    assert audit.for_admins(event).account_id == people.pat.id
    assert audit.for_admins(event).action == "invitation.create"
    read = AuditEvent(occurred_at=utcnow(), actor_id=people.alice.id, action="patient.read", patient_id=people.pat.id)
    assert audit.for_admins(read).account_id is None and audit.for_admins(read).action == audit.PATIENT_READ
