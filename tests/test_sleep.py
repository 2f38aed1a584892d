"""Sleep diary metrics, from SPEC 5.2 (SLP-R1..R4). Each expected figure below is worked out by hand from the
spec's formulas, not taken from the implementation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from journal.sleep import Night, SleepDiaryError, compute, describe_duration, percent_half_up, resolve_clock_times

NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")


def _night(diary_date, zone, into_bed, tried_sleep, final_wake, out_of_bed, sol=0, nwak=0, waso=0) -> Night:
    clock = {
        "into_bed": time.fromisoformat(into_bed),
        "tried_sleep": time.fromisoformat(tried_sleep),
        "final_wake": time.fromisoformat(final_wake),
        "out_of_bed": time.fromisoformat(out_of_bed),
    }
    instants = resolve_clock_times(diary_date, zone, clock)
    return Night(**instants, sol_min=sol, awakenings=nwak, waso_min=waso)


def test_slp_r1_night_across_midnight_with_reading_and_lying_in():
    # SPEC's own example of the common bug: 150 min reading before lights-out, 30 min in bed after waking.
    # B 21:30, L 00:00, F 06:30, O 07:00; SOL 20, WASO 30 over 2 awakenings.
    night = _night(date(2026, 5, 12), NEW_YORK, "21:30", "00:00", "06:30", "07:00", sol=20, nwak=2, waso=30)
    assert night.into_bed == datetime(2026, 5, 12, 1, 30, tzinfo=UTC)  # 21:30 EDT the evening before
    metrics = compute(night)
    assert metrics.tib_min == 570  # 21:30 -> 07:00
    assert metrics.pre_sleep_min == 150
    assert metrics.terminal_wake_min == 30
    assert metrics.tst_min == 340  # (F - L) 390 - SOL 20 - WASO 30
    assert metrics.tst_min != metrics.tib_min - 20 - 30  # not the buggy TIB - SOL - WASO (520)
    assert metrics.se_pct == 59.6  # 340 / 570 = 59.649...
    assert metrics.se_attempt_pct == 87.2  # 340 / 390 = 87.179...
    assert metrics.warnings == ()


def test_slp_r1_identity_holds_for_the_worked_example():
    m = compute(_night(date(2026, 5, 12), NEW_YORK, "21:30", "00:00", "06:30", "07:00", sol=20, nwak=2, waso=30))
    assert m.pre_sleep_min + m.sol_min + m.tst_min + m.waso_min + m.terminal_wake_min == m.tib_min


def test_bedtime_after_midnight_belongs_to_the_diary_morning():
    night = _night(date(2026, 5, 12), NEW_YORK, "01:15", "01:30", "08:00", "08:10")
    assert night.into_bed == datetime(2026, 5, 12, 5, 15, tzinfo=UTC)
    assert compute(night).tib_min == 415


def test_slp_r2_spring_forward_night_is_an_hour_shorter_than_the_clock_says():
    # New York clocks went from 02:00 EST to 03:00 EDT on 8 March 2026: 23:00 -> 07:00 is 7 real hours.
    metrics = compute(_night(date(2026, 3, 8), NEW_YORK, "23:00", "23:00", "07:00", "07:00"))
    assert metrics.tib_min == 7 * 60
    assert metrics.tst_min == 7 * 60


def test_slp_r2_fall_back_night_is_an_hour_longer_than_the_clock_says():
    # New York clocks went from 02:00 EDT back to 01:00 EST on 1 November 2026: 23:00 -> 07:00 is 9 hours.
    metrics = compute(_night(date(2026, 11, 1), NEW_YORK, "23:00", "23:30", "06:30", "07:00", sol=15))
    assert metrics.tib_min == 9 * 60
    assert metrics.tst_min == 8 * 60 - 15


def test_slp_r2_southern_hemisphere_clock_change_in_april():
    # Sydney left daylight saving at 03:00 AEDT -> 02:00 AEST on 5 April 2026: 22:00 -> 06:00 is 9 hours.
    assert compute(_night(date(2026, 4, 5), SYDNEY, "22:00", "22:00", "06:00", "06:00")).tib_min == 9 * 60
    # ...and entered it at 02:00 AEST -> 03:00 AEDT on 4 October 2026: the same clock times are 7 hours.
    assert compute(_night(date(2026, 10, 4), SYDNEY, "22:00", "22:00", "06:00", "06:00")).tib_min == 7 * 60


def test_slp_r2_a_time_in_the_repeated_hour_takes_the_occurrence_after_the_previous_time():
    # Into bed 01:45 EDT (first pass through 01:xx); tried to sleep "01:15" can only be the second pass (EST).
    night = _night(date(2026, 11, 1), NEW_YORK, "01:45", "01:15", "07:00", "07:00")
    assert night.into_bed == datetime(2026, 11, 1, 5, 45, tzinfo=UTC)
    assert night.tried_sleep == datetime(2026, 11, 1, 6, 15, tzinfo=UTC)
    assert compute(night).pre_sleep_min == 30


def test_slp_r2_a_time_in_the_skipped_hour_is_read_as_the_clock_jumping_forward():
    # 02:30 did not exist in New York on 8 March 2026; read as 03:30 EDT, an hour after 01:30 EST.
    night = _night(date(2026, 3, 8), NEW_YORK, "01:30", "02:30", "07:00", "07:00")
    assert night.tried_sleep == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert compute(night).pre_sleep_min == 60


def test_half_hour_and_45_minute_zones_measure_real_minutes():
    assert (
        compute(_night(date(2026, 5, 12), ZoneInfo("Asia/Kolkata"), "22:00", "22:10", "05:50", "06:00")).tib_min == 480
    )
    assert (
        compute(_night(date(2026, 5, 12), ZoneInfo("Asia/Kathmandu"), "23:15", "23:15", "06:00", "06:45")).tib_min
        == 450
    )


def test_slp_r3_rejects_sol_plus_waso_longer_than_the_attempt():
    # L 23:00 -> F 06:00 is 420 minutes; 300 + 200 cannot fit (TST would be -80).
    with pytest.raises(SleepDiaryError) as error:
        compute(_night(date(2026, 5, 12), NEW_YORK, "22:30", "23:00", "06:00", "06:30", sol=300, nwak=3, waso=200))
    assert error.value.field == "waso_min"
    assert "Please check" in error.value.message


def test_slp_r3_accepts_sol_plus_waso_exactly_equal_to_the_attempt():
    metrics = compute(
        _night(date(2026, 5, 12), NEW_YORK, "22:30", "23:00", "06:00", "06:30", sol=220, nwak=3, waso=200)
    )
    assert metrics.tst_min == 0
    assert metrics.se_pct == 0.0


def _instant(hour: int, minute: int = 0, day: int = 12) -> datetime:
    return datetime(2026, 5, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("b", "l_", "f", "o", "field"),
    [
        (_instant(2), _instant(1), _instant(8), _instant(9), "tried_sleep"),  # L before B
        (_instant(1), _instant(2), _instant(1, 30), _instant(9), "final_wake"),  # F before L
        (_instant(1), _instant(2), _instant(9), _instant(8), "out_of_bed"),  # O before F
    ],
)
def test_slp_r3_rejects_events_out_of_order_naming_the_time_to_check(b, l_, f, o, field):
    with pytest.raises(SleepDiaryError) as error:
        compute(Night(b, l_, f, o, sol_min=0, awakenings=0, waso_min=0))
    assert error.value.field == field


def test_slp_r3_rejects_a_span_of_24_hours_or_more():
    with pytest.raises(SleepDiaryError, match="less than 24 hours"):
        compute(Night(_instant(1, day=11), _instant(1, day=11), _instant(1, day=12), _instant(1, day=12), 0, 0, 0))


def test_slp_r3_warns_but_accepts_waso_without_awakenings_and_more_than_16_hours_in_bed():
    metrics = compute(
        Night(_instant(0), _instant(0), _instant(17), _instant(17), sol_min=10, awakenings=0, waso_min=20)
    )
    assert metrics.tib_min == 17 * 60
    assert len(metrics.warnings) == 2


def test_instants_must_be_whole_minutes_with_an_offset():
    with pytest.raises(SleepDiaryError, match="to the minute"):
        compute(Night(_instant(0), _instant(0), _instant(7).replace(second=30), _instant(8), 0, 0, 0))


def test_slp_r4_se_rounds_half_up_exactly():
    assert percent_half_up(49, 400) == 12.3  # 12.25 exactly; round(12.25, 1) in binary floats gives 12.2
    assert percent_half_up(1, 3) == 33.3
    assert percent_half_up(2, 3) == 66.7
    assert percent_half_up(340, 570) == 59.6


def test_confirmation_duration_reads_naturally():
    assert describe_duration(400) == "6 h 40 min"
    assert describe_duration(420) == "7 h"
    assert describe_duration(45) == "45 min"


ZONES = st.sampled_from(["America/New_York", "Australia/Sydney", "Asia/Kathmandu", "America/St_Johns", "UTC"])


@given(
    zone=ZONES,
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1)),
    gaps=st.tuples(*(st.integers(0, 8 * 60) for _ in range(3))),
    sol=st.integers(0, 120),
    waso=st.integers(0, 240),
    nwak=st.integers(0, 10),
)
def test_slp_r1_identity_holds_for_every_valid_entry(zone, start, gaps, sol, waso, nwak):
    b = start.replace(second=0, microsecond=0, tzinfo=UTC)
    l_ = b + timedelta(minutes=gaps[0])
    f = l_ + timedelta(minutes=gaps[1] + sol + waso)
    o = f + timedelta(minutes=gaps[2])
    if o == b:
        o += timedelta(minutes=1)
    assume(o - b < timedelta(hours=24))  # longer spans are rejected (SLP-R3), tested above
    m = compute(Night(b, l_, f, o, sol_min=sol, awakenings=nwak, waso_min=waso))
    assert m.pre_sleep_min + m.sol_min + m.tst_min + m.waso_min + m.terminal_wake_min == m.tib_min
    assert 0 <= m.se_pct <= 100


@given(
    zone=ZONES,
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    clocks=st.lists(st.times().map(lambda t: t.replace(second=0, microsecond=0)), min_size=4, max_size=4),
)
def test_slp_r2_each_time_resolves_to_the_first_matching_instant_after_the_previous(zone, day, clocks):
    names = ("into_bed", "tried_sleep", "final_wake", "out_of_bed")
    tz = ZoneInfo(zone)
    instants = resolve_clock_times(day, tz, dict(zip(names, clocks, strict=True)))
    ordered = [instants[name] for name in names]
    assert ordered == sorted(ordered)
    for previous, current, clock in zip(ordered, ordered[1:], clocks[1:], strict=False):
        # "first instant after the previous one": less than a day (plus a changed hour) later...
        assert current - previous < timedelta(hours=25)
        # ...showing the entered clock time, unless that time was skipped by the clocks going forward
        shown = current.astimezone(tz).time()
        assert shown == clock or (current.astimezone(tz) - timedelta(hours=1)).time() == clock
    # Whether the whole night spans less than 24 hours is compute()'s check (SLP-R3), not resolution's.
