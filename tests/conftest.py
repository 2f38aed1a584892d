"""Shared fixtures.

Every test that touches the database runs twice: on SQLite (a copy of a file built by the real migrations)
and on PostgreSQL when ``JOURNAL_TEST_POSTGRES_URL`` names an empty database it may own (``.ci/run`` always
gives one). Without it the PostgreSQL half is skipped, with a reason that says so.

The people in these tests: Alice is a clinician with patient Pat; Bob is a clinician colleague who joins
Pat's care team only when a test adds him; Charlie is a clinician who must never see Alice's patients, and
has a patient of his own, Quinn; Ada is the clinic's admin.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from journal import accounts, create_app
from journal.accounts import PatientDetails, accept_invitation, create_staff, enrol_patient
from journal.db import db
from journal.models import Clinic, Role, User

POSTGRES_URL = os.environ.get("JOURNAL_TEST_POSTGRES_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail_in_ci(reason: str) -> None:
    """Skip locally when a service is missing; in CI (.ci/run starts every service) that is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} — CI must run every test")
    pytest.skip(reason)


PASSWORD = "correct horse battery"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing():
    """argon2 at its production cost makes hundreds of test sign-ins slow; the algorithm stays the same."""
    original = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = original


# What the push services' names resolve to in tests: no test resolves a real name. A test changes an entry
# (``push_dns["fcm.googleapis.com"] = ["10.0.0.5"]``) to play a name that moved to another address.
PUSH_SERVICE_ADDRESSES = {
    "fcm.googleapis.com": ["142.250.74.106"],
    "updates.push.services.mozilla.com": ["34.117.65.55"],
    "web.push.apple.com": ["17.188.128.14"],
}


@pytest.fixture(autouse=True)
def push_dns(monkeypatch) -> dict[str, list[str]]:
    """Replaces the push-endpoint resolver with a table; an address literal resolves to itself, any other
    name not in the table does not resolve."""
    import ipaddress
    import socket

    from journal import channels

    table = {name: list(addresses) for name, addresses in PUSH_SERVICE_ADDRESSES.items()}

    def resolve(host: str, _port: int) -> list[str]:
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            pass
        if host.lower() not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host.lower()]

    monkeypatch.setattr(channels, "resolve_addresses", resolve)
    return table


def _base_config(tmp_path, database_url: str) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "BASE_URL": "http://journal.test",
        "RATELIMIT_ENABLED": False,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }


def _upgrade(database_url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "migrations"})
    with app.app_context():
        upgrade()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "journal.sqlite3"
    _upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_database() -> str:
    if not POSTGRES_URL:
        skip_or_fail_in_ci("PostgreSQL half skipped: set JOURNAL_TEST_POSTGRES_URL (.ci/run does) to run it")
    engine = create_engine(_psycopg(POSTGRES_URL))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    _upgrade(POSTGRES_URL)
    return POSTGRES_URL


def _psycopg(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "journal.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    engine = create_engine(_psycopg(url))
    tables = ", ".join(table.name for table in db.metadata.sorted_tables)
    with engine.begin() as connection:
        # TRUNCATE does not fire the audit table's row triggers, which refuse DELETE.
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def app_config(tmp_path, database_url) -> dict:
    """Override in a test module to change settings."""
    return _base_config(tmp_path, database_url)


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context (fresh ``g`` and database session), as it does in production,
    even while the test itself holds one open to set up data."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config) -> Flask:
    app = create_app(app_config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


# --- People ------------------------------------------------------------------------------------------------


@dataclass
class People:
    clinic: Clinic
    alice: User
    bob: User
    charlie: User
    ada: User
    pat: User
    quinn: User


def make_staff(clinic: Clinic, local: str, name: str, role: Role = Role.CLINICIAN) -> User:
    return create_staff(
        db.session, clinic.id, email=f"{local}@clinic.test", name=name, role=role,
        timezone="America/New_York", now=NOW, password=PASSWORD,
    )  # fmt: skip


def make_patient(clinician: User, local: str, name: str, zone: str = "America/Chicago", **programme) -> User:
    """An enrolled patient who has accepted their invitation."""
    details = PatientDetails(
        name=name,
        email=f"{local}@patient.test",
        timezone=zone,
        substances=programme.pop("substances", ["alcohol"]),
        **programme,
    )
    user, token = enrol_patient(db.session, clinician, details, NOW, invitation_days=7)
    accept_invitation(db.session, token, PASSWORD, NOW)
    db.session.flush()
    return user


def questionnaires_done(user: User, at: datetime, answers: int = 0) -> None:
    """The patient filled in the PHQ-9 and GAD-7 at ``at`` (every item ``answers``), so none is due for a while."""
    from journal.assessments import submit

    for instrument, count in (("phq9", 9), ("gad7", 7)):
        submit(db.session, user.patient, {"instrument": instrument, "answers": [answers] * count}, at, user)
    db.session.flush()


@pytest.fixture
def people(app) -> People:
    clinic = Clinic(name="Riverside Clinic", created_at=NOW)
    db.session.add(clinic)
    db.session.flush()
    alice = make_staff(clinic, "alice", "Alice Adams")
    bob = make_staff(clinic, "bob", "Bob Brown")
    charlie = make_staff(clinic, "charlie", "Charlie Clark")
    ada = make_staff(clinic, "ada", "Ada Admin", Role.ADMIN)
    pat = make_patient(alice, "pat", "Pat Patient")
    quinn = make_patient(charlie, "quinn", "Quinn Other", zone="Asia/Kolkata")
    db.session.commit()
    return People(clinic, alice, bob, charlie, ada, pat, quinn)


# --- Signing in -------------------------------------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, page: str = "/login") -> str:
    match = CSRF_FIELD.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF token on {page}"
    return match.group(1)


class AuthActions:
    """Sign in and post forms as a browser would, CSRF token included."""

    def __init__(self, client: FlaskClient):
        self.client = client

    def login(self, user_or_email, password: str = PASSWORD, follow: bool = False):
        email = user_or_email.email if isinstance(user_or_email, User) else user_or_email
        token = csrf_token(self.client, "/login")
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=follow
        )

    def post(self, url: str, data: dict | None = None, **kwargs):
        token = csrf_token(self.client, "/help")
        return self.client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)

    def logout(self):
        return self.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def bearer(client: FlaskClient, user: User, password: str = PASSWORD) -> dict:
    response = client.post("/api/v1/auth/token", json={"email": user.email, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}
