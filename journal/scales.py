"""Scoring of the PCL-5, PEG, PACS and AUDIT-C (SPEC 3, 6.4, 4.4 and 4.5), as pure functions of the answers.

Like ``scoring`` for the PHQ-9 and GAD-7: integer arithmetic on the server (GEN-R2), and an answer set that
is not exactly the instrument's is refused rather than scored (PCL-R9, PEG-R5, PACS-R4, AUDC-R4): none of these
instruments has a verified prorating rule. Each returns a ``scoring.Score`` whose ``scores`` carries what the
instrument reports beyond its total, under the SPEC's names.
"""

from __future__ import annotations

from fractions import Fraction

from .scoring import Score, ScoringError

PCL5_CLUSTERS = {"B": range(0, 5), "C": range(5, 7), "D": range(7, 14), "E": range(14, 20)}  # PCL-R6, items 1-20
PCL5_ENDORSED_AT = 2  # "Moderately" or more
PCL5_MIN_ENDORSED = {"B": 1, "C": 1, "D": 2, "E": 2}  # the DSM-5 symptom-count rule
PCL5_CUT_POINTS = (31, 32, 33)  # NCPTSD's 31-33; the clinic chooses, 33 by default
PCL5_RESPONSE_POINTS = 5  # PCL-R8
PCL5_MEANINGFUL_POINTS = 10
PCL5_RELIABLE_CHANGE_CONTEXT = 15  # [S23]: shown in the legend as context only

PACS_REFERENCE_LINES = (
    (15, "≥ 15: best balance (Hartwell 2019, community heavy drinkers)"),
    (21, "> 20: DSM-5 craving stand-in"),
)

AUDITC_THRESHOLDS = {"male": 4, "female": 3}  # AUDC-R5
AUDITC_DEFAULT_THRESHOLD = 3  # other or unknown sex: the lower one, recorded as "default-lower"


def _check_answers(answers, count: int, highest: int, *, nullable: frozenset[int] = frozenset()) -> None:
    if not isinstance(answers, list) or len(answers) != count:
        raise ScoringError("answers", f"Give exactly {count} answers, one per item, in order.")
    for index, answer in enumerate(answers):
        if answer is None and index in nullable:
            continue
        if answer is None:
            raise ScoringError("answers", "Answer every question.")
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer <= highest:
            raise ScoringError("answers", f"Each answer is a whole number from 0 to {highest}.")


def _score(instrument: str, total: int, scores: dict, answers: list | None = None) -> Score:
    return Score(
        instrument=instrument,
        total=total,
        band=None,
        prorated=False,
        two_item_total=None,
        two_item_positive=None,
        item9=None,
        safety=None,
        difficulty=None,
        scores=scores,
        answers=answers,
    )


# --- PCL-5 (SPEC 3.3) --------------------------------------------------------------------------------------------


def score_pcl5(answers, cut_point: int = 33) -> Score:
    """PCL-R6: total 0-80, cluster subtotals, and two independent flags, with the cut-point in force stored."""
    if cut_point not in PCL5_CUT_POINTS:
        raise ScoringError("cut_point", "The PCL-5 cut-point is 31, 32 or 33.")
    _check_answers(answers, 20, 4)
    clusters = {name: sum(answers[index] for index in items) for name, items in PCL5_CLUSTERS.items()}
    endorsed = {
        name: sum(1 for index in items if answers[index] >= PCL5_ENDORSED_AT) for name, items in PCL5_CLUSTERS.items()
    }
    total = sum(answers)
    return _score(
        "pcl5",
        total,
        {
            "clusters": clusters,
            "provisional_ptsd": all(endorsed[name] >= least for name, least in PCL5_MIN_ENDORSED.items()),
            "probable_ptsd": total >= cut_point,
            "cut_point": cut_point,
        },
    )


def pcl5_change(baseline: int, current: int) -> dict:
    """PCL-R8: change = current - baseline (negative is better); response at 5 points, meaningful at 10, and a
    rise of 5 or more flagged as worsening."""
    fall = baseline - current
    return {
        "change": current - baseline,
        "pcl_response": fall >= PCL5_RESPONSE_POINTS,
        "pcl_clinically_meaningful": fall >= PCL5_MEANINGFUL_POINTS,
        "worsening": -fall >= PCL5_RESPONSE_POINTS,
    }


# --- PEG-3 (SPEC 6.4) --------------------------------------------------------------------------------------------


def peg_tenths(peg_sum: int) -> int:
    """PEG-R3: the mean of the three items in tenths, rounded half-up; sum / 3 never ends in 5, so no tie."""
    return (10 * peg_sum + 1) // 3


def score_peg(answers) -> Score:
    """PEG-R3: ``total`` is ``peg_sum`` (0-30), on which every decision is made; ``score`` is the mean to one
    decimal (0.0-10.0), for display."""
    _check_answers(answers, 3, 10)
    peg_sum = sum(answers)
    return _score("peg", peg_sum, {"peg_sum": peg_sum, "score": peg_tenths(peg_sum) / 10})


def peg_change(baseline_sum: int, current_sum: int) -> dict:
    """PEG-R4: improved when at least 30 % lower than the baseline, in integers; the display percentage rounded
    half-up to one decimal; a change of 1.0 point of the mean (3 of the sum) marked as an MID estimate."""
    if baseline_sum <= 0:
        return {"peg_improved_30": None, "peg_pct_reduction": None, "mid_change": abs(current_sum - baseline_sum) >= 3}
    tenths = Fraction(1000 * (baseline_sum - current_sum), baseline_sum)
    rounded = (tenths + Fraction(1, 2)).__floor__() if tenths >= 0 else -((-tenths + Fraction(1, 2)).__floor__())
    return {
        "peg_improved_30": 10 * (baseline_sum - current_sum) >= 3 * baseline_sum,
        "peg_pct_reduction": rounded / 10,
        "mid_change": abs(current_sum - baseline_sum) >= 3,
    }


# --- PACS (SPEC 4.4) ---------------------------------------------------------------------------------------------


def score_pacs(answers) -> Score:
    """PACS-R4: the sum of the five items, 0-30; no category word (PACS-R5)."""
    _check_answers(answers, 5, 6)
    return _score("pacs", sum(answers), {})


# --- AUDIT-C (SPEC 4.5) ------------------------------------------------------------------------------------------


def score_auditc(answers, sex: str = "unknown") -> Score:
    """AUDC-R3 to R6. When item 1 is "Never", items 2 and 3 are not asked: they may be sent as null (or 0) and
    are stored as 0 with ``skipped``. ``positive`` uses the patient's recorded sex; other or unknown takes the
    lower threshold, recorded as ``default-lower``."""
    if isinstance(answers, list) and len(answers) == 3 and answers[0] == 0 and not isinstance(answers[0], bool):
        if any(answer not in (None, 0) or isinstance(answer, bool) for answer in answers[1:]):
            raise ScoringError("answers", "After “Never” for the first question, leave the other two unanswered.")
        answers, skipped = [0, 0, 0], True
    else:
        _check_answers(answers, 3, 4)
        skipped = False
    total = sum(answers)
    threshold = AUDITC_THRESHOLDS.get(sex, AUDITC_DEFAULT_THRESHOLD)
    return _score(
        "auditc",
        total,
        {
            "positive": total >= threshold,
            "threshold": threshold,
            "threshold_basis": sex if sex in AUDITC_THRESHOLDS else "default-lower",
            "skipped": skipped,
            # AUDC-R6: every point from item 1 (items 2 and 3 at 0): likely below the recommended limits.
            "all_points_from_item1": total > 0 and answers[1] == 0 and answers[2] == 0,
        },
        answers=list(answers),
    )
