"""Signing in and out: sessions, lockout, rate limits, CSRF, idle expiry."""

from __future__ import annotations

import time

import pytest

from journal.db import db
from journal.models import User
from tests.conftest import PASSWORD, AuthActions, csrf_token


def test_patient_signs_in_and_lands_on_their_home(client, auth, people):
    response = auth.login(people.pat)
    assert response.status_code == 302
    assert response.headers["Location"] == "/home"
    assert "Pat" in client.get("/home").get_data(as_text=True)


def test_clinician_signs_in_and_lands_on_their_dashboard(auth, people):
    assert auth.login(people.alice).headers["Location"] == "/clinician/dashboard"


def test_admin_signs_in_and_lands_on_staff_accounts(auth, people):
    assert auth.login(people.ada).headers["Location"] == "/admin/staff"


def test_email_is_matched_without_regard_to_case_or_spaces(auth, people):
    assert auth.login("  ALICE@Clinic.Test ").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_message(auth, people):
    wrong = auth.login(people.alice, "not the password")
    unknown = auth.login("nobody@clinic.test", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    message = "The e-mail address or password is not right."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_empty_form_is_answered_with_field_errors_not_a_crash(client, people):
    response = client.post("/login", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert 'id="email-error"' in response.get_data(as_text=True)


def test_five_failures_lock_the_account_even_against_the_right_password(auth, people):
    for _ in range(5):
        assert auth.login(people.alice, "wrong guess").status_code == 401
    response = auth.login(people.alice)
    assert response.status_code == 401
    assert "try again in 15 minutes" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, people.alice.id).locked_until is not None


def test_a_success_resets_the_failure_count(auth, people):
    for _ in range(4):
        auth.login(people.alice, "wrong guess")
    assert auth.login(people.alice).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, people.alice.id).failed_logins == 0


def test_uninvited_patient_cannot_sign_in(auth, app, people):
    from journal.accounts import PatientDetails, enrol_patient
    from tests.conftest import NOW

    enrol_patient(db.session, people.alice, PatientDetails("New", "new@patient.test", "UTC", []), NOW, 7)
    db.session.commit()
    assert auth.login("new@patient.test", "").status_code == 400
    assert auth.login("new@patient.test", "anything at all").status_code == 401


def test_sign_in_replaces_the_session_so_a_planted_one_is_useless(client, auth, people):
    client.get("/login")
    with client.session_transaction() as planted:
        planted["planted"] = "by an attacker"
    auth.login(people.pat)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{people.pat.id}:")


def test_sign_out_makes_a_copied_session_cookie_worthless(app, client, auth, people):
    auth.login(people.pat)
    stolen = client.get_cookie("journal_session").value
    auth.logout()
    thief = app.test_client()
    thief.set_cookie("journal_session", stolen)
    response = thief.get("/home")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_forms_without_a_csrf_token_are_refused(client, auth, people):
    auth.login(people.alice)
    response = client.post("/clinician/patients/new", data={"name": "X", "email": "x@x.test", "timezone": "UTC"})
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_login_form_itself_needs_a_csrf_token(client, people):
    response = client.post("/login", data={"email": people.alice.email, "password": PASSWORD})
    assert response.status_code == 400


def test_next_parameter_only_redirects_within_the_site(client, people):
    token = csrf_token(client)
    form = {"email": people.alice.email, "password": PASSWORD, "csrf_token": token}
    response = client.post("/login", data={**form, "next": "https://evil.example/phish"})
    assert response.headers["Location"] == "/clinician/dashboard"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/help")})
    token = csrf_token(client)
    response = client.post("/login", data={**form, "csrf_token": token, "next": "/clinician/patients/new"})
    assert response.headers["Location"] == "/clinician/patients/new"


def test_clinician_session_ends_after_idle_minutes(client, auth, people):
    auth.login(people.alice)
    assert client.get("/clinician/patients").status_code == 200
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 31 * 60
    response = client.get("/clinician/patients")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_patient_session_survives_a_long_pause(client, auth, people):
    auth.login(people.pat)
    with client.session_transaction() as session:
        session["last_seen"] = time.time() - 3 * 24 * 3600
    assert client.get("/home").status_code == 200


def test_session_cookie_is_httponly_and_samesite(client, people):
    response = client.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; see the https variant below


class TestOverHttps:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "BASE_URL": "https://journal.example"}

    def test_session_cookie_is_secure_and_hsts_is_sent(self, client, people):
        response = client.get("/login", base_url="https://journal.example")
        assert "Secure" in response.headers["Set-Cookie"]
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


class TestRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}

    def test_sign_in_attempts_beyond_the_limit_get_429(self, client, people):
        auth = AuthActions(client)
        statuses = [auth.login("nobody@clinic.test", "wrong").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        assert "Too many attempts" in auth.login(people.alice).get_data(as_text=True)

    def test_token_endpoint_is_rate_limited_too(self, client, people):
        statuses = [
            client.post("/api/v1/auth/token", json={"email": "x@y.test", "password": "bad"}).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]


def test_an_admin_disables_a_staff_account_ending_its_sessions_and_can_enable_it_again(app, client, auth, people):
    """The staff page's button sends enabled=no or enabled=yes; anything else is refused (tests/test_bad_bodies)."""
    clinician = app.test_client()
    AuthActions(clinician).login(people.alice)
    auth.login(people.ada)
    path = f"/admin/staff/{people.alice.id}/access"

    assert (
        client.post(path, data={"enabled": "no", "csrf_token": csrf_token(client, "/admin/staff")}).status_code == 302
    )
    db.session.refresh(people.alice)
    assert people.alice.disabled_at is not None
    assert clinician.get("/clinician/dashboard").status_code == 302  # her open session ended
    assert AuthActions(clinician).login(people.alice).status_code != 302

    assert (
        client.post(path, data={"enabled": "yes", "csrf_token": csrf_token(client, "/admin/staff")}).status_code == 302
    )
    db.session.refresh(people.alice)
    assert people.alice.disabled_at is None
    assert AuthActions(clinician).login(people.alice).headers["Location"] == "/clinician/dashboard"
