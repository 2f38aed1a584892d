"""A forgotten password, by e-mail; a password changed by its owner; and links into an account that only its owner
ever sees. The e-mail goes through the outbox to a real SMTP server (aiosmtpd) in-process.

People: Pat is Alice's patient; Ada is the admin; Dana is a clinician Ada added who has not set a password yet.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from journal import device
from journal.accounts import (
    complete_password_reset,
    create_staff,
    open_password_reset,
    password_matches,
    request_password_reset,
)
from journal.db import db
from journal.models import AuditEvent, Invitation, OutboxMessage, OutboxStatus, PasswordReset, Role, User
from tests.conftest import NOW, PASSWORD, bearer, csrf_token
from tests.test_channels import Mailbox, body, start_smtp
from tests.test_messages import FORBIDDEN, _says

NEW_PASSWORD = "marble orchard telescope"
RESET_LINK = re.compile(r"http://journal\.test/password-reset/[A-Za-z0-9_-]{40,}")


@pytest.fixture
def mailbox():
    mailbox = Mailbox()
    mailbox.controller = start_smtp(mailbox)
    yield mailbox
    mailbox.controller.stop()


@pytest.fixture
def app_config(app_config, mailbox):
    return {
        **app_config,
        "SMTP_URL": f"smtp://127.0.0.1:{mailbox.controller.port}",
        "MAIL_FROM": "Journal <no-reply@journal.test>",
    }


@pytest.fixture
def people(people):
    """Nothing queued yet: the e-mails of the fixture's own invitations are gone."""
    db.session.query(OutboxMessage).delete()
    people.dana = create_staff(
        db.session, people.clinic.id, email="dana@clinic.test", name="Dana Dunn", role=Role.CLINICIAN,
        timezone="America/New_York", now=NOW,
    )  # fmt: skip
    db.session.commit()
    return people


def run_scheduler(app, now: datetime | None = None) -> None:
    result = app.test_cli_runner().invoke(args=["jobs", "run-once", "--now", (now or datetime.now(UTC)).isoformat()])
    assert result.exit_code == 0, result.output


def mails_to(mailbox, address: str, subject: str = "Set a new password") -> list[email.message.EmailMessage]:
    """What arrived for ``address`` with this subject (the scheduler's run sends its other messages too)."""
    messages = [email.message_from_bytes(e.content, policy=email.policy.default) for e, _ in mailbox.received]
    return [m for m in messages if m["To"] == address and m["Subject"] == subject]


def outbox_rows() -> list[tuple]:
    """Every column of every outbox row, as stored."""
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("SELECT * FROM outbox_message"))]


def ask_for_reset_by_page(client, address: str):
    page = "/password-reset"
    return client.post(page, data={"email": address, "csrf_token": csrf_token(client, page)})


def set_password_by_page(client, path: str, password: str = NEW_PASSWORD):
    form = {"password": password, "password_confirm": password, "csrf_token": csrf_token(client, path)}
    return client.post(path, data=form)


def sign_in_works(app, user: User, password: str) -> bool:
    response = app.test_client().post("/api/v1/auth/token", json={"email": user.email, "password": password})
    return response.status_code == 200


def audit_actions(**where) -> list[tuple]:
    db.session.expire_all()
    query = select(AuditEvent.actor_id, AuditEvent.action, AuditEvent.patient_id, AuditEvent.detail)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return [tuple(row) for row in db.session.execute(query.order_by(AuditEvent.id))]


# --- The whole flow ------------------------------------------------------------------------------------------


def test_forgotten_password_by_email_link_new_password_and_signed_in(app, client, mailbox, people):
    assert 'href="/password-reset"' in client.get("/login").get_data(as_text=True)  # "Forgot your password?"
    answer = ask_for_reset_by_page(client, people.pat.email)
    assert answer.status_code == 200
    assert "If an account uses this e-mail address" in answer.get_data(as_text=True)
    queued = outbox_rows()
    (row,) = db.session.scalars(select(OutboxMessage)).all()
    assert (row.template, row.address, row.link_path) == ("password_reset", people.pat.email, "/password-reset")
    assert row.sealed_link is not None

    run_scheduler(app)
    (message,) = mails_to(mailbox, people.pat.email)
    assert message["Subject"] == "Set a new password"
    text_ = body(message)
    assert [word for word in FORBIDDEN if _says(word, message["Subject"]) or _says(word, text_)] == []  # PRIV-R1
    (link,) = RESET_LINK.findall(text_)
    token = link.rsplit("/", 1)[1]
    assert all(token not in repr(column) for row in queued for column in row), "the token sat in the outbox"
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).status == OutboxStatus.SENT
    assert db.session.get(OutboxMessage, row.id).sealed_link is None  # dropped once sent

    phone = app.test_client()
    path = link.removeprefix("http://journal.test")
    assert "Set a new password" in phone.get(path).get_data(as_text=True)
    done = set_password_by_page(phone, path)
    assert done.status_code == 302 and done.headers["Location"] == "/home"
    assert "Hello, Pat" in phone.get("/home").get_data(as_text=True)
    assert sign_in_works(app, people.pat, NEW_PASSWORD)
    assert not sign_in_works(app, people.pat, PASSWORD)

    # Used once: the page and the API refuse it, and nothing changes.
    assert app.test_client().get(path).status_code == 404
    again = app.test_client().post(f"/api/v1/auth/password-reset/{token}", json={"password": "another long passphrase"})
    assert again.status_code == 404
    assert sign_in_works(app, people.pat, NEW_PASSWORD)
    assert [action for _, action, _, _ in audit_actions(patient_id=people.pat.id)] == [
        "password_reset.request",
        "password_reset.complete",
    ]


def test_reset_by_the_api_answers_202_then_204_and_revokes_every_token(app, client, mailbox, people):
    old = bearer(client, people.pat)
    answer = client.post("/api/v1/auth/password-reset", json={"email": people.pat.email.upper()})
    assert answer.status_code == 202
    run_scheduler(app)
    (link,) = RESET_LINK.findall(body(mails_to(mailbox, people.pat.email)[0]))
    token = link.rsplit("/", 1)[1]
    assert client.post(f"/api/v1/auth/password-reset/{token}", json={"password": NEW_PASSWORD}).status_code == 204
    assert client.get("/api/v1/me", headers=old).status_code == 401
    assert sign_in_works(app, people.pat, NEW_PASSWORD)


def test_an_unknown_address_gets_the_identical_answer_and_nothing_is_queued(app, client, mailbox, people):
    known = client.post("/api/v1/auth/password-reset", json={"email": people.pat.email})
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    unknown = client.post("/api/v1/auth/password-reset", json={"email": "nobody@patient.test"})
    assert (unknown.status_code, unknown.get_json()) == (known.status_code, known.get_json()) == (202, known.get_json())
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 1

    pages = [ask_for_reset_by_page(app.test_client(), address) for address in (people.pat.email, "nobody@x.test")]
    assert [page.status_code for page in pages] == [200, 200]
    assert pages[0].get_data() == pages[1].get_data()
    run_scheduler(app)
    resets = [email.message_from_bytes(e.content) for e, _ in mailbox.received]
    assert [m["To"] for m in resets if m["Subject"] == "Set a new password"] == [people.pat.email] * 2


def test_a_disabled_account_gets_no_email(app, client, people):
    people.bob.disabled_at = NOW
    db.session.commit()
    assert client.post("/api/v1/auth/password-reset", json={"email": people.bob.email}).status_code == 202
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


# --- The link: single use, 60 minutes, the newest only -----------------------------------------------------------


def test_a_reset_link_works_for_60_minutes(app, people):
    _, token = request_password_reset(db.session, people.pat.email, NOW, minutes=60)
    db.session.commit()
    assert open_password_reset(db.session, token, NOW + timedelta(minutes=59, seconds=59)) is not None
    assert open_password_reset(db.session, token, NOW + timedelta(minutes=60)) is None
    assert complete_password_reset(db.session, token, NEW_PASSWORD, NOW + timedelta(minutes=61)) is None
    db.session.commit()
    assert password_matches(db.session.get(User, people.pat.id).password_hash, PASSWORD)  # nothing changed


def test_the_setting_gives_the_links_lifetime(app, client, people):
    app.config["PASSWORD_RESET_MINUTES"] = 15
    client.post("/api/v1/auth/password-reset", json={"email": people.pat.email})
    reset = db.session.scalars(select(PasswordReset)).one()
    assert reset.expires_at - reset.created_at == timedelta(minutes=15)


def test_a_newer_request_revokes_the_older_link(app, client, people):
    now = datetime.now(UTC)
    _, first = request_password_reset(db.session, people.pat.email, now - timedelta(minutes=2), minutes=60)
    _, second = request_password_reset(db.session, people.pat.email, now - timedelta(minutes=1), minutes=60)
    db.session.commit()
    assert open_password_reset(db.session, first, now) is None
    assert client.get(f"/password-reset/{first}").status_code == 404
    assert client.get(f"/password-reset/{second}").status_code == 200


def test_only_the_hash_of_a_reset_token_is_stored(app, people):
    _, token = request_password_reset(db.session, people.pat.email, NOW, minutes=60)
    db.session.commit()
    with db.engine.connect() as connection:
        stored = [tuple(row) for row in connection.execute(text("SELECT * FROM password_reset"))]
    assert all(token not in repr(column) for row in stored for column in row)


def test_a_weak_password_is_refused_and_the_link_still_works(app, client, people):
    _, token = request_password_reset(db.session, people.pat.email, datetime.now(UTC), minutes=60)
    db.session.commit()
    weak = client.post(f"/api/v1/auth/password-reset/{token}", json={"password": "pat patient 1234"})
    assert weak.status_code == 422
    assert list(weak.get_json()["errors"]["json"]) == ["password"]
    page = set_password_by_page(client, f"/password-reset/{token}", "password1234")
    assert page.status_code == 400 and 'id="password-error"' in page.get_data(as_text=True)
    assert sign_in_works(app, people.pat, PASSWORD)
    assert client.post(f"/api/v1/auth/password-reset/{token}", json={"password": NEW_PASSWORD}).status_code == 204


def test_an_invalid_link_is_a_clear_page_and_a_404_in_json(client, people):
    page = client.get("/password-reset/not-a-real-token")
    assert page.status_code == 404 and "This link is not valid" in page.get_data(as_text=True)
    answer = client.post("/api/v1/auth/password-reset/not-a-real-token", json={"password": NEW_PASSWORD})
    assert answer.status_code == 404 and answer.get_json()["code"] == 404


def test_a_reset_lifts_the_pause_that_guessing_caused(app, client, people):
    for _ in range(app.config["LOCKOUT_THRESHOLD"]):
        client.post("/api/v1/auth/token", json={"email": people.pat.email, "password": "wrong guess here"})
    assert not sign_in_works(app, people.pat, PASSWORD)  # paused, even to the right password
    _, token = request_password_reset(db.session, people.pat.email, datetime.now(UTC), minutes=60)
    db.session.commit()
    assert client.post(f"/api/v1/auth/password-reset/{token}", json={"password": NEW_PASSWORD}).status_code == 204
    assert sign_in_works(app, people.pat, NEW_PASSWORD)


def test_a_reset_activates_an_account_never_activated_and_closes_its_invitation(app, client, people, mailbox):
    assert client.post("/api/v1/auth/password-reset", json={"email": people.dana.email}).status_code == 202
    run_scheduler(app)
    (link,) = RESET_LINK.findall(body(mails_to(mailbox, people.dana.email)[0]))
    phone = app.test_client()
    done = set_password_by_page(phone, link.removeprefix("http://journal.test"))
    assert done.status_code == 302 and done.headers["Location"] == "/clinician/dashboard"
    db.session.expire_all()
    assert db.session.get(User, people.dana.id).activated_at is not None


# --- Nobody else gets a link into an active account ---------------------------------------------------------------


def test_an_admin_asking_for_a_link_to_an_active_clinician_sends_her_a_reset_email(app, auth, client, mailbox, people):
    auth.login(people.ada)
    response = auth.post(f"/admin/staff/{people.alice.id}/invitation", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "A link to set a new password was sent to the account&#39;s e-mail address." in page
    assert "/invite/" not in page and "/password-reset/" not in page
    assert (
        db.session.scalar(select(func.count()).select_from(Invitation).where(Invitation.user_id == people.alice.id))
        == 0
    )
    assert audit_actions(action="password_reset.send") == [
        (people.ada.id, "password_reset.send", None, f"user {people.alice.id}")
    ]
    run_scheduler(app)
    (message,) = mails_to(mailbox, people.alice.email)  # only Alice holds the link
    assert RESET_LINK.search(body(message))
    assert sign_in_works(app, people.alice, PASSWORD)  # nothing changed until Alice uses it


def test_a_clinician_asking_for_a_link_to_an_active_patient_sends_her_a_reset_email(app, auth, client, people):
    auth.login(people.alice)
    response = auth.post(f"/clinician/patients/{people.pat.id}/invitation", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "A link to set a new password was sent to the account&#39;s e-mail address." in page
    assert "/invite/" not in page and "/password-reset/" not in page
    (message,) = db.session.scalars(select(OutboxMessage)).all()
    assert (message.template, message.recipient_id) == ("password_reset", people.pat.id)
    assert audit_actions(action="password_reset.send") == [(people.alice.id, "password_reset.send", people.pat.id, "")]


def test_a_link_for_an_account_never_activated_is_shown_once_in_the_answer_and_audited(app, auth, client, people):
    auth.login(people.ada)
    response = auth.post(f"/admin/staff/{people.dana.id}/invitation")
    assert response.status_code == 200
    (url,) = re.findall(r'id="invitation-url" class="copy" readonly value="([^"]+)"', response.get_data(as_text=True))
    assert url.startswith("http://journal.test/invite/")
    assert url not in client.get("/admin/staff").get_data(as_text=True)
    assert audit_actions(action="invitation.create") == [
        (people.ada.id, "invitation.create", None, f"user {people.dana.id}")
    ]


def test_an_old_invitation_link_cannot_be_used_once_the_account_is_active(app, client, people):
    """Even a link made while the account was new: an invitation only activates."""
    auth_client = app.test_client()
    response = auth_client.post(
        "/api/v1/patients",
        json={"name": "Robin Reed", "email": "robin@patient.test", "timezone": "UTC"},
        headers=bearer(auth_client, people.alice),
    )
    token = response.get_json()["invitation_url"].rsplit("/", 1)[1]
    robin = db.session.get(User, response.get_json()["id"])
    _, reset = request_password_reset(db.session, robin.email, datetime.now(UTC), minutes=60)
    db.session.commit()
    assert client.post(f"/api/v1/auth/password-reset/{reset}", json={"password": NEW_PASSWORD}).status_code == 204
    assert client.post(f"/api/v1/invitations/{token}", json={"password": "a clinicians own choice"}).status_code == 404
    assert sign_in_works(app, robin, NEW_PASSWORD)


def test_enrolling_an_active_patients_address_by_api_gives_no_link(client, people):
    response = client.post(
        "/api/v1/patients",
        json={"name": "Pat Again", "email": people.pat.email, "timezone": "UTC"},
        headers=bearer(client, people.alice),
    )
    assert response.status_code == 409
    assert "invitation_url" not in response.get_json()


# --- Secrets out of storage and cookies --------------------------------------------------------------------------


def session_contents(app, client) -> str:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return ""
    return repr(app.session_interface.get_signing_serializer(app).loads(cookie.value))


def test_an_invitation_link_is_in_no_column_and_no_cookie_until_the_email_carries_it(
    app, auth, client, mailbox, people
):
    auth.login(people.alice)
    form = {"name": "Robin Reed", "email": "robin@patient.test", "timezone": "UTC", "substances": ["alcohol"]}
    form["indications"] = ["alcohol"]  # the enrolment form asks for at least one
    response = auth.post("/clinician/patients/new", form)
    assert response.status_code == 200
    (url,) = re.findall(r'id="invitation-url" class="copy" readonly value="([^"]+)"', response.get_data(as_text=True))
    token = url.rsplit("/", 1)[1]
    assert token not in session_contents(app, client)
    client.get("/clinician/patients")  # the next page: nothing was put aside for it either
    assert token not in session_contents(app, client)
    assert all(token not in repr(column) for row in outbox_rows() for column in row)
    (row,) = db.session.scalars(select(OutboxMessage)).all()
    assert (row.link_path, row.sealed_link is not None) == ("/invite", True)

    run_scheduler(app)
    (message,) = mails_to(mailbox, "robin@patient.test", "Your account is ready to set up")
    assert url in body(message)
    db.session.expire_all()
    assert db.session.get(OutboxMessage, row.id).sealed_link is None
    assert app.test_client().get(url.removeprefix("http://journal.test")).status_code == 200  # the link works


def test_a_sealed_link_is_dropped_when_the_message_fails_for_good_or_expires(app, people, mailbox):
    mailbox.refusals["pat@patient.test"] = "550 no such user"
    request_password_reset(db.session, people.pat.email, NOW, minutes=60)
    request_password_reset(db.session, people.alice.email, NOW, minutes=60)
    db.session.commit()
    run_scheduler(app, NOW + timedelta(minutes=61))  # the links have expired: not sent, and dropped
    db.session.expire_all()
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "password_reset")).all()
    assert [(m.status, m.sealed_link) for m in rows] == [(OutboxStatus.EXPIRED, None)] * 2
    request_password_reset(db.session, people.pat.email, NOW + timedelta(minutes=62), minutes=60)
    db.session.commit()
    run_scheduler(app, NOW + timedelta(minutes=62))
    db.session.expire_all()
    failed = db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)).one()
    assert failed.sealed_link is None and "550" in failed.last_error


# --- Changing a password -------------------------------------------------------------------------------------------


def test_changing_the_password_on_the_settings_page_keeps_this_browser_signed_in(app, auth, client, people):
    auth.login(people.alice)
    token = bearer(app.test_client(), people.alice)
    assert 'href="/settings/password"' in client.get("/clinician/dashboard").get_data(as_text=True)
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    response = auth.post("/settings/password", form)
    assert response.status_code == 302 and response.headers["Location"] == "/settings/password"
    assert "Your password is changed" in client.get("/settings/password").get_data(as_text=True)
    assert client.get("/clinician/dashboard").status_code == 200
    assert client.get_cookie(device.PERSON_COOKIE) is not None
    assert app.test_client().get("/api/v1/me", headers=token).status_code == 401
    assert sign_in_works(app, people.alice, NEW_PASSWORD)
    assert audit_actions(action="password.change") == [
        (people.alice.id, "password.change", None, f"user {people.alice.id}")
    ]


def test_a_wrong_current_password_is_named_and_changes_nothing(app, auth, client, people):
    auth.login(people.pat)
    form = {"current_password": "not my password", "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    page = auth.post("/settings/password", form)
    assert page.status_code == 400
    assert 'id="current_password-error"' in page.get_data(as_text=True)
    answer = app.test_client().put(
        "/api/v1/me/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=bearer(app.test_client(), people.pat),
    )
    assert answer.status_code == 422
    assert list(answer.get_json()["errors"]["json"]) == ["current_password"]
    assert sign_in_works(app, people.pat, PASSWORD)


def test_changing_the_password_by_the_api_is_204_and_revokes_the_token_it_was_sent_with(app, client, people):
    headers = bearer(client, people.pat)
    response = client.put(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=headers
    )
    assert response.status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert sign_in_works(app, people.pat, NEW_PASSWORD)
