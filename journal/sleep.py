"""The Consensus Sleep Diary core (SPEC 5): clock times resolved to instants, and the derived metrics.

Pure functions: no Flask, no database. All arithmetic is on absolute instants (SLP-R2), so a night when
the clocks change is measured in real minutes, not wall-clock differences.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from .wording import N_

QUALITIES = ("very_poor", "poor", "fair", "good", "very_good")
MAX_SPAN = timedelta(hours=24)
LONG_TIB_MIN = 16 * 60


class SleepDiaryError(ValueError):
    """The entry cannot be right (SLP-R3): the patient is asked to re-check. ``field`` names what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Night:
    """One night's diary: the four instants (B, L, F, O in SPEC 5.2) and the three reported numbers."""

    into_bed: datetime
    tried_sleep: datetime
    final_wake: datetime
    out_of_bed: datetime
    sol_min: int
    awakenings: int
    waso_min: int


@dataclass(frozen=True)
class SleepMetrics:
    """SPEC 5.2, in whole minutes. ``se_pct``/``se_attempt_pct`` are display values (one decimal, half-up);
    aggregate from ``tst_min``/``tib_min`` instead (SLP-R4)."""

    tib_min: int
    tst_min: int
    sol_min: int
    waso_min: int
    nwak: int
    pre_sleep_min: int
    terminal_wake_min: int
    se_pct: float
    se_attempt_pct: float | None
    warnings: tuple[str, ...]


def resolve_clock_times(diary_date: date, zone: ZoneInfo, clock: dict[str, time]) -> dict[str, datetime]:
    """Turn the four clock times a patient enters into instants (SLP-R2).

    The diary date is the morning the diary is about. "Into bed" is the instant with that clock time between
    noon the day before and noon on the diary date (so 23:00 is the evening before and 00:30 is after
    midnight); each later time is the first instant at or after the previous one. A clock time that occurs
    twice (the hour repeated when clocks go back) takes its first occurrence that is not too early; one that
    did not occur (the hour skipped when clocks go forward) is read as the clock would have shown it had it
    not jumped, which is the same instant as one hour later on the new clock.
    """
    names = ("into_bed", "tried_sleep", "final_wake", "out_of_bed")
    bed_day = diary_date - timedelta(days=1) if clock["into_bed"] >= time(12) else diary_date
    instants: dict[str, datetime] = {"into_bed": _first_instant(bed_day, clock["into_bed"], zone, None)}
    previous = instants["into_bed"]
    for name in names[1:]:
        candidates = [
            _first_instant(previous.astimezone(zone).date() + timedelta(days=d), clock[name], zone, previous)
            for d in (0, 1)
        ]
        instants[name] = min(c for c in candidates if c is not None)
        previous = instants[name]
    return instants


def _first_instant(day: date, clock: time, zone: ZoneInfo, not_before: datetime | None) -> datetime | None:
    """The earliest instant with this wall-clock time on this local day, at or after ``not_before``."""
    options = []
    for fold in (0, 1):
        local = datetime.combine(day, clock, tzinfo=zone).replace(fold=fold)
        instant = local.astimezone(UTC)
        skipped = instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None)
        if skipped and fold == 1:
            continue  # in a skipped hour, fold=1 would move the time backwards; fold=0 reads it forwards
        if not_before is None or instant >= not_before:
            options.append(instant)
    return min(options) if options else None


def compute(night: Night) -> SleepMetrics:
    """Derive SPEC 5.2's metrics, or raise ``SleepDiaryError`` for an entry that cannot be right (SLP-R3)."""
    b, l_, f, o = night.into_bed, night.tried_sleep, night.final_wake, night.out_of_bed
    for instant in (b, l_, f, o):
        if instant.tzinfo is None:
            raise SleepDiaryError("sleep", N_("Times need a UTC offset."))
        if instant.second or instant.microsecond:
            raise SleepDiaryError("sleep", N_("Give times to the minute."))
    for name, value in (("sol_min", night.sol_min), ("awakenings", night.awakenings), ("waso_min", night.waso_min)):
        if value < 0:
            raise SleepDiaryError(name, N_("This cannot be negative."))
    if not b <= l_:
        raise SleepDiaryError(
            "tried_sleep", N_("You started trying to sleep before you got into bed. Please check the times.")
        )
    if not l_ <= f:
        raise SleepDiaryError(
            "final_wake", N_("Your final awakening is before you started trying to sleep. Please check the times.")
        )
    if not f <= o:
        raise SleepDiaryError(
            "out_of_bed", N_("You got out of bed before your final awakening. Please check the times.")
        )
    if o - b >= MAX_SPAN:
        raise SleepDiaryError("out_of_bed", N_("From getting into bed to getting up must be less than 24 hours."))
    if o == b:
        raise SleepDiaryError("out_of_bed", N_("Getting up must be later than getting into bed."))

    minutes = lambda delta: int(delta.total_seconds()) // 60  # noqa: E731 - whole minutes, exact by the check above
    tib = minutes(o - b)
    attempt = minutes(f - l_)
    if night.sol_min + night.waso_min > attempt:
        raise SleepDiaryError(
            "waso_min",
            "Time to fall asleep plus time awake in the night is longer than the time from trying to sleep to "
            "waking up. Please check the numbers.",
        )
    tst = attempt - night.sol_min - night.waso_min
    warnings = []
    if night.awakenings == 0 and night.waso_min > 0:
        warnings.append(N_("You entered time awake in the night but no awakenings."))
    if tib > LONG_TIB_MIN:
        warnings.append(N_("More than 16 hours in bed: is that right?"))
    return SleepMetrics(
        tib_min=tib,
        tst_min=tst,
        sol_min=night.sol_min,
        waso_min=night.waso_min,
        nwak=night.awakenings,
        pre_sleep_min=minutes(l_ - b),
        terminal_wake_min=minutes(o - f),
        se_pct=percent_half_up(tst, tib),
        se_attempt_pct=percent_half_up(tst, attempt) if attempt else None,
        warnings=tuple(warnings),
    )


def percent_half_up(numerator: int, denominator: int) -> float:
    """100 * n / d rounded half-up to one decimal, exactly (no binary floating point before the rounding)."""
    tenths = Fraction(1000 * numerator, denominator) + Fraction(1, 2)
    return int(tenths.__floor__()) / 10


def describe_duration(minutes: int) -> str:
    """'6 h 40 min', as the confirmation tells the patient."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"
