"""Bad bodies on every route that takes one: a clear 4xx, and nothing written.

The routes are every POST, PUT, PATCH and DELETE in the access matrix's POLICY, which
``test_every_route_has_an_access_policy`` keeps equal to the app's url_map: a new route lands here without
anyone listing it, and a new form route fails ``test_every_form_route_is_described_here`` until its fields are.
Each is called as a caller its policy admits (the first of ``PREFERRED``), so the body, not the caller, is what
gets refused; the wrongly typed case shows it, since its answer names the fields, which only the handler's own
validation can do, and every access check (``roles_required``, ``*_in_path_required``) runs before that.

What is sent:

- JSON API (``/api/...``): malformed JSON, text that is not UTF-8, JSON nested deeper than a parser can follow,
  the wrong Content-Type (form-encoded, text/plain), a body just over MAX_CONTENT_LENGTH, an array, a string
  and a number instead of an object, and an object whose every documented property (from the requestBody
  schema in /api/v1/openapi.json) has a value of the wrong JSON type. Each answer must be a 4xx (400, 413,
  415 or 422) in JSON with a message, and the 422s must name every property.
- HTML forms: fields that are text where a number, a time, a date, a choice or a valid e-mail is expected,
  and, for forms whose fields are all free text, text that is over-long, empty or holds a NUL. A browser form
  refused for its content is shown again with the mistakes marked; here that page must come back with a 4xx
  status (400), never 200: a 200 would tell a script, a proxy or the offline queue that the entry was saved,
  and every form here already says 400. Each form's own messages must be on the page, so it is the form, not a
  generic error page, that answers (two forms that take one hidden value answer with the 400 error page).
  ``/settings/push-subscriptions`` is a page route the page's script sends JSON to: it gets the JSON cases and
  answers ``{"errors": ...}``, without the API's ``code`` and ``message``.
- A body just over MAX_CONTENT_LENGTH to every form route, in the production setting with CSRF on: the CSRF
  check reads the form first, so a form is refused with 413 before any handler runs (even those that take
  no fields: sign-out, new invitations). With CSRF off, the forms that read fields refuse it themselves.

CSRF is off for the other form cases (it is on in ``tests/conftest.py``'s default) so the bodies reach the
handlers; CSRF itself is ``TestCsrfOnEveryForm`` in ``tests/test_access_matrix.py``.

Nothing written: every row of every table in the metadata is read before and after each request and the two
must be equal (so an UPDATE counts as well as an INSERT). One exception, justified: a clinician's form refused
for its content shows the patient's page, the page that changes a session or the alerts inbox again, which is a
read of patient data, and the audit trail records it as one (``patient.read``, ``session.read``,
``alert.list``); those audit actions are left out of the comparison. No refused body reaches a sign-in (the
schema refuses it first), so the failed-sign-in counters need no exception.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from journal.alerts import raise_alert
from journal.assessments import submit
from journal.db import db, utcnow
from journal.models import AuditEvent
from journal.sessions import save_session
from tests.conftest import AuthActions, bearer, csrf_token
from tests.test_access_matrix import POLICY, _caller_user, _concrete, add_future_shift, add_link_holders, invite_dana

OPENAPI = "/api/v1/openapi.json"
LIMIT = 256 * 1024  # journal.config MAX_CONTENT_LENGTH; test_the_limit_is_the_configured_one checks it
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
ROUTES = sorted((method, route) for method, route in POLICY if method in BODY_METHODS)
# API routes that take no body at all, so there is none to refuse: signing out with DELETE reads only the token.
NO_BODY_API = {("DELETE", "/api/v1/auth/token"), ("DELETE", "/api/v1/me/sms-consent")}
API_ROUTES = [
    (method, route) for method, route in ROUTES if route.startswith("/api/") and (method, route) not in NO_BODY_API
]
FORM_ROUTES = [(method, route) for method, route in ROUTES if not route.startswith("/api/")]

# Which admitted caller to use: anyone for a public route (a signed-in user is sent home from /login), then
# Pat, then Alice, then Ada.
PREFERRED = ("anonymous", "patient", "clinician", "admin", "other_patient", "outside_clinician")

# A clinician's refused form shows patient data again, which the audit trail records as a read.
AUDITED_READS = {"patient.read", "alert.list", "session.read", "rota.list"}


def _caller(method: str, route: str) -> str:
    return next(caller for caller in PREFERRED if caller in POLICY[(method, route)])


# --- HTML forms: what each one is sent, and what it must say back ----------------------------------------------


@dataclass(frozen=True)
class Form:
    fields: dict[str, str | list[str]]  # wrongly typed values, all text, as a browser sends them
    says: tuple[str, ...]  # the form's own messages about them, on the page that comes back


FORMS: dict[str, Form] = {
    "/login": Form(
        {"email": "pat@patient.test\x00", "password": "p" * 257},
        ("Remove the NUL character from this text.",),
    ),
    "/invite/<token>": Form(
        {"password": "short", "password_confirm": "other"},
        ("Use a password of at least",),
    ),
    "/password-reset": Form(
        {"email": "not an address"},
        ("Not a valid email address.",),
    ),
    "/password-reset/<token>": Form(
        {"password": "short", "password_confirm": "other"},
        ("Use a password of at least",),
    ),
    # Refused by the schema, so no current password is ever checked (or counted as a failed sign-in).
    "/settings/password": Form(
        {"current_password": "", "new_password": "short", "new_password_confirm": "other"},
        ("Enter your current password.", "Use a password of at least"),
    ),
    # Refused by the schema before anyone's code is checked, so nothing is counted as a failed sign-in.
    "/login/verify": Form({"otp": "1" * 65}, ("Enter the code.",)),
    "/settings/mfa": Form({"otp": "1" * 65}, ("Enter the code.",)),
    "/checkin/<day>": Form(
        {
            "mood": "happy",
            "craving-alcohol": "lots",
            "frequency-alcohol": "hourly",
            "used-alcohol": "maybe",
            "side_effects": "sneezing",
        },
        ("Choose a number from 0 to 10.", "Must be one of: none, 1-2, 3-5, 6+.", "Answer yes or no."),
    ),
    "/settings/reminders": Form(
        {"time": "eight", "channels": "pigeon", "quiet_start": "late", "quiet_end": "7"},
        ("Give a time as HH:MM",),
    ),
    "/assessments/<any(phq9,phq8,gad7,pcl5,peg,auditc):instrument>": Form(
        {f"item-{n}": value for n, value in enumerate(["often", "7", "-1", "1.5", "", "x", "2", "3", "zero"], 1)},
        ("Choose an answer.",),
    ),
    "/sessions/<id:session_id>/check/<any(morning_after,72h):kind>": Form(
        {"nausea": "bad", "headache": "11", "dizziness": "-2", "drove": "maybe"},
        ("Choose a number from 0 to 10.", "Answer yes or no."),
    ),
    "/admin/on-call": Form(
        {"clinician": "Alice", "backup": "Bob", "starts_at": "tomorrow", "ends_at": "2026-02-30T09:00"},
        ("Choose the clinician on call.", "Choose a clinician, or no backup.", "Give a date and a time, such as"),
    ),
    "/settings/contact": Form(
        {"timezone": "Mars/Olympus_Mons", "phone": "call me", "emergency_contact_name": "x" * 121},
        ("Choose a time zone from the list", "Give a name of at most 120 characters."),
    ),
    "/clinician/patients/<id:patient_id>/details": Form(
        {"timezone": "Nowhere", "sex": "yes", "substances": "glue", "induction_until": "next Tuesday"},
        ("Choose a time zone from the list", "Choose one of the options.", "Unknown substance.", "Give a date such as"),
    ),
    "/clinician/patients/new": Form(
        {"name": "", "email": "not an address", "timezone": "Mars/Olympus_Mons", "substances": "glue"},
        ("Give a name of 1 to 120 characters.", "Not a valid email address.", "Choose a time zone"),
    ),
    "/clinician/patients/<id:patient_id>/care-team": Form(
        {"clinician_id": "Bob"},
        ("The request could not be understood.",),
    ),
    "/clinician/patients/<id:patient_id>/baseline": Form(
        {"assessment_id": "the first one"},
        ("Choose a form from the table.",),
    ),
    "/clinician/patients/<id:patient_id>/assessments/<instrument>": Form(  # a paper PCL-5
        {"completed_at": "yesterday", "item-1": "often", "item-2": "7", "item-3": "-1", "item-4": "1.5"},
        ("Give a date and a time", "Choose a whole number from 0 to 4.", "Choose an answer."),
    ),
    "/clinician/patients/<id:patient_id>/sessions": Form(
        {
            "start": "tomorrow morning",
            "status": "done",
            "route": "iv",
            "product": "Ketamine",
            "dose": "a little",
            "dose_unit": "mg/kg",
            "heart_rate_pre": "fast",
        },
        ("Give a date and a time", "Not a valid number.", "Not a valid integer."),
    ),
    "/clinician/patients/<id:patient_id>/sessions/<id:session_id>": Form(
        {
            "start": "tomorrow morning",
            "status": "done",
            "route": "iv",
            "product": "Ketamine",
            "dose": "a little",
            "dose_unit": "mg/kg",
            "heart_rate_pre": "fast",
        },
        ("Give a date and a time", "Not a valid number.", "Not a valid integer."),
    ),
    "/clinician/alerts/<id:alert_id>/ack": Form(
        {"note": "n" * 2001},
        ("Write a note of 1 to 2000 characters.",),
    ),
    "/admin/staff/new": Form(
        {"name": "Eve", "email": "eve", "role": "superuser", "timezone": "Nowhere"},
        ("Not a valid email address.", "Must be one of", "Choose a time zone"),
    ),
    "/admin/staff/<id:user_id>/access": Form(
        {"enabled": "perhaps"},
        ("The request could not be understood.",),
    ),
    "/admin/clinic": Form(
        {
            "crisis_call_number": "call us",
            "crisis_text_number": "988",
            "emergency_number": "911",
            "clinic_hours": "9-5",
            "review_promise": "Soon.",
            "note_review_promise": "Soon.",
            "standard_drink": "14 g.",
            "assessment_interval_days": "weekly",
            "escalation_minutes": "soon",
            "craving_threshold": "7.5",
            "craving_days": "3",
            "abstinent_run_days": "30",
            "booster_review_points": "5",
            "urinary_alert_severity": "urgent",
        },
        ("Use digits, spaces", "Give a whole number.", "Must be one of"),
    ),
}

# Forms that are one button: they take no fields, so no field can be wrong. Only the oversized case applies.
NO_FIELDS = {
    "/logout",
    "/admin/staff/<id:user_id>/mfa-reset",
    "/clinician/patients/<id:patient_id>/invitation",
    "/admin/staff/<id:user_id>/invitation",
    "/clinician/patients/<id:patient_id>/notes/seen",
    "/admin/on-call/<id:shift_id>/delete",
    "/settings/sms-consent/withdraw",
    # One checkbox: anything but its own value is not agreeing (and stores nothing: tests/test_sms.py).
    "/settings/sms-consent",
}

# The text-message provider's webhooks: form-encoded and signed, no session (tests/test_sms.py); here, only that
# a body over the limit is refused before anything reads it.
WEBHOOKS = {"/sms/inbound", "/sms/status"}

# Page routes that the page's own script calls with JSON (CSRF token in a header), answering JSON errors.
SCRIPT_JSON = {"/settings/push-subscriptions"}

# Bugs these tests found in files outside this change: each is expected to fail until it is fixed.


# --- Fixtures --------------------------------------------------------------------------------------------------


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": False}


@pytest.fixture
def people(people):
    """Pat has a PHQ-9, an open alert and a session given two days ago at 20:00 his time, whose morning-after
    check opened yesterday at 09:00 and is open all of today, whatever the hour (it closes tomorrow at 09:00)."""
    zone = ZoneInfo(people.pat.timezone)
    start = (utcnow().astimezone(zone) - timedelta(days=2)).replace(hour=20, minute=0, second=0, microsecond=0)
    people.pat_alert = raise_alert(
        db.session, utcnow(), patient_id=people.pat.id, kind="craving", severity="medium", reason="test", dedup_key="t"
    )
    people.pat_session = save_session(
        db.session, people.pat.patient,
        {"status": "given", "start": start.astimezone(UTC), "route": "iv", "product": "Ketamine", "dose": 0.5,
         "dose_unit": "mg/kg"},
        utcnow(), people.alice,
    )  # fmt: skip
    people.pat_assessment, _ = submit(
        db.session, people.pat.patient, {"instrument": "phq9", "answers": [0] * 9}, utcnow(), people.pat
    )
    add_link_holders(people)
    add_future_shift(people)
    people.invitation = invite_dana(people)
    return people


def _signed_in_client(app, people, caller: str, route: str):
    """A client for ``caller``, and the headers its requests carry."""
    client = app.test_client()
    user = _caller_user(caller, people)
    if user is None:
        return client, {}
    if route.startswith("/api/"):
        return client, bearer(client, user)
    assert AuthActions(client).login(user).status_code == 302
    return client, {}


# --- Nothing written -------------------------------------------------------------------------------------------


def _snapshot() -> dict[str, Counter]:
    """Every row of every table, as text (JSON columns are not hashable); audited reads left out."""
    with db.engine.connect() as connection:
        tables = {}
        for table in db.metadata.sorted_tables:
            query = select(table)
            if table.name == AuditEvent.__tablename__:
                query = query.where(table.c.action.not_in(AUDITED_READS))
            tables[table.name] = Counter(repr(tuple(row)) for row in connection.execute(query))
        return tables


def _changes(before: dict[str, Counter], after: dict[str, Counter]) -> dict[str, dict[str, list[str]]]:
    return {
        name: {"added": sorted(after[name] - rows), "removed": sorted(rows - after[name])}
        for name, rows in before.items()
        if rows != after[name]
    }


def _refused(client, path: str, method: str, headers: dict, **body):
    """Send one bad body; return the response once it is shown to be a 4xx that changed nothing."""
    before = _snapshot()
    response = client.open(path, method=method, headers=headers, **body)
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:500])
    assert _changes(before, _snapshot()) == {}
    return response


def _not_refused_for_access(response) -> None:
    assert response.status_code not in (401, 403, 404), "the caller was refused, not the body"
    assert not response.headers.get("Location", "").startswith("/login?"), "sent to sign in"


def test_the_snapshot_sees_inserts_and_updates(app, people):
    """What ``_refused`` relies on: a request's committed INSERT and UPDATE both show, an audited read does not."""
    client, headers = _signed_in_client(app, people, "patient", "/api/")
    before = _snapshot()
    reminder = {"time": "20:00", "channels": ["email"]}
    assert client.put("/api/v1/me/reminders", json=reminder, headers=headers).status_code == 200
    inserted = _snapshot()
    assert _changes(before, inserted)
    assert client.put("/api/v1/me/reminders", json={**reminder, "time": "21:00"}, headers=headers).status_code == 200
    assert list(_changes(inserted, _snapshot())) == ["reminder_settings"]
    alice, _ = _signed_in_client(app, people, "clinician", "/clinician/")
    before, reads = _snapshot(), _audited_reads()
    assert alice.get(f"/clinician/patients/{people.pat.id}").status_code == 200
    assert _audited_reads() == reads + 1
    assert _changes(before, _snapshot()) == {}


def _audited_reads() -> int:
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).where(AuditEvent.action.in_(AUDITED_READS)))


# --- The list is complete ----------------------------------------------------------------------------------------


def test_the_routes_that_take_a_body_are_all_here(app):
    derived = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods & BODY_METHODS
        if rule.endpoint != "static"
    }
    assert derived == set(ROUTES)
    assert len(API_ROUTES) >= 10
    assert len(FORM_ROUTES) >= 15


def test_every_form_route_is_described_here():
    routes = {route for _, route in FORM_ROUTES}
    kinds = [set(FORMS), NO_FIELDS, SCRIPT_JSON, WEBHOOKS]
    assert routes == set().union(*kinds), "say what a new form route's fields are (FORMS) or that it has none"
    assert sum(len(kind) for kind in kinds) == len(routes), "a route is described twice"


def test_every_api_route_documents_its_body(client):
    document = client.get(OPENAPI).get_json()
    for method, route in API_ROUTES:
        assert _body_schema(document, method, route)["properties"], route


def test_the_limit_is_the_configured_one(app):
    assert app.config["MAX_CONTENT_LENGTH"] == LIMIT


# --- JSON API ------------------------------------------------------------------------------------------------------


def _openapi_path(route: str) -> str:
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", route)


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _body_schema(document: dict, method: str, route: str) -> dict:
    operation = document["paths"][_openapi_path(route)][method.lower()]
    return _resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])


def _json_types(document: dict, schema: dict) -> set[str]:
    schema = _resolve(document, schema)
    types = {schema["type"]} if "type" in schema else set()
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        types |= _json_types(document, alternative)
    if "integer" in types:
        types.add("number")
    return types


WRONG_VALUES = (("string", "seven"), ("number", 7), ("array", ["seven"]), ("object", {"seven": 7}))


def wrongly_typed(document: dict, schema: dict) -> dict:
    """Every documented property with a value of a JSON type the document does not allow for it."""
    return {
        name: next(value for kind, value in WRONG_VALUES if kind not in _json_types(document, prop))
        for name, prop in schema["properties"].items()
    }


def _api_cases(document: dict, method: str, route: str) -> dict[str, tuple[dict, int]]:
    """Each case: the request's body arguments and the status it must get."""
    typed = wrongly_typed(document, _body_schema(document, method, route))
    text = json.dumps(typed)
    nested = "[" * 100_000 + "]" * 100_000
    return {
        "malformed JSON": ({"data": '{"mood": ', "content_type": "application/json"}, 400),
        "not UTF-8": ({"data": b'{"note": "\xff\xfe"}', "content_type": "application/json"}, 400),
        "nested too deeply": ({"data": nested, "content_type": "application/json"}, 400),
        "form-encoded": ({"data": {"mood": "5"}}, 415),
        "text/plain": ({"data": text, "content_type": "text/plain"}, 415),
        "oversized": ({"data": json.dumps({"note": "n" * LIMIT}), "content_type": "application/json"}, 413),
        "an array": ({"json": [typed]}, 422),
        "a string": ({"json": text}, 422),
        "a number": ({"json": 7}, 422),
        "every property wrongly typed": ({"json": typed}, 422),
    }


@pytest.mark.parametrize(("method", "route"), API_ROUTES)
def test_api_refuses_bad_bodies_and_writes_nothing(app, people, subtests, method, route):
    client, headers = _signed_in_client(app, people, _caller(method, route), route)
    document = client.get(OPENAPI).get_json()
    path = _concrete(route, people, people.invitation)
    for case, (body, status) in _api_cases(document, method, route).items():
        with subtests.test(case):
            response = _refused(client, path, method, headers, **body)
            answer = response.get_json()
            assert response.status_code == status, answer
            assert answer["code"] == status
            assert isinstance(answer.get("message"), str)
            assert answer["message"]
            if status == 400:
                assert "JSON" in json.dumps(answer), "say that the JSON could not be read"
            elif status == 422 and case == "every property wrongly typed":
                _not_refused_for_access(response)
                assert set(answer["errors"]["json"]) == set(_body_schema(document, method, route)["properties"])
            elif status == 422:
                assert answer["errors"]["json"] == {"_schema": ["Invalid input type."]}


# --- HTML forms --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", sorted(FORMS))
def test_form_refuses_wrongly_typed_fields_and_writes_nothing(app, people, route):
    client, headers = _signed_in_client(app, people, _caller("POST", route), route)
    path = _concrete(route, people, people.invitation)
    # With CSRF off, the handler's own reading of the form refuses a body over the limit (production: below).
    assert _refused(client, path, "POST", headers, data={"note": "n" * LIMIT}).status_code == 413
    response = _refused(client, path, "POST", headers, data=FORMS[route].fields)
    _not_refused_for_access(response)
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    for message in FORMS[route].says:
        assert message in page, f"{message!r} is not on the page"


@pytest.mark.parametrize("route", sorted(SCRIPT_JSON))
def test_script_json_route_refuses_bad_bodies_and_writes_nothing(app, people, subtests, route):
    client, headers = _signed_in_client(app, people, _caller("POST", route), route)
    path = _concrete(route, people, people.invitation)
    cases = {
        "malformed JSON": {"data": '{"endpoint": ', "content_type": "application/json"},
        "nested too deeply": {"data": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"},
        "form-encoded": {"data": {"endpoint": "https://push.example/1"}},
        "an array": {"json": [{"endpoint": "https://push.example/1"}]},
        "every field wrongly typed": {"json": {"endpoint": 7, "keys": "seven"}},
        "oversized": {"data": json.dumps({"endpoint": "e" * LIMIT}), "content_type": "application/json"},
    }
    for case, body in cases.items():
        with subtests.test(case):
            response = _refused(client, path, "POST", headers, **body)
            if case == "oversized":
                assert response.status_code == 413
            elif case != "nested too deeply":  # that one is refused before the view, with the 400 error page
                assert response.is_json
            if case == "every field wrongly typed":
                _not_refused_for_access(response)
                assert set(response.get_json()["errors"]) == {"endpoint", "keys"}


@pytest.mark.parametrize("route", sorted(WEBHOOKS))
def test_a_webhook_body_over_the_limit_is_413(client, route):
    response = client.post(route, data={"Body": "n" * LIMIT}, headers={"X-Twilio-Signature": "c2lnbmF0dXJl"})
    assert response.status_code == 413


class TestOversizedFormsInProduction:
    """CSRF on, as in production: the check reads the form first, so every form refuses it before its handler."""

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    @pytest.mark.parametrize("route", sorted(route for _, route in FORM_ROUTES if route not in WEBHOOKS))
    def test_a_body_over_the_limit_is_413(self, app, people, route):
        client, headers = _signed_in_client(app, people, _caller("POST", route), route)
        path = _concrete(route, people, people.invitation)
        token = csrf_token(client, "/help" if headers or _caller("POST", route) != "anonymous" else "/login")
        response = _refused(
            client, path, "POST", {**headers, "X-CSRFToken": token}, data={"csrf_token": token, "n": "n" * LIMIT}
        )
        assert response.status_code == 413
        # The same caller, with the same token and nothing too large, is let in: it was the size.
        _not_refused_for_access(client.post(path, data={"csrf_token": token}, headers={"X-CSRFToken": token}))
