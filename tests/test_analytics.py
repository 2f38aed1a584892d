"""Analytics as pure functions: adherence (EMA-R4), rolling means with gaps, durability after each session,
percent days abstinent (SUD-R3), response/remission against the baseline (PHQ-R9) and the loss-of-response
watch (KET-R2). No app, no database."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from journal.analytics import (
    adherence,
    booster_watch,
    drinks,
    durability,
    outcome,
    percent_days_abstinent,
    rolling_mean,
    substance_use,
)

DAY = date(2026, 3, 20)


def days_before(n: int) -> date:
    return DAY - timedelta(days=n)


def test_ema_r4_adherence_counts_the_last_14_days_and_splits_on_time_from_backfilled():
    entries = {days_before(n): n % 3 != 0 for n in range(1, 12)}  # 11 of the 14 days; every third back-filled
    entries[DAY] = True  # today is still open: not counted
    result = adherence(entries, DAY, active_since=DAY - timedelta(days=60))
    assert (result.scheduled, result.completed, result.on_time, result.backfilled) == (14, 11, 8, 3)
    assert result.percent == 78.6 and result.meets_target is False


def test_adherence_does_not_schedule_days_before_the_account_was_active():
    entries = {days_before(n): True for n in range(1, 5)}
    result = adherence(entries, DAY, active_since=days_before(4))
    assert (result.scheduled, result.completed, result.percent, result.meets_target) == (4, 4, 100.0, True)
    assert adherence({}, DAY, active_since=DAY).percent is None


@given(
    entries=st.dictionaries(st.integers(-3, 30).map(days_before), st.booleans(), max_size=34),
    active_for=st.integers(-2, 30),
)
@settings(derandomize=True, database=None)
def test_adherence_counts_exactly_what_the_day_by_day_definition_does(entries, active_for):
    """The counts are worked out arithmetically for speed; they must equal walking the window day by day."""
    active_since = days_before(active_for)
    window = [days_before(n) for n in range(1, 15) if days_before(n) >= active_since]
    recorded = [day for day in window if day in entries]
    on_time = sum(1 for day in recorded if entries[day])
    expected = (len(window), len(recorded), on_time, len(recorded) - on_time)
    result = adherence(entries, DAY, active_since=active_since)
    assert (result.scheduled, result.completed, result.on_time, result.backfilled) == expected


def test_rolling_mean_leaves_a_gap_where_fewer_than_three_entries_exist():
    values = {days_before(9): 2, days_before(8): 4, days_before(7): 6, days_before(1): 8}
    means = rolling_mean(values, days_before(9), DAY)
    assert means[days_before(8)] is None  # two entries so far
    assert means[days_before(7)] == 4
    assert means[days_before(2)] is None  # the 7 days ending here hold one entry
    assert means[DAY] is None


def _series(start: date, values: list[int]) -> dict[date, int]:
    return {start + timedelta(days=n): value for n, value in enumerate(values)}


def test_durability_counts_days_until_the_7_day_mean_mood_is_back_to_its_level_before_the_session():
    session = date(2026, 3, 10)
    before = _series(session - timedelta(days=7), [3] * 7)  # level 3 before
    after = _series(session, [3, 8, 8, 8, 8, 8, 8, 8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
    (result,) = durability({**before, **after}, [session], last_day=session + timedelta(days=17))
    assert result.level_before == 3
    assert result.censored is False
    # Mood is 8 on days 1-7 after the session and 2 from day 8. The 7-day mean ending on day 12 holds
    # [8, 8, 2, 2, 2, 2, 2] -> 3.71; on day 13, [8, 2, 2, 2, 2, 2, 2] -> 2.86: the first at or below 3.
    assert result.days == 13 and result.until == session + timedelta(days=13)


def test_durability_is_censored_at_the_next_session_and_zero_without_any_rise():
    first, second = date(2026, 3, 10), date(2026, 3, 17)
    moods = {**_series(first - timedelta(days=7), [3] * 7), **_series(first, [6] * 20)}
    results = durability(moods, [first, second], last_day=first + timedelta(days=19))
    assert (results[0].censored, results[0].lasted, results[0].days) == (True, 6, None)
    flat = {**_series(first - timedelta(days=7), [5] * 7), **_series(first, [4] * 10)}
    (no_effect,) = durability(flat, [first], last_day=first + timedelta(days=9))
    assert (no_effect.days, no_effect.censored) == (0, False)


def test_durability_says_nothing_without_enough_entries_before_the_session():
    session = date(2026, 3, 10)
    (result,) = durability({session + timedelta(days=n): 7 for n in range(10)}, [session], session + timedelta(9))
    assert (result.level_before, result.days, result.censored) == (None, None, False)


def test_sud_r3_percent_days_abstinent_uses_reported_days_as_the_denominator():
    used = {days_before(n): n in (2, 5) for n in range(1, 9)}  # 8 reported days, 2 with use; others missing
    result = percent_days_abstinent(used)
    assert (result.abstinent_days, result.reported_days, result.percent) == (6, 8, 75.0)
    assert percent_days_abstinent({}).percent is None


def test_phq_r9_outcome_exact_half_is_response_and_five_is_not_remission():
    assert outcome(20, 10).response is True
    assert outcome(20, 11).response is False
    assert outcome(20, 5).remission is False and outcome(20, 4).remission is True
    assert outcome(0, 0).response is None
    assert outcome(8, 3).baseline_below_usual is True
    assert outcome(21, 14).pct_reduction == 33.3


def test_ket_r2_booster_watch_flags_five_points_over_the_nadir_but_not_four():
    end = date(2026, 2, 1)
    forms = [(date(2026, 2, 5), 6), (date(2026, 2, 19), 4)]
    assert booster_watch([*forms, (DAY, 9)], None, {}, end, DAY).flag is True
    assert booster_watch([*forms, (DAY, 8)], None, {}, end, DAY).flag is False


def test_ket_r2_booster_watch_flags_a_lost_response_and_a_mood_drop():
    end = date(2026, 2, 1)
    lost = booster_watch([(date(2026, 2, 5), 9), (DAY, 11)], 20, {}, end, DAY)
    assert lost.flag and "no longer a response" in lost.reasons[0]
    moods = {**_series(end + timedelta(days=1), [7] * 30), **_series(DAY - timedelta(days=6), [4] * 7)}
    dropped = booster_watch([], None, moods, end, DAY)
    assert dropped.flag and "7-day mean mood 4.0" in dropped.reasons[0]
    assert booster_watch([(DAY, 27)], None, {}, None, DAY).flag is False  # no series yet: nothing to watch


# --- Per substance (SUD-R3) ------------------------------------------------------------------------------------------


def test_sud_r3_percent_days_abstinent_is_worked_out_per_substance_over_that_substances_reported_days():
    # Opioids reported on 10 days, used on 2: 8 / 10 = 80 %. Nicotine reported on 4 days, used on all 4: 0 %.
    opioids = {days_before(n): (n in (2, 5), None) for n in range(1, 11)}
    nicotine = {days_before(n): (True, "10 cigarettes") for n in range(1, 5)}
    figures = {f.substance: f for f in substance_use({"opioids": opioids, "nicotine": nicotine})}
    assert (figures["opioids"].pda, figures["opioids"].use_days, figures["opioids"].reported_days) == (80.0, 2, 10)
    assert (figures["nicotine"].pda, figures["nicotine"].use_days, figures["nicotine"].reported_days) == (0.0, 4, 4)
    assert figures["opioids"].heavy_days is None  # heavy drinking days are an alcohol measure only


def test_sud_r3_a_substance_without_reports_has_no_percentage_rather_than_0_or_100():
    (figures,) = substance_use({"cannabis": {}})
    assert figures.pda is None and figures.reported_days == 0


def test_sud_r3_heavy_drinking_days_use_the_lower_threshold_while_sex_is_unknown_and_5_for_men():
    # 3, 4, 5 and 6 drinks on four days, and one day whose amount is not a number of drinks.
    alcohol = {days_before(n): (True, amount) for n, amount in enumerate(["3", "4 drinks", "5", "6.0", "a bottle"], 1)}
    alcohol[days_before(9)] = (False, None)
    (unknown,) = substance_use({"alcohol": alcohol})
    assert (unknown.heavy_threshold, unknown.heavy_days, unknown.amount_days) == (4, 3, 4)  # 4, 5 and 6 drinks
    (male,) = substance_use({"alcohol": alcohol}, sex="male")
    assert (male.heavy_threshold, male.heavy_days) == (5, 2)  # 5 and 6 drinks
    assert unknown.pda == round(100 * 1 / 6, 1)  # one abstinent day of six reported


def test_an_amount_counts_as_drinks_only_when_it_is_a_number():
    assert [drinks(a) for a in ("4", "4 drinks", "2,5 units", "1 standard drink", "a bottle", "", None)] == [
        4.0, 4.0, 2.5, 1.0, None, None, None,
    ]  # fmt: skip
