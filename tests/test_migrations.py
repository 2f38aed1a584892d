"""Migrations keep what a clinic has recorded, on SQLite and PostgreSQL.

SQLite changes a table in batch mode by copying it and dropping the original; with foreign keys on, the drop
would delete every row that refers to the table (the patient's sessions and their checks). These tests put rows
in a database at an older revision, migrate it, and count them again. Each builds its own database from empty:
a SQLite file of its own, or the PostgreSQL test database's schema, which is left at the newest revision after.
"""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from journal import create_app
from journal.db import db
from tests.conftest import POSTGRES_URL, _psycopg, skip_or_fail_in_ci


def _rows(*, indications: bool) -> list[str]:
    """Alice, her patient Pat, a session of Pat's and his check after it; Pat's indications from 0011 on."""
    patient_columns, patient_values = "", ""
    if indications:
        patient_columns, patient_values = ", indications", ", '[\"depression\"]'"
    return [
        "INSERT INTO clinic (id, name, created_at) VALUES (1, 'Riverside', '2026-01-01 00:00:00')",
        "INSERT INTO user_account (id, clinic_id, email, name, role, timezone, created_at, failed_logins,"
        " session_salt) VALUES (1, 1, 'alice@clinic.test', 'Alice', 'clinician', 'UTC', '2026-01-01 00:00:00', 0,"
        " 'a'), (2, 1, 'pat@patient.test', 'Pat', 'patient', 'UTC', '2026-01-01 00:00:00', 0, 'p')",
        f"INSERT INTO patient (user_id, substances, tracks_pain, sleep_detail, enrolled_at{patient_columns})"
        f" VALUES (2, '[]', false, true, '2026-01-01 00:00:00'{patient_values})",
        "INSERT INTO dosing_session (id, patient_id, status, start, route, product, dose, dose_unit, setting, notes,"
        " created_at, updated_at, entered_by_id) VALUES (1, 2, 'given', '2026-01-02 15:00:00', 'intranasal',"
        " 'Esketamine', 56, 'mg', 'clinic', '', '2026-01-02 18:00:00', '2026-01-02 18:00:00', 1)",
        "INSERT INTO side_effect_check (id, session_id, patient_id, kind, answers, skipped, completed_at)"
        " VALUES (1, 1, 2, 'morning_after', '{\"nausea\": 2}', false, '2026-01-03 14:00:00')",
    ]


def _insert(statements: list[str]) -> None:
    with db.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request, tmp_path):
    """The URL of an empty database; for PostgreSQL, the test database's schema, migrated to the newest after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    if not POSTGRES_URL:
        skip_or_fail_in_ci("PostgreSQL half skipped: set JOURNAL_TEST_POSTGRES_URL (.ci/run does) to run it")
    _drop_everything(POSTGRES_URL)
    yield POSTGRES_URL
    _drop_everything(POSTGRES_URL)  # as the shared fixture leaves it: migrated, empty
    with _app(POSTGRES_URL).app_context():
        upgrade()
        db.engine.dispose()


def _drop_everything(url: str) -> None:
    engine = create_engine(_psycopg(url))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _app(url: str):
    return create_app({"DATABASE_URL": url, "SECRET_KEY": "migrations"})


def _count(table: str) -> int:
    with db.engine.connect() as connection:
        return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def test_upgrading_from_0010_keeps_every_session_and_its_checks(empty_database):
    with _app(empty_database).app_context():
        upgrade(revision="0010_use_day")
        _insert(_rows(indications=False))
        upgrade()  # through 0011 and 0012, which copy the patient and session tables on SQLite
        assert (_count("patient"), _count("dosing_session"), _count("side_effect_check")) == (1, 1, 1)
        db.engine.dispose()


def test_0012_adds_empty_session_record_fields_and_its_downgrade_keeps_the_sessions(empty_database):
    with _app(empty_database).app_context():
        upgrade(revision="0011_instruments")
        _insert(_rows(indications=True))
        upgrade(revision="0012_session_record")
        with db.engine.connect() as connection:
            session = connection.execute(
                text("SELECT spo2_pre_at, spo2_post_at, sedation_at, concomitant_classes, concomitant_medication,"
                     " monitored_by_id FROM dosing_session")
            ).one()  # fmt: skip
            patient = connection.execute(text("SELECT birth_date, rems_enrolled FROM patient")).one()
        assert tuple(session) == (None, None, None, None, "", None)  # nothing was recorded for the old rows
        assert tuple(patient) == (None, None)
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE dosing_session SET monitored_by_id = 1, concomitant_medication = 'x'"))
        downgrade(revision="0011_instruments")  # copies both tables on SQLite
        assert (_count("patient"), _count("dosing_session"), _count("side_effect_check")) == (1, 1, 1)
        upgrade()
        assert (_count("patient"), _count("dosing_session"), _count("side_effect_check")) == (1, 1, 1)
        db.engine.dispose()
