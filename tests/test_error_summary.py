"""Forms that show their errors: the page comes back at the form's own address and opens at an error summary
(the GOV.UK pattern: role="alert", "There is a problem", each error a link to its field's id); the session form
chooses nothing for the clinician; out-of-range blood pressure (SPEC 7.4) is saved only once confirmed on the page,
and saved with ``warnings`` by the API; the post-session check says what it requires and shows the error there."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from journal.db import db, utcnow
from journal.models import DosingSession
from journal.sessions import save_session
from tests.conftest import bearer, csrf_token
from tests.test_patient_page import GIVEN_FORM

NEW_YORK = ZoneInfo("America/New_York")  # Alice's zone


class _Page(HTMLParser):
    """The ids on a page, and the error summary's links in order."""

    def __init__(self, html: str):
        super().__init__()
        self.ids: list[str] = []
        self.summary_links: list[str] = []
        self.summary_at: int | None = None
        self.first_form_at: int | None = None
        self._in_summary = 0
        self._position = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._position += 1
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if "data-error-summary" in attrs:
            self._in_summary = 1
            self.summary_at = self._position
            assert attrs.get("role") == "alert" and "autofocus" in attrs and attrs.get("tabindex") == "-1"
        elif self._in_summary and tag == "div":
            self._in_summary += 1
        if self._in_summary and tag == "a":
            self.summary_links.append(attrs["href"])
        if tag == "form" and self.first_form_at is None and attrs.get("action") != "/logout":
            self.first_form_at = self._position

    def handle_endtag(self, tag):
        if self._in_summary and tag == "div":
            self._in_summary -= 1


def assert_summary_links_to_fields(html: str, expected: set[str]) -> _Page:
    page = _Page(html)
    assert "There is a problem" in html and "Please check the form" not in html
    assert page.summary_at is not None and page.summary_at < page.first_form_at  # above the form
    assert {link.removeprefix("#") for link in page.summary_links} >= expected
    for link in page.summary_links:
        assert link.startswith("#") and page.ids.count(link[1:]) == 1, link  # each names exactly one element
    assert len(page.ids) == len(set(page.ids))
    return page


def _yesterday_at(hour: int) -> str:
    day = utcnow().astimezone(NEW_YORK).date() - timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=NEW_YORK).strftime("%Y-%m-%dT%H:%M")


def _sessions() -> int:
    return db.session.scalar(select(func.count()).select_from(DosingSession))


# --- The session form --------------------------------------------------------------------------------------------


def test_a_failed_session_save_stays_at_the_forms_address_and_opens_at_a_summary_linking_each_field(
    client, auth, people
):
    auth.login(people.alice)
    url = f"/clinician/patients/{people.pat.id}/sessions"
    form = {**GIVEN_FORM, "start": _yesterday_at(10), "status": "", "route": "", "dose": "a lot"}
    response = auth.post(url, form)
    assert response.status_code == 400  # answered at the address posted to: no redirect elsewhere
    html = response.get_data(as_text=True)
    assert_summary_links_to_fields(html, {"session-status", "session-route", "session-dose"})
    assert 'href="#session-dose">Dose: Not a valid number.</a>' in html
    assert 'id="session-status-error">Fill this in.' in html  # and at the field itself
    assert html.count("<form") - html.count('action="/logout"') == 1  # the session form, not the patient page
    assert _sessions() == 0
    # The form's own address shows the same form, empty.
    assert client.get(url).status_code == 200


def test_the_session_form_chooses_neither_status_nor_route_for_the_clinician(client, auth, people):
    auth.login(people.alice)
    for url in (f"/clinician/patients/{people.pat.id}", f"/clinician/patients/{people.pat.id}/sessions"):
        html = client.get(url).get_data(as_text=True)
        for name in ("status", "route"):
            pattern = rf'<select id="session-{name}" name="{name}" required\s*>(.*?)</select>'
            select_html = re.search(pattern, html, re.S)
            assert select_html is not None, (url, name)
            selected = re.findall(r'<option value="([^"]*)" selected>', select_html.group(1))
            assert selected == [""], (url, name, selected)  # only "Choose..."


def test_blood_pressure_190_over_115_after_dosing_is_saved_only_once_confirmed(client, auth, people):
    auth.login(people.alice)
    url = f"/clinician/patients/{people.pat.id}/sessions"
    form = {**GIVEN_FORM, "start": _yesterday_at(10), "bp_systolic_post": "190", "bp_diastolic_post": "115"}
    response = auth.post(url, form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert_summary_links_to_fields(html, {"session-bp_systolic_post", "session-confirm_vitals"})
    assert "Blood pressure after dosing is 190/115, above 180/110" in html
    assert 'type="checkbox" id="session-confirm_vitals" name="confirm_vitals" value="yes"' in html
    assert 'value="190"' in html  # what was typed is kept
    assert _sessions() == 0
    response = auth.post(url, {**form, "confirm_vitals": "yes"})
    assert response.status_code == 302
    db.session.expire_all()
    (saved,) = db.session.scalars(select(DosingSession)).all()
    assert (saved.bp_systolic_post, saved.bp_diastolic_post) == (190, 115)


def test_values_in_range_need_no_confirmation(client, auth, people):
    auth.login(people.alice)
    response = auth.post(f"/clinician/patients/{people.pat.id}/sessions", {**GIVEN_FORM, "start": _yesterday_at(9)})
    assert response.status_code == 302
    assert _sessions() == 1


def test_changing_a_session_to_a_rise_of_40_systolic_asks_for_confirmation_at_the_same_address(client, auth, people):
    record = save_session(
        db.session, people.pat.patient,
        {"status": "given", "start": utcnow() - timedelta(days=1), "route": "iv", "product": "Ketamine",
         "dose": 0.5, "dose_unit": "mg/kg"},
        utcnow(), people.alice,
    )  # fmt: skip
    db.session.commit()
    auth.login(people.alice)
    url = f"/clinician/patients/{people.pat.id}/sessions/{record.id}"
    page = client.get(url).get_data(as_text=True)
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    form = {**GIVEN_FORM, "start": _yesterday_at(10), "version": version}
    form |= {"bp_systolic_pre": "120", "bp_diastolic_pre": "80", "bp_systolic_post": "160", "bp_diastolic_post": "90"}
    response = auth.post(url, form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Blood pressure rose from 120/80 to 160/90" in html
    assert_summary_links_to_fields(html, {"session-bp_diastolic_post", "session-confirm_vitals"})
    assert auth.post(url, {**form, "confirm_vitals": "yes"}).status_code == 302


def test_the_api_saves_high_blood_pressure_and_answers_with_warnings(client, people):
    headers = bearer(client, people.alice)
    body = {"status": "given", "start": (utcnow() - timedelta(hours=3)).isoformat(), "route": "iv",
            "product": "Ketamine", "dose": 0.5, "dose_unit": "mg/kg"}  # fmt: skip
    url = f"/api/v1/patients/{people.pat.id}/sessions"
    high = client.post(url, json={**body, "bp_systolic_pre": 150, "bp_diastolic_pre": 95}, headers=headers)
    assert high.status_code == 201, high.get_json()
    assert [w["field"] for w in high.get_json()["warnings"]] == ["bp_systolic_pre"]
    assert "150/95, above 140/90" in high.get_json()["warnings"][0]["message"]
    normal = client.post(url, json={**body, "bp_systolic_pre": 120, "bp_diastolic_pre": 80}, headers=headers)
    assert normal.status_code == 201 and normal.get_json()["warnings"] == []
    listed = client.get(url, headers=headers).get_json()
    assert sorted(len(s["warnings"]) for s in listed) == [0, 1]


# --- The post-session check and other forms ----------------------------------------------------------------------


def test_the_post_session_check_says_driving_needs_an_answer_and_shows_the_error_there(client, auth, people):
    record = save_session(
        db.session, people.pat.patient,
        {"status": "given", "start": utcnow() - timedelta(hours=73), "route": "intranasal", "product": "Esketamine",
         "dose": 56, "dose_unit": "mg"},
        utcnow(), people.alice,
    )  # fmt: skip
    db.session.commit()
    auth.login(people.pat)
    url = f"/sessions/{record.id}/check/72h"
    page = client.get(url).get_data(as_text=True)
    assert "you can leave any number empty, but the question about driving needs a yes or a no" in page
    response = auth.post(url, {"nausea": "3"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert_summary_links_to_fields(html, {"drove"})
    assert re.search(r'<fieldset class="choice" id="drove" aria-invalid="true" aria-describedby="drove-error">', html)
    assert 'value="3" checked' in html  # the answer given is kept


def test_an_empty_enrolment_and_an_empty_sign_in_link_each_error_to_its_field(client, auth, people):
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    assert response.status_code == 400
    assert_summary_links_to_fields(response.get_data(as_text=True), {"email", "password"})
    auth.login(people.alice)
    response = auth.post("/clinician/patients/new", {})
    assert response.status_code == 400
    page = assert_summary_links_to_fields(response.get_data(as_text=True), {"email"})
    assert len(page.summary_links) >= 2


def test_an_unanswered_phq9_links_each_missing_item(client, auth, people):
    auth.login(people.pat)
    response = auth.post("/assessments/phq9", {"item-1": "0"})
    assert response.status_code == 400
    assert_summary_links_to_fields(response.get_data(as_text=True), {f"item-{n}" for n in range(2, 10)})


def test_a_high_rise_and_high_values_are_each_named_once():
    from journal.vitals import vitals_warnings

    values = {"bp_systolic_pre": 145, "bp_diastolic_pre": 85, "bp_systolic_post": 190, "bp_diastolic_post": 100}
    assert [w["field"] for w in vitals_warnings(values)] == ["bp_systolic_pre", "bp_systolic_post", "bp_diastolic_post"]
    edge = {"bp_systolic_pre": 140, "bp_diastolic_pre": 90, "bp_systolic_post": 179, "bp_diastolic_post": 110}
    assert vitals_warnings(edge) == []  # at the limits, and a rise of 39/20: nothing to confirm
    assert vitals_warnings({"bp_systolic_post": 200}) == []  # half a reading is the schema's to refuse
