"""The patient's questionnaire pages on the phone: the published wording and order with nothing pre-selected
(PHQ-R2, PHQ-R3), the crisis screen as the very next page after a positive item 9 (SAFE-R1), and the
attribution screen (PHQ-R1). Pat is Alice's patient (tests/conftest.py)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from journal.assessments import local_date
from journal.db import db, utcnow
from journal.models import Alert, Assessment, OutboxMessage
from journal.questionnaires import ATTRIBUTION, GAD7_FORM, PHQ9_FORM
from tests.conftest import questionnaires_done


def _answers(values: list[int], difficulty: str | None = None) -> dict:
    form = {f"item-{n}": str(value) for n, value in enumerate(values, start=1)}
    if difficulty:
        form["difficulty"] = difficulty
    return form


def _page(response) -> str:
    return response.get_data(as_text=True)


def test_phq_r2_items_and_answers_appear_in_the_published_order_with_nothing_selected(client, auth, people):
    auth.login(people.pat)
    page = _page(client.get("/assessments/phq9"))
    assert PHQ9_FORM.stem in page
    positions = [page.index(wording.replace("'", "&#39;")) for wording, _ in PHQ9_FORM.items]
    assert positions == sorted(positions)
    first_item = page[page.index('name="item-1"') - 200 : page.index('name="item-2"')]
    labels = re.findall(r'<label for="item-1-\d">([^<]+)</label>', first_item)
    assert labels == ["Not at all", "Several days", "More than half the days", "Nearly every day"]
    assert re.search(r"<input[^>]* checked", page) is None


def test_home_offers_the_questionnaires_when_due_and_start_opens_the_phq9_first(client, auth, people):
    auth.login(people.pat)
    assert "Questionnaires to fill in" in _page(client.get("/home"))
    response = client.get("/assessments")
    assert response.status_code == 302 and response.headers["Location"].endswith("/assessments/phq9")


def test_phq_r3_an_unanswered_item_is_shown_at_the_item_and_nothing_is_stored(client, auth, people):
    auth.login(people.pat)
    form = _answers([1, 1, 1, 1, 1, 1, 1, 1, 0])
    del form["item-4"]
    response = auth.post("/assessments/phq9", form)
    assert response.status_code == 400
    assert 'id="item-4-error"' in _page(response)
    assert 'value="1" required checked' in _page(response)  # what was answered stays answered
    assert db.session.scalars(select(Assessment)).all() == []


def test_item9_answer_opens_crisis_screen_with_one_tap_call_and_text(client, auth, people):
    auth.login(people.pat)
    response = auth.post("/assessments/phq9", _answers([0, 0, 0, 0, 0, 0, 0, 0, 1]))
    assert response.status_code == 302
    assert re.fullmatch(r"/assessments/\d+/support", response.headers["Location"])
    crisis = _page(client.get(response.headers["Location"]))
    assert 'href="tel:988"' in crisis and 'href="sms:988"' in crisis and 'href="tel:911"' in crisis
    assert people.clinic.review_promise in crisis
    # PHQ-R5 / SAFE-R3: the alert and the care team's e-mail were stored with the answers.
    (alert,) = db.session.scalars(select(Alert)).all()
    assert (alert.kind, alert.severity, alert.patient_id) == ("safety_item9", "high", people.pat.id)
    recipients = db.session.scalars(select(OutboxMessage.address).where(OutboxMessage.template == "alert_high")).all()
    assert recipients == [people.alice.email]


def test_crisis_screen_uses_the_clinics_own_numbers(client, auth, people):
    people.clinic.crisis_call_number = "13 11 14"
    people.clinic.crisis_text_number = "0477 13 11 14"
    people.clinic.emergency_number = "000"
    people.clinic.clinic_phone = "(555) 010-0199"
    people.clinic.clinic_hours = "weekdays 8 am to 6 pm"
    db.session.commit()
    auth.login(people.pat)
    location = auth.post("/assessments/phq9", _answers([2, 2, 2, 2, 2, 2, 2, 2, 2])).headers["Location"]
    crisis = _page(client.get(location))
    for link in ('href="tel:131114"', 'href="sms:0477131114"', 'href="tel:000"', 'href="tel:5550100199"'):
        assert link in crisis
    assert "weekdays 8 am to 6 pm" in crisis
    assert "988" not in crisis


def test_a_negative_item9_goes_to_the_score_and_then_to_the_gad7(client, auth, people):
    auth.login(people.pat)
    response = auth.post("/assessments/phq9", _answers([1, 2, 1, 1, 0, 1, 0, 0, 0], "somewhat_difficult"))
    done = _page(client.get(response.headers["Location"]))
    assert "6 (Mild)" in done and "not a diagnosis" in done
    assert 'href="/assessments/gad7"' in done
    assert GAD7_FORM.items[0][0] in _page(client.get("/assessments/gad7"))
    stored = db.session.scalar(select(Assessment))
    assert (stored.total, stored.difficulty, stored.safety) == (6, "somewhat_difficult", "negative")


def test_a_second_phq9_within_seven_days_is_not_offered_and_not_stored(client, auth, people):
    auth.login(people.pat)
    auth.post("/assessments/phq9", _answers([0] * 9))
    page = client.get("/assessments/phq9")
    assert "Nothing to fill in right now" in _page(page)
    stored = db.session.scalar(select(Assessment))
    opens = local_date(stored.completed_at + timedelta(days=7), people.pat.timezone)
    assert f"You filled in the PHQ-9 recently. It opens again on {opens:%A %-d %B}." in _page(page)
    response = auth.post("/assessments/phq9", _answers([3] * 9))
    assert response.status_code == 409
    assert len(db.session.scalars(select(Assessment)).all()) == 1


def test_with_nothing_due_the_start_page_says_so_without_promising_a_date(client, auth, people):
    questionnaires_done(people.pat, utcnow() - timedelta(days=1))
    db.session.commit()
    auth.login(people.pat)
    response = client.get("/assessments")
    assert response.status_code == 200
    assert "No questionnaire is due now. Your home page shows them when they are due." in _page(response)
    assert "opens again" not in _page(response)


def test_resubmitting_the_same_form_records_it_once(client, auth, people):
    auth.login(people.pat)
    form = {**_answers([0, 0, 0, 0, 0, 0, 0, 0, 1]), "submission_id": "offline-retry-0001"}
    first = auth.post("/assessments/phq9", form)
    again = auth.post("/assessments/phq9", form)
    assert first.headers["Location"] == again.headers["Location"]  # the crisis screen both times
    assert len(db.session.scalars(select(Assessment)).all()) == 1
    assert len(db.session.scalars(select(Alert)).all()) == 1


def test_another_patients_crisis_and_score_pages_are_hidden(client, auth, people):
    auth.login(people.pat)
    location = auth.post("/assessments/phq9", _answers([0] * 8 + [1])).headers["Location"]
    auth.logout()
    auth.login(people.quinn)
    assert client.get(location).status_code == 404
    assert client.get(location.replace("/support", "/done")).status_code == 404


def test_phq_r1_about_screen_carries_the_developers_attribution(client):
    assert ATTRIBUTION.replace(".", "") in _page(client.get("/about/questionnaires")).replace(".", "")


def test_help_page_shows_the_signed_in_patients_clinic_numbers(client, auth, people):
    assert 'href="tel:988"' in _page(client.get("/help"))
    people.clinic.crisis_call_number = "116 123"
    db.session.commit()
    auth.login(people.pat)
    assert 'href="tel:116123"' in _page(client.get("/help"))
