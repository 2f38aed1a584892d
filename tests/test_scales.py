"""Scoring of the PCL-5, PEG, PACS and AUDIT-C, written from clinical/SPEC.md (3.3-3.5, 6.4, 4.4, 4.5), not the code.

Every band, cluster and cut-point edge, every rounding edge and every refused answer set, named by requirement id.
"""

from __future__ import annotations

import pytest

from journal import instruments, scales
from journal.scoring import ScoringError

# --- PCL-5 (SPEC 3) -----------------------------------------------------------------------------------------------


def _pcl5(b=(0,) * 5, c=(0,) * 2, d=(0,) * 7, e=(0,) * 6) -> list[int]:
    return [*b, *c, *d, *e]


def test_pcl_r6_total_is_the_sum_of_the_twenty_items_from_0_to_80():
    assert scales.score_pcl5([0] * 20).total == 0
    assert scales.score_pcl5([4] * 20).total == 80
    assert scales.score_pcl5(list(range(5)) * 4).total == 40


def test_pcl_r6_cluster_subtotals_are_items_1_5_6_7_8_14_and_15_20_and_add_up_to_the_total():
    answers = _pcl5(b=(1, 1, 1, 1, 1), c=(2, 2), d=(3,) * 7, e=(4,) * 6)
    result = scales.score_pcl5(answers)
    assert result.scores["clusters"] == {"B": 5, "C": 4, "D": 21, "E": 24}
    assert sum(result.scores["clusters"].values()) == result.total == 54


def test_pcl_r6_the_maximum_of_each_cluster():
    assert scales.score_pcl5([4] * 20).scores["clusters"] == {"B": 20, "C": 8, "D": 28, "E": 24}


def test_pcl_r6_provisional_pattern_needs_one_b_one_c_two_d_and_two_e_items_rated_2_or_more():
    exactly = _pcl5(b=(2, 0, 0, 0, 0), c=(2, 0), d=(2, 2, 0, 0, 0, 0, 0), e=(2, 2, 0, 0, 0, 0))
    assert scales.score_pcl5(exactly).scores["provisional_ptsd"] is True


@pytest.mark.parametrize(
    "short_of",
    [
        _pcl5(b=(1, 1, 1, 1, 1), c=(2, 0), d=(2, 2, 0, 0, 0, 0, 0), e=(2, 2, 0, 0, 0, 0)),  # no B item at 2
        _pcl5(b=(2, 0, 0, 0, 0), c=(1, 1), d=(2, 2, 0, 0, 0, 0, 0), e=(2, 2, 0, 0, 0, 0)),  # no C item at 2
        _pcl5(b=(2, 0, 0, 0, 0), c=(2, 0), d=(2, 1, 1, 1, 1, 1, 1), e=(2, 2, 0, 0, 0, 0)),  # one D item at 2
        _pcl5(b=(2, 0, 0, 0, 0), c=(2, 0), d=(2, 2, 0, 0, 0, 0, 0), e=(2, 1, 1, 1, 1, 1)),  # one E item at 2
    ],
)
def test_pcl_r6_an_item_rated_1_is_not_endorsed_so_one_short_in_any_cluster_is_no_provisional_pattern(short_of):
    assert scales.score_pcl5(short_of).scores["provisional_ptsd"] is False


def test_pcl_r6_probable_ptsd_is_the_total_at_or_above_the_default_cut_point_of_33():
    at_32 = [4] * 8 + [0] * 12
    assert scales.score_pcl5(at_32).total == 32 and scales.score_pcl5(at_32).scores["probable_ptsd"] is False
    at_33 = [4] * 8 + [1] + [0] * 11
    assert scales.score_pcl5(at_33).total == 33 and scales.score_pcl5(at_33).scores["probable_ptsd"] is True
    assert scales.score_pcl5(at_33).scores["cut_point"] == 33


@pytest.mark.parametrize("cut_point", [31, 32, 33])
def test_pcl_r6_the_clinic_cut_point_is_31_to_33_and_is_stored_with_the_result(cut_point):
    just_below = [4] * 7 + [cut_point - 29] + [0] * 12
    at = [4] * 7 + [3, cut_point - 31] + [0] * 11
    assert scales.score_pcl5(just_below, cut_point).scores["probable_ptsd"] is False
    result = scales.score_pcl5(at, cut_point)
    assert (result.total, result.scores["probable_ptsd"], result.scores["cut_point"]) == (cut_point, True, cut_point)


@pytest.mark.parametrize("cut_point", [30, 34, 0])
def test_pcl_r6_a_cut_point_outside_31_to_33_is_refused(cut_point):
    with pytest.raises(ScoringError):
        scales.score_pcl5([0] * 20, cut_point)


def test_pcl_r7_the_two_flags_are_independent_and_may_disagree():
    low_total_pattern = _pcl5(b=(2, 0, 0, 0, 0), c=(2, 0), d=(2, 2, 0, 0, 0, 0, 0), e=(2, 2, 0, 0, 0, 0))
    result = scales.score_pcl5(low_total_pattern)
    assert (result.total, result.scores["provisional_ptsd"], result.scores["probable_ptsd"]) == (12, True, False)
    high_total_no_c = _pcl5(b=(4,) * 5, c=(1, 1), d=(4,) * 7, e=(0,) * 6)
    result = scales.score_pcl5(high_total_no_c)
    assert (result.total, result.scores["provisional_ptsd"], result.scores["probable_ptsd"]) == (50, False, True)


@pytest.mark.parametrize(
    "answers",
    [
        [0] * 19,
        [0] * 21,
        [0] * 19 + [5],
        [0] * 19 + [-1],
        [0] * 19 + [None],
        [0] * 19 + [True],
        [0] * 19 + [2.0],
        [0] * 19 + ["2"],
        "0" * 20,
    ],
)
def test_pcl_r9_anything_but_twenty_integers_from_0_to_4_has_no_score(answers):
    with pytest.raises(ScoringError) as refused:
        scales.score_pcl5(answers)
    assert refused.value.field == "answers"


@pytest.mark.parametrize(
    ("baseline", "current", "response", "meaningful", "worsening"),
    [
        (40, 36, False, False, False),  # 4 points lower
        (40, 35, True, False, False),  # PCL-R8: exactly 5 is a response
        (40, 31, True, False, False),
        (40, 30, True, True, False),  # exactly 10 is clinically meaningful
        (40, 44, False, False, False),  # a rise of 4
        (40, 45, False, False, True),  # a rise of 5 is worsening
        (0, 0, False, False, False),
    ],
)
def test_pcl_r8_response_at_5_points_meaningful_at_10_and_worsening_at_a_rise_of_5(
    baseline, current, response, meaningful, worsening
):
    flags = scales.pcl5_change(baseline, current)
    assert (flags["pcl_response"], flags["pcl_clinically_meaningful"], flags["worsening"]) == (
        response,
        meaningful,
        worsening,
    )
    assert flags["change"] == current - baseline  # negative is improvement


def test_pcl_r4_r5_the_form_is_the_standard_past_month_wording_in_order_with_five_answers():
    pcl5 = instruments.PCL5
    assert len(pcl5.items) == 20
    assert pcl5.stem == "In the past month, how much were you bothered by:"
    assert "select one of the options" in pcl5.instruction and "circle" not in pcl5.instruction
    assert pcl5.items[0].wording == "Repeated, disturbing, and unwanted memories of the stressful experience?"
    assert pcl5.items[9].wording.endswith("what happened after it?")  # CamCOPS drops this "?" (SPEC 3.2)
    assert pcl5.items[17].wording == "Feeling jumpy or easily startled?"  # no comma (SPEC 3.2, 12.13)
    assert [item.group for item in pcl5.items] == list("BBBBBCCDDDDDDDEEEEEE")
    labels = [(answer.points, answer.label) for answer in pcl5.items[0].answers]
    assert labels == [(0, "Not at all"), (1, "A little bit"), (2, "Moderately"), (3, "Quite a bit"), (4, "Extremely")]
    assert pcl5.schedule.every_days == 28 and pcl5.schedule.min_gap_days == 21  # PCL-R10


# --- PEG (SPEC 6.4) -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "peg_sum", "score"),
    [
        ([0, 0, 0], 0, 0.0),
        ([10, 10, 10], 30, 10.0),
        ([5, 5, 4], 14, 4.7),  # PEG-R3: 4.666... rounds half-up to 4.7, never truncated to 4.6
        ([6, 5, 5], 16, 5.3),  # 5.333... -> 5.3
        ([10, 10, 9], 29, 9.7),
        ([0, 0, 1], 1, 0.3),
        ([0, 1, 1], 2, 0.7),
        ([5, 5, 5], 15, 5.0),
    ],
)
def test_peg_r3_the_score_is_the_mean_of_the_three_items_rounded_half_up_to_one_decimal(answers, peg_sum, score):
    result = scales.score_peg(answers)
    assert (result.total, result.scores["peg_sum"], result.scores["score"]) == (peg_sum, peg_sum, score)


def test_peg_r3_every_sum_from_0_to_30_gives_a_tenth_ending_in_0_3_or_7():
    assert {scales.peg_tenths(total) % 10 for total in range(31)} == {0, 3, 7}


@pytest.mark.parametrize(
    "answers", [[0, 0], [0, 0, 0, 0], [11, 0, 0], [-1, 0, 0], [None, 0, 0], [True, 0, 0], [5.0, 5, 5]]
)
def test_peg_r5_anything_but_three_integers_from_0_to_10_has_no_score(answers):
    with pytest.raises(ScoringError) as refused:
        scales.score_peg(answers)
    assert refused.value.field == "answers"


@pytest.mark.parametrize(
    ("baseline_sum", "current_sum", "improved", "pct"),
    [
        (20, 14, True, 30.0),  # PEG-R4: exactly 30 % counts
        (20, 15, False, 25.0),
        (10, 7, True, 30.0),
        (11, 8, False, 27.3),  # 27.27... rounded half-up; 10 * 3 = 30 < 33
        (3, 2, True, 33.3),
        (15, 20, False, -33.3),
        (0, 0, None, None),  # baseline 0 -> null
    ],
)
def test_peg_r4_improved_at_30_percent_below_baseline_in_integer_arithmetic(baseline_sum, current_sum, improved, pct):
    flags = scales.peg_change(baseline_sum, current_sum)
    assert (flags["peg_improved_30"], flags["peg_pct_reduction"]) == (improved, pct)


def test_peg_the_mid_estimate_is_a_change_of_1_point_of_the_mean_which_is_3_of_the_sum():
    assert scales.peg_change(15, 12)["mid_change"] is True
    assert scales.peg_change(15, 13)["mid_change"] is False
    assert scales.peg_change(15, 18)["mid_change"] is True


def test_peg_r2_the_three_items_are_the_published_wording_with_their_anchors():
    peg = instruments.PEG
    assert [item.wording for item in peg.items] == [
        "What number best describes your pain on average in the past week?",
        "What number best describes how, during the past week, pain has interfered with your enjoyment of life?",
        "What number best describes how, during the past week, pain has interfered with your general activity?",
    ]
    assert [item.anchors for item in peg.items] == [
        ("No pain", "Pain as bad as you can imagine"),
        ("Does not interfere", "Completely interferes"),
        ("Does not interfere", "Completely interferes"),
    ]
    assert peg.schedule.min_gap_days == 7  # PEG-R6


# --- PACS (SPEC 4.4) ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("answers", "total"), [([0] * 5, 0), ([6] * 5, 30), ([1, 2, 3, 4, 5], 15)])
def test_pacs_r4_the_total_is_the_sum_of_five_items_from_0_to_30(answers, total):
    assert scales.score_pacs(answers).total == total


@pytest.mark.parametrize("answers", [[0] * 4, [0] * 6, [7, 0, 0, 0, 0], [-1, 0, 0, 0, 0], [None, 0, 0, 0, 0]])
def test_pacs_r4_anything_but_five_integers_from_0_to_6_has_no_total(answers):
    with pytest.raises(ScoringError):
        scales.score_pacs(answers)


def test_pacs_r3_items_2_to_5_are_not_offered_to_patients_until_their_wording_is_verified():
    pacs = instruments.PACS
    assert pacs.self_report is False
    assert pacs.items[0].wording == (
        "During the past week how often have you thought about drinking or about how good a drink would make you feel?"
    )
    assert [answer.points for answer in pacs.items[0].answers] == list(range(7))
    assert all(not item.answers for item in pacs.items[1:])  # no invented labels


def test_pacs_r5_reference_lines_at_15_and_21_name_their_source():
    assert [line.value for line in instruments.PACS.reference_lines] == [15, 21]
    assert all(line.label for line in instruments.PACS.reference_lines)


# --- AUDIT-C (SPEC 4.5) -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "sex", "positive", "threshold", "basis"),
    [
        ([1, 1, 1], "male", False, 4, "male"),  # AUDC-R5: men at 4
        ([2, 1, 1], "male", True, 4, "male"),
        ([1, 1, 0], "female", False, 3, "female"),  # women at 3
        ([1, 1, 1], "female", True, 3, "female"),
        ([1, 1, 1], "other", True, 3, "default-lower"),  # other or unknown: the lower threshold
        ([1, 1, 1], "unknown", True, 3, "default-lower"),
        ([1, 1, 0], "unknown", False, 3, "default-lower"),
        ([4, 4, 4], "male", True, 4, "male"),
    ],
)
def test_audc_r4_r5_total_and_the_positive_screen_by_recorded_sex(answers, sex, positive, threshold, basis):
    result = scales.score_auditc(answers, sex)
    assert result.total == sum(answers)
    assert (result.scores["positive"], result.scores["threshold"], result.scores["threshold_basis"]) == (
        positive,
        threshold,
        basis,
    )


@pytest.mark.parametrize("answers", [[0, None, None], [0, 0, 0]])
def test_audc_r3_after_never_items_2_and_3_are_stored_as_0_and_marked_skipped(answers):
    result = scales.score_auditc(answers, "female")
    assert (result.total, result.answers, result.scores["skipped"], result.scores["positive"]) == (
        0,
        [0, 0, 0],
        True,
        False,
    )


def test_audc_r6_the_note_applies_when_every_point_comes_from_item_1():
    assert scales.score_auditc([3, 0, 0], "male").scores["all_points_from_item1"] is True
    assert scales.score_auditc([3, 1, 0], "male").scores["all_points_from_item1"] is False
    assert scales.score_auditc([0, None, None]).scores["all_points_from_item1"] is False


@pytest.mark.parametrize(
    "answers",
    [
        [1, None, 0],  # item 1 not "Never": items 2 and 3 are required
        [1, 0],
        [1, 0, 0, 0],
        [5, 0, 0],
        [1, -1, 0],
        [0, 2, None],  # "Never", then an answer to a question that is not asked
        [True, 0, 0],
    ],
)
def test_audc_r4_an_answer_set_that_is_not_three_integers_from_0_to_4_has_no_total(answers):
    with pytest.raises(ScoringError) as refused:
        scales.score_auditc(answers, "male")
    assert refused.value.field == "answers"


def test_audc_r2_the_items_are_the_who_wording_and_the_verified_loinc_codes():
    auditc = instruments.AUDITC
    assert [item.wording for item in auditc.items] == [
        "How often do you have a drink containing alcohol?",
        "How many drinks containing alcohol do you have on a typical day when you are drinking?",
        "How often do you have six or more drinks on one occasion?",
    ]
    assert (auditc.panel_code, auditc.total_code) == ("72109-2", "75626-2")
    assert [item.code for item in auditc.items[1:]] == ["68519-8", "68520-6"]
    assert not auditc.items[0].code[0].isdigit()  # 68518-0 is only a candidate (SPEC 12.17): a local code
    assert auditc.recall == "the past year"


# --- The definitions as a whole -----------------------------------------------------------------------------------


def test_every_definition_scores_through_one_entry_point_with_its_own_answer_range():
    cases = {"phq9": [3] * 9, "phq8": [3] * 8, "gad7": [3] * 7, "pcl5": [4] * 20, "peg": [10] * 3, "pacs": [6] * 5}
    for key, answers in cases.items():
        assert instruments.ALL[key].score(answers).total == instruments.ALL[key].total_max
    assert instruments.AUDITC.score([4, 4, 4], sex="male").total == instruments.AUDITC.total_max


def test_safe_r4_the_phq8_is_the_phq9_without_item_9_with_the_same_cut_points_and_no_safety_pathway():
    phq8, phq9 = instruments.PHQ8, instruments.PHQ9
    assert [item.wording for item in phq8.items] == [item.wording for item in phq9.items[:8]]
    assert phq8.bands == phq9.bands and phq8.total_max == 24
    result = phq8.score([3] * 8, difficulty="very_difficult")
    assert (result.total, result.band, result.safety, result.item9) == (24, "severe", None, None)


def test_a_clinic_records_the_phq9_or_the_phq8_never_both():
    class Clinic:
        depression_instrument = "phq8"

    offered = {instrument.key for instrument in instruments.offered_to(Clinic)}
    assert "phq8" in offered and "phq9" not in offered
    Clinic.depression_instrument = "phq9"
    offered = {instrument.key for instrument in instruments.offered_to(Clinic)}
    assert "phq9" in offered and "phq8" not in offered
