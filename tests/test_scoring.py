"""PHQ-9 and GAD-7 scoring, from SPEC 1 and 2 (requirement ids in the names). Expected values are read off
the spec's tables and rules, not the implementation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journal.scoring import (
    ScoringError,
    choose_baseline,
    meaningful_change,
    needs_safety_pathway,
    pct_reduction,
    remission,
    response,
    score,
)


def phq9_totalling(total: int) -> list[int]:
    """Nine answers summing to ``total``, items 1-8 filled from the front; item 9 only takes what they cannot
    (above 24)."""
    item9 = max(0, total - 24)
    rest = total - item9
    answers = []
    for _ in range(8):
        answers.append(min(3, rest))
        rest -= answers[-1]
    assert rest == 0
    return [*answers, item9]


def gad7_totalling(total: int) -> list[int]:
    answers = []
    for _ in range(7):
        answers.append(min(3, total))
        total -= answers[-1]
    return answers


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
     (15, "moderately_severe"), (19, "moderately_severe"), (20, "severe"), (27, "severe")],
)  # fmt: skip
def test_phq_1_3_every_band_boundary(total, band):
    result = score("phq9", phq9_totalling(total))
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"),
     (15, "severe"), (21, "severe")],
)  # fmt: skip
def test_gad_2_3_every_band_boundary(total, band):
    result = score("gad7", gad7_totalling(total))
    assert (result.total, result.band) == (total, band)


def test_phq_r5_item9_alone_is_a_positive_screen_at_a_total_of_1():
    result = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1], "somewhat_difficult")
    assert (result.total, result.band, result.item9, result.safety) == (1, "minimal", 1, "positive")
    assert needs_safety_pathway(result)


def test_phq_r5_item9_zero_is_negative_even_with_a_severe_total():
    result = score("phq9", [3, 3, 3, 3, 3, 3, 3, 3, 0], "extremely_difficult")
    assert (result.total, result.safety) == (24, "negative")
    assert not needs_safety_pathway(result)


@pytest.mark.parametrize(
    "answers",
    [[0] * 8, [0] * 10, [], "0,0,0,0,0,0,0,0,0", None],
)
def test_phq_r12_fewer_or_more_than_nine_slots_are_rejected(answers):
    with pytest.raises(ScoringError, match="exactly 9 answers"):
        score("phq9", answers)


@pytest.mark.parametrize("bad", [-1, 4, 1.5, True, "2"])
def test_phq_r12_answers_outside_0_to_3_are_rejected(bad):
    with pytest.raises(ScoringError, match="0, 1, 2 or 3"):
        score("phq9", [0, 0, 0, 0, bad, 0, 0, 0, 0])


def test_phq_r3_in_the_app_every_item_is_required():
    with pytest.raises(ScoringError, match="Answer every question"):
        score("phq9", [1, 1, None, 1, 1, 1, 1, 1, 0])


def test_phq_r7_missing_item9_is_never_imputed_and_routes_to_review():
    result = score("phq9", [2, 2, 2, 2, 2, 2, 2, 2, None], allow_missing=True)
    assert result.total is None and result.band is None and not result.prorated
    assert result.safety == "unknown"
    assert needs_safety_pathway(result)


def test_phq_r12_one_or_two_missing_items_are_prorated_and_rounded_for_the_band():
    # 7 answered items summing to 8: mean 8/7, total 8 * 9 / 7 = 10.29 -> 10, "moderate", flagged prorated
    result = score("phq9", [2, 2, 1, 1, 1, None, None, 1, 0], allow_missing=True)
    assert (result.total, result.band, result.prorated) == (10, "moderate", True)
    # GAD-7 with 6 of 7 answered summing to 6: 6 * 7 / 6 = 7 exactly
    assert score("gad7", [1, 1, 1, 1, 1, 1, None], allow_missing=True).total == 7
    # 8 of 9 answered summing to 4: 4 * 9 / 8 = 4.5 -> 5 (half-up), which crosses into "mild"
    half = score("phq9", [1, 1, 1, 1, 0, 0, 0, None, 0], allow_missing=True)
    assert (half.total, half.band) == (5, "mild")


def test_phq_r12_more_than_two_missing_items_cannot_be_scored():
    with pytest.raises(ScoringError, match="More than 2"):
        score("phq9", [1, None, None, None, 1, 1, 1, 1, 0], allow_missing=True)


def test_phq_r8_difficulty_is_not_applicable_when_every_item_is_zero():
    assert score("phq9", [0] * 9, "very_difficult").difficulty == "not_applicable"
    assert score("phq9", [0] * 8 + [1], "very_difficult").difficulty == "very_difficult"
    with pytest.raises(ScoringError):
        score("phq9", [1] * 9, "somewhat")


def test_phq_r11_two_item_screens():
    screen = score("phq9", [2, 1, 0, 0, 0, 0, 0, 0, 0])
    assert (screen.two_item_total, screen.two_item_positive) == (3, True)
    assert score("phq9", [1, 1] + [0] * 7).two_item_positive is False
    assert score("gad7", [3, 0, 0, 0, 0, 0, 0]).two_item_positive is True


def test_phq_r9_exactly_half_is_a_response_and_just_over_is_not():
    assert response(baseline=20, current=10) is True
    assert response(baseline=20, current=11) is False
    assert response(baseline=15, current=7) is True  # 7.5 would be half; 7 is below it
    assert response(baseline=15, current=8) is False
    assert response(baseline=0, current=0) is None


def test_phq_r9_remission_is_below_5_so_a_score_of_5_is_not_remission():
    assert remission(4) is True
    assert remission(5) is False


def test_phq_r9_percent_reduction_is_display_only_rounded_half_up():
    assert pct_reduction(16, 10) == 37.5
    assert pct_reduction(12, 7) == 41.7  # 41.666...
    assert pct_reduction(8, 7) == 12.5
    assert pct_reduction(10, 12) == -20.0
    assert pct_reduction(0, 3) is None


def test_phq_r10_and_gad_r1_meaningful_change_either_way():
    assert meaningful_change("phq9", 14, 9) and meaningful_change("phq9", 9, 14)
    assert not meaningful_change("phq9", 14, 10)
    assert meaningful_change("gad7", 12, 8) and not meaningful_change("gad7", 12, 9)


def test_phq_r9_baseline_is_the_closest_form_before_the_first_session_within_14_days():
    first = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    forms = [
        (first - timedelta(days=20), 22),  # too early
        (first - timedelta(days=10), 18),
        (first - timedelta(days=2), 17),  # closest before: the baseline
        (first + timedelta(hours=1), 12),  # after the session started
    ]
    assert choose_baseline(forms, first) == (first - timedelta(days=2), 17)
    assert choose_baseline(forms[:1], first) is None
