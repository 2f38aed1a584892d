"""The clinician's charts (KET-R1, GEN-R1, PHQ-R9) and how they are served.

The figures are inspected before rendering: sessions marked where they were given, gaps where a day has no
entry, a direction on every scored axis, severity bands with the baseline, response and remission lines. Then
the serving: PNG and SVG for every demo patient, an ETag that answers 304 without rendering and changes with
a new check-in, a cache shared through the database, and a 404 for anyone off the care team.
"""

from __future__ import annotations

import html
import math
import re
import shutil
import struct
import threading
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from journal import chart_cache, charts, create_app, patient_data
from journal.db import db, utcnow
from journal.demo import seed_demo
from journal.models import AuditEvent, ChartCache, Patient
from tests.conftest import NOW, AuthActions, bearer
from tests.outcome_data import (
    active_since,
    at_local,
    baseline,
    checkin,
    given_session,
    local_today,
    paper_phq9,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIRST, LAST = date(2026, 1, 1), date(2026, 1, 31)
SESSIONS = [date(2026, 1, 5), date(2026, 1, 20)]
GAP = {FIRST + timedelta(days=n) for n in range(10, 18)}  # 11-18 January: no entries


def _daily(**series) -> charts.DailySeries:
    days = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
    mood = {day: 4 + day.day % 3 for day in days if day not in GAP}
    values = {"mood": mood, "craving": {}, "sleep_hours": {}, "pain": {}, **series}
    return charts.DailySeries(first=FIRST, last=LAST, sessions=SESSIONS, **values)


def _lines(axes, gid: str) -> list:
    return [line for line in axes.get_lines() if line.get_gid() == gid]


def _session_dates(axes) -> list[date]:
    dates = []
    for line in _lines(axes, "session"):
        start, end = line.get_xdata()
        assert start == end, "a session marker is a vertical line"
        dates.append(start)
    return dates


# --- The figures, before rendering ------------------------------------------------------------------------------


def test_ket_r1_sessions_are_marked_at_their_dates_on_every_outcome_panel():
    daily = _daily(craving={FIRST: 6, LAST: 3}, pain={FIRST: 5})
    figure = charts.outcomes_figure(daily)
    assert len(figure.axes) == 3  # mood, craving, pain; no sleep entries, so no sleep panel
    for axes in figure.axes:
        assert _session_dates(axes) == SESSIONS


def test_each_tracked_substance_has_its_own_craving_series_with_its_days_of_use_on_the_session_axis():
    opioid_days = [day for day in (FIRST + timedelta(days=n) for n in range(31)) if day not in GAP]
    daily = _daily(
        craving={day: 8 for day in opioid_days},  # the pooled maximum: no longer drawn when substances are given
        substance_cravings={"opioids": {day: 8 for day in opioid_days}, "nicotine": {FIRST: 3, LAST: 5}},
        use_days={"opioids": {date(2026, 1, 3), date(2026, 1, 22)}, "nicotine": {LAST}},
    )
    figure = charts.outcomes_figure(daily)
    mood, opioids, nicotine = figure.axes  # no pooled "strongest craving" panel
    assert "Opioids craving" in opioids.get_ylabel() and "higher is worse" in opioids.get_ylabel()
    assert "Nicotine craving" in nicotine.get_ylabel()
    for axes, code, points, used in (
        (opioids, "opioids", len(opioid_days), [date(2026, 1, 3), date(2026, 1, 22)]),
        (nicotine, "nicotine", 2, [LAST]),
    ):
        (series,) = _lines(axes, f"craving:{code}-points")
        assert len(series.get_xdata()) == points
        assert len(_lines(axes, f"craving:{code}-mean")) == 1
        (use,) = _lines(axes, f"craving:{code}-use")
        assert list(use.get_xdata()) == used
        assert _session_dates(axes) == SESSIONS  # the same session-marked time axis
        assert axes.get_shared_x_axes().joined(axes, mood)
    # A legend names every mark: the points, the mean and the sessions on the first panel; the use days on each
    # craving panel.
    first_legend = {text.get_text() for text in mood.get_legend().get_texts()}
    assert {"daily entry", "7-day mean", "dosing session"} <= first_legend
    for axes in (opioids, nicotine):
        assert "day of use" in {text.get_text() for text in axes.get_legend().get_texts()}


def test_a_missing_day_is_a_gap_in_the_points_and_in_the_7_day_mean():
    (axes,) = charts.outcomes_figure(_daily()).axes
    (points,) = _lines(axes, "mood-points")
    assert GAP.isdisjoint(points.get_xdata()), "no point is drawn on a day without an entry"
    (mean,) = _lines(axes, "mood-mean")
    by_day = dict(zip(mean.get_xdata(), mean.get_ydata(), strict=True))
    # The mean over the 7 days ending on a day needs 3 entries (MIN_DAYS_FOR_MEAN): it runs on while the window
    # still holds 3 days before the gap (to 14 January), then breaks until 3 days after it (21 January).
    missing_mean = {day for day, value in by_day.items() if math.isnan(value)}
    assert {date(2026, 1, d) for d in range(15, 21)} <= missing_mean, "the mean is not drawn across the gap"
    assert date(2026, 1, 14) not in missing_mean and date(2026, 1, 21) not in missing_mean
    assert {FIRST, date(2026, 1, 2)} <= missing_mean and date(2026, 1, 3) not in missing_mean


def test_gen_r1_every_scored_axis_says_which_way_is_better():
    daily = _daily(craving={FIRST: 6}, sleep_hours={FIRST: 7.5}, pain={FIRST: 5})
    labels = [axes.get_ylabel() for axes in charts.outcomes_figure(daily).axes]
    assert "higher is better" in labels[0] and labels[0].startswith("Mood")
    assert "higher is worse" in labels[1] and "craving" in labels[1]
    assert labels[2].startswith("Total sleep, hours") and "higher is more sleep" in labels[2]  # GEN-R1
    assert "higher is worse" in labels[3] and labels[3].startswith("Pain")
    assessments = charts.assessments_figure(_assessments())
    assert [axes.get_ylabel() for axes in assessments.axes] == [
        "PHQ-9 total\n(higher is worse)",
        "GAD-7 total\n(higher is worse)",
    ]


def _assessments() -> charts.AssessmentSeries:
    return charts.AssessmentSeries(
        phq9=[(date(2026, 1, 2), 18), (date(2026, 1, 16), 9), (date(2026, 1, 30), 4)],
        gad7=[(date(2026, 1, 2), 12), (date(2026, 1, 30), 6)],
        baseline={"phq9": 18, "gad7": 12},
        sessions=SESSIONS,
        first=FIRST,
        last=LAST,
    )


def test_assessment_panels_have_their_severity_bands_and_the_phq_r9_lines():
    phq9, gad7 = charts.assessments_figure(_assessments()).axes
    bands = {patch.get_gid() for patch in phq9.patches}
    assert {"band-minimal", "band-mild", "band-moderate", "band-moderately severe", "band-severe"} <= bands
    assert {"band-minimal", "band-mild", "band-moderate", "band-severe"} <= {p.get_gid() for p in gad7.patches}
    assert "band-moderately severe" not in {p.get_gid() for p in gad7.patches}  # the GAD-7 has four bands

    def level(axes, gid: str) -> float:
        (line,) = _lines(axes, gid)
        return line.get_ydata()[0]

    assert level(phq9, "phq9-baseline") == 18
    assert level(phq9, "phq9-response") == 9  # 50 % below the baseline: exactly 9 is a response
    assert level(phq9, "phq9-remission") == 4.5  # under 5: 4 is remission, 5 is not
    (totals,) = _lines(phq9, "phq9-totals")
    assert list(totals.get_ydata()) == [18, 9, 4]
    assert _session_dates(phq9) == _session_dates(gad7) == SESSIONS
    # GAD-R2: no validated GAD-7 response or remission, so no such lines (before issue 14 they were drawn
    # "by analogy"); the baseline stays.
    assert level(gad7, "gad7-baseline") == 12
    assert not _lines(gad7, "gad7-response") and not _lines(gad7, "gad7-remission")
    gad7_legend = {text.get_text() for text in gad7.get_legend().get_texts()}
    assert not any("response" in label or "remission" in label for label in gad7_legend)


def _every_instrument(**changes) -> charts.AssessmentSeries:
    """A patient with every indication: the PHQ-9, GAD-7, PCL-5, PEG, PACS and AUDIT-C, each with a baseline or
    the cut-point in force stored with its forms."""
    forms = charts.InstrumentForms
    panels = {
        "phq9": forms("phq9", [(date(2026, 1, 2), 18, {}), (date(2026, 1, 30), 9, {})], 18),
        "gad7": forms("gad7", [(date(2026, 1, 2), 12, {})], 12),
        "pcl5": forms(
            "pcl5",
            [
                (date(2026, 1, 2), 50, {"cut_point": 33, "probable_ptsd": True, "provisional_ptsd": True}),
                (date(2026, 1, 30), 38, {"cut_point": 31, "probable_ptsd": True, "provisional_ptsd": False}),
            ],
            50,
            33,  # the clinic's setting now; the latest form was judged at 31
        ),
        "peg": forms("peg", [(date(2026, 1, 2), 21, {"score": 7.0}), (date(2026, 1, 30), 14, {"score": 4.7})], 21),
        "pacs": forms("pacs", [(date(2026, 1, 9), 22, {}), (date(2026, 1, 23), 16, {})], None),
        "auditc": forms("auditc", [(date(2026, 1, 2), 5, {"threshold": 4, "positive": True})], 5, 3),
    }
    panels.update(changes)
    return charts.AssessmentSeries(
        phq9=[], gad7=[], baseline={}, sessions=SESSIONS, first=FIRST, last=LAST, instruments=tuple(panels.values())
    )


def _levels(axes) -> dict[str, float]:
    """Every horizontal line of a panel by its gid, at its height."""
    return {
        line.get_gid(): line.get_ydata()[0]
        for line in axes.get_lines()
        if line.get_gid() and not line.get_gid().endswith("-totals") and line.get_gid() != "session"
    }


def _legend(axes) -> list[str]:
    return [text.get_text() for text in axes.get_legend().get_texts()]


def test_each_instrument_has_its_own_panel_and_scale_against_the_sessions():
    figure = charts.assessments_figure(_every_instrument())
    assert [axes.get_ylabel().split("\n")[0] for axes in figure.axes] == [
        "PHQ-9 total", "GAD-7 total", "PCL-5 total", "PEG score 0–10", "PACS total", "AUDIT-C total",
    ]  # fmt: skip
    assert all(axes.get_ylabel().endswith("(higher is worse)") for axes in figure.axes)  # GEN-R1
    tops = [axes.get_ylim()[1] for axes in figure.axes]
    assert tops == [27.5, 21.5, 80.5, 10.5, 30.5, 12.5]
    for axes in figure.axes:
        assert _session_dates(axes) == SESSIONS
        assert axes.get_shared_x_axes().joined(axes, figure.axes[0])
    # The chart is one panel taller for each instrument, in whole CSS pixels.
    assert charts.pixels(charts.assessments_size(_every_instrument())) == (864, 6 * 300)


def test_pcl_r8_lines_at_5_and_10_points_below_the_baseline_and_the_cut_point_stored_with_the_latest_form():
    pcl5 = charts.assessments_figure(_every_instrument()).axes[2]
    assert _levels(pcl5) == {"pcl5-baseline": 50, "pcl5-response": 45, "pcl5-meaningful": 40, "pcl5-cut-point": 30.5}
    (totals,) = _lines(pcl5, "pcl5-totals")
    assert list(totals.get_ydata()) == [50, 38]
    legend = _legend(pcl5)
    # PCL-R6: the cut-point in force is the one the latest result was judged by (31), not today's setting (33).
    assert "screening cut-point: 31 or more, stored with the latest form" in legend
    assert "response: 5 points below baseline" in legend and "clinically meaningful: 10 points below baseline" in legend
    # No form in the range: the clinic's setting is drawn, and says so.
    empty = charts.InstrumentForms("pcl5", [], None, 32)
    (alone,) = charts.assessments_figure(_assessments_of(empty)).axes
    assert _levels(alone) == {"pcl5-cut-point": 31.5}
    assert _legend(alone)[1] == "screening cut-point: 32 or more, the current setting"


def _assessments_of(*panels) -> charts.AssessmentSeries:
    return charts.AssessmentSeries([], [], {}, SESSIONS, FIRST, LAST, instruments=panels)


def test_a_pcl5_baseline_under_5_draws_no_line_below_zero():
    low = charts.InstrumentForms("pcl5", [(FIRST, 4, {"cut_point": 33})], 4, 33)
    (axes,) = charts.assessments_figure(_assessments_of(low)).axes
    assert set(_levels(axes)) == {"pcl5-baseline", "pcl5-cut-point"}


def test_peg_r3_r4_the_score_is_drawn_0_to_10_with_the_30_percent_line_at_70_percent_of_the_baseline():
    peg = charts.assessments_figure(_every_instrument()).axes[3]
    (totals,) = _lines(peg, "peg-totals")
    assert list(totals.get_ydata()) == [7.0, 4.7]  # the stored score (the mean), not the sum
    levels = _levels(peg)
    assert levels["peg-baseline"] == 7.0
    assert levels["peg-improved"] == pytest.approx(0.7 * 7.0)  # 14 of a baseline sum of 21: exactly 70 %: improved
    assert {"baseline 7.0", "improved: at least 30 % below baseline"} <= set(_legend(peg))
    assert not [patch for patch in peg.patches if patch.get_gid()]  # no severity bands: the PEG has none


def test_peg_marks_1_point_below_the_baseline_as_an_estimate_of_the_minimal_important_difference():
    peg = charts.assessments_figure(_every_instrument()).axes[3]
    assert _levels(peg)["peg-mid"] == 6.0  # a baseline of 7.0 (sum 21): the line at 6.0
    label = "estimate of the minimal important difference: 1.0 point below baseline"
    assert label in _legend(peg)  # SPEC 6.4: labelled as an estimate, not a second success rule
    (mid,) = _lines(peg, "peg-mid")
    (improved,) = _lines(peg, "peg-improved")
    assert mid.get_linestyle() != improved.get_linestyle()  # told apart by style as well as colour
    assert label in charts.assessments_summary(_every_instrument())  # the text alternative names it too


def test_the_peg_mid_line_is_drawn_where_the_rounded_scores_put_a_change_of_3_of_the_sum():
    # A baseline sum of 20 is a score of 6.7: the line is at 5.7, where a sum of 17 (exactly 1.0 lower) is
    # drawn; a sum of 18 (6.0, less than 1.0 lower) is above it.
    forms = charts.InstrumentForms("peg", [(FIRST, 20, {"score": 6.7}), (LAST, 17, {"score": 5.7})], 20)
    (axes,) = charts.assessments_figure(_assessments_of(forms)).axes
    assert _levels(axes)["peg-mid"] == 5.7
    for baseline_sum in range(3, 31):
        (line,) = [
            lv for lv in charts.panel_levels(charts.InstrumentForms("peg", [], baseline_sum)) if lv.gid == "peg-mid"
        ]
        for current in range(31):
            on_or_under = charts._peg_score(current, {}) <= line.value
            assert on_or_under == (baseline_sum - current >= 3), (baseline_sum, current)


def test_no_peg_mid_line_without_a_baseline_or_below_zero():
    without = charts.InstrumentForms("peg", [(FIRST, 21, {"score": 7.0})], None)
    (axes,) = charts.assessments_figure(_assessments_of(without)).axes
    assert _levels(axes) == {}
    assert "minimal important difference" not in " ".join(_legend(axes))
    low = charts.InstrumentForms("peg", [(FIRST, 2, {"score": 0.7})], 2)  # 0.7: 1.0 lower is off the scale
    assert set(_levels(charts.assessments_figure(_assessments_of(low)).axes[0])) == {"peg-baseline", "peg-improved"}
    zero = charts.InstrumentForms("peg", [(FIRST, 0, {"score": 0.0})], 0)
    assert set(_levels(charts.assessments_figure(_assessments_of(zero)).axes[0])) == {"peg-baseline"}


def test_pacs_r5_reference_lines_at_15_and_21_with_their_source_and_no_band():
    pacs = charts.assessments_figure(_every_instrument()).axes[4]
    assert _levels(pacs) == {"pacs-reference-15": 14.5, "pacs-reference-21": 20.5}  # a total of 15 is above its line
    legend = _legend(pacs)
    assert "≥ 15: best balance (Hartwell 2019, community heavy drinkers)" in legend
    assert "> 20: DSM-5 craving stand-in" in legend
    assert not [patch for patch in pacs.patches if patch.get_gid()]  # PACS-R5: no category


def test_audc_r5_the_threshold_in_force_is_drawn_for_the_patients_recorded_sex():
    auditc = charts.assessments_figure(_every_instrument()).axes[5]
    assert _levels(auditc) == {"auditc-baseline": 5, "auditc-threshold": 3.5}
    assert "positive screen: 4 or more, the threshold for men, stored with the latest form" in _legend(auditc)
    unknown = charts.InstrumentForms("auditc", [], None, 3)  # no form yet; sex not recorded: the lower one
    (axes,) = charts.assessments_figure(_assessments_of(unknown)).axes
    assert _levels(axes) == {"auditc-threshold": 2.5}
    assert "the threshold for women and when sex is not recorded, the current setting" in _legend(axes)[1]


def test_safe_r4_a_phq8_panel_has_its_0_to_24_scale_bands_and_the_phq9_lines():
    phq8 = charts.InstrumentForms("phq8", [(FIRST, 16, {}), (LAST, 8, {})], 16)
    (axes,) = charts.assessments_figure(_assessments_of(phq8)).axes
    assert axes.get_ylim()[1] == 24.5 and axes.get_ylabel().startswith("PHQ-8 total")
    assert _levels(axes) == {"phq8-baseline": 16, "phq8-response": 8, "phq8-remission": 4.5}
    bands = {patch.get_gid(): patch.get_y() + patch.get_height() for patch in axes.patches}  # top edges
    assert bands["band-severe"] == 24.5 and bands["band-moderately severe"] == 19.5


def test_a_phq9_baseline_of_0_draws_no_response_line():
    zero = charts.InstrumentForms("phq9", [(FIRST, 0, {})], 0)
    (axes,) = charts.assessments_figure(_assessments_of(zero)).axes
    assert set(_levels(axes)) == {"phq9-baseline", "phq9-remission"}  # PHQ-R9: response is null at baseline 0


def test_the_text_alternative_gives_each_instruments_latest_result_by_its_rule_and_its_lines():
    sentence = charts.assessments_summary(_every_instrument())
    parts = sentence.split(". Latest ")
    assert len(parts) == 6 and sentence.endswith(".")
    assert parts[0].startswith("Latest PHQ-9 9 on 30 Jan 2026, against a baseline of 18: response")
    assert "remission: under 5" in parts[0]
    assert parts[2].startswith("PCL-5 38 on 30 Jan 2026, against a baseline of 50: 12 points lower, a clinically")
    assert "score at or above screening cut-point" in parts[2] and "provisional DSM-5" not in parts[2]
    assert "screening cut-point: 31 or more, stored with the latest form" in parts[2]
    assert parts[3].startswith("PEG 4.7 on 30 Jan 2026, against a baseline of 7.0: 33.3 % lower, improved")
    assert parts[4].startswith("PACS 16 on 23 Jan 2026") and "≥ 15: best balance" in parts[4]
    assert "no baseline" in parts[4]
    assert parts[5].startswith("AUDIT-C 5 on 2 Jan 2026") and "positive screen" in parts[5]
    assert (
        parts[1]
        == "GAD-7 12 on 2 Jan 2026, against a baseline of 12: 0 from baseline (no validated response or remission rule)"
    )
    worse = charts.InstrumentForms("pcl5", [(LAST, 56, {"cut_point": 33})], 50, 33)
    assert "6 points higher, worsening" in charts.assessments_summary(_assessments_of(worse))


def test_adherence_calendar_shows_missed_days_and_session_days():
    today = date(2026, 1, 25)
    entries = {day: True for day in (FIRST + timedelta(days=n) for n in range(24)) if day not in GAP}
    entries[date(2026, 1, 9)] = False  # filled in later
    states = charts.adherence_states(entries, FIRST, LAST, active_since=FIRST, today=today)
    figure = charts.adherence_figure(states, SESSIONS)
    gids = {patch.get_gid() for patch in figure.axes[0].patches}
    assert "day-2026-01-12-missed" in gids and "day-2026-01-09-retrospective" in gids
    assert "day-2026-01-02-on_time" in gids and "day-2026-01-28-not_scheduled" in gids
    assert charts.adherence_summary(states) == "16 of 24 diary days completed (67 %), 1 of them filled in later."
    # A missed day and a day not expected differ in fill, outline and pattern; the session dots have a legend.
    patches = {patch.get_gid(): patch for patch in figure.axes[0].patches}
    missed, not_expected = patches["day-2026-01-12-missed"], patches["day-2026-01-28-not_scheduled"]
    assert missed.get_facecolor() != not_expected.get_facecolor()
    assert missed.get_linewidth() > 0 and not missed.get_hatch()
    assert not_expected.get_hatch() and not_expected.get_linewidth() == 0
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert (
        "missed" in legend and "dosing session" in legend and any(label.startswith("not expected") for label in legend)
    )


# --- Drawn for the screen: size, type, nothing clipped, the pages' dates ------------------------------------------


def _all_three_figures():
    daily = _daily(
        sleep_hours={FIRST: 7.5},
        substance_cravings={"opioids": {FIRST: 6, LAST: 3}, "nicotine": {FIRST: 2}},
        use_days={"opioids": {LAST}, "nicotine": set()},
    )
    states = charts.adherence_states({FIRST: True}, FIRST, LAST, active_since=FIRST, today=date(2026, 1, 25))
    return {
        "outcomes": charts.outcomes_figure(daily),
        "assessments": charts.assessments_figure(_every_instrument()),
        "adherence": charts.adherence_figure(states, SESSIONS),
    }


def _small_print_px() -> float:
    """The page's smallest print in CSS pixels, read from static/app.css (rem of a 16 px root)."""
    css = (Path(__file__).parent.parent / "static" / "app.css").read_text()
    return min(float(size) for size in re.findall(r"font-size:\s*([0-9.]+)rem", css)) * 16


@pytest.mark.parametrize("name", ["outcomes", "assessments", "adherence"])
def test_every_text_is_at_least_the_pages_small_print_and_inside_the_picture(name):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    figure = _all_three_figures()[name]
    FigureCanvasAgg(figure)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    width, height = figure.canvas.get_width_height()
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) > 5
    css_px_per_point = charts.CSS_PPI / 72  # the page shows the figure at CSS_PPI CSS pixels an inch
    for text in texts:
        assert text.get_fontsize() * css_px_per_point >= _small_print_px(), (name, text.get_text())
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height, (name, text.get_text(), box)


@pytest.mark.parametrize("name", ["outcomes", "assessments"])
def test_dates_are_written_as_the_pages_write_them(name):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = _all_three_figures()[name]
    FigureCanvasAgg(figure)
    figure.canvas.draw()
    labels = [label.get_text() for label in figure.axes[-1].get_xticklabels() if label.get_text()]
    assert labels and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", label) for label in labels), labels


# --- Every demo patient renders ---------------------------------------------------------------------------------


def test_every_demo_patients_data_makes_three_described_charts_with_their_sessions(app):
    seed_demo(db.session, "demo password 1", NOW)
    patients = db.session.scalars(select(Patient)).all()
    assert len(patients) >= 12
    for patient in patients:
        data = patient_data.load(db.session, patient, NOW)
        infos = chart_cache.describe(data)
        assert [info.name for info in infos] == list(chart_cache.NAMES)
        assert all(info.sentence.endswith(".") and info.width > 0 and info.height > 0 for info in infos)
        days = [d for d in data.given_days if data.first <= d <= data.last]
        for axes in chart_cache.figure(data, "outcomes").axes:
            assert _session_dates(axes) == days, patient.user.email


@pytest.fixture
def demo_on_sqlite(sqlite_template, tmp_path):
    """The demo clinic in a SQLite copy of the migrated database: drawing is the same on either database, and
    drawing 72 charts twice would only double the suite's slowest test."""
    path = tmp_path / "journal.sqlite3"
    shutil.copy(sqlite_template, path)
    demo_app = create_app({"DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "charts"})
    with demo_app.app_context():
        seed_demo(db.session, "demo password 1", NOW)
        yield
        db.session.remove()
        db.engine.dispose()


def test_every_demo_patients_charts_render_as_png_and_svg_at_twice_the_size_the_page_gives_them(demo_on_sqlite):
    for patient in db.session.scalars(select(Patient)).all():
        data = patient_data.load(db.session, patient, NOW)
        sizes = {info.name: (info.width, info.height) for info in chart_cache.describe(data)}
        for name in chart_cache.NAMES:
            figure = chart_cache.figure(data, name)
            png = charts.render(figure, "png")
            assert png.startswith(PNG_SIGNATURE)
            # Drawn for the screen (issue 14): twice the size the page gives it, for high-density screens.
            width, height = sizes[name]
            assert struct.unpack(">II", png[16:24]) == (2 * width, 2 * height), (patient.user.email, name)
            _assert_self_contained_svg(charts.render(figure, "svg"))


def _assert_self_contained_svg(svg: bytes) -> None:
    root = ET.fromstring(svg)  # noqa: S314 (our own output, and the point is that it is well-formed XML)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    allowed = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert set(re.findall(rb"[a-z]+://[^\"' <>]*", svg)) <= {url.encode() for url in allowed}
    assert b"<script" not in svg and b"<image" not in svg and b"@import" not in svg


# --- Serving: ETags, the shared cache, access ------------------------------------------------------------------------


@pytest.fixture
def pat_data(people):
    """Pat's last weeks: check-ins with a gap, a baseline and a later PHQ-9, two sessions."""
    pat, alice, now = people.pat, people.alice, utcnow()
    today = local_today(pat, now)
    active_since(pat, now, 40)
    baseline(pat, alice, paper_phq9(pat, alice, at_local(pat, today - timedelta(days=30)), 18), now)
    for days_ago in (25, 8):
        given_session(pat, alice, at_local(pat, today - timedelta(days=days_ago)), now)
    paper_phq9(pat, alice, at_local(pat, today - timedelta(days=3)), 9)
    for days_ago in range(1, 29):
        if not 15 <= days_ago <= 18:
            checkin(pat, today - timedelta(days=days_ago), mood=5 + days_ago % 3)
    db.session.commit()
    return people


def _api(client, people, name="outcomes", fmt="png", who=None, **headers):
    url = f"/api/v1/patients/{people.pat.id}/charts/{name}.{fmt}"
    return client.get(url, headers={**bearer(client, who or people.alice), **headers})


def _cached_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(ChartCache))


@pytest.mark.parametrize("name", chart_cache.NAMES)
def test_api_serves_each_chart_as_png_and_svg_with_an_etag_and_revalidation(client, pat_data, name):
    png = _api(client, pat_data, name, "png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(PNG_SIGNATURE)
    assert png.headers["Cache-Control"] == "private, no-store"
    assert png.headers["ETag"].strip('"')
    svg = _api(client, pat_data, name, "svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    _assert_self_contained_svg(svg.data)
    assert svg.headers["ETag"] != png.headers["ETag"]
    # An SVG opened on its own needs its inline styles, and may do nothing else.
    policy = svg.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "style-src 'unsafe-inline'" in policy and "script" not in policy


def test_a_second_request_with_the_etag_gets_304_without_rendering_or_reading_the_cache(client, pat_data):
    first = _api(client, pat_data)
    assert _cached_rows() == 1
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        again = _api(client, pat_data, **{"If-None-Match": first.headers["ETag"]})
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "private, no-store"
    assert statements and not [s for s in statements if "chart_cache" in s]


def test_a_cache_hit_serves_the_same_bytes_and_a_new_check_in_changes_the_etag(client, pat_data):
    first = _api(client, pat_data)
    assert _api(client, pat_data).data == first.data  # from the cache
    checkin(pat_data.pat, local_today(pat_data.pat, utcnow()), mood=9)
    db.session.commit()
    after = _api(client, pat_data, **{"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.data.startswith(PNG_SIGNATURE)
    assert after.headers["ETag"] != first.headers["ETag"]
    assert after.data != first.data
    # The old picture of the patient's data is gone: only the current generation stays in the table.
    keys = db.session.scalars(select(ChartCache.key)).all()
    assert len(keys) == 1 and f"/dv{db.session.get(Patient, pat_data.pat.id).data_version}/" in keys[0]


@pytest.mark.parametrize("name", ["outcomes", "adherence"])
def test_a_range_is_its_own_chart_and_cache_entry_and_other_ranges_are_refused(client, pat_data, name):
    """The chooser's ranges (30, 90, 180, 365 days) and nothing else: ?days=365 is not the 30-day picture."""
    url = f"/api/v1/patients/{pat_data.pat.id}/charts/{name}.png"
    headers = bearer(client, pat_data.alice)
    month, year = client.get(f"{url}?days=30", headers=headers), client.get(f"{url}?days=365", headers=headers)
    assert month.status_code == year.status_code == 200
    assert month.headers["ETag"] != year.headers["ETag"] and month.data != year.data
    keys = db.session.scalars(select(ChartCache.key)).all()
    assert {key.rsplit("/", 1)[1] for key in keys} == {"d30", "d365"}
    for refused in ("28", "5", "366", "abc"):  # the old 14-366 range is no longer open
        assert client.get(f"{url}?days={refused}", headers=headers).status_code == 422, refused
    assert client.get(f"{url}?colour=red", headers=headers).status_code == 422


def test_the_patient_page_offers_the_ranges_and_its_chart_urls_take_the_chosen_one(client, auth, pat_data):
    auth.login(pat_data.alice)
    base = f"/clinician/patients/{pat_data.pat.id}"
    page = client.get(f"{base}?days=365").get_data(as_text=True)
    assert "Charts, last 365 days" in page
    for days in (30, 90, 180, 365):
        assert f'href="{base}?days={days}#charts"' in page
    assert "/charts/outcomes.png?days=365" in page and "/charts/outcomes.png?days=90" not in page
    year = client.get(f"{base}/charts/outcomes.png?days=365")
    month = client.get(f"{base}/charts/outcomes.png?days=30")
    assert year.status_code == month.status_code == 200 and year.data != month.data
    assert client.get(f"{base}/charts/outcomes.png?days=45").status_code == 400
    assert client.get(f"{base}?days=45").status_code == 400


def test_storing_a_key_twice_as_two_processes_might_keeps_one_row_and_raises_nothing(app, pat_data):
    patient = db.session.get(Patient, pat_data.pat.id)
    now = utcnow()
    key = chart_cache.key_for(patient, "outcomes", "png", 90, now)
    other_format = chart_cache.key_for(patient, "outcomes", "svg", 90, now)
    chart_cache.store(db.session, key, b"first", now)
    chart_cache.store(db.session, other_format, b"<svg/>", now)
    chart_cache.store(db.session, key, b"second", now)  # the loser of a race: nothing happens
    assert db.session.scalars(select(ChartCache.content).order_by(ChartCache.key)).all() == [b"first", b"<svg/>"]
    assert chart_cache.cached(db.session, key) == b"first"


def test_two_processes_storing_the_same_chart_at_once_both_succeed(app, pat_data):
    """Two web workers that missed the cache together both render and store: neither fails, one row stays."""
    patient = db.session.get(Patient, pat_data.pat.id)
    now = utcnow()
    key = chart_cache.key_for(patient, "adherence", "png", 90, now)
    barrier, errors = threading.Barrier(2), []

    def worker(content: bytes) -> None:
        with app.app_context():  # its own database session, as another process would have
            try:
                barrier.wait(timeout=10)
                chart_cache.store(db.session, key, content, now)
            except Exception as error:  # any failure at all is the finding: it is asserted on below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(content,)) for content in (b"one", b"two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert db.session.scalars(select(ChartCache.content)).all() in ([b"one"], [b"two"])


def test_each_chart_read_leaves_one_audit_row_even_a_304(client, pat_data):
    def reads() -> int:
        query = select(func.count()).where(AuditEvent.action == "chart.read", AuditEvent.patient_id == pat_data.pat.id)
        return db.session.scalar(query)

    first = _api(client, pat_data, "assessments")
    _api(client, pat_data, "assessments", **{"If-None-Match": first.headers["ETag"]})
    assert reads() == 2


def test_another_clinician_and_the_patient_get_404_for_every_chart(client, pat_data):
    for name in chart_cache.NAMES:
        assert _api(client, pat_data, name, who=pat_data.charlie).status_code == 404
        assert _api(client, pat_data, name, who=pat_data.pat).status_code == 404
    assert _cached_rows() == 0


def _paper(user, clinician, instrument: str, answers: list[int], completed_at) -> None:
    from journal.assessments import submit

    submit(db.session, user.patient, {"instrument": instrument, "answers": answers, "completed_at": completed_at},
           completed_at + timedelta(hours=1), clinician)  # fmt: skip


def test_the_questionnaires_chart_draws_each_instrument_of_the_patients_indications_with_its_baseline(people):
    """PTSD and chronic pain: the PHQ-9 and GAD-7, then the PCL-5 and PEG, each baseline chosen by the rule
    (a form 5 days before the first session) and drawn with its lines."""
    pat, alice, now = people.pat, people.alice, utcnow()
    today = local_today(pat, now)
    pat.patient.indications = ["ptsd", "chronic_pain"]
    _paper(pat, alice, "pcl5", [2] * 20, at_local(pat, today - timedelta(days=25)))  # 40
    _paper(pat, alice, "peg", [7, 7, 7], at_local(pat, today - timedelta(days=25)))  # sum 21, score 7.0
    given_session(pat, alice, at_local(pat, today - timedelta(days=20)), now)
    _paper(pat, alice, "pcl5", [2] * 10 + [1] * 10, at_local(pat, today - timedelta(days=2)))  # 30
    _paper(pat, alice, "peg", [5, 5, 4], at_local(pat, today - timedelta(days=2)))  # sum 14: a third lower
    db.session.commit()

    data = patient_data.load(db.session, db.session.get(Patient, pat.id), now)
    series = chart_cache.assessment_series(data)
    assert [panel.key for panel in series.instruments] == ["phq9", "gad7", "pcl5", "peg"]
    figure = chart_cache.figure(data, "assessments")
    pcl5, peg = figure.axes[2], figure.axes[3]
    assert _levels(pcl5) == {"pcl5-baseline": 40, "pcl5-response": 35, "pcl5-meaningful": 30, "pcl5-cut-point": 32.5}
    assert list(_lines(peg, "peg-totals")[0].get_ydata()) == [7.0, 4.7]
    assert _levels(peg)["peg-baseline"] == 7.0
    assert _session_dates(pcl5) == [today - timedelta(days=20)]
    (info,) = [info for info in chart_cache.describe(data) if info.name == "assessments"]
    assert info.title == "Questionnaires" and info.height == 4 * 300
    assert (
        "Latest PCL-5 30" in info.sentence and "10 points lower, a clinically meaningful improvement" in info.sentence
    )
    assert "Latest PEG 4.7" in info.sentence and "33.3 % lower, improved" in info.sentence
    assert "No PHQ-9 in this period" in info.sentence


def test_a_safe_r4_clinic_draws_the_phq8_in_place_of_the_phq9(people):
    people.clinic.depression_instrument = "phq8"
    db.session.commit()
    data = patient_data.load(db.session, db.session.get(Patient, people.pat.id), utcnow())
    assert [panel.key for panel in chart_cache.assessment_series(data).instruments] == ["phq8", "gad7"]
    assert chart_cache.figure(data, "assessments").axes[0].get_ylabel().startswith("PHQ-8 total")


def test_the_chart_key_changes_with_what_the_questionnaires_chart_reads_beyond_the_data_version(people):
    patient, now = db.session.get(Patient, people.pat.id), utcnow()

    def key() -> str:
        return chart_cache.key_for(patient, "assessments", "png", 90, now).key

    keys = [key()]
    assert key() == keys[0]  # the same state, the same key
    patient.indications = ["ptsd"]
    keys.append(key())
    people.clinic.depression_instrument = "phq8"
    keys.append(key())
    people.clinic.pcl5_cut_point = 31
    keys.append(key())
    patient.sex = "male"
    keys.append(key())
    assert len(set(keys)) == 5
    assert all(f"/dv{patient.data_version}/" in k for k in keys)  # none of them raised the data version


# --- The patient page ----------------------------------------------------------------------------------------------


def test_patient_page_shows_each_chart_with_its_size_and_its_sentence_as_alt_text(client, auth, pat_data):
    auth.login(pat_data.alice)
    page = client.get(f"/clinician/patients/{pat_data.pat.id}").get_data(as_text=True)
    images = re.findall(r'<img class="chart" src="([^"]+)"\s+width="(\d+)" height="(\d+)" alt="([^"]+)">', page)
    assert [src.rsplit("/", 1)[1] for src, *_ in images] == [  # the page's range, 90 days unless chosen
        "outcomes.png?days=90", "assessments.png?days=90", "adherence.png?days=90",
    ]  # fmt: skip
    patient = db.session.get(Patient, pat_data.pat.id)
    infos = chart_cache.describe(patient_data.load(db.session, patient, utcnow()))
    for (src, width, height, alt), info in zip(images, infos, strict=True):
        assert (int(width), int(height)) == (info.width, info.height)
        assert html.unescape(alt) == info.sentence
        assert f"<figcaption>{alt} " in page  # the sentence is also written under the chart
        served = client.get(src)
        # The picture is twice the size the page gives it (issue 14: sharp on high-density screens).
        pixels = struct.unpack(">II", served.data[16:24])
        assert served.status_code == 200 and pixels == (2 * info.width, 2 * info.height)
    assert "Latest PHQ-9 9" in images[1][3] and "baseline of 18: response" in images[1][3]


def test_page_chart_route_uses_the_session_cookie_and_revalidates_with_the_etag(client, auth, pat_data):
    url = f"/clinician/patients/{pat_data.pat.id}/charts/outcomes.png"
    assert client.get(url).status_code == 302  # signed out: to the sign-in page
    auth.login(pat_data.alice)
    first = client.get(url)
    assert first.status_code == 200 and first.data.startswith(PNG_SIGNATURE)
    assert first.headers["Cache-Control"] == "private, no-store"
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    # The page and the API share one cache and one ETag for the same picture.
    assert _api(client, pat_data).headers["ETag"] == first.headers["ETag"]


def test_page_chart_route_is_404_for_a_clinician_off_the_care_team(client, pat_data):
    AuthActions(client).login(pat_data.charlie)
    for fmt in ("png", "svg"):
        assert client.get(f"/clinician/patients/{pat_data.pat.id}/charts/outcomes.{fmt}").status_code == 404


# --- The patient's own progress chart, drawn for a phone (issue 14) -------------------------------------------------

PATIENT_SMALL_PRINT_PX = 0.9 * 16  # the patient pages' smallest print: .anchors and .attribution, 0.9rem


def _progress_figure(points=None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    today = date(2026, 3, 20)
    if points is None:  # the first day at 10 and the last at 0: the corner dots and labels are the tightest fit
        points = [(today - timedelta(days=n), (10 - n) % 11) for n in range(30) if n % 6 != 3]
    figure = charts.mood_progress_figure(points, today, 30)
    FigureCanvasAgg(figure)
    figure.canvas.draw()
    return figure


def test_the_patients_chart_has_at_least_twice_the_pixels_of_its_css_size():
    figure = _progress_figure()
    width, height = figure.canvas.get_width_height()
    css_width, css_height = charts.PROGRESS_CSS
    assert (width, height) == (charts.PROGRESS_SCALE * css_width, charts.PROGRESS_SCALE * css_height)
    assert charts.PROGRESS_SCALE >= 2
    # Shown at its own size on a phone 360 CSS px wide: main's and the card's 1rem padding each side, 1 px borders.
    assert css_width <= 360 - 4 * 16 - 2


def test_the_patients_chart_text_is_no_smaller_than_the_pages_small_print_and_inside_the_picture():
    from matplotlib.text import Text

    figure = _progress_figure()
    renderer = figure.canvas.get_renderer()
    width, height = figure.canvas.get_width_height()
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert {t.get_text() for t in texts} >= {"0 worst", "5", "10 best", "today", "19 Feb"}
    css_px_per_point = 96 / 72  # the page shows the figure at 96 CSS px an inch (PROGRESS_CSS)
    for text in texts:
        assert text.get_fontsize() * css_px_per_point >= PATIENT_SMALL_PRINT_PX, text.get_text()
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height, (text.get_text(), box)


def test_the_patients_chart_draws_every_dot_whole_and_leaves_missing_days_as_gaps():
    figure = _progress_figure()
    renderer = figure.canvas.get_renderer()
    width, height = figure.canvas.get_width_height()
    [line] = [line for line in figure.axes[0].get_lines() if line.get_gid() == "mood"]
    assert line.get_clip_on() is False  # a dot on the first day, or at 10, is not cut in half by the axes
    box = line.get_window_extent(renderer)
    assert box.x0 >= 0 and box.x1 <= width and box.y0 >= 0 and box.y1 <= height
    ys = list(line.get_ydata())
    assert len(ys) == 30 and sum(1 for y in ys if math.isnan(y)) == 5  # days 3, 9, 15, 21, 27 ago: gaps


def test_the_patient_gets_their_chart_at_the_drawn_size_and_others_do_not(client, auth, people):
    pat, now = people.pat, utcnow()
    today = local_today(pat, now)
    for days_ago in (1, 2, 4):
        checkin(pat, today - timedelta(days=days_ago), mood=6)
    db.session.commit()
    auth.login(pat)
    response = client.get("/home/progress.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    png = response.get_data()
    assert png.startswith(PNG_SIGNATURE)
    css_width, css_height = charts.PROGRESS_CSS
    assert struct.unpack(">II", png[16:24]) == (charts.PROGRESS_SCALE * css_width, charts.PROGRESS_SCALE * css_height)
    home = client.get("/home").get_data(as_text=True)  # shown at the size it is drawn for: never scaled
    assert f'src="/home/progress.png" width="{css_width}" height="{css_height}"' in home
    auth.logout()
    for other in (people.alice, people.ada):  # staff: the patient's own page route is not theirs
        auth.login(other)
        assert client.get("/home/progress.png").status_code == 404, other.name
        auth.logout()
