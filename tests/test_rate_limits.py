"""Every configured rate limit holds across all web workers: Flask-Limiter counts in the journal's own database
by default (journal/ratelimit.py, ``JOURNAL_RATELIMIT_STORAGE_URL=database``), one atomic statement per hit.

The proof is two real gunicorn workers: ten sign-in attempts, five steered to each worker, against a limit of five
a minute. With the database five pass; with ``memory://`` (each worker counting for itself) all ten do.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from contextlib import closing

import pytest
from sqlalchemy import func, select, update

from journal import create_app
from journal.db import db
from journal.models import RateLimitCounter
from journal.ratelimit import DatabaseStorage
from journal.security import limiter
from tests.test_faults import REQUEST_TIMEOUT, Gunicorn, gunicorn

# --- The storage ------------------------------------------------------------------------------------------------


@pytest.fixture
def storage(app) -> DatabaseStorage:
    return DatabaseStorage("journal+db://")


def test_hits_are_counted_in_the_database_and_a_window_starts_again_once_it_ends(app, storage):
    assert [storage.incr("LIMITER/203.0.113.9/login", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("LIMITER/203.0.113.9/login") == 3
    assert time.time() + 55 < storage.get_expiry("LIMITER/203.0.113.9/login") <= time.time() + 60
    assert storage.get("LIMITER/198.51.100.1/login") == 0  # another client counts apart
    db.session.execute(update(RateLimitCounter).values(expires_at=time.time() - 1))  # the minute has passed
    db.session.commit()
    assert storage.get("LIMITER/203.0.113.9/login") == 0
    assert storage.incr("LIMITER/203.0.113.9/login", 60) == 1


def test_simultaneous_hits_from_several_connections_each_get_their_own_count(app, storage):
    """What two workers do at once: every hit is counted once (the counts returned are 1..100, each once)."""
    counts: list[int] = []
    start = threading.Barrier(4)

    def hit() -> None:
        with app.app_context():
            start.wait()
            counts.extend(storage.incr("LIMITER/203.0.113.9/login", 60) for _ in range(25))

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(counts) == list(range(1, 101))
    assert storage.get("LIMITER/203.0.113.9/login") == 100


def test_ended_windows_are_deleted_by_a_later_hit(app, storage):
    storage.incr("LIMITER/203.0.113.9/login", 60)
    storage.incr("LIMITER/198.51.100.1/login", 60)
    db.session.execute(update(RateLimitCounter).values(expires_at=time.time() - 1))
    db.session.commit()
    storage._next_cleanup = 0.0  # at most once a minute per process: this process's minute has passed
    storage.incr("LIMITER/192.0.2.7/login", 60)
    assert db.session.scalars(select(RateLimitCounter.key)).all() == ["LIMITER/192.0.2.7/login"]


def test_a_key_longer_than_the_column_is_kept_apart_by_its_digest(app, storage):
    long_key = "LIMITER/" + "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/" * 8
    other = long_key[:-1] + "x"
    assert storage.incr(long_key, 60) == 1
    assert storage.incr(other, 60) == 1
    assert storage.incr(long_key, 60) == 2
    assert db.session.scalar(select(func.max(func.length(RateLimitCounter.key)))) <= 255


def test_clear_and_reset_forget_counts(app, storage):
    storage.incr("a", 60), storage.incr("b", 60)
    storage.clear("a")
    assert (storage.get("a"), storage.get("b")) == (0, 1)
    assert storage.reset() == 1
    assert storage.check()


# --- The setting ------------------------------------------------------------------------------------------------


def test_the_database_is_the_default_and_other_storages_remain_possible(app_config):
    assert create_app(app_config).config["RATELIMIT_STORAGE_URI"] == "journal+db://"
    for uri in ("redis://localhost:6379", "memory://"):
        assert create_app({**app_config, "RATELIMIT_STORAGE_URL": uri}).config["RATELIMIT_STORAGE_URI"] == uri


class TestSignInLimitInTheDatabase:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"}

    def test_the_limit_is_counted_in_the_shared_table(self, app, client):
        statuses = [
            client.post("/api/v1/auth/token", json={"email": "x@y.test", "password": "bad"}).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        assert isinstance(limiter.storage, DatabaseStorage)
        assert db.session.scalar(select(func.max(RateLimitCounter.count))) == 4


# --- Two real workers ----------------------------------------------------------------------------------------


def idle_connection(server: Gunicorn) -> tuple[http.client.HTTPConnection, int]:
    """A connection with nothing sent yet, and the worker that accepted it (a sync worker then waits on it)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT)
    connection.connect()
    return connection, server.worker_serving(connection)


def keep_busy_all_but(server: Gunicorn, worker: int) -> http.client.HTTPConnection:
    """An idle connection held by the other worker, so that the next connections go to ``worker``."""
    parked, holder = idle_connection(server)
    if holder != worker:
        return parked
    other, holder = idle_connection(server)  # ``worker`` is busy with the first, so the other takes this one
    assert holder != worker
    parked.close()  # ``worker`` reads the end of it and goes back to accepting
    return other


def sign_in_attempt(server: Gunicorn, worker: int) -> int:
    connection, holder = idle_connection(server)
    with closing(connection):
        assert holder == worker
        body = json.dumps({"email": "nobody@clinic.test", "password": "a guess"})
        connection.request("POST", "/api/v1/auth/token", body=body, headers={"Content-Type": "application/json"})
        return connection.getresponse().status


@pytest.mark.parametrize(("storage_setting", "passing"), [("database", 5), ("memory://", 10)])
def test_two_workers_enforce_one_limit(database_url, tmp_path, storage_setting, passing):
    """Five attempts a minute from one address: ten sent, five to each worker. Shared counts let five through;
    ``memory://``, which counts per worker, lets all ten through (what the issue found: twice the limit)."""
    settings = {
        "JOURNAL_RATELIMIT_ENABLED": "true",
        "JOURNAL_LOGIN_RATE_LIMIT": "5 per minute",
        "JOURNAL_RATELIMIT_STORAGE_URL": storage_setting,
    }
    with gunicorn(database_url, tmp_path / "gunicorn.log", settings) as server:
        statuses = []
        for worker in sorted(server.workers()):
            with closing(keep_busy_all_but(server, worker)):
                statuses += [sign_in_attempt(server, worker) for _ in range(5)]
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) == passing  # 401: past the limiter, refused as a wrong password
    assert statuses.count(429) == 10 - passing
