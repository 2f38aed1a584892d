"""Rate-limit counters in the journal's own database, the one thing every web process shares (DESIGN.md: nothing
else is needed on one machine), as a storage backend for the ``limits`` library under Flask-Limiter.

The setting ``JOURNAL_RATELIMIT_STORAGE_URL=database`` (the default) selects it; ``redis://...`` still works for
many machines. Only the fixed-window strategy (Flask-Limiter's default) is supported: one row per limit and
client, ``RateLimitCounter`` (key, count, expires_at), changed by a single INSERT ... ON CONFLICT DO UPDATE that
returns the new count, so simultaneous hits in different processes all count, on SQLite and PostgreSQL alike.
Rows whose window has ended are deleted at most once a minute per process, by whichever hit comes next.
"""

from __future__ import annotations

import hashlib
import time

from limits.storage import Storage
from sqlalchemy import case, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .db import db
from .models import RateLimitCounter

_table = RateLimitCounter.__table__
_KEY_LENGTH = _table.c.key.type.length
CLEANUP_EVERY_SECONDS = 60.0


class DatabaseStorage(Storage):
    """``journal+db://``: counters in the ``rate_limit_counter`` table, reached through the current app's engine
    (or ``engine``, given as a storage option). Each call runs in its own short transaction, apart from the
    request's session, so a count is kept whatever the request does next."""

    STORAGE_SCHEME = ["journal+db"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, engine: Engine | None = None, **_):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self._engine = engine
        self._next_cleanup = 0.0

    @property
    def engine(self) -> Engine:
        return self._engine or db.engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        ended = _table.c.expires_at <= now
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(_table)
        statement = (
            insert.values(key=_stored(key), count=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[_table.c.key],
                set_={
                    # a window that has ended starts again with this hit
                    "count": case((ended, amount), else_=_table.c.count + amount),
                    "expires_at": case((ended, now + expiry), else_=_table.c.expires_at),
                },
            )
            .returning(_table.c.count)
        )
        with self.engine.begin() as connection:
            count = connection.execute(statement).scalar_one()
            if now >= self._next_cleanup:
                self._next_cleanup = now + CLEANUP_EVERY_SECONDS
                connection.execute(delete(_table).where(_table.c.expires_at <= now))
        return count

    def get(self, key: str) -> int:
        with self.engine.connect() as connection:
            count = connection.scalar(
                select(_table.c.count).where(_table.c.key == _stored(key), _table.c.expires_at > time.time())
            )
        return count or 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as connection:
            expires_at = connection.scalar(select(_table.c.expires_at).where(_table.c.key == _stored(key)))
        return expires_at if expires_at is not None else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return connection.execute(delete(_table)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(_table).where(_table.c.key == _stored(key)))


def _stored(key: str) -> str:
    """The key as stored: as given, or, when longer than the column (a long IPv6 address and endpoint name), a
    readable start and a digest of the whole."""
    if len(key) <= _KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: _KEY_LENGTH - len(digest) - 1]}#{digest}"
