"""Fuzzing the JSON API from its own OpenAPI document (TESTING.md, "API fuzzing").

schemathesis reads ``/api/v1/openapi.json`` and, for every operation in it, sends generated requests, valid
and invalid, in-process through each test's own app: as anonymous, as patient Pat, as clinician Alice and as
admin Ada, on both databases. Every response must be a non-5xx with a documented status code, content type
and body, and a request that breaks the document must be refused.

The run is bounded and deterministic (``derandomize``), so CI sends the same requests every time. It cannot
pass vacuously: every API route must be in the document (so it gets fuzzed), each test must have sent its
requests, the roles that may use an operation must have succeeded at it at least once (so their token
worked), and the same checks are shown to catch a 5xx and responses that break a document.
"""

from __future__ import annotations

import re
from collections import Counter

import pyotp
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.openapi.checks import JsonSchemaError, UndefinedContentType, UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from journal import create_app
from tests.conftest import PASSWORD, bearer

OPENAPI = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
MAX_EXAMPLES = 25

# Operations each role may use: there it must get a 2xx at least once, which shows its token was sent and
# accepted (everywhere else a role gets 401 or 404, which would pass every check just as well).
SUCCEEDS = {
    "anonymous": {"POST /api/v1/auth/password-reset"},  # 202 for any address
    "patient": {"GET /api/v1/me"},
    "clinician": {"GET /api/v1/me", "GET /api/v1/patients", "POST /api/v1/patients", "POST /api/v1/me/mfa"},
    "admin": {"GET /api/v1/me", "POST /api/v1/me/mfa"},
}


def _bare_app() -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "openapi"})


# The tests are generated when pytest collects this module, before any fixture exists, so the document comes
# from a throwaway app (it does not depend on the database); the requests go to each test's own ``app``.
# schemathesis.pytest.from_fixture would load it from a fixture instead, but in schemathesis 4.32.5 it sets
# ``request.node._nodeid``, which pytest 9.2 no longer has.
schema = schemathesis.openapi.from_dict(_bare_app().test_client().get(OPENAPI).get_json(), config=schemathesis.Config())


def call_and_check(case, app: Flask, client, headers: dict):
    # Through the test client, so that each request gets its own app context (see IsolatedClient).
    return case.call_and_validate(app=app, session=client, headers=headers, checks=CHECKS)


@pytest.fixture(params=list(SUCCEEDS))
def role(request) -> str:
    return request.param


@pytest.fixture
def credentials(role, client, people) -> dict:
    """The role's bearer token, or no header at all."""
    user = {"patient": people.pat, "clinician": people.alice, "admin": people.ada}.get(role)
    return bearer(client, user) if user else {}


@pytest.fixture
def answers(role):
    """(operation, method, status) of every response; checked once the test has sent all its requests."""
    seen: Counter = Counter()
    yield seen
    assert seen.total() >= MAX_EXAMPLES, f"only {seen.total()} requests were sent: {dict(seen)}"
    (operation,) = {label for label, _, _ in seen}
    method = operation.split()[0]
    if operation in SUCCEEDS[role]:
        assert any(m == method and 200 <= s < 300 for _, m, s in seen), f"{role} never succeeded: {dict(seen)}"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # The app, its database and the people are set up once per test, not per example: the examples share them
    # (and the patients they enrol), as successive requests to a running server would.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_api_conforms_to_its_schema(case, app, client, credentials, answers):
    response = call_and_check(case, app, client, credentials)
    answers[case.operation.label, case.method.upper(), response.status_code] += 1


def test_every_api_route_is_in_the_document_so_is_fuzzed():
    routed = set()
    for rule in _bare_app().url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule != OPENAPI:
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routed |= {f"{method} {path}" for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {result.ok().label for result in schema.get_all_operations()}
    assert routed == documented
    assert {label for labels in SUCCEEDS.values() for label in labels} <= documented


# --- The checks catch what they are meant to ----------------------------------------------------------------


BROKEN_ANSWERS = {
    "/server-error": (ServerError, lambda: ({"code": 500, "status": "Internal Server Error"}, 500)),
    "/wrong-body": (JsonSchemaError, lambda: {"id": "seven"}),
    "/undocumented-status": (UndefinedStatusCode, lambda: ({"id": 7}, 201)),
    "/undocumented-content-type": (UndefinedContentType, lambda: "<p>7</p>"),
}


@pytest.mark.parametrize("path", list(BROKEN_ANSWERS))
def test_the_checks_catch_a_response_that_breaks_the_document(path):
    failure, view = BROKEN_ANSWERS[path]
    app = Flask("broken")
    app.add_url_rule(path, "broken", view)
    body = {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}
    ok = {"200": {"description": "OK", "content": {"application/json": {"schema": body}}}}
    document = {
        "openapi": "3.0.3",
        "info": {"title": "Broken", "version": "1"},
        "paths": {path: {"get": {"responses": ok}}},
    }
    case = schemathesis.openapi.from_dict(document, config=schemathesis.Config())[path]["GET"].Case()
    with pytest.raises(FailureGroup) as caught:
        call_and_check(case, app, app.test_client(), {})
    assert failure in {type(error) for error in caught.value.exceptions}


def test_successful_answers_keep_to_the_document(app, client, people):
    """The fuzzer rarely guesses a password or an invitation, so these answers are checked here."""
    alice = bearer(client, people.alice)

    def check(label: str, headers: dict | None = None, **case) -> dict:
        method, path = label.split()
        response = call_and_check(schema[path][method].Case(**case), app, client, headers or {})
        assert 200 <= response.status_code < 300, response.text
        return response.json()

    check("POST /api/v1/auth/token", body={"email": people.pat.email, "password": PASSWORD})
    check("GET /api/v1/patients/{patient_id}", alice, path_parameters={"patient_id": people.pat.id})
    enrolled = check(
        "POST /api/v1/patients",
        alice,
        body={"name": "Sam Stone", "email": "sam@patient.test", "timezone": "Europe/Lisbon", "tracks_pain": True},
    )
    token = enrolled["invitation_url"].rsplit("/", 1)[1]
    check("POST /api/v1/invitations/{token}", path_parameters={"token": token}, body={"password": PASSWORD})


def test_two_step_sign_in_answers_keep_to_the_document(app, client, people):
    """Setting up two-step sign-in, and a token request without its code (401 ``otp_required``), which the
    fuzzer cannot reach without the secret: the error's ``code`` is then a word, and the document says so."""
    alice = bearer(client, people.alice)

    def check(label: str, status: int, headers: dict | None = None, **case) -> dict:
        method, path = label.split()
        response = call_and_check(schema[path][method].Case(**case), app, client, headers or {})
        assert response.status_code == status, response.text
        return response.json()

    secret = check("POST /api/v1/me/mfa", 200, alice, body={})["secret"]
    codes = check("POST /api/v1/me/mfa/confirm", 200, alice, body={"otp": pyotp.TOTP(secret).now()})
    assert len(codes["recovery_codes"]) == 10
    credentials = {"email": people.alice.email, "password": PASSWORD}
    assert check("POST /api/v1/auth/token", 401, body=credentials)["code"] == "otp_required"
    assert check("POST /api/v1/auth/token", 401, body={**credentials, "otp": "12345"})["code"] == "otp_invalid"
    check("POST /api/v1/auth/token", 200, body={**credentials, "otp": codes["recovery_codes"][0]})


def test_password_answers_keep_to_the_document(app, client, people):
    """A reset through its e-mailed token, a change of password and a sign-out, which the fuzzer cannot reach
    without the token or the password: each a 204 with no body, as documented."""
    from datetime import UTC, datetime

    from journal.accounts import request_password_reset
    from journal.db import db

    def check(label: str, status: int, headers: dict | None = None, **case) -> None:
        method, path = label.split()
        response = call_and_check(schema[path][method].Case(**case), app, client, headers or {})
        assert response.status_code == status, response.text

    check("POST /api/v1/auth/password-reset", 202, body={"email": people.pat.email})
    _, token = request_password_reset(db.session, people.pat.email, datetime.now(UTC), minutes=60)
    db.session.commit()
    new = "marble orchard telescope"
    check("POST /api/v1/auth/password-reset/{token}", 204, path_parameters={"token": token}, body={"password": new})
    check("POST /api/v1/auth/password-reset/{token}", 404, path_parameters={"token": token}, body={"password": new})
    pat = bearer(client, people.pat, new)
    check("PUT /api/v1/me/password", 422, pat, body={"current_password": "wrong one", "new_password": PASSWORD})
    check("PUT /api/v1/me/password", 204, pat, body={"current_password": new, "new_password": PASSWORD})
    check("DELETE /api/v1/auth/token", 204, bearer(client, people.pat))
