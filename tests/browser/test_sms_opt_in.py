"""On a phone, a patient agrees to text messages on the reminders page, in the words shown there (which are what
is stored), then chooses texts for her reminders; the page passes axe before and after."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from journal.db import db
from journal.models import OutboxMessage, ReminderSettings, SmsConsent
from journal.models import Patient as PatientRow
from tests.browser.test_checkin_flow import enrol, sign_in_as

__all__ = ["enrol"]  # the fixture, shared with the check-in flow


def test_patient_agrees_to_texts_in_the_words_shown_and_chooses_them(live_server, enrol, phone, network, axe):
    patient = enrol("tess.texts", "Tess Texts")
    with live_server.app.app_context():
        db.session.get(PatientRow, patient.id).phone = "+13125550142"
        db.session.commit()
    page = sign_in_as(phone, patient)
    page.get_by_role("link", name="Reminders").click()

    # Texts cannot be chosen before agreeing.
    page.get_by_label("Text message", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#channels-error")).to_contain_text("agree to texts")
    axe(page)

    words = page.locator("#sms-words").inner_text()
    assert "Msg & data rates may apply" in words and "555-0142" in words  # as written in her zone
    page.get_by_label("I agree to these texts").check()
    page.get_by_role("button", name="Agree to texts").click()
    expect(page.get_by_role("button", name="Stop all texts")).to_be_visible()
    axe(page)

    page.get_by_label("Text message", exact=True).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Reminder settings saved.")).to_be_visible()
    with live_server.app.app_context():
        (consent,) = db.session.scalars(select(SmsConsent).where(SmsConsent.patient_id == patient.id))
        assert (consent.words, consent.phone, consent.given_via) == (words, "+13125550142", "app")
        assert db.session.get(ReminderSettings, patient.id).sms is True
        templates = db.session.scalars(
            select(OutboxMessage.template).where(
                OutboxMessage.recipient_id == patient.id, OutboxMessage.channel == "sms"
            )
        ).all()
        assert templates == ["sms_confirm"]


def test_a_spanish_speaking_patient_agrees_to_the_spanish_words_shown_and_they_are_what_is_stored(
    live_server, enrol, phone, network, axe
):
    patient = enrol("sofia.textos", "Sofía Textos")
    with live_server.app.app_context():
        db.session.get(PatientRow, patient.id).phone = "+13125550143"
        db.session.commit()
    page = sign_in_as(phone, patient)
    with live_server.app.app_context():
        db.session.get(PatientRow, patient.id).language = "es"
        db.session.commit()
    page.goto("/settings/reminders")

    words = page.locator("#sms-words")
    expect(words).not_to_have_attribute("lang", "en")  # her own language now, not English marked as such
    shown = words.inner_text()
    assert shown.startswith("Acepto recibir de") and "Pueden aplicarse tarifas de mensajes y datos" in shown
    axe(page)
    page.get_by_label("Acepto recibir estos mensajes de texto").check()
    page.get_by_role("button", name="Acepto los mensajes de texto").click()
    expect(page.get_by_role("button", name="Dejar de recibir mensajes de texto")).to_be_visible()
    expect(page.locator("#sms-words")).to_have_text(shown)
    axe(page)
    with live_server.app.app_context():
        (consent,) = db.session.scalars(select(SmsConsent).where(SmsConsent.patient_id == patient.id))
        assert (consent.words, consent.given_via) == (shown, "app")
