"""Text messages: consent, reminders by text, the replies patients send and Twilio's delivery reports, through
the real outbox and a stand-in for Twilio's Messages API on 127.0.0.1 (tests/twilio_standin.py).

Pat (Alice's patient, America/Chicago, CST until 8 March) has the mobile number +1 312 555 0123 and is reminded
at 20:00 local = 02:00 UTC the next day. Quinn (Charlie's patient, Asia/Kolkata) is somebody else.

The pages, the API and the webhooks take the time from the clock (``utcnow``): the ``clock`` fixture sets it for
them, in the next year so that bearer tokens issued by it are still valid by the real clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from journal.checkins import save_checkin
from journal.db import db
from journal.i18n import LANGUAGES
from journal.messages import (
    SMS_FREQUENCY,
    SMS_TEXTS,
    fits_one_segment,
    gsm7_length,
    render_sms,
    sms_consent_words,
)
from journal.models import Assessment, OutboxMessage, OutboxStatus, ReminderSettings, SmsConsent
from journal.outbox import MAX_ATTEMPTS, queue
from journal.sms import START_WORDS_STORED, keyword
from journal.wording import catalogue
from tests.conftest import bearer, questionnaires_done
from tests.test_messages import FORBIDDEN, _says
from tests.twilio_standin import ACCOUNT_SID, AUTH_TOKEN, FROM, twilio_signature, twilio_standin

PAT_PHONE = "+13125550123"
EVENING = datetime(datetime.now(UTC).year + 1, 3, 3, 2, 30, tzinfo=UTC)  # 20:30 on 2 March in Chicago
DAY = date(EVENING.year, 3, 2)
BASE = "http://journal.test"  # the configured public URL (conftest's BASE_URL)
CHECKIN = {
    "mood": 5,
    "cravings": [{"substance": "alcohol", "intensity": 1}],
    "use": [{"substance": "alcohol", "used": False}],
}


@pytest.fixture
def twilio():
    with twilio_standin() as standin:
        yield standin


@dataclass
class Clock:
    now: datetime


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    """The time the consent API, the reminders page and the webhooks see: two hours before Pat's reminder."""
    from journal.api import accounts
    from journal.views import settings, sms

    clock = Clock(EVENING - timedelta(hours=2))
    for module in (accounts, settings, sms):
        monkeypatch.setattr(module, "utcnow", lambda: clock.now)
    return clock


@pytest.fixture
def app_config(app_config, twilio):
    return {
        **app_config,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": FROM,
        "TWILIO_API_BASE": twilio.base_url,
        "SMS_SENDER_NAME": "Riverside",
    }


@pytest.fixture
def pat(people):
    """Pat, active for weeks, checked in every day until yesterday, questionnaires done last week (so the daily
    reminder is all that is due at EVENING), with her mobile number on file; no messages queued yet."""
    pat = people.pat
    pat.activated_at = EVENING - timedelta(days=30)
    pat.patient.phone = PAT_PHONE
    people.clinic.clinic_phone = "(312) 555-0100"
    questionnaires_done(pat, EVENING - timedelta(days=7))
    for lag in range(1, 4):
        save_checkin(db.session, pat.patient, DAY - timedelta(days=lag), CHECKIN, EVENING - timedelta(days=lag), pat)
    db.session.query(OutboxMessage).delete()  # the fixture's invitation e-mails
    db.session.commit()
    return pat


def _run(app, now: datetime) -> None:
    """Every scheduled job once, as of ``now``: the reminder job queues, the outbox delivers."""
    result = app.test_cli_runner().invoke(args=["jobs", "run-once", "--now", now.isoformat()])
    assert result.exit_code == 0, result.output


def _texts(template: str | None = None) -> list[OutboxMessage]:
    db.session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.channel == "sms").order_by(OutboxMessage.id)
    if template:
        query = query.where(OutboxMessage.template == template)
    return list(db.session.scalars(query))


def _consents(user) -> list[SmsConsent]:
    db.session.expire_all()
    return list(db.session.scalars(select(SmsConsent).where(SmsConsent.patient_id == user.id).order_by(SmsConsent.id)))


def _agree(client, user) -> dict:
    response = client.post("/api/v1/me/sms-consent", json={"agree": True}, headers=bearer(client, user))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _choose_texts(client, user, channels=("email", "sms")):
    return client.put(
        "/api/v1/me/reminders",
        json={"time": "20:00", "channels": list(channels)},
        headers=bearer(client, user),
    )


def _signed_post(client, path: str, params: dict[str, str], *, url: str | None = None, token: str = AUTH_TOKEN):
    signature = twilio_signature(token, url or BASE + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


_sids = iter(range(1, 10_000))


def _reply(client, body: str, sender: str = PAT_PHONE):
    """A text a patient sends, as Twilio posts it to the inbound webhook, signed."""
    params = {"MessageSid": f"SMin{next(_sids):030d}", "AccountSid": ACCOUNT_SID, "From": sender, "To": FROM}
    return _signed_post(client, "/sms/inbound", {**params, "Body": body})


def _no_health_words(text: str) -> None:
    assert [word for word in FORBIDDEN if _says(word, text)] == [], text


# --- The texts ----------------------------------------------------------------------------------------------

LONGEST_SENDER = "Northside Wellness 1"  # 20 characters, the most JOURNAL_SMS_SENDER_NAME allows
LONG_LINK = "https://journal.northside-wellness.example.org/m/" + "0" * 40  # a 47-character public URL


LANGUAGE_CODES = sorted(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGE_CODES)
@pytest.mark.parametrize("template", sorted(SMS_TEXTS))
def test_every_text_fits_one_segment_with_the_longest_sender_link_and_phone_in_every_language(template, language):
    assert len(LONGEST_SENDER) == 20
    for help_phone in ("+44 20 7946 0958 ext. 1234567890", ""):  # HELP without a clinic phone says more words
        text = render_sms(template, sender=LONGEST_SENDER, link=LONG_LINK, help_phone=help_phone, language=language)
        assert gsm7_length(text) is not None, f"a character outside GSM-7 makes it UCS-2, 70 per segment: {text}"
        assert fits_one_segment(text), f"{len(text)} characters: {text}"


@pytest.mark.parametrize("language", LANGUAGE_CODES)
@pytest.mark.parametrize("template", sorted(SMS_TEXTS))
def test_every_text_and_the_consent_words_are_free_of_health_words_in_every_language(template, language):
    _no_health_words(
        render_sms(template, sender="Journal", link=LONG_LINK, help_phone="(312) 555-0100", language=language)
    )
    _no_health_words(render_sms(template, sender="Journal", link=LONG_LINK, language=language))
    _no_health_words(sms_consent_words("Journal", "(312) 555-0123", language))
    _no_health_words(catalogue(language).gettext(START_WORDS_STORED))


def test_every_spanish_text_is_in_spanish():
    for template in SMS_TEXTS:
        english = render_sms(template, sender="Riverside", link=LONG_LINK)
        assert render_sms(template, sender="Riverside", link=LONG_LINK, language="es") != english, template
    assert sms_consent_words("Riverside", "(312) 555-0123", "es").startswith("Acepto recibir de Riverside")


def test_the_confirmation_and_help_say_what_carriers_require():
    for template in ("sms_confirm", "sms_help"):
        text = render_sms(template, sender="Riverside", help_phone="(312) 555-0100")
        assert text.startswith("Riverside: ")
        assert "Up to 2 msgs/day." in text and "Msg & data rates may apply." in text and "STOP" in text
    assert "HELP" in render_sms("sms_confirm", sender="Riverside")
    assert "call (312) 555-0100" in render_sms("sms_help", sender="Riverside", help_phone="(312) 555-0100")
    assert SMS_FREQUENCY in sms_consent_words("Riverside", "(312) 555-0123")  # the page promises what texts say


def test_the_spanish_confirmation_and_help_say_what_carriers_require_with_the_keywords_as_they_are():
    confirm = render_sms("sms_confirm", sender="Riverside", language="es")
    assert confirm.startswith("Riverside: ")
    assert "Hasta 2 msjs/dia." in confirm and "Pueden aplicarse tarifas de mensajes y datos." in confirm
    assert "Responda HELP para ayuda, STOP para cancelar." in confirm
    help_text = render_sms("sms_help", sender="Riverside", help_phone="(312) 555-0100", language="es")
    assert help_text.startswith("Riverside: ") and "llame al (312) 555-0100" in help_text
    assert "Hasta 2 msjs/dia." in help_text and "Responda STOP para cancelar." in help_text
    assert "STOP" in render_sms("daily_reminder", sender="Riverside", link=LONG_LINK, language="es")
    assert "START" in render_sms("sms_stopped", sender="Riverside", language="es")
    words = sms_consent_words("Riverside", "(312) 555-0123", "es")
    for said in ("Hasta 2 mensajes al día.", "Pueden aplicarse tarifas de mensajes y datos.", "HELP", "STOP"):
        assert said in words


def test_one_segment_is_160_gsm7_septets_or_70_other_characters():
    assert fits_one_segment("a" * 160) and not fits_one_segment("a" * 161)
    assert gsm7_length("[€]") == 6  # the extension table takes two septets a character
    assert not fits_one_segment("€" * 81)
    assert fits_one_segment("✓" * 70) and not fits_one_segment("✓" + "a" * 70)  # UCS-2


def test_a_sender_name_that_cannot_fit_is_refused_at_start_up(app_config):
    from journal import create_app
    from journal.config import ConfigError

    for name in ("Northside Wellness 12", "Café ✓", ""):
        with pytest.raises(ConfigError, match="SMS_SENDER_NAME"):
            create_app({**app_config, "SMS_SENDER_NAME": name})


# --- The channel through the outbox -------------------------------------------------------------------------


def _queue_text(user, template: str, now: datetime, key: str = "test") -> None:
    queue(
        db.session,
        now,
        dedup_key=f"{key}:sms",
        recipient_id=user.id,
        channel="sms",
        address=user.patient.phone,
        template=template,
        link_path="/settings/reminders",
    )
    db.session.commit()


def test_a_queued_text_goes_once_and_keeps_twilios_id_for_its_status_reports(app, twilio, pat):
    _queue_text(pat, "sms_help", EVENING)
    _run(app, EVENING)
    _run(app, EVENING + timedelta(minutes=1))

    assert len(twilio.requests) == 1
    (row,) = _texts()
    assert row.status == OutboxStatus.SENT and row.provider_sid == "SM" + "0" * 31 + "1"
    assert twilio.texts[0]["Body"] == render_sms("sms_help", sender="Riverside", help_phone="(312) 555-0100")
    assert twilio.texts[0]["StatusCallback"] == f"{BASE}/sms/status"


def test_a_text_refused_with_500_is_retried_after_backoff_and_one_refused_with_400_fails(app, twilio, pat):
    twilio.fail_next((500, 20500), (400, 21211))
    _queue_text(pat, "sms_help", EVENING)

    _run(app, EVENING)
    (row,) = _texts()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.QUEUED, 1, "Twilio answered 500 (error 20500)")
    assert row.next_attempt_at == EVENING + timedelta(minutes=1)
    _run(app, EVENING + timedelta(seconds=30))  # not due yet
    assert len(twilio.requests) == 1

    _run(app, EVENING + timedelta(minutes=1))
    (row,) = _texts()
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.FAILED, 2, "Twilio answered 400 (error 21211)")
    _run(app, EVENING + timedelta(hours=1))
    assert len(twilio.requests) == 2 and twilio.texts == []


def test_a_reminder_text_goes_only_while_consent_for_that_number_is_in_force(app, twilio, pat):
    _queue_text(pat, "daily_reminder", EVENING)  # queued somehow without consent: it must still not go
    _run(app, EVENING)
    (row,) = _texts()
    assert row.status == OutboxStatus.FAILED and "no consent" in row.last_error
    assert twilio.requests == []


# --- Consent ------------------------------------------------------------------------------------------------


def test_consent_stores_the_exact_words_shown_the_time_and_the_number_and_sends_a_confirmation(
    app, client, twilio, pat, clock
):
    headers = bearer(client, pat)
    shown = client.get("/api/v1/me/sms-consent", headers=headers).get_json()
    assert shown["agreed"] is False and shown["phone"] == PAT_PHONE
    assert shown["words"].startswith("I agree to receive check-in reminder texts from Riverside at (312) 555-0123.")

    agreed = client.post("/api/v1/me/sms-consent", json={"agree": True}, headers=headers).get_json()

    (consent,) = _consents(pat)
    assert consent.words == shown["words"] == agreed["words"]
    assert (consent.phone, consent.given_via, consent.withdrawn_at) == (PAT_PHONE, "api", None)
    assert consent.given_at == clock.now
    assert agreed["agreed"] is True
    (confirmation,) = _texts("sms_confirm")
    assert (confirmation.address, confirmation.recipient_id) == (PAT_PHONE, pat.id)
    _run(app, clock.now)
    (text,) = twilio.texts
    assert text["To"] == PAT_PHONE
    assert text["Body"] == render_sms("sms_confirm", sender="Riverside")


def test_agreeing_twice_keeps_one_consent_and_sends_one_confirmation(client, pat):
    _agree(client, pat)
    _agree(client, pat)
    assert len(_consents(pat)) == 1
    assert len(_texts("sms_confirm")) == 1


@pytest.mark.parametrize("body", [{"agree": False}, {}, {"agree": "yes"}, {"agree": True, "patient_id": 1}])
def test_consent_needs_an_explicit_true_and_nothing_else(client, pat, body):
    response = client.post("/api/v1/me/sms-consent", json=body, headers=bearer(client, pat))
    assert response.status_code == 422
    assert _consents(pat) == []


def test_consent_without_a_phone_number_is_a_clear_422_naming_the_phone(client, pat):
    pat.patient.phone = None
    db.session.commit()
    headers = bearer(client, pat)
    response = client.post("/api/v1/me/sms-consent", json={"agree": True}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {
        "phone": ["Add your mobile number first (Contact details), then agree to texts."]
    }
    assert client.get("/api/v1/me/sms-consent", headers=headers).get_json()["words"] is None
    assert _consents(pat) == [] and _texts() == []


def test_reminders_by_text_are_refused_until_the_patient_agrees(client, pat):
    response = _choose_texts(client, pat)
    assert response.status_code == 422
    assert "agree to texts" in response.get_json()["errors"]["json"]["channels"][0]
    _agree(client, pat)
    response = _choose_texts(client, pat)
    assert response.status_code == 200 and response.get_json()["channels"] == ["email", "sms"]


def test_withdrawing_consent_stops_texts_drops_the_channel_and_cancels_waiting_texts(client, pat):
    _agree(client, pat)
    _choose_texts(client, pat)
    response = client.delete("/api/v1/me/sms-consent", headers=bearer(client, pat))
    assert response.status_code == 204
    (consent,) = _consents(pat)
    assert consent.withdrawn_at is not None and consent.withdrawn_via == "api"
    assert client.get("/api/v1/me/reminders", headers=bearer(client, pat)).get_json()["channels"] == ["email"]
    (confirmation,) = _texts("sms_confirm")
    assert confirmation.status == OutboxStatus.CANCELLED  # not yet sent when the patient changed her mind


def test_a_patient_consents_only_for_herself(client, people, pat):
    people.quinn.patient.phone = "+919812345678"
    db.session.commit()
    _agree(client, people.quinn)
    assert _consents(pat) == []
    assert [consent.phone for consent in _consents(people.quinn)] == ["+919812345678"]
    assert {text.address for text in _texts()} == {"+919812345678"}


def test_a_clinician_has_no_sms_consent(client, people, pat):
    headers = bearer(client, people.alice)
    assert client.post("/api/v1/me/sms-consent", json={"agree": True}, headers=headers).status_code == 404
    assert client.get("/api/v1/me/sms-consent", headers=headers).status_code == 404
    assert client.delete("/api/v1/me/sms-consent", headers=headers).status_code == 404


def test_the_reminders_page_shows_the_words_and_its_opt_in_stores_exactly_them(client, auth, pat):
    auth.login(pat)
    page = client.get("/settings/reminders").get_data(as_text=True)
    words = sms_consent_words("Riverside", "(312) 555-0123")
    assert words.replace("&", "&amp;") in page
    response = auth.post("/settings/sms-consent", {"agree": "yes"})
    assert response.status_code == 302
    (consent,) = _consents(pat)
    assert (consent.words, consent.given_via) == (words, "app")
    page = client.get("/settings/reminders").get_data(as_text=True)
    assert "Stop all texts" in page and 'value="sms"' in page
    auth.post("/settings/sms-consent/withdraw")
    assert _consents(pat)[0].withdrawn_via == "app"


def test_the_opt_in_form_without_the_box_ticked_stores_nothing(client, auth, pat):
    auth.login(pat)
    auth.post("/settings/sms-consent", {})
    assert _consents(pat) == []


def _speak(user, language: str) -> None:
    user.patient.language = language
    db.session.commit()


def test_a_spanish_speaking_patient_is_shown_the_words_in_spanish_and_agrees_to_exactly_them(client, auth, pat):
    _speak(pat, "es")
    auth.login(pat)
    page = client.get("/settings/reminders").get_data(as_text=True)
    words = sms_consent_words("Riverside", "(312) 555-0123", "es")
    assert f'<p id="sms-words">{words.replace("&", "&amp;")}</p>' in page  # Spanish, and not marked as English
    assert auth.post("/settings/sms-consent", {"agree": "yes"}).status_code == 302
    (consent,) = _consents(pat)
    assert consent.words == words
    page = client.get("/settings/reminders").get_data(as_text=True)
    assert f'<blockquote id="sms-words">{words.replace("&", "&amp;")}</blockquote>' in page


def test_the_api_shows_and_stores_the_words_in_the_patients_language(client, pat):
    _speak(pat, "es")
    headers = bearer(client, pat)
    shown = client.get("/api/v1/me/sms-consent", headers=headers).get_json()
    assert shown["words"] == sms_consent_words("Riverside", "(312) 555-0123", "es")
    assert _agree(client, pat)["words"] == shown["words"] == _consents(pat)[0].words


def test_words_agreed_in_english_are_marked_english_once_the_page_is_in_spanish(client, auth, pat):
    _agree(client, pat)  # in English
    _speak(pat, "es")
    auth.login(pat)
    page = client.get("/settings/reminders").get_data(as_text=True)
    words = sms_consent_words("Riverside", "(312) 555-0123").replace("&", "&amp;")
    assert f'<blockquote id="sms-words" lang="en">{words}</blockquote>' in page
    assert "Aceptó recibir mensajes de texto el" in page


# --- Reminders by text --------------------------------------------------------------------------------------


@pytest.fixture
def pat_texted(client, pat):
    """Pat agreed to texts and chose them for her reminders; the confirmation is already sent."""
    _agree(client, pat)
    assert _choose_texts(client, pat).status_code == 200
    db.session.query(OutboxMessage).delete()
    db.session.commit()
    return pat


def test_the_daily_reminder_goes_by_text_at_the_patients_local_time(app, twilio, pat_texted):
    _run(app, EVENING - timedelta(hours=1))  # 19:30 in Chicago
    assert twilio.requests == []
    _run(app, EVENING)
    (text,) = twilio.texts
    assert text["To"] == PAT_PHONE
    assert text["Body"].startswith("Riverside: You have a new check-in. http://journal.test/m/")
    assert fits_one_segment(text["Body"])
    _no_health_words(text["Body"])
    (row,) = _texts("daily_reminder")
    assert row.dedup_key == f"reminder:{pat_texted.id}:{DAY.isoformat()}:sms"


def test_questionnaires_due_bring_an_email_but_no_text_so_texts_stay_within_two_a_day(app, twilio, pat_texted):
    """The opt-in promises "Up to 2 msgs/day": the daily reminder and its one follow-up. A questionnaire that
    comes due is told by the other channels she chose, never by text."""
    db.session.query(Assessment).filter_by(patient_id=pat_texted.id).delete()  # the PHQ-9 and GAD-7 now due
    db.session.commit()
    _run(app, EVENING)
    assert [row.template for row in _texts()] == ["daily_reminder"]
    db.session.expire_all()
    due = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "assessment_due")).all()
    assert [row.channel for row in due] == ["email"]


def test_no_text_in_quiet_hours(app, client, twilio, pat_texted):
    response = client.put(
        "/api/v1/me/reminders",
        json={"time": "20:00", "channels": ["sms"], "quiet_start": "20:15", "quiet_end": "07:00"},
        headers=bearer(client, pat_texted),
    )
    assert response.status_code == 200
    _run(app, EVENING)  # 20:30, inside the quiet hours
    assert twilio.requests == []


def test_no_text_after_the_missed_days_limit(app, twilio, pat_texted):
    _run(app, EVENING + timedelta(days=3))  # no check-in on 2, 3 and 4 March
    assert _texts("daily_reminder") == []
    assert twilio.requests == []


def test_a_text_goes_only_to_the_number_the_consent_names(app, twilio, pat_texted):
    pat_texted.patient.phone = "+13125550199"  # a new number, never agreed to
    db.session.commit()
    _run(app, EVENING)
    assert twilio.requests == []
    mine = select(OutboxMessage).where(OutboxMessage.recipient_id == pat_texted.id)
    assert [row.channel for row in db.session.scalars(mine)] == ["email"]


# --- Replies: STOP, START, HELP -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "action"),
    [
        ("STOP", "STOP"), ("stop", "STOP"), (" Stop \n", "STOP"), ("STOPALL", "STOP"), ("unsubscribe", "STOP"),
        ("Cancel", "STOP"), ("END", "STOP"), ("quit", "STOP"), ("REVOKE", "STOP"), ("opt out", "STOP"),
        ("OPT  OUT", "STOP"), ("optout", "STOP"), ("START", "START"), ("unstop", "START"), ("help", "HELP"),
        ("AYUDA", "HELP"), (" ayuda ", "HELP"),
        ("stop it", None), ("please stop", None), ("I feel awful", None), ("", None),
    ],
)  # fmt: skip
def test_keywords_are_whole_messages_whatever_their_case_and_spaces(body, action):
    assert keyword(body) == action


def test_stop_ends_every_text_at_once_and_is_confirmed_once(app, client, twilio, pat_texted):
    _queue_text(pat_texted, "daily_reminder", EVENING, key=f"reminder:{pat_texted.id}:{DAY}")
    assert _reply(client, "Stop").status_code == 200

    (consent,) = _consents(pat_texted)
    assert consent.withdrawn_via == "keyword"
    assert db.session.get(ReminderSettings, pat_texted.id).sms is False
    assert _texts("daily_reminder")[0].status == OutboxStatus.CANCELLED
    assert _reply(client, "STOP").status_code == 200  # again: nothing more to stop, nothing more to say
    _run(app, EVENING)
    _run(app, EVENING + timedelta(hours=3))  # the follow-up time too
    assert [text["Body"] for text in twilio.texts] == [render_sms("sms_stopped", sender="Riverside")]


def test_start_resumes_texts_recorded_as_consent_by_keyword(app, client, twilio, pat_texted):
    _reply(client, "STOP")
    assert _reply(client, "unstop").status_code == 200

    first, again = _consents(pat_texted)
    assert first.withdrawn_via == "keyword"
    assert (again.phone, again.given_via, again.withdrawn_at) == (PAT_PHONE, "keyword", None)
    assert again.words == f"Replied UNSTOP by text message from {PAT_PHONE} to resume texts."
    assert db.session.get(ReminderSettings, pat_texted.id).sms is True
    _run(app, EVENING)
    bodies = [text["Body"] for text in twilio.texts]
    assert bodies[:2] == [render_sms("sms_stopped", sender="Riverside"), render_sms("sms_confirm", sender="Riverside")]
    assert bodies[2].startswith("Riverside: You have a new check-in.")


def test_start_from_a_spanish_speaking_patient_is_recorded_in_spanish(client, pat_texted):
    _speak(pat_texted, "es")
    _reply(client, "STOP")
    _reply(client, "start")
    assert _consents(pat_texted)[-1].words == (
        f"Respondió START por mensaje de texto desde el {PAT_PHONE} para volver a recibir mensajes de texto."
    )


def test_start_from_a_patient_who_never_agreed_signs_nobody_up(client, pat):
    assert _reply(client, "START").status_code == 200
    assert _consents(pat) == [] and _texts() == []


def test_help_answers_with_the_sender_and_the_clinics_phone(app, client, twilio, pat):
    response = _reply(client, "HELP")
    assert response.status_code == 200 and response.mimetype == "text/xml"
    _run(app, EVENING)
    (text,) = twilio.texts
    assert text["To"] == PAT_PHONE
    assert text["Body"] == render_sms("sms_help", sender="Riverside", help_phone="(312) 555-0100")


def test_any_other_reply_is_ignored_and_never_stored(app, client, twilio, pat_texted, database_url):
    words = "I took too much and feel awful"
    assert _reply(client, words).status_code == 200
    assert _texts() == [] and len(_consents(pat_texted)) == 1 and _consents(pat_texted)[0].withdrawn_at is None
    if database_url.startswith("sqlite:///"):  # the text appears nowhere in the database file
        db.session.remove()
        assert words.encode() not in Path(database_url.removeprefix("sqlite:///")).read_bytes()


def test_a_reply_from_an_unknown_number_is_ignored(client, pat_texted):
    assert _reply(client, "STOP", sender="+13125550777").status_code == 200
    assert _consents(pat_texted)[0].withdrawn_at is None and _texts() == []


def test_two_patients_sharing_a_number_are_both_stopped_and_told_once(app, client, twilio, people, pat_texted):
    people.quinn.patient.phone = PAT_PHONE
    db.session.commit()
    _agree(client, people.quinn)
    _reply(client, "STOP")
    assert _consents(pat_texted)[0].withdrawn_at is not None
    assert _consents(people.quinn)[0].withdrawn_at is not None
    assert len(_texts("sms_stopped")) == 1


# --- Signatures ---------------------------------------------------------------------------------------------


def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(client, pat_texted):
    params = {"MessageSid": "SMforged", "From": PAT_PHONE, "To": FROM, "Body": "STOP"}
    forged = _signed_post(client, "/sms/inbound", params, token="not-the-auth-token")
    unsigned = client.post("/sms/inbound", data=params)
    # Signed for the URL the request claims in its Host header rather than the journal's public one.
    other_host = _signed_post(client, "/sms/inbound", params, url="http://attacker.test/sms/inbound")
    tampered = client.post(
        "/sms/inbound",
        data={**params, "From": "+13125550777"},
        headers={"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, f"{BASE}/sms/inbound", params)},
    )
    assert [r.status_code for r in (forged, unsigned, other_host, tampered)] == [403, 403, 403, 403]
    assert _consents(pat_texted)[0].withdrawn_at is None and _texts() == []


def test_the_signature_is_checked_with_twilios_own_validator(pat):
    from twilio.request_validator import RequestValidator

    params = {"From": PAT_PHONE, "Body": "HELP"}
    signature = twilio_signature(AUTH_TOKEN, f"{BASE}/sms/inbound", params)
    assert RequestValidator(AUTH_TOKEN).validate(f"{BASE}/sms/inbound", params, signature)


# --- Delivery reports ---------------------------------------------------------------------------------------


def _status(client, sid: str, status: str, error_code: str = ""):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID}
    if error_code:
        params["ErrorCode"] = error_code
    return _signed_post(client, "/sms/status", params)


def test_a_delivered_report_is_kept_on_the_message(app, client, pat):
    _queue_text(pat, "sms_help", EVENING)
    _run(app, EVENING)
    (row,) = _texts()
    assert _status(client, row.provider_sid, "delivered").status_code == 204
    (row,) = _texts()
    assert (row.status, row.provider_status) == (OutboxStatus.SENT, "delivered")


def test_an_undelivered_text_is_sent_again_after_backoff_and_fails_after_the_last_attempt(app, client, twilio, pat):
    _queue_text(pat, "sms_help", EVENING)
    now = EVENING
    for attempt in range(1, MAX_ATTEMPTS + 1):
        _run(app, now)
        (row,) = _texts()
        assert (row.status, row.attempts) == (OutboxStatus.SENT, attempt)
        _status(client, row.provider_sid, "undelivered", "30003")
        now += timedelta(hours=6)
    (row,) = _texts()
    assert (row.status, row.provider_status) == (OutboxStatus.FAILED, "undelivered")
    assert row.last_error == "Twilio reported undelivered (error 30003)"
    assert len(twilio.texts) == MAX_ATTEMPTS


def test_a_text_to_a_number_that_cannot_take_texts_fails_at_once(app, client, twilio, pat):
    _queue_text(pat, "sms_help", EVENING)
    _run(app, EVENING)
    (row,) = _texts()
    _status(client, row.provider_sid, "failed", "30006")  # a landline
    assert _texts()[0].status == OutboxStatus.FAILED


def test_a_report_about_an_earlier_attempt_changes_nothing(app, client, twilio, pat):
    _queue_text(pat, "sms_help", EVENING)
    _run(app, EVENING)
    first_sid = _texts()[0].provider_sid
    _status(client, first_sid, "failed", "30003")
    _run(app, EVENING + timedelta(minutes=1))
    (row,) = _texts()
    assert row.provider_sid != first_sid and row.status == OutboxStatus.SENT
    _status(client, first_sid, "undelivered", "30003")  # late, about the first send
    assert _texts()[0].status == OutboxStatus.SENT


def test_a_forged_delivery_report_is_refused(app, client, pat):
    _queue_text(pat, "sms_help", EVENING)
    _run(app, EVENING)
    (row,) = _texts()
    params = {"MessageSid": row.provider_sid, "MessageStatus": "failed", "ErrorCode": "30006"}
    assert _signed_post(client, "/sms/status", params, token="wrong").status_code == 403
    assert _texts()[0].status == OutboxStatus.SENT and _texts()[0].provider_status is None


# --- End to end ---------------------------------------------------------------------------------------------


def test_texts_end_to_end_opt_in_reminder_stop_forgery_start_and_a_failed_delivery(app, client, twilio, pat, clock):
    """Issue 16's path against the Twilio stand-in, every text checked against the health-word list."""
    # 18:30 on 2 March in Chicago: the opt-in, and its confirmation (no reminder yet).
    headers = bearer(client, pat)
    assert client.post("/api/v1/me/sms-consent", json={"agree": True}, headers=headers).status_code == 201
    assert _choose_texts(client, pat).status_code == 200
    _run(app, clock.now)
    assert [text["Body"] for text in twilio.texts] == [render_sms("sms_confirm", sender="Riverside")]

    # The reminder at 20:00 Chicago time (the run at 20:30).
    _run(app, EVENING)
    assert twilio.texts[-1]["Body"].startswith("Riverside: You have a new check-in. http://journal.test/m/")

    # A forged STOP changes nothing.
    clock.now = EVENING + timedelta(minutes=10)
    params = {"MessageSid": "SMforged", "From": PAT_PHONE, "To": FROM, "Body": "STOP"}
    assert _signed_post(client, "/sms/inbound", params, token="guessed").status_code == 403
    assert _consents(pat)[0].withdrawn_at is None

    # STOP, twice: one confirmation, and no further text (not EMA-R2's follow-up 90 minutes after the reminder).
    assert _reply(client, "STOP").status_code == 200
    assert _reply(client, "stop").status_code == 200
    for minutes in (10, 100, 180):
        _run(app, EVENING + timedelta(minutes=minutes))
    assert len(twilio.texts) == 3
    assert twilio.texts[-1]["Body"] == render_sms("sms_stopped", sender="Riverside")
    assert [row.channel for row in _texts("daily_reminder")] == ["sms"]  # only the one sent before STOP

    # 19:00 on 3 March: START, and its confirmation.
    clock.now = EVENING + timedelta(hours=22, minutes=30)
    assert _reply(client, "START").status_code == 200
    _run(app, clock.now)
    assert len(twilio.texts) == 4
    assert twilio.texts[-1]["Body"] == render_sms("sms_confirm", sender="Riverside")

    # 20:30 on 3 March: the reminder goes by text again; Twilio fails it with 500, it is retried a minute later
    # and refused with 400, and then it has failed for good.
    twilio.fail_next((500, 20500), (400, 21211))
    next_evening = EVENING + timedelta(days=1)
    _run(app, next_evening)
    (reminder,) = _texts("daily_reminder")[1:]
    assert (reminder.status, reminder.attempts) == (OutboxStatus.QUEUED, 1)
    assert reminder.dedup_key == f"reminder:{pat.id}:{(DAY + timedelta(days=1)).isoformat()}:sms"
    _run(app, next_evening + timedelta(minutes=1))
    (reminder,) = _texts("daily_reminder")[1:]
    assert (reminder.status, reminder.attempts) == (OutboxStatus.FAILED, 2)
    _run(app, next_evening + timedelta(hours=1))
    assert len(twilio.requests) == 6 and len(twilio.texts) == 4

    for request in twilio.requests:
        _no_health_words(request.form["Body"])
        assert fits_one_segment(request.form["Body"])
    assert [(c.given_via, c.withdrawn_via) for c in _consents(pat)] == [("api", "keyword"), ("keyword", None)]


def test_texts_end_to_end_in_spanish_opt_in_reminder_at_local_time_stop_and_nothing_more(
    app, client, auth, twilio, pat, clock
):
    """A Spanish-speaking patient opts in on her phone and gets every text in Spanish: the confirmation, the
    reminder at 20:00 in Chicago, HELP asked as AYUDA, and STOP: one confirmation, and no text after it."""
    _speak(pat, "es")
    auth.login(pat)
    assert auth.post("/settings/sms-consent", {"agree": "yes"}).status_code == 302
    assert _choose_texts(client, pat).status_code == 200
    _run(app, clock.now)  # 18:30 in Chicago
    assert [text["Body"] for text in twilio.texts] == [render_sms("sms_confirm", sender="Riverside", language="es")]

    _run(app, EVENING - timedelta(hours=1))  # 19:30: not yet
    assert len(twilio.texts) == 1
    _run(app, EVENING)  # 20:30
    assert twilio.texts[-1]["Body"].startswith("Riverside: Tiene un nuevo registro. http://journal.test/m/")
    assert twilio.texts[-1]["Body"].endswith(" Envie STOP para salir.")

    clock.now = EVENING + timedelta(minutes=5)
    assert _reply(client, "Ayuda").status_code == 200
    _run(app, clock.now)
    assert twilio.texts[-1]["Body"] == render_sms(
        "sms_help", sender="Riverside", help_phone="(312) 555-0100", language="es"
    )

    clock.now = EVENING + timedelta(minutes=10)
    assert _reply(client, "STOP").status_code == 200
    assert _reply(client, "STOP").status_code == 200
    for minutes in (10, 100, 180, 24 * 60):  # the follow-up's time, and the next evening's reminder
        _run(app, EVENING + timedelta(minutes=minutes))
    stopped = render_sms("sms_stopped", sender="Riverside", language="es")
    assert [text["Body"] for text in twilio.texts][3:] == [stopped]
    assert stopped == (
        "Riverside: Se cancelo su suscripcion y no recibira mas mensajes. Responda START para volver a recibirlos."
    )
    for request in twilio.requests:
        _no_health_words(request.form["Body"])
        assert fits_one_segment(request.form["Body"]) and gsm7_length(request.form["Body"]) is not None
