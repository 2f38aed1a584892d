"""Analytics over a patient's data, as pure functions of plain values (no Flask, no database).

Adherence (EMA-R4), rolling means, how long each session's effect lasted, percent days abstinent (SUD-R3) and
the loss-of-response watch (KET-R2). Dates are the patient's local dates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from . import scoring

ADHERENCE_DAYS = 14  # EMA-R4: completed / scheduled diaries over the last 14 days
ADHERENCE_TARGET = 80  # the reference line, in percent
ROLLING_DAYS = 7
MIN_DAYS_FOR_MEAN = 3  # a 7-day mean over fewer entries than this is not shown
MOOD_DROP_POINTS = 2  # KET-R2: 7-day mean mood this far below the post-series mean (a product choice)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def half_up(value: Fraction, places: int = 1) -> float:
    scale = 10**places
    scaled = value * scale
    rounded = (scaled + Fraction(1, 2)).__floor__() if scaled >= 0 else -((-scaled + Fraction(1, 2)).__floor__())
    return rounded / scale


# --- Adherence (EMA-R4) ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Adherence:
    scheduled: int  # diary days in the window while the patient was active
    completed: int
    on_time: int
    backfilled: int

    @property
    def percent(self) -> float | None:
        return half_up(Fraction(100 * self.completed, self.scheduled)) if self.scheduled else None

    @property
    def meets_target(self) -> bool | None:
        return None if self.percent is None else self.percent >= ADHERENCE_TARGET


def adherence(entries: Mapping[date, bool], today: date, active_since: date, days: int = ADHERENCE_DAYS) -> Adherence:
    """Over the ``days`` days before today (today is still open): ``entries`` maps each recorded local date
    to whether it was on time (False: back-filled). Days before the account was active are not scheduled."""
    # Counted, not listed day by day: the dashboard works this out for every patient on each visit.
    first = max(today - timedelta(days=days), active_since)
    scheduled = max(0, (today - first).days)
    recorded = [on_time for day, on_time in entries.items() if first <= day < today]
    on_time = sum(1 for punctual in recorded if punctual)
    return Adherence(scheduled, len(recorded), on_time, len(recorded) - on_time)


# --- Series ---------------------------------------------------------------------------------------------------------


def rolling_mean(values: Mapping[date, float], first: date, last: date, window: int = ROLLING_DAYS) -> dict:
    """The mean of the entries in the ``window`` days ending on each day from ``first`` to ``last``; None
    when fewer than ``MIN_DAYS_FOR_MEAN`` entries exist then (a gap is never filled in)."""
    means: dict[date, float | None] = {}
    for day in _days(first, last):
        present = [values[d] for d in _days(day - timedelta(days=window - 1), day) if d in values]
        means[day] = sum(present) / len(present) if len(present) >= MIN_DAYS_FOR_MEAN else None
    return means


def mean_over(values: Mapping[date, float], first: date, last: date) -> float | None:
    present = [value for day, value in values.items() if first <= day <= last]
    return sum(present) / len(present) if len(present) >= MIN_DAYS_FOR_MEAN else None


# --- Durability after each session ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Durability:
    session: date
    level_before: float | None  # the 7-day mean mood over the 7 days before the session
    days: int | None  # days until the 7-day mean returned to that level; None if it has not (yet)
    until: date | None  # the day it returned
    censored: bool  # True when the next session or the end of the data came first: "at least" ``lasted``
    lasted: int | None  # days observed without a return (for a censored session)


def durability(moods: Mapping[date, int], sessions: Sequence[date], last_day: date) -> list[Durability]:
    """For each session: the number of days until the 7-day mean mood (higher is better) came back down to its
    level in the 7 days before the session, counted once it had risen above that level (the first days' means
    still hold pre-session entries). A mean that never rose gives 0: no measurable effect. Observation stops
    at the next session or at ``last_day``, which leaves the figure censored. Without enough entries before
    a session, nothing can be said (None)."""
    results = []
    ordered = sorted(set(sessions))
    for index, session in enumerate(ordered):
        before = mean_over(moods, session - timedelta(days=ROLLING_DAYS), session - timedelta(days=1))
        stop = min(ordered[index + 1] - timedelta(days=1), last_day) if index + 1 < len(ordered) else last_day
        if before is None or stop <= session:
            results.append(Durability(session, before, None, None, False, None))
            continue
        means = [
            (day, mean)
            for day, mean in rolling_mean(moods, session + timedelta(days=1), stop).items()
            if mean is not None
        ]
        onset = next((index for index, (_, mean) in enumerate(means) if mean > before), None)
        if onset is None and means:
            results.append(Durability(session, before, 0, session, False, None))
            continue
        returned = next((day for day, mean in means[onset or 0 :] if mean <= before), None)
        if returned is not None:
            results.append(Durability(session, before, (returned - session).days, returned, False, None))
        else:
            results.append(Durability(session, before, None, None, True, (stop - session).days))
    return results


# --- Substance use (SUD-R3) -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Abstinence:
    abstinent_days: int
    reported_days: int  # the denominator: days with a valid report, never the calendar

    @property
    def percent(self) -> float | None:
        return half_up(Fraction(100 * self.abstinent_days, self.reported_days)) if self.reported_days else None


def percent_days_abstinent(used_on: Mapping[date, bool]) -> Abstinence:
    """``used_on`` maps each day that has a report to whether any substance was used on it (a check-in's
    answer is about its own day, ``checkins.use_day``). A missing day is not abstinent: it is absent."""
    abstinent = sum(1 for used in used_on.values() if not used)
    return Abstinence(abstinent, len(used_on))


# SUD-R3: a heavy drinking day is >= 5 standard drinks for men, >= 4 for women (configurable by sex). The
# patient's sex is not recorded yet, so every patient is counted with the lower, more conservative threshold
# (``HEAVY_DRINKS["unknown"]``) until it is.
HEAVY_DRINKS = {"male": 5, "female": 4, "other": 4, "unknown": 4}
_DRINKS = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:standard\s+)?(?:drinks?|units?)?\s*$", re.IGNORECASE)


def drinks(amount: str | None) -> float | None:
    """The number of standard drinks in an alcohol amount as a patient typed it ("6", "6 drinks", "4.5"); None
    when it is not a plain number (free text such as "a bottle of wine" is not guessed at)."""
    match = _DRINKS.match(amount or "")
    return float(match.group(1).replace(",", ".")) if match else None


@dataclass(frozen=True)
class SubstanceUseFigures:
    """One substance over a period: percent days abstinent over the days with a report for it (SUD-R3)."""

    substance: str
    use_days: int
    reported_days: int  # the denominator: days with a report of this substance, never the calendar
    heavy_days: int | None  # alcohol only: days at or over ``heavy_threshold`` drinks; None for other substances
    amount_days: int | None  # alcohol only: use days whose amount is a number of drinks (the heavy days' base)
    heavy_threshold: int | None

    @property
    def pda(self) -> float | None:
        return Abstinence(self.reported_days - self.use_days, self.reported_days).percent


# The runs of days on which a substance was in the programme: first and last day, both included; None for a run
# still going (journal/people.py ``substance_periods`` makes them from the programme's history).
Period = tuple[date, date | None]


def in_periods(day: date, periods: Sequence[Period]) -> bool:
    return any(first <= day and (last is None or day <= last) for first, last in periods)


def shift_periods(periods: Mapping[str, Sequence[Period]], days: int) -> dict[str, list[Period]]:
    """The same runs moved by ``days``: for reports filed under another day than the one they were asked on
    (a check-in's use answer is about the day before it: -1)."""
    step = timedelta(days=days)
    return {
        code: [(first + step, None if last is None else last + step) for first, last in runs]
        for code, runs in periods.items()
    }


def substance_use(
    reports: Mapping[str, Mapping[date, tuple[bool, str | None]]],
    sex: str | None = None,
    periods: Mapping[str, Sequence[Period]] | None = None,
) -> list[SubstanceUseFigures]:
    """Per substance (in the order given): ``reports[substance]`` maps each day that has a report of it to (used,
    amount). A day without a report of a substance counts for neither its use nor its abstinent days.

    With ``periods`` (the programme's history, in the reports' days), a substance's days count only while it was
    in the programme: from the day it entered, not before, and not after it left (a back-filled day from before
    it was added, answered on today's form, is not its day). A substance with no period counts no day."""
    threshold = HEAVY_DRINKS.get(sex or "unknown", HEAVY_DRINKS["unknown"])
    figures = []
    for substance, days in reports.items():
        if periods is not None:
            runs = periods.get(substance, ())
            days = {day: report for day, report in days.items() if in_periods(day, runs)}
        used = [amount for was_used, amount in days.values() if was_used]
        heavy = amounts = None
        if substance == "alcohol":
            counted = [n for n in (drinks(a) for a in used) if n is not None]
            amounts, heavy = len(counted), sum(1 for n in counted if n >= threshold)
        figures.append(
            SubstanceUseFigures(
                substance, len(used), len(days), heavy, amounts, threshold if substance == "alcohol" else None
            )
        )
    return figures


# --- Response, remission and the loss-of-response watch (PHQ-R9, KET-R2) ----------------------------------------------


@dataclass(frozen=True)
class Outcome:
    baseline_total: int | None
    latest_total: int | None
    response: bool | None
    remission: bool | None
    pct_reduction: float | None
    baseline_below_usual: bool  # SPEC 1.6: the usual definitions assume a baseline of 10 or more


def outcome(baseline_total: int | None, latest_total: int | None) -> Outcome:
    if latest_total is None:
        return Outcome(baseline_total, None, None, None, None, baseline_total is not None and baseline_total < 10)
    return Outcome(
        baseline_total=baseline_total,
        latest_total=latest_total,
        response=scoring.response(baseline_total, latest_total) if baseline_total is not None else None,
        remission=scoring.remission(latest_total),
        pct_reduction=scoring.pct_reduction(baseline_total, latest_total) if baseline_total is not None else None,
        baseline_below_usual=baseline_total is not None and baseline_total < 10,
    )


# --- Pain against the pre-treatment week (PAIN-R2) -----------------------------------------------------------------

PAIN_WEEK = 7  # days in each mean: the week before the first session, and the latest week
# IMMPACT (SPEC 6.3): a decrease of 10-20 % is minimally important, 30 % or more moderately, 50 % or more
# substantially. The thresholds are the SPEC's; the words are the flags the pages show.
PAIN_FLAGS = ((50, "substantial"), (30, "moderate"), (10, "minimal"))


@dataclass(frozen=True)
class PainChange:
    """The mean daily pain of the week before the first dosing session and of the latest week, and the decrease.

    A mean needs ``MIN_DAYS_FOR_MEAN`` reported days of its week; without both means there is no change. ``flag``
    is the IMMPACT level the decrease reaches (None below 10 %, for an increase, or from a pre-treatment mean of
    0, where a percentage means nothing)."""

    before_mean: float | None
    before_days: int
    latest_mean: float | None
    latest_days: int
    pct_decrease: float | None
    flag: str | None


def _mean(values: Sequence[int]) -> Fraction | None:
    return Fraction(sum(values), len(values)) if len(values) >= MIN_DAYS_FOR_MEAN else None


def pain_change(before: Sequence[int], latest: Sequence[int]) -> PainChange:
    """PAIN-R2: ``before`` are the daily pain ratings of the week before the first session, ``latest`` those of
    the latest week (missing days are simply absent)."""
    before_mean, latest_mean = _mean(before), _mean(latest)
    exact = (before_mean - latest_mean) / before_mean * 100 if before_mean and latest_mean is not None else None
    # Flagged on the exact decrease, so that 29.96 % (shown as 30.0 %) is not called moderate.
    flag = next((name for threshold, name in PAIN_FLAGS if exact is not None and exact >= threshold), None)
    return PainChange(
        half_up(before_mean) if before_mean is not None else None,
        len(before),
        half_up(latest_mean) if latest_mean is not None else None,
        len(latest),
        half_up(exact) if exact is not None else None,
        flag,
    )


@dataclass(frozen=True)
class BoosterWatch:
    flag: bool
    reasons: tuple[str, ...]


def booster_watch(
    phq9_after_series: Sequence[tuple[date, int]],
    baseline_total: int | None,
    moods: Mapping[date, int],
    series_end: date | None,
    today: date,
    *,
    points: int = scoring.MCID[scoring.PHQ9],
    mood_drop: int = MOOD_DROP_POINTS,
    name: str = "PHQ-9",
) -> BoosterWatch:
    """KET-R2, any of: the latest PHQ-9 (``name``: the PHQ-8 in its place, SAFE-R4) at least ``points`` above the
    post-series nadir; no longer a response against the baseline; the 7-day mean mood ``mood_drop`` or more below
    its mean since the series ended."""
    if series_end is None:
        return BoosterWatch(False, ())
    reasons = []
    forms = sorted(phq9_after_series)
    if len(forms) >= 2:
        latest = forms[-1][1]
        nadir = min(total for _, total in forms[:-1])
        if latest - nadir >= points:
            reasons.append(f"{name} {latest} is {latest - nadir} points above the post-series low of {nadir}")
        if baseline_total is not None:
            responded = any(scoring.response(baseline_total, total) for _, total in forms[:-1])
            if responded and scoring.response(baseline_total, latest) is False:
                reasons.append(f"no longer a response against the baseline of {baseline_total}")
    after = {day: mood for day, mood in moods.items() if series_end < day <= today}
    post_mean = mean_over(after, series_end + timedelta(days=1), today)
    recent = mean_over(after, today - timedelta(days=ROLLING_DAYS - 1), today)
    if post_mean is not None and recent is not None and post_mean - recent >= mood_drop:
        reasons.append(f"7-day mean mood {recent:.1f} is {post_mean - recent:.1f} below the post-series mean")
    return BoosterWatch(bool(reasons), tuple(reasons))
