"""A patient cannot make the journal connect anywhere: push subscriptions only name a browser's push service
(https, on the allowlist, on a public address), at subscription time and again right before each send, and a
patient keeps at most a few devices.

No test resolves a real name: ``push_dns`` (tests/conftest.py) is the resolver's table.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from journal import create_app
from journal.channels import PushEndpoints, vapid_keys
from journal.db import db
from journal.models import OutboxMessage, OutboxStatus, PushSubscription
from journal.outbox import deliver_due
from journal.scheduled import build_channels
from tests.conftest import bearer, csrf_token

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
KEYS = {"p256dh": "BAAA", "auth": "AAAA"}


def _stored() -> int:
    return db.session.scalar(select(func.count()).select_from(PushSubscription))


def _subscribe(client, headers, endpoint: str):
    return client.post("/api/v1/me/push-subscriptions", json={"endpoint": endpoint, "keys": KEYS}, headers=headers)


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        ("https://127.0.0.1:9443/push/abc", "127.0.0.1 is not a known push service"),
        ("https://[::1]/push/abc", "::1 is not a known push service"),
        ("https://push.attacker.test/abc", "push.attacker.test is not a known push service"),
        ("https://fcm.googleapis.com.attacker.test/abc", "is not a known push service"),
        ("https://metadata.google.internal/computeMetadata", "is not a known push service"),
    ],
)
def test_a_subscription_to_an_unlisted_host_is_422_naming_endpoint_and_nothing_is_stored(client, people, endpoint, why):
    response = _subscribe(client, bearer(client, people.pat), endpoint)

    assert response.status_code == 422
    assert why in response.get_json()["errors"]["endpoint"][0]
    assert _stored() == 0


def test_a_listed_host_that_resolves_to_a_private_address_is_refused(client, people, push_dns):
    push_dns["fcm.googleapis.com"] = ["10.0.0.5"]

    response = _subscribe(client, bearer(client, people.pat), "https://fcm.googleapis.com/fcm/send/pat-phone")

    assert response.status_code == 422
    assert response.get_json()["errors"]["endpoint"] == [
        "push endpoint host fcm.googleapis.com resolves to a non-public address (10.0.0.5)"
    ]
    assert _stored() == 0


def test_the_settings_page_script_gets_the_same_refusal(client, auth, people):
    auth.login(people.pat)
    token = csrf_token(client, "/settings/reminders")

    response = client.post(
        "/settings/push-subscriptions",
        json={"endpoint": "https://127.0.0.1:9443/push/abc", "keys": KEYS},
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 422
    assert "endpoint" in response.get_json()["errors"]
    assert _stored() == 0


def test_each_browsers_push_service_is_accepted(client, people, push_dns):
    push_dns["wns2-by3p.notify.windows.com"] = ["20.42.65.92"]
    headers = bearer(client, people.pat)
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/chrome",
        "https://updates.push.services.mozilla.com/wpush/v2/firefox",
        "https://web.push.apple.com/safari",
        "https://wns2-by3p.notify.windows.com/w/?token=edge",
    ):
        assert _subscribe(client, headers, endpoint).status_code == 201, endpoint
    assert _stored() == 4


def test_a_listed_name_that_does_not_resolve_just_now_is_kept_and_checked_before_each_send(client, people, push_dns):
    del push_dns["updates.push.services.mozilla.com"]

    response = _subscribe(client, bearer(client, people.pat), "https://updates.push.services.mozilla.com/wpush/v2/x")

    assert response.status_code == 201
    assert _stored() == 1


def test_a_sixth_device_replaces_the_patients_oldest_and_a_known_one_replaces_none(client, people):
    headers = bearer(client, people.pat)
    ids = [_subscribe(client, headers, f"https://fcm.googleapis.com/fcm/send/{n}").get_json()["id"] for n in range(6)]

    kept = set(db.session.scalars(select(PushSubscription.id).where(PushSubscription.user_id == people.pat.id)))
    assert kept == set(ids[1:])  # the first device went
    assert _subscribe(client, headers, "https://fcm.googleapis.com/fcm/send/3").status_code == 201  # again
    db.session.expire_all()
    assert set(db.session.scalars(select(PushSubscription.id))) == set(ids[1:])


def test_another_patients_devices_do_not_count_towards_the_limit(client, people):
    quinn = bearer(client, people.quinn)
    pat = bearer(client, people.pat)
    assert _subscribe(client, quinn, "https://fcm.googleapis.com/fcm/send/quinn").status_code == 201
    for n in range(5):
        assert _subscribe(client, pat, f"https://fcm.googleapis.com/fcm/send/pat-{n}").status_code == 201
    assert db.session.scalar(select(func.count()).where(PushSubscription.user_id == people.quinn.id)) == 1


def test_production_defaults_refuse_loopback_and_list_only_the_browsers_services(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'j.sqlite3'}", "SECRET_KEY": "x"})
    endpoints = PushEndpoints.from_config(app.config)

    assert endpoints.refusal("https://127.0.0.1:9443/push/abc") is not None
    assert endpoints.refusal("http://fcm.googleapis.com/fcm/send/x") == "push endpoint must be an https URL"
    assert endpoints.refusal("https://fcm.googleapis.com/fcm/send/x") is None
    assert endpoints.private_allowed == ()
    assert app.config["PUSH_SUBSCRIPTIONS_PER_PATIENT"] == 5


def test_the_allowlist_can_be_set_from_the_environment_as_a_list_or_comma_separated(monkeypatch, tmp_path):
    monkeypatch.setenv("JOURNAL_PUSH_SERVICE_HOSTS", "push.clinic.example, *.push.example.org")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'j.sqlite3'}", "SECRET_KEY": "x"})
    endpoints = PushEndpoints.from_config(app.config)

    assert endpoints.hosts == ("push.clinic.example", "*.push.example.org")
    assert endpoints.refusal("https://a.push.example.org/x") is None
    assert endpoints.refusal("https://fcm.googleapis.com/fcm/send/x") is not None


# --- The scheduler, for a subscription already stored ----------------------------------------------------------


class TestTheSchedulerNeverConnects:
    """Subscriptions written straight into the database (before this check existed, or by hand) are checked
    again before each send: the message fails for good with a clear reason, and no connection is opened."""

    @pytest.fixture
    def app_config(self, app_config):
        # 127.0.0.1 is among the push services here, so that only the address check stands in its way.
        hosts = ["*.googleapis.com", "127.0.0.1"]
        return {**app_config, "VAPID_PRIVATE_KEY": vapid_keys()[0], "PUSH_SERVICE_HOSTS": hosts}

    @pytest.fixture
    def listener(self):
        """A port on 127.0.0.1 that notes whether anything connected to it."""
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.5)
        yield server
        server.close()

    def _queue_push_to(self, people, endpoint: str) -> OutboxMessage:
        subscription = PushSubscription(user_id=people.pat.id, endpoint=endpoint, p256dh="BAAA", auth="AAAA")
        db.session.add(subscription)
        db.session.flush()
        message = OutboxMessage(
            dedup_key=f"reminder:{people.pat.id}:2026-03-02:webpush:{subscription.id}",
            recipient_id=people.pat.id,
            channel="webpush",
            address=str(subscription.id),
            template="daily_reminder",
            link_path="/checkin",
            next_attempt_at=NOW,
            created_at=NOW,
        )
        db.session.add(message)
        db.session.commit()
        return message

    def _deliver(self, app) -> None:
        config = app.config
        deliver_due(
            db.session,
            NOW + timedelta(minutes=1),
            build_channels(config),
            base_url=config["BASE_URL"],
            secret_key=config["SECRET_KEY"],
        )
        db.session.expire_all()

    def _nothing_connected(self, listener) -> bool:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            return True
        connection.close()
        return False

    def test_an_unlisted_host_fails_for_good_without_a_connection(self, app, people, listener):
        port = listener.getsockname()[1]
        message = self._queue_push_to(people, f"https://localhost:{port}/push/device-secret")

        self._deliver(app)

        stored = db.session.get(OutboxMessage, message.id)
        assert stored.status == OutboxStatus.FAILED and stored.attempts == 1
        assert stored.last_error == "push endpoint host localhost is not a known push service"
        assert _stored() == 0  # a refused endpoint is dropped, as a push service's 410 drops one
        assert self._nothing_connected(listener)

    def test_a_listed_host_on_a_loopback_address_fails_for_good_without_a_connection(self, app, people, listener):
        port = listener.getsockname()[1]
        message = self._queue_push_to(people, f"https://127.0.0.1:{port}/push/device-secret")

        self._deliver(app)

        stored = db.session.get(OutboxMessage, message.id)
        assert stored.status == OutboxStatus.FAILED
        assert stored.last_error == "push endpoint host 127.0.0.1 resolves to a non-public address (127.0.0.1)"
        assert self._nothing_connected(listener)

    def test_a_listed_name_that_now_resolves_to_a_private_address_fails_for_good(self, app, people, push_dns):
        message = self._queue_push_to(people, "https://fcm.googleapis.com/fcm/send/pat-phone")
        push_dns["fcm.googleapis.com"] = ["142.250.74.106", "10.0.0.5"]  # DNS changed after the subscription

        self._deliver(app)

        stored = db.session.get(OutboxMessage, message.id)
        assert stored.status == OutboxStatus.FAILED
        assert stored.last_error == "push endpoint host fcm.googleapis.com resolves to a non-public address (10.0.0.5)"
