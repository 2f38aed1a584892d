"""Password rules after NIST SP 800-63B (accounts.password_problem, the one check every new password goes through):
10 to 128 characters, no composition rules, and no password that is common, breached, or built from the person's
name or e-mail address (judged by zxcvbn, not by a list of our own). Every place a password is set asks it: the
invitation page and API, and ``flask create-user``."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from journal.accounts import (
    FROM_NAME_OR_EMAIL,
    TOO_COMMON,
    TOO_LONG,
    TOO_SHORT,
    PatientDetails,
    create_invitation,
    enrol_patient,
    password_matches,
    password_problem,
)
from journal.db import db, utcnow
from journal.models import User
from tests.conftest import PASSWORD, csrf_token

ROBIN = {"name": "Robin Reed", "email": "robin.reed@patient.test"}


def problem(password: str) -> str | None:
    return password_problem(password, **ROBIN)


def test_the_suites_own_passphrase_is_accepted():
    assert password_problem(PASSWORD, name="Pat Patient", email="pat@patient.test") is None


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "tangerine harbour violin", "my 3 cats sleep on the piano", "Zq7!vR2#pL9@"],
)
def test_long_unguessable_passwords_need_no_particular_kind_of_character(password):
    assert problem(password) is None


def test_a_password_shorter_than_ten_characters_is_refused_kindly():
    assert problem("h7$Kq!2z") == TOO_SHORT
    assert "at least 10 characters" in TOO_SHORT
    assert problem("xq7 bird hat") is None  # ten and more: length alone is not held against it


def test_a_password_longer_than_128_characters_is_refused():
    long_enough = ("tangerine harbour violin " * 6)[:128]
    assert problem(long_enough) is None
    assert problem(long_enough + "x") == TOO_LONG


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaa",  # ten identical letters (the issue)
        "password123",
        "Passw0rd!!",  # substitutions and punctuation do not make a common password uncommon
        "qwertyuiop",  # a keyboard row
        "1234567890",
        "iloveyou12",
        "Summer2024!",
    ],
)
def test_common_and_breached_passwords_are_refused(password):
    assert problem(password) == TOO_COMMON


@pytest.mark.parametrize(
    "password",
    ["RobinReed2024", "robinreed1985", "reedrobin!!!", "robin.reed1985", "Robin Reed 99", "robin_reed_patient1"],
)
def test_passwords_built_from_the_name_or_email_are_refused(password):
    assert problem(password) == FROM_NAME_OR_EMAIL


def test_the_name_or_address_inside_an_otherwise_strong_password_is_allowed():
    assert problem("Robin likes tangerine harbour violins") is None


def test_the_messages_say_what_to_do():
    assert "Choose a longer password, or one that is less common" in TOO_COMMON
    assert "Choose one that has nothing to do with them" in FROM_NAME_OR_EMAIL


# --- Every place a password is set ----------------------------------------------------------------------------


@pytest.fixture
def robin(app, people) -> tuple[User, str]:
    """Robin, enrolled by Alice, holding an invitation link."""
    user, token = enrol_patient(
        db.session, people.alice, PatientDetails(ROBIN["name"], ROBIN["email"], "Europe/London", []), utcnow(), 7
    )
    db.session.commit()
    return user, token


def test_the_invitation_page_refuses_a_password_built_from_the_name_and_keeps_the_link(client, robin):
    user, token = robin
    form = {"password": "RobinReed2024", "password_confirm": "RobinReed2024", "csrf_token": csrf_token(client)}
    response = client.post(f"/invite/{token}", data=form)
    assert response.status_code == 400
    assert 'id="password-error"' in response.text
    assert "built from your name or e-mail address" in response.text
    db.session.refresh(user)
    assert user.password_hash is None and user.activated_at is None
    form = {**form, "password": PASSWORD, "password_confirm": PASSWORD}
    assert client.post(f"/invite/{token}", data=form).status_code == 302  # the link still works


@pytest.mark.parametrize("password", ["aaaaaaaaaa", "password123", "short"])
def test_the_invitation_api_refuses_a_weak_password_with_422_and_writes_nothing(client, robin, password):
    user, token = robin
    response = client.post(f"/api/v1/invitations/{token}", json={"password": password})
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"]["json"]["password"][0] in (TOO_SHORT, TOO_COMMON)
    db.session.refresh(user)
    assert user.password_hash is None
    assert client.post(f"/api/v1/invitations/{token}", json={"password": PASSWORD}).status_code == 200


def test_the_openapi_document_states_the_password_length(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    password = schemas["Password"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (10, 128)


def test_a_staff_invitation_refuses_a_password_built_from_the_staff_name(client, people):
    new = db.session.scalar(select(User).where(User.id == people.bob.id))
    new.password_hash, new.activated_at = None, None  # as if Bob had never accepted his invitation
    token = create_invitation(db.session, new, people.ada, utcnow(), 7)
    db.session.commit()
    response = client.post(f"/api/v1/invitations/{token}", json={"password": "bobbrown12345"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["password"] == [FROM_NAME_OR_EMAIL]


def test_create_user_refuses_a_weak_password(app):
    runner = app.test_cli_runner()
    args = ["create-user", "--email", "boss@clinic.test", "--name", "Dana Boss"]
    for weak in ("password123", "danaboss2024"):
        result = runner.invoke(args=[*args, "--password", weak])
        assert result.exit_code != 0
        assert re.search("too easy to guess|built from your name", result.output)
    assert db.session.scalar(select(User).where(User.email == "boss@clinic.test")) is None
    assert runner.invoke(args=[*args, "--password", PASSWORD]).exit_code == 0
    user = db.session.scalar(select(User).where(User.email == "boss@clinic.test"))
    assert password_matches(user.password_hash, PASSWORD)
