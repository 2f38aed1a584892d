"""Signing in and out: sessions, lockout, rate limits, CSRF, idle expiry."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from journal.accounts import (
    SignInError,
    authenticate,
    clear_sign_in_failures,
    client_network,
    forget_old_sign_in_failures,
    record_sign_in_failure,
    sign_in_paused_until,
)
from journal.db import db
from journal.models import SignInFailure
from journal.security import sign_in_rules
from tests.conftest import NOW, PASSWORD, AuthActions, csrf_token

FORM_ERROR = re.compile(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', re.S)


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


# --- Pauses after failed sign-ins: per account and client address -------------------------------------------

HOME = "198.51.100.20"  # where Alice usually signs in
GUESSER = "203.0.113.66"  # someone guessing her password
PAUSED = "Too many attempts. Wait 1 minute and try again, or reset your password."


def login_from(client, address: str, email: str, password: str = PASSWORD):
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client).login(email, password)


def test_five_failures_from_one_address_pause_it_even_against_the_right_password(client, people):
    for _ in range(4):
        assert "Too many attempts" not in login_from(client, GUESSER, people.alice.email, "wrong guess").text
    fifth = login_from(client, GUESSER, people.alice.email, "wrong guess")
    assert fifth.status_code == 401
    assert f"The e-mail address or password is not right. {PAUSED}" in fifth.text
    right = login_from(client, GUESSER, people.alice.email)
    assert right.status_code == 401
    assert PAUSED in right.text


def test_the_owner_signs_in_from_a_second_address_during_a_pause(app, client, people):
    for _ in range(6):
        login_from(client, GUESSER, people.alice.email, "wrong guess")
    assert PAUSED in login_from(client, GUESSER, people.alice.email).text
    owner = app.test_client()
    response = login_from(owner, HOME, people.alice.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/clinician/dashboard"
    assert PAUSED in login_from(client, GUESSER, people.alice.email).text  # still paused where the guessing is


def test_an_unknown_address_is_paused_exactly_as_a_real_one(app, people):
    """Same statuses and messages, failure by failure, for the page and the API: "Too many attempts" says
    nothing about whether the address has an account."""
    page_answers, api_answers = [], []
    for email in (people.alice.email, "nobody@clinic.test"):
        client = app.test_client()
        answers = [login_from(client, GUESSER, email, "wrong guess") for _ in range(6)]
        answers.append(login_from(client, GUESSER, email))
        page_answers.append([(answer.status_code, FORM_ERROR.findall(answer.text)) for answer in answers])
        api = app.test_client()
        api.environ_base["REMOTE_ADDR"] = "192.0.2.44"
        tries = [api.post("/api/v1/auth/token", json={"email": email, "password": "wrong guess"}) for _ in range(6)]
        api_answers.append([(answer.status_code, answer.get_json()) for answer in tries])
    assert page_answers[0] == page_answers[1]
    assert api_answers[0] == api_answers[1]
    assert [status for status, _ in api_answers[0]] == [401] * 6
    assert PAUSED in api_answers[0][-1][1]["message"]
    assert PAUSED in page_answers[0][-1][1][0]


def test_a_complete_sign_in_forgets_the_failures_of_that_address(client, people):
    for _ in range(4):
        login_from(client, HOME, people.alice.email, "wrong guess")
    assert login_from(client, HOME, people.alice.email).status_code == 302
    AuthActions(client).logout()
    assert db.session.scalars(select(SignInFailure)).all() == []
    for _ in range(4):
        assert "Too many attempts" not in login_from(client, HOME, people.alice.email, "wrong guess").text


def test_pauses_double_from_one_minute_up_to_the_longest_setting(app, people):
    rules = sign_in_rules()  # 5 failures, then 1 minute doubling up to LOCKOUT_MINUTES (15)
    at = NOW
    pauses = []
    for attempt in range(10):
        with pytest.raises(SignInError) as refused:
            authenticate(db.session, people.alice.email, "wrong guess", at, client=GUESSER, rules=rules)
        assert refused.value.locked == (attempt >= 4)
        until = sign_in_paused_until(db.session, people.alice.email, GUESSER, at, rules)
        if until is not None:
            pauses.append((until - at).total_seconds() / 60)
            with pytest.raises(SignInError, match="Too many attempts"):  # the right password waits too
                authenticate(db.session, people.alice.email, PASSWORD, until - timedelta(seconds=1), client=GUESSER)
            at = until
    assert pauses == [1, 2, 4, 8, 15, 15]
    assert authenticate(db.session, people.alice.email, PASSWORD, at, client=GUESSER).id == people.alice.id


def test_a_count_with_no_failure_for_a_day_starts_again(app, people):
    for _ in range(4):
        record_sign_in_failure(db.session, people.alice.email, GUESSER, NOW)
    assert record_sign_in_failure(db.session, people.alice.email, GUESSER, NOW + timedelta(hours=1)) is not None
    later = NOW + timedelta(hours=26)
    assert record_sign_in_failure(db.session, people.alice.email, GUESSER, later) is None  # the first again
    assert forget_old_sign_in_failures(db.session, later + timedelta(hours=25)) == 2  # this address, and all


def test_the_scheduler_forgets_counts_with_no_failure_for_a_day(app, people):
    from journal.scheduled import JOBS

    (job,) = [job for name, job, _ in JOBS if name == "forget-sign-in-failures"]
    record_sign_in_failure(db.session, people.alice.email, GUESSER, NOW)
    job(NOW + timedelta(hours=23))
    assert len(db.session.scalars(select(SignInFailure)).all()) == 2  # this address's count, and the account's
    job(NOW + timedelta(hours=25))
    assert db.session.scalars(select(SignInFailure)).all() == []


def test_guessing_spread_over_many_addresses_pauses_every_address_until_a_reset(app, people):
    """Past LOCKOUT_ACCOUNT_CEILING failures from all addresses together even the owner's address waits (NIST SP
    800-63B's limit of 100); a completed password reset clears the account's counts and lets her in."""
    rules = replace(sign_in_rules(), account_ceiling=12)
    for guesser in range(4):  # three failures each: no single address is paused
        for _ in range(3):
            with pytest.raises(SignInError):
                authenticate(db.session, people.alice.email, "guess", NOW, client=f"203.0.113.{guesser}", rules=rules)
    with pytest.raises(SignInError, match=r"Too many attempts\. Wait 1 minute"):
        authenticate(db.session, people.alice.email, PASSWORD, NOW, client=HOME, rules=rules)
    clear_sign_in_failures(db.session, people.alice)  # what a completed password reset does
    db.session.commit()
    assert authenticate(db.session, people.alice.email, PASSWORD, NOW, client=HOME, rules=rules) == people.alice


def test_clients_are_counted_by_ipv4_address_or_ipv6_64_network():
    assert client_network("203.0.113.9") == "203.0.113.9"
    assert client_network("::ffff:203.0.113.9") == "203.0.113.9"
    assert client_network("2001:db8:1:2:aaaa::1") == client_network("2001:db8:1:2:bbbb::7") == "2001:db8:1:2::/64"
    assert client_network("2001:db8:1:3::1") != client_network("2001:db8:1:2::1")


def test_the_failure_counts_name_no_address_and_cannot_be_checked_without_the_key(app, client, people):
    login_from(client, GUESSER, people.alice.email, "wrong guess")
    keys = {key for row in db.session.scalars(select(SignInFailure)) for key in (row.account_key, row.client_key)}
    plain = {hashlib.sha256(value.encode()).hexdigest() for value in (people.alice.email, GUESSER)}
    assert keys.isdisjoint(plain)
    assert not any(people.alice.email in key or GUESSER in key for key in keys)


class TestBehindAProxy:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "PROXY_FIX": True}

    def test_the_client_counted_is_the_one_the_proxy_names(self, app, people):
        """With JOURNAL_PROXY_FIX the client is the address the proxy put in X-Forwarded-For."""
        guesser, owner = app.test_client(), app.test_client()
        guesser.environ_base["HTTP_X_FORWARDED_FOR"] = GUESSER
        owner.environ_base["HTTP_X_FORWARDED_FOR"] = HOME
        for _ in range(5):
            AuthActions(guesser).login(people.alice.email, "wrong guess")
        assert PAUSED in AuthActions(guesser).login(people.alice.email).text
        assert AuthActions(owner).login(people.alice.email).status_code == 302


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
