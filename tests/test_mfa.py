"""Two-step sign-in for staff (TOTP, RFC 6238): enrolment, the code after the password, recovery codes, replay,
an admin's reset, the clinic's requirement, and the API.

The domain functions take ``now``, so their tests pass instants and compute each code with pyotp at that
instant. The pages and the API read the clock: there, codes are computed for the real time, and a second one
for the next 30-second step, which the one-step window accepts (a code cannot be used twice).

Alice is a clinician, Ada the admin, Pat a patient (tests/conftest.py).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from journal import mfa
from journal.config import load_config
from journal.db import db, utcnow
from journal.models import AuditEvent, Clinic, MfaRecoveryCode, SignInFailure, User
from journal.sealing import unseal
from tests.conftest import NOW, PASSWORD, bearer, csrf_token

STEP = timedelta(seconds=30)
SECRET_FIELD = re.compile(r'id="secret" class="copy" type="text" readonly value="([A-Z2-7 ]+)"')
RECOVERY_CODE = re.compile(r"<li>([a-z2-9]{5}-[a-z2-9]{5})</li>")


def code(secret: str, at=None) -> str:
    return pyotp.TOTP(secret).at(at or utcnow())


def next_step(secret: str) -> str:
    """The code of the next 30-second step: accepted now (one step either side), and later than the last."""
    return code(secret, utcnow() + STEP)


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def audit_events(action: str) -> list[tuple[int | None, str]]:
    return db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id)
    ).all()


def enrolled(user: User, at=NOW) -> tuple[str, list[str]]:
    """``user`` with two-step sign-in on, set up at ``at`` through the domain; their secret and recovery codes."""
    secret = mfa.new_secret()
    codes = mfa.confirm_enrolment(db.session, user, secret, code(secret, at), at)
    db.session.commit()
    return secret, codes


def enrol_on_the_web(client, auth, user) -> tuple[str, list[str]]:
    """Sign in, open the set-up page, read the key shown for typing in, confirm with its code now."""
    assert auth.login(user).status_code == 302
    page = client.get("/settings/mfa").get_data(as_text=True)
    secret = SECRET_FIELD.search(page).group(1).replace(" ", "")
    response = auth.post("/settings/mfa", {"otp": code(secret)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return secret, RECOVERY_CODE.findall(response.get_data(as_text=True))


def second_step(auth, otp: str):
    """Post the code as the page does (the CSRF token of this half-signed-in session is on the sign-in page)."""
    token = csrf_token(auth.client, "/login")
    return auth.client.post("/login/verify", data={"otp": otp, "csrf_token": token})


# --- Enrolment and codes, at explicit instants --------------------------------------------------------------


def test_a_first_right_code_turns_it_on_and_gives_ten_recovery_codes_kept_only_as_keyed_hashes(app, people):
    secret, codes = enrolled(people.alice, NOW)
    alice = fresh(people.alice)
    assert alice.mfa_enabled_at == NOW
    assert secret not in alice.mfa_secret  # sealed, not in clear
    assert unseal(alice.mfa_secret, "mfa-secret") == secret
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    stored = db.session.scalars(select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.user_id == alice.id)).all()
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored)
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in stored)


def test_a_wrong_code_does_not_turn_it_on(app, people):
    secret = mfa.new_secret()
    wrong = code(secret, NOW + 5 * STEP)
    with pytest.raises(mfa.MfaError) as refused:
        mfa.confirm_enrolment(db.session, people.alice, secret, wrong, NOW)
    assert refused.value.reason == "otp_invalid"
    db.session.rollback()
    assert fresh(people.alice).mfa_enabled_at is None
    assert db.session.scalar(select(MfaRecoveryCode.id)) is None


def test_codes_one_step_either_side_are_accepted_and_two_steps_away_are_not(app, people):
    secret, _ = enrolled(people.alice, NOW - 10 * STEP)

    def accepted(at) -> bool:
        try:
            mfa.verify_second_factor(db.session, people.alice, code(secret, at), NOW, client="192.0.2.1")
        except mfa.MfaError:
            return False
        db.session.commit()
        return True

    assert not accepted(NOW - 2 * STEP)
    assert not accepted(NOW + 2 * STEP)
    assert accepted(NOW - STEP)
    assert accepted(NOW)
    assert accepted(NOW + STEP)


def test_a_code_cannot_be_used_twice_nor_an_earlier_one_after_it(app, people):
    secret, _ = enrolled(people.alice, NOW - 10 * STEP)
    assert mfa.verify_second_factor(db.session, people.alice, code(secret, NOW), NOW, client="192.0.2.1") == "totp"
    db.session.commit()
    for otp in (code(secret, NOW), code(secret, NOW - STEP)):
        with pytest.raises(mfa.MfaError) as refused:
            mfa.verify_second_factor(db.session, people.alice, otp, NOW + timedelta(seconds=10), client="192.0.2.2")
        assert refused.value.reason == "otp_invalid"
    assert (
        mfa.verify_second_factor(db.session, people.alice, code(secret, NOW + STEP), NOW + STEP, client="x") == "totp"
    )


def test_the_code_that_confirmed_enrolment_cannot_sign_in(app, people):
    secret, _ = enrolled(people.alice, NOW)
    with pytest.raises(mfa.MfaError):
        mfa.verify_second_factor(db.session, people.alice, code(secret, NOW), NOW, client="192.0.2.1")


def test_a_recovery_code_works_once_in_any_case_and_spacing(app, people):
    _, codes = enrolled(people.alice, NOW)
    typed = codes[3].upper().replace("-", " ")
    assert mfa.verify_second_factor(db.session, people.alice, typed, NOW, client="192.0.2.1") == "recovery"
    db.session.commit()
    assert mfa.recovery_codes_left(db.session, people.alice) == 9
    with pytest.raises(mfa.MfaError):
        mfa.verify_second_factor(db.session, people.alice, codes[3], NOW + STEP, client="192.0.2.1")
    assert mfa.verify_second_factor(db.session, people.alice, codes[4], NOW + STEP, client="192.0.2.1") == "recovery"


def test_wrong_codes_pause_the_second_step_from_any_address_even_for_a_right_code(app, people):
    secret, _ = enrolled(people.alice, NOW - 10 * STEP)
    for attempt in range(mfa.MAX_WRONG_CODES):
        with pytest.raises(mfa.MfaError):
            mfa.verify_second_factor(db.session, people.alice, "000000", NOW, client=f"198.51.100.{attempt}")
    with pytest.raises(mfa.MfaError) as paused:
        mfa.verify_second_factor(db.session, people.alice, code(secret, NOW), NOW, client="203.0.113.9")
    assert paused.value.locked
    assert "15 minutes" in paused.value.message
    later = NOW + timedelta(minutes=mfa.PAUSE_MINUTES, seconds=1)
    assert mfa.verify_second_factor(db.session, people.alice, code(secret, later), later, client="203.0.113.9")


def test_the_qr_code_is_an_svg_drawn_here_for_the_otpauth_uri(app, people):
    uri = mfa.provisioning_uri(people.alice, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    assert uri.startswith("otpauth://totp/Journal:alice%40clinic.test?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    svg = mfa.qr_svg(uri)
    assert svg.startswith('<svg role="img" aria-label="QR code to scan with an authenticator app"')
    assert "http" not in svg and "href" not in svg  # nothing fetched from anywhere


# --- Enrolment on the web ---------------------------------------------------------------------------------


def test_a_clinician_enrols_on_the_settings_page_and_sees_the_recovery_codes_only_once(client, auth, people):
    secret, codes = enrol_on_the_web(client, auth, people.alice)
    assert len(codes) == 10
    assert fresh(people.alice).mfa_enabled_at is not None
    assert [actor for actor, _ in audit_events("mfa.enrol")] == [people.alice.id]
    again = client.get("/settings/mfa").get_data(as_text=True)
    assert "Two-step sign-in is on" in again and "10 unused recovery codes" in again
    assert not RECOVERY_CODE.findall(again) and secret not in again.replace(" ", "")


def test_the_set_up_page_shows_the_same_key_until_confirmed_and_writes_nothing(client, auth, people):
    auth.login(people.alice)
    first = SECRET_FIELD.search(client.get("/settings/mfa").get_data(as_text=True)).group(1)
    page = client.get("/settings/mfa").get_data(as_text=True)
    assert SECRET_FIELD.search(page).group(1) == first
    assert "<svg" in page and "<title>QR code" in page
    assert fresh(people.alice).mfa_secret is None  # kept sealed in the session until a code confirms it
    wrong = auth.post("/settings/mfa", {"otp": code(first.replace(" ", ""), utcnow() + 10 * STEP)})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.get_data(as_text=True)
    assert fresh(people.alice).mfa_enabled_at is None


def test_patients_are_not_offered_two_step_sign_in(client, auth, people):
    auth.login(people.pat)
    assert client.get("/settings/mfa").status_code == 404
    assert client.post("/api/v1/me/mfa", json={}, headers=bearer(client, people.pat)).status_code == 404


# --- Signing in in two steps --------------------------------------------------------------------------------


def test_after_the_password_the_code_is_asked_and_only_then_is_the_session_started(client, auth, people):
    secret, _ = enrol_on_the_web(client, auth, people.alice)
    auth.logout()
    response = auth.login(people.alice)
    assert response.headers["Location"] == "/login/verify"
    with client.session_transaction() as half_signed_in:
        assert "_user_id" not in half_signed_in
        pending = dict(half_signed_in)
    assert client.get("/clinician/dashboard").headers["Location"].startswith("/login?")
    page = client.get("/login/verify").get_data(as_text=True)
    assert 'autocomplete="one-time-code"' in page and "recovery codes" in page
    signed_in = second_step(auth, next_step(secret))
    assert signed_in.headers["Location"] == "/clinician/dashboard"
    assert client.get("/clinician/dashboard").status_code == 200
    with client.session_transaction() as session:
        assert "mfa_pending" not in session
        assert session["_user_id"] == fresh(people.alice).get_id()
    assert "mfa_pending" in pending


def test_no_code_or_a_wrong_code_does_not_sign_in_and_counts_as_a_failed_sign_in(client, auth, people):
    secret, _ = enrol_on_the_web(client, auth, people.alice)
    auth.logout()
    auth.login(people.alice)
    assert second_step(auth, "").status_code == 400
    wrong = second_step(auth, "123456" if next_step(secret) != "123456" else "654321")
    assert wrong.status_code == 401
    assert "That code is not right" in wrong.get_data(as_text=True)
    assert client.get("/clinician/dashboard").headers["Location"].startswith("/login?")
    assert db.session.scalar(select(SignInFailure.failures).where(SignInFailure.client_key != "*")) == 1
    # the right code still works on the same half-signed-in session, and the failures are then forgotten
    assert second_step(auth, next_step(secret)).status_code == 302
    assert db.session.scalar(select(SignInFailure.id)) is None


def test_a_recovery_code_signs_in_once_only(client, auth, people):
    _, codes = enrol_on_the_web(client, auth, people.alice)
    auth.logout()
    auth.login(people.alice)
    response = second_step(auth, codes[0])
    assert response.status_code == 302
    assert "9 of them left" in client.get("/clinician/dashboard").get_data(as_text=True)
    assert [actor for actor, _ in audit_events("mfa.recovery_code")] == [people.alice.id]
    auth.logout()
    auth.login(people.alice)
    assert second_step(auth, codes[0]).status_code == 401
    assert client.get("/clinician/dashboard").status_code == 302


def test_a_code_used_to_sign_in_is_refused_the_second_time(client, auth, people):
    secret, _ = enrol_on_the_web(client, auth, people.alice)
    auth.logout()
    used = next_step(secret)
    auth.login(people.alice)
    assert second_step(auth, used).status_code == 302
    auth.logout()
    auth.login(people.alice)
    assert second_step(auth, used).status_code == 401


def test_the_code_must_follow_the_password_within_five_minutes(client, auth, people):
    secret, _ = enrol_on_the_web(client, auth, people.alice)
    auth.logout()
    auth.login(people.alice)
    with client.session_transaction() as session:
        session["mfa_pending"] = {**session["mfa_pending"], "since": time.time() - 5 * 60 - 1}
    response = second_step(auth, next_step(secret))
    assert response.headers["Location"] == "/login"
    assert client.get("/clinician/dashboard").status_code == 302


def test_the_second_step_without_a_password_first_goes_back_to_sign_in(client, auth, people):
    assert client.get("/login/verify").headers["Location"] == "/login"
    assert second_step(auth, "123456").headers["Location"] == "/login"


# --- An admin's reset -------------------------------------------------------------------------------------


def test_an_admin_resets_a_clinicians_two_step_sign_in_which_ends_all_their_sessions_and_tokens(app, people):
    alice_browser, ada_browser = app.test_client(), app.test_client()
    from tests.conftest import AuthActions

    alice = AuthActions(alice_browser)
    secret, _ = enrol_on_the_web(alice_browser, alice, people.alice)
    token = alice_browser.post(
        "/api/v1/auth/token", json={"email": people.alice.email, "password": PASSWORD, "otp": next_step(secret)}
    ).get_json()["token"]
    assert alice_browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    ada = AuthActions(ada_browser)
    ada.login(people.ada)
    staff_page = ada_browser.get("/admin/staff").get_data(as_text=True)
    assert f"/admin/staff/{people.alice.id}/mfa-reset" in staff_page
    response = ada.post(f"/admin/staff/{people.alice.id}/mfa-reset")
    assert response.headers["Location"] == "/admin/staff"

    assert audit_events("mfa.reset") == [(people.ada.id, f"user {people.alice.id}")]
    assert alice_browser.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert alice_browser.get("/clinician/dashboard").headers["Location"].startswith("/login?")
    reset_alice = fresh(people.alice)
    assert (reset_alice.mfa_secret, reset_alice.mfa_enabled_at) == (None, None)
    assert db.session.scalar(select(MfaRecoveryCode.id).where(MfaRecoveryCode.user_id == people.alice.id)) is None
    # Not required by the clinic here: the password alone signs in again, and she may set it up anew.
    assert alice.login(people.alice).headers["Location"] == "/clinician/dashboard"


def test_an_admin_cannot_reset_their_own_two_step_sign_in(client, auth, people):
    auth.login(people.ada)
    enrolled(people.ada, utcnow())  # e.g. in another browser, after this one signed in
    assert auth.post(f"/admin/staff/{people.ada.id}/mfa-reset").status_code == 400
    assert fresh(people.ada).mfa_enabled_at is not None
    assert audit_events("mfa.reset") == []


def test_an_admin_of_another_clinic_cannot_reset_anyone_here(client, auth, people):
    other = Clinic(name="Elsewhere", created_at=NOW)
    db.session.add(other)
    db.session.flush()
    from tests.conftest import make_staff

    eve = make_staff(other, "eve", "Eve Elsewhere", role=people.ada.role)
    db.session.commit()
    enrolled(people.alice, utcnow())
    auth.login(eve)
    assert auth.post(f"/admin/staff/{people.alice.id}/mfa-reset").status_code == 404
    assert fresh(people.alice).mfa_enabled_at is not None


# --- The clinic's requirement -------------------------------------------------------------------------------


@pytest.fixture
def clinic_requires_mfa(people):
    people.clinic.require_staff_mfa = True
    db.session.commit()
    return people


def test_the_admin_turns_the_requirement_on_in_the_clinic_settings_and_it_is_audited(client, auth, people):
    from tests.test_clinic_settings import SETTINGS

    auth.login(people.ada)
    assert "This server's default (not required)" in client.get("/admin/clinic").get_data(as_text=True)
    refused = auth.post("/admin/clinic", {**SETTINGS, "require_staff_mfa": "always"})
    assert refused.status_code == 400
    assert "Choose one of the options." in refused.get_data(as_text=True)
    assert auth.post("/admin/clinic", {**SETTINGS, "require_staff_mfa": "yes"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Clinic, people.clinic.id).require_staff_mfa is True
    assert "require_staff_mfa" in audit_events("clinic.settings")[-1][1]
    # ... and now Ada herself must set it up before anything else
    assert client.get("/admin/staff").headers["Location"] == "/settings/mfa"


def test_a_staff_member_without_it_must_set_it_up_before_reaching_any_page(client, auth, clinic_requires_mfa):
    people = clinic_requires_mfa
    assert auth.login(people.alice).status_code == 302
    for page in ("/clinician/dashboard", f"/clinician/patients/{people.pat.id}", "/settings/password", "/"):
        assert client.get(page).headers["Location"] == "/settings/mfa", page
    setup = client.get("/settings/mfa")
    assert setup.status_code == 200
    assert "Your clinic asks everyone on its staff" in setup.get_data(as_text=True)
    assert client.get("/help").status_code == 200
    secret = SECRET_FIELD.search(setup.get_data(as_text=True)).group(1).replace(" ", "")
    assert auth.post("/settings/mfa", {"otp": code(secret)}).status_code == 200
    assert client.get("/clinician/dashboard").status_code == 200


def test_patients_are_never_asked_for_a_second_factor(client, auth, clinic_requires_mfa):
    assert auth.login(clinic_requires_mfa.pat).headers["Location"] == "/home"
    assert client.get("/home").status_code == 200
    assert (
        client.post("/api/v1/auth/token", json={"email": "pat@patient.test", "password": PASSWORD}).status_code == 200
    )


def test_the_api_refuses_a_token_to_staff_who_must_set_it_up_first(client, clinic_requires_mfa):
    people = clinic_requires_mfa
    response = client.post("/api/v1/auth/token", json={"email": people.alice.email, "password": PASSWORD})
    assert response.status_code == 403
    body = response.get_json()
    assert body["code"] == "mfa_enrolment_required" and body["status"] == "Forbidden"
    assert "Sign in on the web to set it up" in body["message"]


def test_a_token_from_before_the_requirement_reaches_only_the_set_up(client, people):
    headers = bearer(client, people.alice)
    people.clinic.require_staff_mfa = True
    db.session.commit()
    refused = client.get("/api/v1/patients", headers=headers)
    assert (refused.status_code, refused.get_json()["code"]) == (403, "mfa_enrolment_required")
    assert client.post("/api/v1/me/mfa", json={}, headers=headers).status_code == 200


def test_the_deployment_default_applies_when_the_clinic_has_not_chosen(app, people):
    assert people.clinic.require_staff_mfa is None
    assert not mfa.required_for(people.alice, deployment_default=False)
    assert mfa.required_for(people.alice, deployment_default=True)
    people.clinic.require_staff_mfa = False
    assert not mfa.required_for(people.alice, deployment_default=True)
    assert not mfa.required_for(people.pat, deployment_default=True)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"ENV": "production"}, True),
        ({"ENV": "development"}, False),
        ({"ENV": "production", "STAFF_MFA_DEFAULT": "no"}, False),
    ],
)
def test_the_deployment_default_is_on_in_production(tmp_path, environment, expected):
    from flask import Flask

    app = Flask(__name__, instance_path=str(tmp_path))
    load_config(app, {"SECRET_KEY": "k", "DATABASE_URL": "sqlite://", **environment})
    assert app.config["STAFF_MFA_DEFAULT"] is expected


# --- The API ------------------------------------------------------------------------------------------------


def test_the_api_sets_it_up_and_then_a_token_needs_the_code(client, people):
    headers = bearer(client, people.alice)
    started = client.post("/api/v1/me/mfa", json={}, headers=headers)
    assert started.status_code == 200
    secret = started.get_json()["secret"]
    assert started.get_json()["otpauth_uri"] == mfa.provisioning_uri(people.alice, secret)
    assert client.post("/api/v1/me/mfa", json={}, headers=headers).get_json()["secret"] == secret  # a retry
    restarted = client.post("/api/v1/me/mfa", json={"restart": True}, headers=headers).get_json()["secret"]
    assert restarted != secret

    wrong = client.post("/api/v1/me/mfa/confirm", json={"otp": code(secret)}, headers=headers)
    assert wrong.status_code == 422 and list(wrong.get_json()["errors"]["json"]) == ["otp"]
    confirmed = client.post("/api/v1/me/mfa/confirm", json={"otp": code(restarted)}, headers=headers)
    assert confirmed.status_code == 200
    recovery_codes = confirmed.get_json()["recovery_codes"]
    assert len(recovery_codes) == 10
    assert [actor for actor, _ in audit_events("mfa.enrol")] == [people.alice.id]
    assert client.post("/api/v1/me/mfa", json={}, headers=headers).status_code == 409
    assert client.post("/api/v1/me/mfa/confirm", json={"otp": "123456"}, headers=headers).status_code == 409

    credentials = {"email": people.alice.email, "password": PASSWORD}
    missing = client.post("/api/v1/auth/token", json=credentials)
    assert missing.status_code == 401
    assert missing.get_json()["code"] == "otp_required"
    assert missing.get_json()["status"] == "Unauthorized"
    bad = client.post("/api/v1/auth/token", json={**credentials, "otp": "000000"})
    assert (bad.status_code, bad.get_json()["code"]) == (401, "otp_invalid")
    assert db.session.scalar(select(SignInFailure.failures).where(SignInFailure.client_key != "*")) == 1
    good = client.post("/api/v1/auth/token", json={**credentials, "otp": next_step(restarted)})
    assert good.status_code == 200 and good.get_json()["token"]
    with_recovery = client.post("/api/v1/auth/token", json={**credentials, "otp": recovery_codes[0]})
    assert with_recovery.status_code == 200
    again = client.post("/api/v1/auth/token", json={**credentials, "otp": recovery_codes[0]})
    assert (again.status_code, again.get_json()["code"]) == (401, "otp_invalid")


def test_a_wrong_password_never_tells_that_the_account_has_two_step_sign_in(client, people):
    enrolled(people.alice, utcnow())
    response = client.post("/api/v1/auth/token", json={"email": people.alice.email, "password": "not the password"})
    assert response.status_code == 401
    assert response.get_json()["code"] == 401


def test_the_error_document_allows_the_words_the_api_answers_with(client):
    error = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Error"]
    words = next(choice for choice in error["properties"]["code"]["oneOf"] if choice["type"] == "string")
    assert set(words["enum"]) == {"otp_required", "otp_invalid", "mfa_enrolment_required"}


# --- At the same moment -------------------------------------------------------------------------------------


def test_one_code_sent_twice_at_once_gets_one_token(app, people):
    from tests.test_concurrency import api, race

    secret, codes = enrolled(people.alice, utcnow())
    credentials = {"email": people.alice.email, "password": PASSWORD}
    for otp in (next_step(secret), codes[0]):
        send = api(app, "POST", "/api/v1/auth/token", {**credentials, "otp": otp}, {})
        answers = race(send, send)
        assert sorted(answer.status for answer in answers) == [200, 401], otp
