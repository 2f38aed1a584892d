"""Configuration: safe local defaults, overridden by ``JOURNAL_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask


class ConfigError(RuntimeError):
    """The configuration would be unsafe or cannot work."""


DEFAULTS: dict[str, object] = {
    "ENV": "development",
    "BASE_URL": "http://127.0.0.1:5000",
    "MAIL_FROM": "Journal <no-reply@journal.invalid>",
    "SMTP_URL": "",
    "RATELIMIT_STORAGE_URL": "memory://",
    # Two limits on the sign-in endpoints: per IP (Flask-Limiter) and per account (lockout in the database,
    # shared by every process).
    "LOGIN_RATE_LIMIT": "10 per minute; 100 per hour",
    "LOCKOUT_THRESHOLD": 5,
    "LOCKOUT_MINUTES": 15,
    "STAFF_IDLE_MINUTES": 30,
    "PATIENT_IDLE_DAYS": 14,
    "API_TOKEN_HOURS": 12,  # nosec B105 # a lifetime in hours, not a secret
    "INVITATION_DAYS": 7,
    # SQLite: how long a write waits for another process's lock before the request answers 503 (journal/db.py).
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
    "PROXY_FIX": False,
    "MISSED_DAYS_LIMIT": 3,  # consecutive missed days after which reminders stop and the care team is told
    "VAPID_PRIVATE_KEY": "",
    "VAPID_SUBJECT": "mailto:admin@journal.invalid",
    "PUSH_REQUIRE_HTTPS": True,  # push services are https; tests play one on http://127.0.0.1
    "MAX_CONTENT_LENGTH": 256 * 1024,
    "COMPRESS_MIMETYPES": ["text/css", "text/javascript", "application/javascript"],
    "COMPRESS_ALGORITHM": ["br", "gzip"],
}


def load_config(app: Flask, overrides: dict | None = None) -> None:
    """Fill ``app.config`` from the defaults, the environment and ``overrides`` (tests), then check it."""
    app.config.update(DEFAULTS)
    # from_prefixed_env parses JSON values, so JOURNAL_LOCKOUT_THRESHOLD=3 arrives as an int.
    app.config.from_prefixed_env("JOURNAL")
    if overrides:
        app.config.update(overrides)
    config = app.config

    if not config.get("DATABASE_URL"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'journal.sqlite3'}"
    config["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(config["DATABASE_URL"])
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})

    if not config.get("SECRET_KEY"):
        if config["ENV"] == "production":
            raise ConfigError("JOURNAL_SECRET_KEY must be set in production.")
        config["SECRET_KEY"] = _local_secret_key(Path(app.instance_path))

    secure = str(config["BASE_URL"]).startswith("https://")
    config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_NAME="journal_session",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(days=int(config["PATIENT_IDLE_DAYS"])),
        RATELIMIT_STORAGE_URI=config["RATELIMIT_STORAGE_URL"],
        RATELIMIT_HEADERS_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead, which already expires
        API_TITLE="Journal API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )


def _normalise_database_url(url: str) -> str:
    # Accept the usual postgres:// and postgresql:// spellings and use psycopg 3 for both.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _local_secret_key(instance: Path) -> str:
    """A key kept in the instance folder, so local sessions survive a restart without any set-up."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()
