"""The text-message channel against a stand-in for Twilio's Messages API on 127.0.0.1. No database, no app."""

from __future__ import annotations

import base64
import logging

import pytest

from journal.channels import DeliveryError, LogSmsChannel, OutgoingMessage, TwilioChannel
from tests.twilio_standin import ACCOUNT_SID, AUTH_TOKEN, FROM, twilio_standin

TEXT = OutgoingMessage(
    id=42,
    to="+13125550123",
    subject="daily_reminder",
    text="Journal: You have a new check-in. https://journal.test/m/abc Reply STOP to opt out.",
    url="https://journal.test/m/abc",
    message_key="reminder:7:2026-03-02:sms",
)
CALLBACK = "https://journal.test/sms/status"


@pytest.fixture
def twilio():
    with twilio_standin() as standin:
        yield standin


def _channel(twilio, sender: str = FROM) -> TwilioChannel:
    return TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, sender, api_base=twilio.base_url, status_callback=CALLBACK, timeout=5)


def test_a_text_is_posted_to_the_accounts_messages_resource_with_basic_auth(twilio):
    sid = _channel(twilio).send(TEXT)

    [request] = twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.authorization == "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert {name: request.form[name] for name in ("To", "From", "Body", "StatusCallback")} == {
        "To": "+13125550123",
        "From": FROM,
        "Body": TEXT.text,
        "StatusCallback": CALLBACK,
    }
    assert sid == "SM" + "0" * 31 + "1"  # Twilio's id for it, which its status callbacks name


def test_a_messaging_service_sid_is_sent_as_the_service_not_as_a_number(twilio):
    _channel(twilio, sender="MG" + "1" * 32).send(TEXT)
    [request] = twilio.requests
    assert request.form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in request.form


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (400, 21211, True),  # not a valid number: it never will be
        (400, 21610, True),  # the number replied STOP to Twilio
        (404, 20404, True),
        (429, 20429, False),  # too many requests: later
        (401, 20003, False),  # our credentials: once fixed, the message can still go
        (500, 20500, False),
        (503, 20503, False),
    ],
)
def test_twilios_answer_decides_whether_a_retry_can_help(twilio, status, code, permanent):
    twilio.fail_next((status, code))
    with pytest.raises(DeliveryError) as refused:
        _channel(twilio).send(TEXT)
    assert refused.value.permanent is permanent
    assert str(refused.value) == f"Twilio answered {status} (error {code})"
    assert "+1312" not in str(refused.value)  # Twilio's message quotes the number; the error (and log) do not


def test_twilio_unreachable_is_a_temporary_failure():
    channel = TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_base="http://127.0.0.1:9", timeout=2)
    with pytest.raises(DeliveryError) as refused:
        channel.send(TEXT)
    assert refused.value.permanent is False
    assert "unreachable" in str(refused.value)


def test_twilio_channel_needs_its_credentials_at_start_up():
    with pytest.raises(ValueError, match="account SID"):
        TwilioChannel(ACCOUNT_SID, "", FROM)


def test_log_sms_channel_logs_neither_the_text_nor_the_whole_number(caplog):
    with caplog.at_level(logging.INFO, logger="journal.outbox"):
        assert LogSmsChannel().send(TEXT) is None
    [line] = caplog.messages
    assert "ending 23" in line and "42" in line
    assert "+13125550123" not in line and "check-in" not in line
