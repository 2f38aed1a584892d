"""Configuration, security headers, health probes and migrations."""

from __future__ import annotations

import re
import shutil
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from journal import create_app
from journal.config import ConfigError
from journal.db import db
from journal.models import AuditEvent
from tests.conftest import NOW


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="JOURNAL_SECRET_KEY"):
        create_app({"ENV": "production", "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3"})


def test_settings_come_from_journal_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("JOURNAL_LOCKOUT_THRESHOLD", "3")
    monkeypatch.setenv("JOURNAL_BASE_URL", "https://journal.example")
    monkeypatch.setenv("JOURNAL_DATABASE_URL", "postgresql://u:p@db.example/journal")
    monkeypatch.setenv("JOURNAL_SECRET_KEY", "from-the-environment")
    app = create_app()
    assert app.config["LOCKOUT_THRESHOLD"] == 3
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db.example/journal"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SECRET_KEY"] == "from-the-environment"


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_template, tmp_path):
    path = tmp_path / "journal.sqlite3"
    shutil.copy(sqlite_template, path)
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "k"})
    with app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        db.session.remove()
        db.engine.dispose()


def test_every_response_carries_the_security_headers(client):
    for path in ("/login", "/healthz", "/api/v1/openapi.json", "/no-such-page"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert "http" not in csp  # no other origin is allowed anywhere
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in headers  # plain http; see test_sign_in for https


def test_pages_load_nothing_from_another_origin(client, auth, people):
    auth.login(people.alice)
    pages = ["/clinician/patients", "/clinician/patients/new", f"/clinician/patients/{people.pat.id}", "/help"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r'(src|href)="(https?:)?//', html), path
        assert "<script>" not in html and "style=" not in html, path


def test_pages_with_patient_data_are_not_cached(client, auth, people):
    auth.login(people.alice)
    assert client.get(f"/clinician/patients/{people.pat.id}").headers["Cache-Control"] == "no-store"


def test_healthz_answers_without_the_database(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/missing-dir/none.sqlite3", "SECRET_KEY": "k"})
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_answers_503_when_the_database_does_not(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/missing-dir/none.sqlite3", "SECRET_KEY": "k"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "database unavailable"}


def test_readyz_answers_200_when_the_database_does(client):
    assert client.get("/readyz").status_code == 200


def test_migrations_build_exactly_the_schema_the_models_describe(app):
    """The database here was built by `flask db upgrade`; autogenerate must find nothing left to do."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_audit_events_cannot_be_changed_or_deleted(app, people):
    db.session.add(AuditEvent(occurred_at=NOW, actor_id=people.alice.id, action="patient.read", detail=""))
    db.session.commit()
    for statement in ("UPDATE audit_event SET action = 'nothing'", "DELETE FROM audit_event"):
        with pytest.raises((DBAPIError, sqlite3.DatabaseError), match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.query(AuditEvent).count() == 1


def test_an_unexpected_error_is_a_plain_500_that_reveals_nothing(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "SECRET_KEY": "k"})  # not TESTING

    @app.get("/api/v1/boom")
    @app.get("/boom")
    def boom():
        raise RuntimeError("internal detail that must not leak")

    client = app.test_client()
    api = client.get("/api/v1/boom")
    assert api.status_code == 500
    assert api.get_json() == {"code": 500, "status": "Internal Server Error", "message": api.get_json()["message"]}
    page = client.get("/boom")
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.get_data(as_text=True)
    for response in (api, page):
        assert "internal detail" not in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)


def test_api_answers_unknown_paths_and_wrong_methods_in_json(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["code"] == 404
    wrong = client.delete("/api/v1/me")
    assert wrong.status_code == 405 and wrong.get_json()["code"] == 405
    assert "GET" in wrong.headers["Allow"]
