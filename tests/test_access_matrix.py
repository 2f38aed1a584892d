"""Who may use which route: every route, for every kind of caller.

A clinician sees only their care team's patients, a patient only themselves, an admin manages accounts and
sees no patient data; everything else is a 404, as if it did not exist. A route missing from POLICY fails
``test_every_route_has_an_access_policy``, so a new route cannot skip this check.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from journal.accounts import create_invitation, create_staff, request_password_reset
from journal.alerts import raise_alert
from journal.assessments import submit
from journal.db import db, utcnow
from journal.models import OnCallShift, Role
from journal.sessions import save_session
from tests.conftest import NOW, PASSWORD, AuthActions

CALLERS = ["anonymous", "patient", "other_patient", "clinician", "outside_clinician", "admin"]

# Which callers may use a route; all other signed-in callers get 404, anonymous callers are sent to sign in.
EVERYONE = set(CALLERS)
SIGNED_IN = EVERYONE - {"anonymous"}
PATIENTS = {"patient", "other_patient"}
CLINICIANS = {"clinician", "outside_clinician"}
OWN = {"patient"}  # for pages about one of Pat's own records
CARE_TEAM = {"clinician"}  # for routes about Pat, whose care team is Alice alone
ADMINS = {"admin"}
STAFF = CLINICIANS | ADMINS
# Posted by the text-message provider: no session or token gets in, only its signature (403 for every caller
# here; a signed request is tested in tests/test_sms.py). Exempt from CSRF, since the provider holds no session.
PROVIDER_SIGNED = {"provider"}

BASELINE_INSTRUMENT = "<any(phq9,phq8,gad7,pcl5,peg,pacs,auditc):instrument>"
CHART = "charts/<any(outcomes,assessments,adherence):name>.<any(png,svg):fmt>"

POLICY: dict[tuple[str, str], set[str]] = {
    ("GET", "/"): EVERYONE,
    ("GET", "/login"): EVERYONE,
    ("POST", "/login"): EVERYONE,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/invite/<token>"): EVERYONE,
    ("POST", "/invite/<token>"): EVERYONE,
    ("GET", "/password-reset"): EVERYONE,
    ("POST", "/password-reset"): EVERYONE,
    ("GET", "/password-reset/<token>"): EVERYONE,  # others signed in are told the link is someone else's (409)
    ("POST", "/password-reset/<token>"): EVERYONE,
    ("GET", "/settings/password"): SIGNED_IN,
    ("POST", "/settings/password"): SIGNED_IN,
    # Two-step sign-in: the code after the password (signed-in callers are sent home, anyone else to sign in
    # unless a password was just right), setting it up (staff), an admin's reset of a staff member's.
    ("GET", "/login/verify"): EVERYONE,
    ("POST", "/login/verify"): EVERYONE,
    ("GET", "/settings/mfa"): STAFF,
    ("POST", "/settings/mfa"): STAFF,
    ("POST", "/admin/staff/<id:user_id>/mfa-reset"): ADMINS,
    ("POST", "/api/v1/me/mfa"): STAFF,
    ("POST", "/api/v1/me/mfa/confirm"): STAFF,
    ("GET", "/help"): EVERYONE,
    ("GET", "/healthz"): EVERYONE,
    ("GET", "/readyz"): EVERYONE,
    ("GET", "/home"): PATIENTS,
    ("GET", "/home/progress.png"): PATIENTS,
    ("GET", "/checkin"): PATIENTS,
    ("GET", "/checkin/offline-form"): PATIENTS,  # the blank form the service worker keeps for this sign-in
    ("GET", "/checkin/<day>"): PATIENTS,  # always the caller's own day
    ("POST", "/checkin/<day>"): PATIENTS,
    ("GET", "/checkin/<day>/saved"): PATIENTS,
    ("GET", "/sw.js"): EVERYONE,
    ("GET", "/manifest.webmanifest"): EVERYONE,
    ("GET", "/m/<token>"): EVERYONE,
    ("GET", "/settings/reminders"): PATIENTS,
    ("POST", "/settings/reminders"): PATIENTS,
    ("POST", "/settings/push-subscriptions"): PATIENTS,
    ("GET", "/api/v1/me/reminders"): PATIENTS,
    ("PUT", "/api/v1/me/reminders"): PATIENTS,
    ("POST", "/api/v1/me/push-subscriptions"): PATIENTS,
    ("GET", "/api/v1/me/sms-consent"): PATIENTS,
    ("POST", "/api/v1/me/sms-consent"): PATIENTS,
    ("DELETE", "/api/v1/me/sms-consent"): PATIENTS,
    ("POST", "/settings/sms-consent"): PATIENTS,
    ("POST", "/settings/sms-consent/withdraw"): PATIENTS,
    ("POST", "/sms/inbound"): PROVIDER_SIGNED,
    ("POST", "/sms/status"): PROVIDER_SIGNED,
    ("GET", "/offline"): EVERYONE,
    ("GET", "/assessments"): PATIENTS,
    ("GET", "/assessments/<any(phq9,phq8,gad7,pcl5,peg,auditc):instrument>"): PATIENTS,
    ("POST", "/assessments/<any(phq9,phq8,gad7,pcl5,peg,auditc):instrument>"): PATIENTS,
    ("GET", "/assessments/<id:assessment_id>/support"): OWN,  # about Pat's own form
    ("GET", "/assessments/<id:assessment_id>/done"): OWN,
    ("GET", "/about/questionnaires"): EVERYONE,
    ("GET", "/sessions/<id:session_id>/prepare"): OWN,  # about Pat's own session
    ("GET", "/sessions/<id:session_id>/check/<any(morning_after,72h):kind>"): OWN,  # planned: "not yet"
    ("POST", "/sessions/<id:session_id>/check/<any(morning_after,72h):kind>"): OWN,
    ("GET", "/clinician/patients"): CLINICIANS,
    ("GET", "/clinician/dashboard"): CLINICIANS,  # each sees only their own care team's patients
    ("GET", "/clinician/overview"): CLINICIANS,
    ("GET", "/admin/overview"): ADMINS,  # aggregates only
    ("GET", "/clinician/patients/new"): CLINICIANS,
    ("POST", "/clinician/patients/new"): CLINICIANS,
    ("GET", "/clinician/patients/<id:patient_id>"): CARE_TEAM,
    ("GET", "/clinician/patients/<id:patient_id>/days/<day>"): CARE_TEAM,  # one day whole; opening marks a note seen
    ("POST", "/clinician/patients/<id:patient_id>/invitation"): CARE_TEAM,
    ("POST", "/clinician/patients/<id:patient_id>/care-team"): CARE_TEAM,
    ("GET", "/admin/staff"): ADMINS,
    ("GET", "/admin/staff/new"): ADMINS,
    ("POST", "/admin/staff/new"): ADMINS,
    ("POST", "/admin/staff/<id:user_id>/invitation"): ADMINS,
    ("POST", "/admin/staff/<id:user_id>/access"): ADMINS,
    ("GET", "/admin/audit"): ADMINS,
    ("GET", "/admin/clinic"): ADMINS,
    ("POST", "/admin/clinic"): ADMINS,
    ("GET", "/admin/alerts"): ADMINS,
    ("GET", "/admin/on-call"): ADMINS,
    ("POST", "/admin/on-call"): ADMINS,  # an empty form: admitted, then told what is missing (400)
    ("POST", "/admin/on-call/<id:shift_id>/delete"): ADMINS,
    ("GET", "/clinician/alerts"): CLINICIANS,
    ("POST", "/clinician/alerts/<id:alert_id>/ack"): CARE_TEAM,
    ("POST", "/clinician/patients/<id:patient_id>/baseline"): CARE_TEAM,
    ("GET", "/clinician/patients/<id:patient_id>/assessments/<instrument>"): CARE_TEAM,  # a paper form's entry
    ("POST", "/clinician/patients/<id:patient_id>/assessments/<instrument>"): CARE_TEAM,
    ("GET", "/clinician/patients/<id:patient_id>/sessions"): CARE_TEAM,  # the form on a page of its own
    ("POST", "/clinician/patients/<id:patient_id>/sessions"): CARE_TEAM,
    ("GET", "/clinician/patients/<id:patient_id>/sessions/<id:session_id>"): CARE_TEAM,
    ("POST", "/clinician/patients/<id:patient_id>/sessions/<id:session_id>"): CARE_TEAM,
    ("GET", "/clinician/patients/<id:patient_id>/sessions/<id:session_id>/record.pdf"): CARE_TEAM,
    ("GET", f"/clinician/patients/<id:patient_id>/{CHART}"): CARE_TEAM,
    ("GET", "/admin/deliveries"): ADMINS,
    ("GET", "/api/v1/openapi.json"): EVERYONE,
    ("POST", "/api/v1/auth/token"): EVERYONE,
    ("DELETE", "/api/v1/auth/token"): SIGNED_IN,
    ("POST", "/api/v1/auth/password-reset"): EVERYONE,
    ("POST", "/api/v1/auth/password-reset/<token>"): EVERYONE,
    ("PUT", "/api/v1/me/password"): SIGNED_IN,
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("POST", "/api/v1/invitations/<token>"): EVERYONE,
    ("GET", "/api/v1/patients"): CLINICIANS,
    ("POST", "/api/v1/patients"): CLINICIANS,
    ("GET", "/api/v1/patients/<id:patient_id>"): CARE_TEAM,
    ("PUT", "/api/v1/checkins/<day>"): PATIENTS,
    ("GET", "/api/v1/checkins"): PATIENTS,
    ("GET", "/api/v1/patients/<id:patient_id>/checkins"): CARE_TEAM,
    ("PUT", "/api/v1/patients/<id:patient_id>/checkins/<day>"): CARE_TEAM,
    # A clinician's POST without a patient_id is a 422: admitted, then told what is missing.
    ("POST", "/api/v1/assessments"): PATIENTS | CLINICIANS,
    ("GET", "/api/v1/assessments"): PATIENTS,
    ("GET", "/api/v1/patients/<id:patient_id>/assessments"): CARE_TEAM,
    ("PUT", f"/api/v1/patients/<id:patient_id>/baselines/{BASELINE_INSTRUMENT}"): CARE_TEAM,
    ("POST", "/api/v1/patients/<id:patient_id>/sessions"): CARE_TEAM,
    ("GET", "/api/v1/patients/<id:patient_id>/sessions"): CARE_TEAM,
    ("GET", "/api/v1/patients/<id:patient_id>/sessions/<id:session_id>"): CARE_TEAM,
    ("PUT", "/api/v1/patients/<id:patient_id>/sessions/<id:session_id>"): CARE_TEAM,
    ("GET", "/api/v1/patients/<id:patient_id>/sessions/<id:session_id>/record.pdf"): CARE_TEAM,
    ("GET", "/api/v1/alerts"): CLINICIANS,
    ("POST", "/api/v1/alerts/<id:alert_id>/ack"): CARE_TEAM,
    ("GET", "/api/v1/patients/<id:patient_id>/summary"): CARE_TEAM,
    ("GET", f"/api/v1/patients/<id:patient_id>/{CHART}"): CARE_TEAM,
    # The visit report and the exports: the care team's, and a patient's own (always the caller's).
    ("GET", "/settings/data"): PATIENTS,
    ("GET", "/settings/export.csv"): PATIENTS,
    ("GET", "/settings/export.fhir.json"): PATIENTS,
    ("GET", "/clinician/patients/<id:patient_id>/report.pdf"): CARE_TEAM,
    ("GET", "/clinician/patients/<id:patient_id>/export.csv"): CARE_TEAM,
    ("GET", "/clinician/patients/<id:patient_id>/export.fhir.json"): CARE_TEAM,
    ("GET", "/api/v1/patients/<id:patient_id>/report.pdf"): CARE_TEAM,
    ("GET", "/api/v1/patients/<id:patient_id>/export.csv"): CARE_TEAM,
    ("GET", "/api/v1/patients/<id:patient_id>/export.fhir.json"): CARE_TEAM,
    ("GET", "/api/v1/me/export.csv"): PATIENTS,
    ("GET", "/api/v1/me/export.fhir.json"): PATIENTS,
    # People: a patient's own contact details and time zone; the care team's Edit details page and PATCH.
    ("GET", "/settings/contact"): PATIENTS,  # always the caller's own
    ("POST", "/settings/contact"): PATIENTS,  # an empty form: admitted, then told the time zone is missing (400)
    ("PATCH", "/api/v1/me"): PATIENTS,
    ("GET", "/clinician/patients/<id:patient_id>/details"): CARE_TEAM,
    ("POST", "/clinician/patients/<id:patient_id>/details"): CARE_TEAM,
    ("PATCH", "/api/v1/patients/<id:patient_id>"): CARE_TEAM,
    ("POST", "/clinician/patients/<id:patient_id>/notes/seen"): CARE_TEAM,
}


def _routes(app) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_an_access_policy(app):
    routes = _routes(app)
    assert routes - POLICY.keys() == set(), "classify new routes in POLICY"
    assert POLICY.keys() - routes == set(), "POLICY names routes that no longer exist"


@pytest.fixture
def people(people):
    """Alice's patient Pat has a PHQ-9 and an open alert, for the routes about them."""
    people.pat_alert = raise_alert(
        db.session, NOW, patient_id=people.pat.id, kind="craving", severity="medium", reason="test", dedup_key="t:1"
    )
    people.pat_session = save_session(
        db.session, people.pat.patient,
        {"status": "planned", "start": NOW, "route": "iv", "product": "Ketamine", "dose": 0.5, "dose_unit": "mg/kg"},
        NOW, people.alice,
    )  # fmt: skip
    people.pat_assessment, _ = submit(
        db.session, people.pat.patient, {"instrument": "phq9", "answers": [0] * 9}, NOW, people.pat
    )
    add_link_holders(people)
    add_future_shift(people)
    db.session.commit()
    return people


def add_future_shift(people) -> None:
    """A shift on the rota a month ahead (Alice on call, Bob her backup), for the routes about a shift."""
    people.future_shift = OnCallShift(
        clinic_id=people.clinic.id,
        clinician_id=people.alice.id,
        backup_id=people.bob.id,
        starts_at=utcnow() + timedelta(days=30),
        ends_at=utcnow() + timedelta(days=31),
    )
    db.session.add(people.future_shift)


def add_link_holders(people) -> None:
    """Dana, a clinician invited but not yet active, to hold an invitation; and a link Pat asked for to set a new
    password (``people.reset_token``). A test makes Dana's invitation with ``invite_dana``."""
    people.dana = create_staff(
        db.session, people.clinic.id, email="dana@clinic.test", name="Dana Dunn", role=Role.CLINICIAN,
        timezone="America/New_York", now=NOW,
    )  # fmt: skip
    _, people.reset_token = request_password_reset(db.session, people.pat.email, utcnow(), minutes=60)


def invite_dana(people) -> str:
    token = create_invitation(db.session, people.dana, people.ada, utcnow(), days=7)
    db.session.commit()
    return token


@pytest.fixture
def app_config(app_config):
    # CSRF is tested on its own (TestCsrfOnEveryForm below); here the question is only who gets in.
    return {**app_config, "WTF_CSRF_ENABLED": False}


def _concrete(path: str, people, token: str) -> str:
    return (
        path.replace("<id:patient_id>", str(people.pat.id))
        .replace("<id:user_id>", str(people.bob.id))
        .replace("<id:alert_id>", str(people.pat_alert.id))
        .replace("<id:assessment_id>", str(people.pat_assessment.id))
        .replace("<id:session_id>", str(people.pat_session.id))
        .replace("<id:shift_id>", str(people.future_shift.id))
        .replace("<any(phq9,phq8,gad7,pcl5,peg,auditc):instrument>", "phq9")
        .replace(BASELINE_INSTRUMENT, "phq9")
        .replace("assessments/<instrument>", "assessments/pcl5")
        .replace("<any(outcomes,assessments,adherence):name>", "outcomes")
        .replace("<any(png,svg):fmt>", "png")
        .replace("<any(morning_after,72h):kind>", "morning_after")
        .replace("password-reset/<token>", f"password-reset/{people.reset_token}")
        .replace("<token>", token)
        # yesterday in UTC is within every patient's back-fill window, whatever their zone
        .replace("<day>", (utcnow() - timedelta(days=1)).date().isoformat())
    )


def _caller_user(caller: str, people):
    return {
        "patient": people.pat,
        "other_patient": people.quinn,
        "clinician": people.alice,
        "outside_clinician": people.charlie,
        "admin": people.ada,
    }.get(caller)


def _request(app, people, caller: str, method: str, path: str):
    client = app.test_client()
    user = _caller_user(caller, people)
    headers = {}
    if path.startswith("/api/") and user is not None:
        token = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}).get_json()["token"]
        headers["Authorization"] = f"Bearer {token}"
    elif user is not None:
        assert AuthActions(client).login(user).status_code == 302
    if method == "GET":
        return client.get(path, headers=headers)
    body = {"json": {}} if path.startswith("/api/") else {"data": {}}
    return client.open(path, method=method, headers=headers, **body)


@pytest.mark.parametrize(("method", "route"), sorted(POLICY))
def test_route_admits_exactly_the_callers_its_policy_names(app, people, method, route):
    path = _concrete(route, people, invite_dana(people))
    outcomes = {}
    for caller in CALLERS:
        response = _request(app, people, caller, method, path)
        location = response.headers.get("Location", "")
        if response.status_code == 404:
            outcomes[caller] = "hidden"
        elif response.status_code == 401 or (response.status_code == 302 and location.startswith("/login?")):
            outcomes[caller] = "sign in"
        elif response.status_code == 403:
            outcomes[caller] = "forbidden"
        else:
            outcomes[caller] = "admitted"
    expected = {
        caller: "admitted" if caller in POLICY[(method, route)] else "sign in" if caller == "anonymous" else "hidden"
        for caller in CALLERS
    }
    if POLICY[(method, route)] == PROVIDER_SIGNED:
        expected = dict.fromkeys(CALLERS, "forbidden")
    # Public routes may answer 404 for reasons of their own (e.g. a used token); none here do.
    assert outcomes == expected


def test_outside_clinician_gets_404_for_alices_patient_by_page_and_api(app, people):
    for path in (f"/clinician/patients/{people.pat.id}", f"/api/v1/patients/{people.pat.id}"):
        assert _request(app, people, "outside_clinician", "GET", path).status_code == 404
        assert _request(app, people, "clinician", "GET", path).status_code == 200


def test_patient_list_shows_only_the_callers_care_team(app, people):
    listed = _request(app, people, "outside_clinician", "GET", "/api/v1/patients").get_json()
    assert [row["id"] for row in listed] == [people.quinn.id]
    page = _request(app, people, "clinician", "GET", "/clinician/patients").get_data(as_text=True)
    assert people.pat.name in page
    assert people.quinn.name not in page


def test_a_missing_patient_and_someone_elses_patient_look_the_same(app, people):
    other = _request(app, people, "outside_clinician", "GET", f"/api/v1/patients/{people.pat.id}")
    missing = _request(app, people, "outside_clinician", "GET", "/api/v1/patients/999999")
    assert other.status_code == missing.status_code == 404
    assert other.get_json() == missing.get_json()


class TestCsrfOnEveryForm:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    @pytest.mark.parametrize(
        "route",
        sorted(
            route
            for method, route in POLICY
            if method == "POST" and not route.startswith("/api/") and POLICY[(method, route)] != PROVIDER_SIGNED
        ),
    )
    def test_form_post_without_a_token_is_refused_for_an_admitted_caller(self, app, people, route):
        token = invite_dana(people)
        admitted = sorted(POLICY[("POST", route)] - {"anonymous"}) or ["anonymous"]
        client = app.test_client()
        user = _caller_user(admitted[0], people)
        if user is not None:
            AuthActions(client).login(user)
        response = client.post(_concrete(route, people, token), data={})
        assert response.status_code == 400
        assert "This form had expired" in response.get_data(as_text=True)


def test_an_id_beyond_the_databases_integers_is_404_on_pages_too(app, people):
    for path in (f"/clinician/patients/{2**31}", f"/clinician/patients/{2**63}", "/clinician/patients/0"):
        assert _request(app, people, "clinician", "GET", path).status_code == 404
    assert _request(app, people, "admin", "POST", f"/admin/staff/{2**40}/access").status_code == 404


def test_listing_patients_takes_a_fixed_number_of_queries_however_many_there_are(app, people):
    from sqlalchemy import event

    from journal.db import db
    from tests.conftest import make_patient

    def statements_for_list() -> int:
        count = 0

        def counter(*_args):
            nonlocal count
            count += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            response = _request(app, people, "clinician", "GET", "/api/v1/patients")
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        assert response.status_code == 200
        return count

    few = statements_for_list()
    for n in range(10):
        make_patient(people.alice, f"extra{n}", f"Extra {n}")
    db.session.commit()
    assert statements_for_list() == few
