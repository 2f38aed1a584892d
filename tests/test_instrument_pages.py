"""The patient's page for every questionnaire, drawn from its definition (journal/instruments.py): the PCL-5
(SPEC 3), the PEG (6.4), the AUDIT-C (4.5) with its skip rule, the PACS kept from patients (4.4), and the PHQ-8 in
place of the PHQ-9 for a clinic that chose it (SAFE-R4).

Pat is Alice's patient and Quinn is Charlie's (tests/conftest.py); a test gives Pat the indication it needs.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from journal import instruments
from journal.assessments import local_date, submit
from journal.db import db, utcnow
from journal.models import Alert, Assessment
from journal.questionnaires import ATTRIBUTION
from tests.test_error_summary import assert_summary_links_to_fields
from tests.test_no_requirement_ids import visible_text

# A PCL-5 whose figures were worked out by hand from SPEC 3.3: B = 1+2+0+1+0 = 4 (two items endorsed), C = 3+0
# = 3 (one), D = 2+1+0+4+1+1+0 = 9 (two), E = 2+2+0+0+1+3 = 8 (three): the symptom pattern is met, the total 24
# is under the cut-point of 33.
PCL5_ANSWERS = [1, 2, 0, 1, 0, 3, 0, 2, 1, 0, 4, 1, 1, 0, 2, 2, 0, 0, 1, 3]


def _page(response) -> str:
    return response.get_data(as_text=True)


def _text(response) -> str:
    return " ".join(visible_text(_page(response)).split())


def _form(answers: list[int]) -> dict:
    return {f"item-{number}": str(value) for number, value in enumerate(answers, start=1)}


def _with(people, *indications: str, sex: str | None = None) -> None:
    patient = people.pat.patient
    patient.indications = list(indications)
    if sex is not None:
        patient.sex = sex
    db.session.commit()


def _stored(people) -> list[Assessment]:
    return db.session.scalars(select(Assessment).where(Assessment.patient_id == people.pat.id)).all()


def _labels(page: str, name: str) -> list[str]:
    return [html.unescape(label) for label in re.findall(rf'<label for="{name}-\d+">([^<]+)</label>', page)]


# --- PCL-5 -------------------------------------------------------------------------------------------------------


def test_pcl_r4_r5_the_pcl5_page_carries_the_definitions_wording_in_order_with_nothing_chosen(client, auth, people):
    _with(people, "ptsd")
    auth.login(people.pat)
    response = client.get("/assessments/pcl5")
    assert response.status_code == 200
    page = html.unescape(_page(response))
    assert instruments.PCL5.instruction in page
    assert "select one of the options" in page and "circle" not in page  # PCL-R4's one substitution
    assert instruments.PCL5.stem in page
    positions = [page.index(item.wording) for item in instruments.PCL5.items]
    assert len(positions) == 20 and positions == sorted(positions)
    for number in range(1, 21):
        assert _labels(_page(response), f"item-{number}") == [
            "Not at all",
            "A little bit",
            "Moderately",
            "Quite a bit",
            "Extremely",
        ]
    assert re.search(r"<input[^>]* checked", page) is None


def test_pcl5_answers_are_stored_and_scored_as_the_api_scores_them(client, auth, people):
    _with(people, "ptsd")
    auth.login(people.pat)
    response = auth.post("/assessments/pcl5", _form(PCL5_ANSWERS))
    assert response.status_code == 302 and re.fullmatch(r"/assessments/\d+/done", response.headers["Location"])
    (stored,) = _stored(people)
    assert (stored.instrument, stored.answers, stored.total) == ("pcl5", PCL5_ANSWERS, 24)
    assert stored.scores == {
        "clusters": {"B": 4, "C": 3, "D": 9, "E": 8},
        "provisional_ptsd": True,
        "probable_ptsd": False,
        "cut_point": 33,
    }
    assert stored.scores == instruments.PCL5.score(PCL5_ANSWERS).scores  # the API's scoring, the same figures


def test_pcl_r7_the_result_shows_the_total_and_never_a_ptsd_word(client, auth, people):
    _with(people, "ptsd")
    auth.login(people.pat)
    answers = [4] * 20  # 80: both flags set, so a careless page would have something to say
    done = _text(client.get(auth.post("/assessments/pcl5", _form(answers)).headers["Location"]))
    assert "Your score 80" in done and "from 0 to 80" in done
    for word in ("PTSD", "provisional", "cut-point", "probable", "symptom pattern"):
        assert word.lower() not in done.lower()


def test_pcl_r5_every_pcl5_item_is_required_and_an_unanswered_one_errors_at_its_field(client, auth, people):
    _with(people, "ptsd")
    auth.login(people.pat)
    form = _form(PCL5_ANSWERS)
    del form["item-7"], form["item-20"]
    form["item-3"] = "5"  # not one of the five answers
    response = auth.post("/assessments/pcl5", form)
    assert response.status_code == 400
    assert_summary_links_to_fields(_page(response), {"item-3", "item-7", "item-20"})
    assert 'id="item-7-error"' in _page(response)
    assert 'id="item-1-1" name="item-1" value="1" required checked' in _page(response)  # kept as answered
    assert _stored(people) == []


def test_pcl5_is_hidden_from_a_patient_whose_indications_do_not_include_ptsd(client, auth, people):
    _with(people, "depression", "chronic_pain")
    auth.login(people.pat)
    assert client.get("/assessments/pcl5").status_code == 404
    assert auth.post("/assessments/pcl5", _form(PCL5_ANSWERS)).status_code == 404
    assert _stored(people) == []


def test_pcl_r10_a_second_pcl5_inside_21_days_says_the_day_it_opens_again(client, auth, people):
    _with(people, "ptsd")
    earlier = utcnow() - timedelta(days=20)
    submit(db.session, people.pat.patient, {"instrument": "pcl5", "answers": PCL5_ANSWERS}, earlier, people.pat)
    db.session.commit()
    auth.login(people.pat)
    page = _text(client.get("/assessments/pcl5"))
    opens = local_date(earlier + timedelta(days=21), people.pat.timezone)
    assert f"You filled in the PCL-5 recently. It opens again on {opens:%A %-d %B}." in page
    assert auth.post("/assessments/pcl5", _form(PCL5_ANSWERS)).status_code == 409
    assert len(_stored(people)) == 1
    # The PHQ-9's 7 days do not apply: it is open, whatever the PCL-5's gap.
    assert "Nothing to fill in" not in _text(client.get("/assessments/phq9"))


def test_pcl5_opens_again_once_its_21_days_have_passed(client, auth, people):
    _with(people, "ptsd")
    earlier = utcnow() - timedelta(days=21, minutes=1)
    submit(db.session, people.pat.patient, {"instrument": "pcl5", "answers": PCL5_ANSWERS}, earlier, people.pat)
    db.session.commit()
    auth.login(people.pat)
    assert instruments.PCL5.stem in html.unescape(_page(client.get("/assessments/pcl5")))
    assert auth.post("/assessments/pcl5", _form([0] * 20)).status_code == 302
    assert len(_stored(people)) == 2


# --- PEG ---------------------------------------------------------------------------------------------------------


def test_peg_r2_three_scales_of_eleven_numbers_with_the_anchor_words_and_nothing_chosen(client, auth, people):
    _with(people, "chronic_pain")
    auth.login(people.pat)
    response = client.get("/assessments/peg")
    page = html.unescape(_page(response))
    assert response.status_code == 200
    for number, item in enumerate(instruments.PEG.items, start=1):
        assert f"{number}. {item.wording}" in page
        assert _labels(_page(response), f"item-{number}") == [str(n) for n in range(11)]
        low, high = item.anchors
        assert f"0 = {low}" in page and f"10 = {high}" in page
    assert re.search(r"<input[^>]* checked", page) is None


@pytest.mark.parametrize(("answers", "shown"), [([5, 5, 5], "5.0"), ([4, 5, 5], "4.7"), ([5, 5, 6], "5.3")])
def test_peg_r3_the_result_is_the_mean_to_one_decimal(client, auth, people, answers, shown):
    _with(people, "chronic_pain")
    auth.login(people.pat)
    done = _text(client.get(auth.post("/assessments/peg", _form(answers)).headers["Location"]))
    assert f"Your score {shown} " in done
    assert "average of your 3 answers" in done and "from 0 to 10" in done
    (stored,) = _stored(people)
    assert (stored.total, stored.scores) == (sum(answers), {"peg_sum": sum(answers), "score": float(shown)})


def test_peg_a_missing_or_out_of_range_number_errors_at_its_scale(client, auth, people):
    _with(people, "chronic_pain")
    auth.login(people.pat)
    response = auth.post("/assessments/peg", {"item-1": "7", "item-2": "11"})
    assert response.status_code == 400
    assert_summary_links_to_fields(_page(response), {"item-2", "item-3"})
    assert "Choose a number from 0 to 10." in _page(response)
    assert _stored(people) == []


# --- AUDIT-C -----------------------------------------------------------------------------------------------------


def test_audc_r2_r3_the_first_step_asks_how_often_under_our_own_header_and_nothing_else(client, auth, people):
    _with(people, "alcohol")
    auth.login(people.pat)
    page = html.unescape(_page(client.get("/assessments/auditc")))
    assert "These questions are about your drinking during the past year." in page
    assert "One standard drink contains 14 grams of pure alcohol (in the US)." in page  # the clinic's definition
    first, second, third = instruments.AUDITC.items
    assert first.wording in page and second.wording not in page and third.wording not in page
    assert _labels(page, "item-1") == [answer.label for answer in first.answers]
    assert re.search(r"<input[^>]* checked", page) is None


def test_audc_r3_never_ends_the_auditc_and_stores_items_2_and_3_as_skipped(client, auth, people):
    _with(people, "alcohol", sex="male")
    auth.login(people.pat)
    response = auth.post("/assessments/auditc", {"item-1": "0", "step": "1"})
    assert re.fullmatch(r"/assessments/\d+/done", response.headers["Location"])
    (stored,) = _stored(people)
    # Sent as the API takes it, [0, null, null]; scored as items 2 and 3 at 0 with ``skipped``.
    assert (stored.answers, stored.total, stored.scores["skipped"]) == ([0, 0, 0], 0, True)
    assert "Your score 0 " in _text(client.get(response.headers["Location"]))


def test_auditc_a_drinker_is_asked_items_2_and_3_and_sees_the_total_only(client, auth, people):
    _with(people, "alcohol", sex="female")
    auth.login(people.pat)
    step_two = auth.post("/assessments/auditc", {"item-1": "2", "step": "1", "submission_id": "auditc-0001"})
    page = html.unescape(_page(step_two))
    assert step_two.status_code == 200 and _stored(people) == []
    _first, second, third = instruments.AUDITC.items
    assert second.wording in page and third.wording in page
    assert "Your answer: <strong>2 to 4 times a month</strong>" in page
    assert 'name="item-1" value="2"' in page and 'value="auditc-0001"' in page
    response = auth.post(
        "/assessments/auditc",
        {"item-1": "2", "item-2": "1", "item-3": "1", "step": "2", "submission_id": "auditc-0001"},
    )
    (stored,) = _stored(people)
    assert (stored.answers, stored.total, stored.scores["positive"]) == ([2, 1, 1], 4, True)
    done = _text(client.get(response.headers["Location"]))
    assert "Your score 4 " in done and "from 0 to 12" in done
    assert "positive" not in done.lower() and "screen" not in done.lower()


def test_auditc_an_unanswered_second_step_item_errors_at_its_field_and_keeps_the_first_answer(client, auth, people):
    _with(people, "alcohol")
    auth.login(people.pat)
    response = auth.post("/assessments/auditc", {"item-1": "3", "item-2": "2", "step": "2"})
    assert response.status_code == 400
    assert_summary_links_to_fields(_page(response), {"item-3"})
    assert 'name="item-1" value="3"' in _page(response)
    assert _stored(people) == []


def test_auditc_a_second_step_without_its_first_answer_asks_item_1_again(client, auth, people):
    _with(people, "alcohol")
    auth.login(people.pat)
    response = auth.post("/assessments/auditc", {"item-2": "2", "item-3": "1", "step": "2"})
    assert response.status_code == 400
    assert_summary_links_to_fields(_page(response), {"item-1"})
    assert instruments.AUDITC.items[1].wording not in html.unescape(_page(response))
    assert _stored(people) == []


# --- PACS, other people, and the PHQ-8 ---------------------------------------------------------------------------


def test_pacs_r3_the_pacs_has_no_page_even_for_a_patient_treated_for_alcohol_use(client, auth, people):
    _with(people, "alcohol")
    auth.login(people.pat)
    assert client.get("/assessments/pacs").status_code == 404
    assert auth.post("/assessments/pacs", _form([1, 1, 1, 1, 1])).status_code == 404
    assert _stored(people) == []


def test_another_patients_pcl5_result_is_hidden_and_staff_have_no_questionnaire_pages(client, auth, people):
    _with(people, "ptsd")
    auth.login(people.pat)
    location = auth.post("/assessments/pcl5", _form(PCL5_ANSWERS)).headers["Location"]
    auth.logout()
    auth.login(people.quinn)
    assert client.get(location).status_code == 404
    assert client.get("/assessments/pcl5").status_code == 404  # Quinn is not treated for PTSD
    auth.logout()
    for staff in (people.alice, people.ada):
        auth.login(staff)
        assert client.get(location).status_code == 404
        assert client.get("/assessments/pcl5").status_code == 404
        auth.logout()


def test_a_pacs_the_care_team_entered_shows_its_total_without_a_category_word(client, auth, people):
    _with(people, "alcohol")
    data = {"instrument": "pacs", "answers": [4, 4, 4, 4, 5], "completed_at": utcnow() - timedelta(days=1)}
    form, _ = submit(db.session, people.pat.patient, data, utcnow(), people.alice)
    db.session.commit()
    auth.login(people.pat)
    done = _text(client.get(f"/assessments/{form.id}/done"))
    assert "Your score 21 " in done and "from 0 to 30" in done
    for word in ("craving criterion", "balance", "high", "severe", "moderate"):
        assert word not in done.lower()


@pytest.fixture
def phq8_clinic(people):
    people.clinic.depression_instrument = "phq8"
    db.session.commit()
    return people


def test_safe_r4_a_phq8_clinic_asks_the_phq8_and_the_phq9_address_leads_there(client, auth, phq8_clinic):
    people = phq8_clinic
    auth.login(people.pat)
    assert client.get("/assessments").headers["Location"].endswith("/assessments/phq8")
    assert client.get("/assessments/phq9").headers["Location"].endswith("/assessments/phq8")
    page = html.unescape(_page(client.get("/assessments/phq8")))
    assert "<h1>PHQ-8</h1>" in page
    for item in instruments.PHQ8.items:
        assert item.wording in page
    assert instruments.PHQ9.items[8].wording not in page
    assert 'name="item-9"' not in page


def test_safe_r4_a_high_phq8_goes_to_its_score_with_no_crisis_screen_and_no_safety_alert(client, auth, phq8_clinic):
    people = phq8_clinic
    auth.login(people.pat)
    response = auth.post("/assessments/phq8", _form([3] * 8))
    assert re.fullmatch(r"/assessments/\d+/done", response.headers["Location"])
    done = _text(client.get(response.headers["Location"]))
    assert "Your PHQ-8 answers" in done and "Your score 24 (Severe)" in done
    assert db.session.scalars(select(Alert).where(Alert.kind.like("safety%"))).all() == []
    (stored,) = _stored(people)
    assert (stored.instrument, stored.total, stored.item9) == ("phq8", 24, None)


def test_a_phq9_clinic_sends_the_phq8_address_to_the_phq9(client, auth, people):
    auth.login(people.pat)
    assert client.get("/assessments/phq8").headers["Location"].endswith("/assessments/phq9")
    response = auth.post("/assessments/phq8", _form([0] * 8))
    assert response.status_code == 302 and response.headers["Location"].endswith("/assessments/phq9")
    assert _stored(people) == []


# --- About the questionnaires ------------------------------------------------------------------------------------


def test_pcl_r2_peg_r1_pacs_r1_audc_r1_the_about_page_carries_every_attribution(client):
    page = _text(client.get("/about/questionnaires"))
    assert " ".join(ATTRIBUTION.split()) in page
    for definition in instruments.ALL.values():
        assert definition.title in page
        if definition.attribution:
            assert " ".join(definition.attribution.split()) in page
    assert "U.S. Department of Veterans Affairs, National Center for PTSD" in page  # PCL-R2's second line


def test_the_about_page_names_the_clinics_own_depression_questionnaire(client, auth, phq8_clinic):
    auth.login(phq8_clinic.pat)
    page = _text(client.get("/about/questionnaires"))
    assert instruments.PHQ8.title in page and instruments.PHQ9.title not in page
