"""Revocation: after each way an account's access ends, its old bearer token answers 401 on /api/v1/me and its
old cookie lands on the sign-in page. Staff tokens also end when idle, as staff sessions do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from journal.accounts import issue_api_token, request_password_reset, user_for_api_token
from journal.db import db
from journal.models import ApiToken
from tests.conftest import NOW, PASSWORD, AuthActions, bearer

NEW_PASSWORD = "marble orchard telescope"


def signed_in_browser(app, user) -> FlaskClient:
    browser = app.test_client()
    assert AuthActions(browser).login(user).status_code == 302
    return browser


def copy_of(app, browser: FlaskClient) -> FlaskClient:
    """Another browser holding the very same cookies, as a stolen or left-behind copy would."""
    copy = app.test_client()
    for name in ("journal_session", "journal_person"):
        cookie = browser.get_cookie(name)
        if cookie is not None:
            copy.set_cookie(name, cookie.value)
    return copy


def lands_on_sign_in(browser: FlaskClient, page: str) -> bool:
    response = browser.get(page)
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def token_works(app, headers: dict) -> bool:
    status = app.test_client().get("/api/v1/me", headers=headers).status_code
    assert status in (200, 401)
    return status == 200


@pytest.fixture
def pat_everywhere(app, people):
    """Pat signed in on a browser (and a copy of its cookies elsewhere) and in an app with a token."""
    browser = signed_in_browser(app, people.pat)
    assert browser.get("/home").status_code == 200
    return browser, copy_of(app, browser), bearer(app.test_client(), people.pat)


def test_signing_out_on_the_web_revokes_the_token_and_every_cookie(app, people, pat_everywhere):
    browser, copy, token = pat_everywhere
    assert token_works(app, token) and copy.get("/home").status_code == 200
    AuthActions(browser).logout()
    assert not token_works(app, token)
    assert lands_on_sign_in(copy, "/home")
    assert lands_on_sign_in(browser, "/home")


def test_delete_token_revokes_the_token_it_is_sent_with_and_no_other(app, client, people):
    phone, tablet = bearer(client, people.pat), bearer(client, people.pat)
    assert client.delete("/api/v1/auth/token", headers=phone).status_code == 204
    assert not token_works(app, phone)
    assert token_works(app, tablet)
    assert client.delete("/api/v1/auth/token", headers=phone).status_code == 401
    assert client.delete("/api/v1/auth/token").status_code == 401


def test_changing_the_password_revokes_every_token_and_other_browser(app, people, pat_everywhere):
    browser, copy, token = pat_everywhere
    other = bearer(app.test_client(), people.pat)
    response = app.test_client().put(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=other
    )
    assert response.status_code == 204
    assert not token_works(app, token) and not token_works(app, other)
    assert lands_on_sign_in(copy, "/home")
    assert lands_on_sign_in(browser, "/home")


def test_changing_the_password_on_the_page_signs_out_the_copy_but_not_this_browser(app, people, pat_everywhere):
    browser, copy, token = pat_everywhere
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    assert AuthActions(browser).post("/settings/password", form).status_code == 302
    assert browser.get("/home").status_code == 200
    assert not token_works(app, token)
    assert lands_on_sign_in(copy, "/home")


def test_a_password_reset_revokes_every_token_and_browser(app, people, pat_everywhere):
    browser, copy, token = pat_everywhere
    _, reset = request_password_reset(db.session, people.pat.email, datetime.now(UTC), minutes=60)
    db.session.commit()
    answer = app.test_client().post(f"/api/v1/auth/password-reset/{reset}", json={"password": NEW_PASSWORD})
    assert answer.status_code == 204
    assert not token_works(app, token)
    assert lands_on_sign_in(copy, "/home")
    assert lands_on_sign_in(browser, "/home")


def test_disabling_a_clinician_revokes_everything_and_enabling_her_again_brings_nothing_back(app, people):
    browser = signed_in_browser(app, people.bob)
    copy, token = copy_of(app, browser), bearer(app.test_client(), people.bob)
    assert token_works(app, token) and browser.get("/clinician/patients").status_code == 200
    admin = AuthActions(signed_in_browser(app, people.ada))
    assert admin.post(f"/admin/staff/{people.bob.id}/access", {"enabled": "no"}).status_code == 302
    assert not token_works(app, token)
    assert lands_on_sign_in(copy, "/clinician/patients")
    assert admin.post(f"/admin/staff/{people.bob.id}/access", {"enabled": "yes"}).status_code == 302
    assert not token_works(app, token)
    assert lands_on_sign_in(browser, "/clinician/patients")
    assert token_works(app, bearer(app.test_client(), people.bob))  # a new sign-in works again


# --- Idle staff tokens ------------------------------------------------------------------------------------------


def test_a_staff_token_ends_after_the_staff_idle_time_without_use(app, people):
    token, _ = issue_api_token(db.session, people.alice, NOW, hours=12)
    db.session.commit()
    idle = app.config["STAFF_IDLE_MINUTES"]
    assert user_for_api_token(db.session, token, NOW + timedelta(minutes=idle - 1), staff_idle_minutes=idle)
    # used just now: the idle time counts from this use
    assert user_for_api_token(db.session, token, NOW + timedelta(minutes=2 * idle - 2), staff_idle_minutes=idle)
    assert user_for_api_token(db.session, token, NOW + timedelta(minutes=3 * idle), staff_idle_minutes=idle) is None


def test_a_patients_token_keeps_its_lifetime_when_idle(app, people):
    token, _ = issue_api_token(db.session, people.pat, NOW, hours=12)
    db.session.commit()
    later = NOW + timedelta(hours=11)
    assert user_for_api_token(db.session, token, later, staff_idle_minutes=30) is not None
    assert db.session.scalar(select(ApiToken.last_used_at)) is None  # nothing written for it


def test_a_staff_tokens_use_is_written_at_most_once_a_minute(app, people):
    token, _ = issue_api_token(db.session, people.alice, NOW, hours=12)
    db.session.commit()
    for seconds in (30, 59, 60, 61, 100, 119, 120):
        user_for_api_token(db.session, token, NOW + timedelta(seconds=seconds), staff_idle_minutes=30)
        db.session.expire_all()
        used = db.session.scalar(select(ApiToken.last_used_at))
        expected = NOW + timedelta(seconds={30: 0, 59: 0, 60: 60, 61: 60, 100: 60, 119: 60, 120: 120}[seconds])
        assert (used or NOW) == expected, seconds


def test_an_idle_staff_token_answers_401_over_http(app, client, people):
    headers = bearer(client, people.alice)
    assert token_works(app, headers)
    db.session.execute(
        ApiToken.__table__.update().values(
            created_at=datetime.now(UTC) - timedelta(hours=1), last_used_at=datetime.now(UTC) - timedelta(minutes=31)
        )
    )
    db.session.commit()
    assert not token_works(app, headers)
