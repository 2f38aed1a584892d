"""The safety pathway end to end, in Chromium (SAFE-R1, SAFE-R3, PHQ-R5, PRIV-R4).

A patient answers the PHQ-9 on a phone (390 x 844) with item 9 = 1: the very next page is the crisis screen,
whose call and text links are real tel: and sms: links. Alice, her clinician, then finds the alert at the
top of her inbox on a desktop; the scheduler delivers a content-free e-mail to a real SMTP server (aiosmtpd on
127.0.0.1); and axe-core finds nothing on any of these pages.
"""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from journal.alerts import raise_alert
from journal.db import db, utcnow
from journal.models import Alert, Assessment, OutboxMessage, OutboxStatus
from journal.questionnaires import PHQ9_FORM
from journal.scheduled import run_all
from tests.browser.test_enrolment_flow import sign_in
from tests.conftest import make_patient
from tests.test_channels import Mailbox, body, start_smtp

pytestmark = pytest.mark.browser

# Words and facts an e-mail about this alert must never carry (SPEC 8.3).
HEALTH_WORDS = re.compile(
    r"phq|gad|item 9|question|suicid|self-harm|harm|dead|depress|ketamine|crisis|988|score|mood", re.I
)


@pytest.fixture
def mailbox():
    mailbox = Mailbox()
    controller = start_smtp(mailbox)
    yield mailbox, controller.port
    controller.stop()


def answer_phq9(page, answers: list[int]) -> None:
    labels = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
    for number, (wording, _code) in enumerate(PHQ9_FORM.items, start=1):
        group = page.get_by_role("group", name=re.compile(re.escape(f"{number}. {wording[:30]}")))
        group.get_by_text(labels[answers[number - 1]], exact=True).click()  # a tap on the visible label
        expect(group.get_by_label(labels[answers[number - 1]], exact=True)).to_be_checked()


def test_item9_answer_opens_crisis_screen_then_the_alert_tops_the_inbox_and_a_neutral_email_arrives(
    live_server, new_context, phone, desktop, network, axe, mailbox
):
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        patient = make_patient(alice, "noor", "Noor Haddad")
        patient_id = patient.id
        # An older, medium alert about another of Alice's patients: the new high one must still come first.
        raise_alert(
            db.session, utcnow(), patient_id=live_server.user("pat@patient.test").id, kind="craving",
            severity="medium", reason="Strongest craving high for 3 days.", dedup_key=f"browser:{patient_id}",
        )  # fmt: skip
        db.session.commit()

    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "noor@patient.test")
    expect(page.get_by_role("heading", name="Questionnaires to fill in")).to_be_visible()
    page.get_by_role("link", name="Start").click()
    expect(page.get_by_role("heading", name="PHQ-9", level=1)).to_be_visible()
    axe(page)
    difficulty = page.get_by_role("group", name=re.compile("^If you checked off any problems"))
    expect(difficulty).to_be_hidden()  # PHQ-R8: asked only once a problem has been checked off
    answer_phq9(page, [1, 1, 0, 1, 0, 0, 0, 0, 1])
    expect(difficulty).to_be_visible()
    difficulty.get_by_text("Somewhat difficult", exact=True).click()
    page.get_by_role("button", name="Send my answers").click()

    # SAFE-R1: the very next page is the crisis screen.
    expect(page).to_have_url(re.compile(r"/assessments/\d+/support$"))
    expect(page.get_by_role("heading", name="Thank you for telling us")).to_be_visible()
    call = page.get_by_role("link", name="Call 988")
    text = page.get_by_role("link", name="Text 988")
    expect(call).to_have_attribute("href", "tel:988")
    expect(text).to_have_attribute("href", "sms:988")
    expect(page.get_by_role("link", name=re.compile("call 911"))).to_have_attribute("href", "tel:911")
    # The links work: the browser hands them to the phone's dialler and messaging app, which is a navigation
    # request to that scheme (headless Chromium has no handler, so it goes no further than that request).
    with page.expect_request(lambda request: request.url.startswith("tel:988")):
        call.evaluate("link => link.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))")
    axe(page)

    with live_server.app.app_context():
        form = db.session.scalar(select(Assessment).where(Assessment.patient_id == patient_id))
        alert = db.session.scalar(select(Alert).where(Alert.assessment_id == form.id))
        assert (form.item9, form.total, form.difficulty) == (1, 4, "somewhat_difficult")
        assert (alert.severity, alert.kind) == ("high", "safety_item9")

    # SAFE-R3: the clinician sees it at the top of the inbox.
    clinician = desktop.new_page()
    clinician.goto("/login")
    sign_in(clinician, "alice@clinic.test")
    clinician.goto("/clinician/alerts")
    first = clinician.locator("article.alert-card").first
    expect(first).to_contain_text("Noor Haddad")
    expect(first).to_contain_text("High priority")
    expect(first).to_contain_text("item 9 answered “Several days”")
    axe(clinician)

    # PRIV-R4: one scheduler run delivers a content-free e-mail to the care team through a real SMTP server.
    received, port = mailbox
    with live_server.app.app_context():
        live_server.app.config["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
        try:
            run_all(utcnow())
        finally:
            live_server.app.config["SMTP_URL"] = ""
        sent = db.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.template == "alert_high", OutboxMessage.address == "alice@clinic.test"
            )
        ).all()
        assert {row.status for row in sent} == {OutboxStatus.SENT}
    to_alice = [envelope for envelope, _ in received.received if envelope.rcpt_tos == ["alice@clinic.test"]]
    assert to_alice, "no e-mail reached the SMTP server for Alice"
    for envelope in to_alice:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = f"{message['Subject']}\n{body(message)}"
        # The link's random token may hold any letters or digits ("988" once): it is checked as a link, not a word.
        words = re.sub(r"https?://\S+", "<link>", text)
        assert HEALTH_WORDS.search(words) is None, text
        assert "Noor" not in text and "Haddad" not in text
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
