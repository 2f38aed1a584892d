"""Configuration: safe local defaults, overridden by ``JOURNAL_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

from .channels import DEFAULT_PUSH_SERVICE_HOSTS


class ConfigError(RuntimeError):
    """The configuration would be unsafe or cannot work."""


DEFAULTS: dict[str, object] = {
    "ENV": "development",
    "BASE_URL": "http://127.0.0.1:5000",
    "MAIL_FROM": "Journal <no-reply@journal.invalid>",
    "SMTP_URL": "",
    # Where the rate limiter counts: "database" (the default: the journal's own database, which every web
    # process shares), or a limits storage URI such as redis://host:6379 (memory:// counts per process).
    "RATELIMIT_STORAGE_URL": "database",
    # Limits on the sign-in endpoints: per client address (Flask-Limiter), and failed sign-ins per account and
    # address with growing pauses (accounts.record_sign_in_failure): after LOCKOUT_THRESHOLD failures from one
    # address, 1 minute, doubling up to LOCKOUT_MINUTES; after LOCKOUT_ACCOUNT_CEILING failures from all
    # addresses together, every address is paused the same way.
    "LOGIN_RATE_LIMIT": "10 per minute; 100 per hour",
    "LOCKOUT_THRESHOLD": 5,
    "LOCKOUT_MINUTES": 15,
    "LOCKOUT_ACCOUNT_CEILING": 100,
    "STAFF_IDLE_MINUTES": 30,
    "PATIENT_IDLE_DAYS": 14,
    "API_TOKEN_HOURS": 12,  # nosec B105 # a lifetime in hours, not a secret
    "INVITATION_DAYS": 7,
    "PASSWORD_RESET_MINUTES": 60,  # how long a link to set a new password works (it works once)
    # SQLite: how long a write waits for another process's lock before the request answers 503 (journal/db.py).
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
    "PROXY_FIX": False,
    "MISSED_DAYS_LIMIT": 3,  # consecutive missed days after which reminders stop and the care team is told
    "VAPID_PRIVATE_KEY": "",
    "VAPID_SUBJECT": "mailto:admin@journal.invalid",
    "PUSH_REQUIRE_HTTPS": True,  # push services are https; tests play one on http://127.0.0.1
    # Web Push goes only to these hosts (the browsers' push services; "*.example.com" for any name under it),
    # never to a loopback, private, link-local or reserved address unless listed in the second setting.
    "PUSH_SERVICE_HOSTS": list(DEFAULT_PUSH_SERVICE_HOSTS),
    "PUSH_PRIVATE_ADDRESSES_ALLOWED": [],
    "PUSH_SUBSCRIPTIONS_PER_PATIENT": 5,  # a new device beyond this replaces the patient's oldest
    # Text messages through Twilio's Messages API, on when the first three are set (otherwise texts go to the log,
    # and never in production). FROM is the sending number in E.164, or a Messaging Service SID (MG...). The
    # auth token also verifies the signatures on Twilio's webhooks (/sms/inbound, /sms/status).
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    "TWILIO_FROM": "",
    "TWILIO_API_BASE": "https://api.twilio.com",  # tests play Twilio on http://127.0.0.1
    # The name every text starts with (carriers require the sender's name). Never a name that says what the
    # clinic treats (PRIV-R1); at most SMS_SENDER_NAME_MAX GSM-7 characters so every text fits one segment.
    "SMS_SENDER_NAME": "Journal",
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

    if config.get("STAFF_MFA_DEFAULT") is None:
        # Whether clinicians and admins must sign in with a second factor when their clinic has not chosen.
        config["STAFF_MFA_DEFAULT"] = config["ENV"] == "production"
    elif isinstance(config["STAFF_MFA_DEFAULT"], str):  # JOURNAL_STAFF_MFA_DEFAULT=yes, not JSON's true
        config["STAFF_MFA_DEFAULT"] = config["STAFF_MFA_DEFAULT"].strip().lower() in ("1", "true", "yes", "on")

    if not config.get("SECRET_KEY"):
        if config["ENV"] == "production":
            raise ConfigError("JOURNAL_SECRET_KEY must be set in production.")
        config["SECRET_KEY"] = _local_secret_key(Path(app.instance_path))

    _check_sms(config)

    secure = str(config["BASE_URL"]).startswith("https://")
    config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_NAME="journal_session",
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(days=int(config["PATIENT_IDLE_DAYS"])),
        RATELIMIT_STORAGE_URI=_rate_limit_storage_uri(str(config["RATELIMIT_STORAGE_URL"])),
        RATELIMIT_HEADERS_ENABLED=True,
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead, which already expires
        API_TITLE="Journal API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )


SMS_SENDER_NAME_MAX = 20


def sms_configured(config) -> bool:
    """Are texts sent through Twilio (rather than to the log)?"""
    return all(config.get(name) for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"))


def texts_available(config) -> bool:
    """May patients agree to texts? Not in production until Twilio is configured: they would never arrive."""
    return sms_configured(config) or config["ENV"] != "production"


def _check_sms(config) -> None:
    from .messages import gsm7_length

    name = str(config["SMS_SENDER_NAME"]).strip()
    septets = gsm7_length(name)
    if not name or septets is None or septets > SMS_SENDER_NAME_MAX:
        raise ConfigError(
            f"JOURNAL_SMS_SENDER_NAME must be 1 to {SMS_SENDER_NAME_MAX} plain (GSM-7) characters, so that every "
            "text fits one message."
        )
    config["SMS_SENDER_NAME"] = name
    secure_api = str(config["TWILIO_API_BASE"]).startswith("https://")
    if config["ENV"] == "production" and sms_configured(config) and not secure_api:
        raise ConfigError("JOURNAL_TWILIO_API_BASE must be an https URL in production.")


def _rate_limit_storage_uri(setting: str) -> str:
    from .ratelimit import DatabaseStorage

    return f"{DatabaseStorage.STORAGE_SCHEME[0]}://" if setting.strip().lower() == "database" else setting


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
