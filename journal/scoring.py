"""PHQ-9 and GAD-7 scoring (SPEC 1 and 2), as pure functions of the item answers.

Totals are always computed here, on the server, from the items (GEN-R2). Integer arithmetic throughout, so
no floating-point rounding can move a patient across a band, a response or a remission boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from .wording import N_

PHQ9 = "phq9"
PHQ8 = "phq8"  # SAFE-R4: the PHQ-9 without item 9, for a clinic that cannot staff the item-9 pathway
GAD7 = "gad7"
ITEMS = {PHQ9: 9, PHQ8: 8, GAD7: 7}

# SPEC 1.3 and 2.3: (lowest total, band key)
BANDS = {
    PHQ9: ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately_severe"), (20, "severe")),
    PHQ8: ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately_severe"), (20, "severe")),  # same cut-points
    GAD7: ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")),
}
BAND_LABELS = {  # marked: a patient sees the band beside their score, in their language
    "minimal": N_("None–minimal"),
    "mild": N_("Mild"),
    "moderate": N_("Moderate"),
    "moderately_severe": N_("Moderately severe"),
    "severe": N_("Severe"),
}
MCID = {PHQ9: 5, PHQ8: 5, GAD7: 4}  # PHQ-R10, GAD-R1: a change of at least this many points is clinically meaningful
DIFFICULTY = ("not_difficult", "somewhat_difficult", "very_difficult", "extremely_difficult")  # PHQ-9 item 10
MAX_PRORATED_MISSING = 2  # PHQ-R12 (NHS Data Dictionary): one or two missing items may be prorated
BASELINE_WINDOW = timedelta(days=14)  # PHQ-R9


class ScoringError(ValueError):
    """The answers cannot be scored: ``field`` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Score:
    instrument: str
    total: int | None  # None only when item 9 is missing: it is never imputed (PHQ-R7)
    band: str | None
    prorated: bool
    two_item_total: int | None  # PHQ-2 or GAD-2 (items 1 + 2), for analytics (PHQ-R11)
    two_item_positive: bool | None  # >= 3
    item9: int | None  # PHQ-9 only
    safety: str | None  # PHQ-9: "positive" (item 9 >= 1), "negative", or "unknown" (item 9 missing)
    difficulty: str | None  # PHQ-9 item 10, or "not_applicable" when every item is 0 (PHQ-R8)
    scores: dict | None = None  # what other instruments report beyond the total (journal/scales.py)
    answers: list | None = None  # the answers as stored, when scoring fills in skipped items (AUDC-R3)


def band_for(instrument: str, total: int) -> str:
    return next(key for lowest, key in reversed(BANDS[instrument]) if total >= lowest)


def score(instrument: str, answers: list, difficulty: str | None = None, *, allow_missing: bool = False) -> Score:
    """Score a form. ``answers`` has one slot per item, in form order: 0..3, or None for an unanswered item,
    which only an imported form (``allow_missing``, e.g. a paper entry) may have (PHQ-R3, PHQ-R12)."""
    if instrument not in ITEMS:
        raise ScoringError("instrument", "Choose phq9, phq8 or gad7.")
    count = ITEMS[instrument]
    if not isinstance(answers, list) or len(answers) != count:
        raise ScoringError("answers", f"Give exactly {count} answers, one per item, in order.")
    for answer in answers:
        if answer is not None and (isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer <= 3):
            raise ScoringError("answers", "Each answer is 0, 1, 2 or 3.")
    missing = [index for index, answer in enumerate(answers) if answer is None]
    if missing and not allow_missing:
        raise ScoringError("answers", "Answer every question.")
    if len(missing) > MAX_PRORATED_MISSING:
        raise ScoringError("answers", f"More than {MAX_PRORATED_MISSING} answers are missing: it cannot be scored.")

    item9 = answers[8] if instrument == PHQ9 else None
    item9_missing = instrument == PHQ9 and item9 is None
    given = [answer for answer in answers if answer is not None]
    total: int | None
    if item9_missing:
        total = None  # PHQ-R7: never prorate over item 9
    elif missing:
        # PHQ-R12: missing items take the mean of the answered ones; the total is rounded half-up to band it.
        total = int(Fraction(sum(given) * count, len(given)) + Fraction(1, 2))
    else:
        total = sum(given)
    first_two = answers[0:2]
    two_item = None if None in first_two else first_two[0] + first_two[1]

    if instrument in (PHQ9, PHQ8):
        safety = (
            ("unknown" if item9_missing else ("positive" if item9 >= 1 else "negative")) if instrument == PHQ9 else None
        )
        if difficulty is not None and difficulty not in DIFFICULTY:
            raise ScoringError("difficulty", "Choose how difficult these problems have made things.")
        difficulty = difficulty if any(given) else "not_applicable"  # PHQ-R8
    else:
        safety = None
        if difficulty is not None:
            raise ScoringError("difficulty", "The difficulty question belongs to the PHQ-9 and PHQ-8.")
    return Score(
        instrument=instrument,
        total=total,
        band=band_for(instrument, total) if total is not None else None,
        prorated=bool(missing) and total is not None,
        two_item_total=two_item,
        two_item_positive=None if two_item is None else two_item >= 3,
        item9=item9,
        safety=safety,
        difficulty=difficulty,
    )


def needs_safety_pathway(result: Score) -> bool:
    """PHQ-R5 and PHQ-R7: item 9 at 1 or more, or missing, goes to a human whatever the total."""
    return result.safety in ("positive", "unknown")


# --- Change over time (SPEC 1.6, 1.7, 2.4) ------------------------------------------------------------------


def response(baseline: int, current: int) -> bool | None:
    """PHQ-R9: at least a 50 % fall from baseline, in integers (exactly 50 % counts); None if baseline is 0."""
    if baseline <= 0:
        return None
    return 2 * current <= baseline


def remission(current: int) -> bool:
    """PHQ-R9: a total under 5."""
    return current < 5


def pct_reduction(baseline: int, current: int) -> float | None:
    """Display only: (baseline - current) / baseline * 100, rounded half-up to one decimal."""
    if baseline <= 0:
        return None
    tenths = Fraction(1000 * (baseline - current), baseline)
    rounded = (tenths + Fraction(1, 2)).__floor__() if tenths >= 0 else -((-tenths + Fraction(1, 2)).__floor__())
    return rounded / 10


def meaningful_change(instrument: str, previous: int, current: int) -> bool:
    """PHQ-R10 / GAD-R1: a change of at least the MCID, either way."""
    return abs(current - previous) >= MCID[instrument]


def choose_baseline(phq9_forms: list[tuple[datetime, int]], first_session: datetime) -> tuple[datetime, int] | None:
    """PHQ-R9: the PHQ-9 completed closest to, and before, the first dosing session, at most 14 days before."""
    eligible = [(at, total) for at, total in phq9_forms if first_session - BASELINE_WINDOW <= at < first_session]
    return max(eligible, default=None, key=lambda form: form[0])


def needs_safety_pathway_for(instrument: str, safety: str | None) -> bool:
    """The same rule for a stored form, from its instrument and safety status."""
    return instrument == PHQ9 and safety in ("positive", "unknown")
