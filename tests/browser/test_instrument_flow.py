"""The PCL-5 and the PEG on a phone (390 x 844), in Chromium: a patient treated for PTSD fills in the PCL-5 and a
patient treated for chronic pain the PEG, each by tapping the answers' labels; a form sent with a question left
out comes back with the error at that question; the result shows the score the patient may see (the PCL-5's
total, never a PTSD word: PCL-R7; the PEG's mean to one decimal: PEG-R3); axe-core finds nothing on any page and
nothing is loaded from another origin.

The live server is shared by every browser test: the patients made here have names of their own (Tess Tolland,
Paige Parrish) and nothing here changes Pat."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from journal import instruments
from journal.db import db
from journal.models import Assessment
from tests.browser.conftest import PHONE
from tests.browser.test_enrolment_flow import assert_fits_width, sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser

# 1 + 2 + 0 + 1 + 0 + 3 + 0 + 2 + 1 + 0 + 4 + 1 + 1 + 0 + 2 + 2 + 0 + 0 + 1 + 3 = 24
PCL5_ANSWERS = [1, 2, 0, 1, 0, 3, 0, 2, 1, 0, 4, 1, 1, 0, 2, 2, 0, 0, 1, 3]


def _patient(live_server, local: str, name: str, indication: str) -> int:
    with live_server.app.app_context():
        alice = live_server.user("alice@clinic.test")
        user = live_server.user(f"{local}@patient.test") or make_patient(alice, local, name, zone="UTC")
        user.patient.indications = [indication]
        db.session.commit()
        return user.id


def _stored(live_server, patient_id: int) -> list[tuple]:
    with live_server.app.app_context():
        forms = db.session.scalars(select(Assessment).where(Assessment.patient_id == patient_id)).all()
        return [(form.instrument, form.answers, form.total) for form in forms]


def _item(page, number: int, wording: str):
    return page.get_by_role("group", name=re.compile("^" + re.escape(f"{number}. {wording[:40]}")))


def _tap(group, label: str) -> None:
    group.get_by_text(label, exact=True).click()  # a tap on the visible label, as a thumb would
    expect(group.get_by_label(label, exact=True)).to_be_checked()


def test_a_ptsd_patient_fills_in_the_pcl5_on_a_phone_and_sees_the_total_only(live_server, phone, network, axe):
    patient_id = _patient(live_server, "tess", "Tess Tolland", "ptsd")
    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "tess@patient.test")
    page.goto("/assessments/pcl5")
    expect(page.get_by_role("heading", name="PCL-5", level=1)).to_be_visible()
    expect(page.get_by_text(instruments.PCL5.stem, exact=True)).to_be_visible()
    assert_fits_width(page, PHONE["viewport"]["width"])
    axe(page)

    labels = [answer.label for answer in instruments.PCL5.items[0].answers]
    for number, (item, points) in enumerate(zip(instruments.PCL5.items, PCL5_ANSWERS, strict=True), start=1):
        if number != 11:  # left out on purpose: the page must say which one
            _tap(_item(page, number, item.wording), labels[points])
    page.get_by_role("button", name="Send my answers").click()
    summary = page.locator("[data-error-summary]")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link", name="Choose an answer.")).to_have_attribute("href", "#item-11")
    eleventh = _item(page, 11, instruments.PCL5.items[10].wording)
    expect(eleventh).to_have_attribute("aria-invalid", "true")
    expect(_item(page, 1, instruments.PCL5.items[0].wording).get_by_label(labels[1], exact=True)).to_be_checked()
    assert _stored(live_server, patient_id) == []
    axe(page)

    _tap(eleventh, labels[PCL5_ANSWERS[10]])
    page.get_by_role("button", name="Send my answers").click()
    expect(page).to_have_url(re.compile(r"/assessments/\d+/done$"))
    score = page.get_by_role("region", name="Your score")
    expect(score.locator("p.score")).to_have_text("24")
    expect(page.locator("main")).not_to_contain_text("PTSD")
    axe(page)
    assert _stored(live_server, patient_id) == [("pcl5", PCL5_ANSWERS, 24)]
    network.assert_only_own_origin()
    network.assert_no_csp_violations()


def test_a_pain_patient_fills_in_the_peg_on_a_phone_and_sees_the_mean_to_one_decimal(live_server, phone, network, axe):
    patient_id = _patient(live_server, "paige", "Paige Parrish", "chronic_pain")
    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "paige@patient.test")
    page.goto("/assessments/peg")
    expect(page.get_by_role("heading", name="PEG", level=1)).to_be_visible()
    for number, item in enumerate(instruments.PEG.items, start=1):
        group = _item(page, number, item.wording)
        expect(group.get_by_role("radio")).to_have_count(11)
        expect(group.get_by_text(f"0 = {item.anchors[0]}", exact=True)).to_be_visible()
        expect(group.get_by_text(f"10 = {item.anchors[1]}", exact=True)).to_be_visible()
        expect(group.locator("input:checked")).to_have_count(0)
    assert_fits_width(page, PHONE["viewport"]["width"])
    axe(page)

    for number, (item, value) in enumerate(zip(instruments.PEG.items, (4, 5, 5), strict=True), start=1):
        _tap(_item(page, number, item.wording), str(value))
    page.get_by_role("button", name="Send my answers").click()
    expect(page).to_have_url(re.compile(r"/assessments/\d+/done$"))
    expect(page.get_by_role("region", name="Your score").locator("p.score")).to_have_text("4.7")  # 14 / 3
    axe(page)
    assert _stored(live_server, patient_id) == [("peg", [4, 5, 5], 14)]
    network.assert_only_own_origin()
    network.assert_no_csp_violations()


def test_an_alcohol_patient_answers_the_auditc_in_two_steps_on_a_phone(live_server, phone, network, axe):
    patient_id = _patient(live_server, "avery", "Avery Alder", "alcohol")
    first, second, third = instruments.AUDITC.items
    page = phone.new_page()
    page.goto("/login")
    sign_in(page, "avery@patient.test")
    page.goto("/assessments/auditc")
    expect(page.get_by_text(instruments.AUDITC.instruction, exact=True)).to_be_visible()
    expect(page.get_by_role("group")).to_have_count(1)  # AUDC-R3: items 2 and 3 wait for the first answer
    axe(page)
    _tap(_item(page, 1, first.wording), first.answers[2].label)
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("group")).to_have_count(2)
    expect(page.get_by_text(first.answers[2].label, exact=True)).to_be_visible()  # the answer kept, shown
    axe(page)
    _tap(_item(page, 2, second.wording), second.answers[1].label)
    _tap(_item(page, 3, third.wording), third.answers[0].label)
    page.get_by_role("button", name="Send my answers").click()
    expect(page).to_have_url(re.compile(r"/assessments/\d+/done$"))
    expect(page.get_by_role("region", name="Your score").locator("p.score")).to_have_text("3")
    axe(page)
    assert _stored(live_server, patient_id) == [("auditc", [2, 1, 0], 3)]
    network.assert_only_own_origin()
    network.assert_no_csp_violations()
