"""What a log line may hold: no secret link or token, and no value a database statement carried.

- Paths that carry a secret (``/invite/<token>``, ``/password-reset/<token>``, ``/m/<token>`` and their API
  forms) are logged with the token replaced by ``[redacted]``: by gunicorn's access log through
  ``GunicornLogger`` (``gunicorn --logger-class journal.logs.GunicornLogger``), and by the development server.
- A database error is logged by its type, its SQL (placeholders, never values) and its stack, never its
  message: the engine hides bound parameters (journal/db.py), but a driver's message can still quote the row it
  refused (PostgreSQL: ``DETAIL: Failing row contains (..., 'the note', ...)``).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import traceback

from gunicorn.glogging import Logger
from sqlalchemy.exc import StatementError

REDACTED = "[redacted]"

# A path segment after one of these is a secret capability (an invitation, a reset, a message's open token).
_SECRET_PATH = re.compile(r"(/(?:invite|invitations|password-reset|reset|m)/)[^/?#\s\"']+", re.IGNORECASE)
# Query parameters that would be secrets if a client ever sent one in a URL.
_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:token|code|otp|password|key)=)[^&#\s\"']*", re.IGNORECASE)
# Request and response headers that hold credentials, in gunicorn's atom names.
_SECRET_HEADERS = ("{authorization}i", "{cookie}i", "{x-csrftoken}i", "{set-cookie}o")


def redact(text: str) -> str:
    """``text`` with every token in a secret path or query parameter replaced by ``[redacted]``."""
    return _SECRET_QUERY.sub(rf"\1{REDACTED}", _SECRET_PATH.sub(rf"\1{REDACTED}", text))


class GunicornLogger(Logger):
    """gunicorn's logger, whose access log lines carry no token: the request line, path, query, referrer and
    every header or environ value are redacted, and credential headers left out, whatever the log format."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if isinstance(value, str):
                atoms[name] = redact(value)
        for name in _SECRET_HEADERS:
            if name in atoms:
                atoms[name] = REDACTED
        return atoms


class RedactingFilter(logging.Filter):
    """Redacts secret paths from a record's message (the development server logs each request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def init_app(_app) -> None:
    """The development server (``flask run``, werkzeug) logs request lines on the ``werkzeug`` logger."""
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(existing, RedactingFilter) for existing in werkzeug.filters):
        werkzeug.addFilter(RedactingFilter())


def safe_traceback(error: BaseException) -> str:
    """The traceback of ``error`` and the exceptions it came from, with the message of every database error
    replaced by what is safe to keep: its type, its SQL statement (placeholders only) and its error code."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts = []
    for exception in reversed(chain):
        stack = "".join(traceback.format_list(traceback.extract_tb(exception.__traceback__)))
        kind = f"{type(exception).__module__}.{type(exception).__qualname__}"
        parts.append(f"Traceback (most recent call last):\n{stack}{kind}: {_safe_message(exception)}\n")
    return "\nThe above exception led to the following:\n\n".join(parts)


def _safe_message(error: BaseException) -> str:
    if isinstance(error, StatementError):
        orig = error.orig
        origin = f"{type(orig).__module__}.{type(orig).__qualname__}" if orig is not None else "no driver error"
        return f"({origin}) [SQL: {error.statement}] [message and parameters withheld]"
    if _is_driver_error(error):
        code = getattr(error, "sqlstate", None) or getattr(error, "sqlite_errorname", None) or "?"
        diag = getattr(error, "diag", None)
        constraint = getattr(diag, "constraint_name", None) if diag is not None else None
        return f"[code {code}{f', constraint {constraint}' if constraint else ''}; message withheld]"
    return str(error)


def _is_driver_error(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover # psycopg is a requirement; SQLite-only installs may lack it
        return False
    return isinstance(error, psycopg.Error)
