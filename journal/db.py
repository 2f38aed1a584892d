"""The database handle, the UTC column type and the engine settings each backend needs."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

# Named constraints, so Alembic migrations can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


class UTCDateTime(TypeDecorator):
    """An instant: stored as UTC, always returned timezone-aware (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an instant is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def commit_keeping_loaded(session: Session) -> None:
    """Commit without expiring the objects in the session, for a writer that answers with what it has just
    written. They already hold every stored value (keys and defaults come back at the flush), so the usual
    expiry would only make the answer reload them: four statements for a check-in and its three child tables."""
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


T = TypeVar("T")


def commit_retrying_on_conflict(session: Session, write: Callable[[], T]) -> T:
    """Run ``write`` and commit, returning what ``write`` returned. If that loses a race on a unique key (a
    simultaneous request inserted the same key and committed first), roll back and do both once more: the second
    run is then the sequential second request it really was, finds the winner's row, and answers as that request
    is answered (the stored record, or a clear 409), never with a 500 or a half-written row. A conflict on the
    second run is not a race, and is raised."""
    try:
        result = write()
        session.commit()
        return result
    except IntegrityError:
        session.rollback()
    result = write()
    session.commit()
    return result


def utcnow() -> datetime:
    return datetime.now(UTC)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # busy_timeout is already set: sqlite3.connect's timeout (SQLITE_BUSY_TIMEOUT_MS, see init_app) installs it
    # before any statement runs, which matters because with several workers even setting WAL can meet a lock.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _sqlite_busy_timeout(config) -> None:
    """How long a write waits for another connection's lock before it fails with OperationalError, which
    errors.py answers as a 503 the client may retry. Set here rather than as a pragma in _configure_sqlite,
    which cannot see the app's configuration; an explicit ``connect_args`` timeout still wins."""
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    timeout = int(config["SQLITE_BUSY_TIMEOUT_MS"]) / 1000
    options["connect_args"] = {"timeout": timeout, **options.get("connect_args", {})}
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _hide_parameters(config) -> None:
    """Statement errors and SQL logging never carry the values bound to a statement: those are check-in answers,
    notes and e-mail addresses. Forced over any engine options given (a test's or a deployment's)."""
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {**config["SQLALCHEMY_ENGINE_OPTIONS"], "hide_parameters": True}


def init_app(app) -> None:
    from pathlib import Path

    _hide_parameters(app.config)
    _sqlite_busy_timeout(app.config)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
