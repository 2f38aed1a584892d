"""Nothing tells who has an account (which here would say who is a patient): sign-in, the token endpoint, the
pauses after failures and a password-reset request answer an unknown address exactly as a known one, in body,
status and time. The time is compared with argon2 at its production cost (the suite otherwise hashes cheaply,
tests/conftest.py) and with the cheap one: either way an unknown address must cost what a wrong password costs.

Timing: 20 tries of each, interleaved so that a busy machine slows both alike, from a fresh client address each
(so no pause starts); the medians must be within a factor of 1.5.
"""

from __future__ import annotations

import re
import statistics
import time

import pytest
from argon2 import PasswordHasher, extract_parameters

from journal import accounts
from journal.db import db
from tests.conftest import PASSWORD, AuthActions

TRIES = 20
UNKNOWN = "nobody@clinic.test"


@pytest.fixture(params=["argon2 production cost", "argon2 test cost"])
def hashing(request, monkeypatch, people):
    """Alice's password hashed at the cost being measured, as a real account's would be."""
    if request.param == "argon2 production cost":
        monkeypatch.setattr(accounts, "_hasher", PasswordHasher())
    people.alice.password_hash = accounts.hash_password(PASSWORD)
    db.session.commit()
    return request.param


def timed(send) -> tuple[float, object]:
    started = time.perf_counter()
    answer = send()
    return time.perf_counter() - started, answer


def interleaved(send_known, send_unknown) -> tuple[list[float], list[float], list, list]:
    send_known(0), send_unknown(0)  # warm up: first statements, the dummy hash made for this hasher
    known, unknown, known_answers, unknown_answers = [], [], [], []
    for attempt in range(1, TRIES + 1):
        for send, times, answers in ((send_known, known, known_answers), (send_unknown, unknown, unknown_answers)):
            took, answer = timed(lambda: send(attempt))  # noqa: B023 # called at once, inside this iteration
            times.append(took)
            answers.append(answer)
    return known, unknown, known_answers, unknown_answers


def assert_same_time(known: list[float], unknown: list[float]) -> None:
    slow, fast = sorted([statistics.median(known), statistics.median(unknown)], reverse=True)
    assert slow / fast < 1.5, f"medians {statistics.median(known):.4f} s (known), {statistics.median(unknown):.4f} s"


def fresh_address(email: str, attempt: int) -> str:
    """A client address of its own for each try of each address, so that no pause starts."""
    return f"10.{1 if email == UNKNOWN else 2}.0.{attempt}"


def token_attempt(client, email: str):
    def send(attempt: int):
        client.environ_base["REMOTE_ADDR"] = fresh_address(email, attempt)
        response = client.post("/api/v1/auth/token", json={"email": email, "password": "not the password"})
        return response.status_code, response.get_json()

    return send


def test_the_token_endpoint_answers_and_takes_as_long_for_an_unknown_address(app, client, people, hashing):
    known, unknown, known_answers, unknown_answers = interleaved(
        token_attempt(client, people.alice.email), token_attempt(client, UNKNOWN)
    )
    assert known_answers == unknown_answers
    assert known_answers[0][0] == 401 and known_answers[0][1]["message"] == accounts.WRONG_CREDENTIALS
    assert_same_time(known, unknown)


class CountingHasher(PasswordHasher):
    """The production hasher, noting the parameters of every hash it verifies."""

    def __init__(self):
        super().__init__()
        self.verified = []

    def verify(self, hash, password):  # argon2's own parameter names
        self.verified.append(extract_parameters(hash))
        return super().verify(hash, password)


@pytest.mark.parametrize("email", ["alice@clinic.test", UNKNOWN])
def test_a_token_request_verifies_one_hash_at_the_real_cost_whether_or_not_the_address_is_known(
    client, people, monkeypatch, email
):
    """The dummy hash is really checked, at the cost of a real one: counted, not timed (the medians above
    compare times; this says what the work is)."""
    hasher = CountingHasher()
    monkeypatch.setattr(accounts, "_hasher", hasher)
    people.alice.password_hash = accounts.hash_password(PASSWORD)
    db.session.commit()
    client.environ_base["REMOTE_ADDR"] = "10.3.0.1"
    response = client.post("/api/v1/auth/token", json={"email": email, "password": "not the password"})
    assert response.status_code == 401
    assert hasher.verified == [extract_parameters(people.alice.password_hash)]


# The sign-in page: the same page but for the address echoed back into its field and the form's CSRF token.
VARIES = re.compile(r'name="csrf_token" value="[^"]*"|name="email"[^>]*>')


def page_attempt(app, email: str):
    def send(attempt: int):
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = fresh_address(email, attempt)
        response = AuthActions(browser).login(email, "not the password")
        return response.status_code, VARIES.sub("", response.text)

    return send


def test_the_sign_in_page_answers_and_takes_as_long_for_an_unknown_address(app, people, hashing):
    known, unknown, known_answers, unknown_answers = interleaved(
        page_attempt(app, people.alice.email), page_attempt(app, UNKNOWN)
    )
    assert known_answers == unknown_answers
    assert known_answers[0][0] == 401 and accounts.WRONG_CREDENTIALS in known_answers[0][1]
    assert_same_time(known, unknown)


def test_an_account_never_activated_answers_and_takes_as_long_as_an_unknown_address(app, client, people):
    """An invited patient has no password yet: a guess at it meets the dummy hash, as an unknown address does."""
    people.pat.password_hash = None
    db.session.commit()
    known, unknown, known_answers, unknown_answers = interleaved(
        token_attempt(client, people.pat.email), token_attempt(client, UNKNOWN)
    )
    assert known_answers == unknown_answers
    assert_same_time(known, unknown)


def test_a_password_reset_request_answers_and_takes_as_long_for_an_unknown_address(app, client, people):
    def request_for(email: str):
        def send(attempt: int):
            client.environ_base["REMOTE_ADDR"] = fresh_address(email, attempt)
            response = client.post("/api/v1/auth/password-reset", json={"email": email})
            return response.status_code, response.get_json()

        return send

    known, unknown, known_answers, unknown_answers = interleaved(request_for(people.alice.email), request_for(UNKNOWN))
    assert known_answers == unknown_answers
    assert known_answers[0][0] == 202
    assert_same_time(known, unknown)
