"""Charts: pure functions from plain data to image bytes, drawn with matplotlib's Figure API (never pyplot,
which keeps global state that a web server must not share between requests)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import mean

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from .wording import ENGLISH, Language

BLUE = "#0072B2"  # Okabe-Ito palette: distinguishable with colour-vision deficiency
GREY = "#6b7280"


def mood_progress_summary(points: list[tuple[date, int]], today: date, language: Language = ENGLISH) -> str:
    """The sentence that goes under (and stands in for) the patient's mood chart, in ``language``."""
    _ = language.gettext
    last_week = [mood for day, mood in points if day > today - timedelta(days=7)]
    week_before = [mood for day, mood in points if today - timedelta(days=14) < day <= today - timedelta(days=7)]
    if not last_week:
        return _("No mood entries in the last 7 days yet.")
    average = language.one_decimal(mean(last_week))
    if week_before:
        return _(
            "Your mood averaged %(average)s out of 10 over the last 7 days, compared with %(before)s the week before."
        ) % {
            "average": average,
            "before": language.one_decimal(mean(week_before)),
        }
    return _("Your mood averaged %(average)s out of 10 over the last 7 days.") % {"average": average}


# The patient's own mood chart ("My progress" on the home page), drawn for a phone. The card it sits in is 294 CSS
# px wide on a phone 360 px wide (main and card padding, 1rem each side, and the card's border), so at
# PROGRESS_CSS it is shown at its own size there and on anything wider, never scaled down; the picture holds
# PROGRESS_SCALE device pixels for each CSS pixel (phones are 2x to 3x). Text is PROGRESS_FONT_PT points: 11 pt at
# 96 CSS px an inch is 14.7 px, no smaller than the patient pages' small print (0.9rem = 14.4 px).
PROGRESS_CSS = (288, 180)  # CSS px: the width and height the home page gives the image
PROGRESS_SCALE = 3
PROGRESS_FONT_PT = 11


def mood_progress_figure(points: list[tuple[date, int]], today: date, days: int) -> Figure:
    """A small chart of daily mood (0 worst .. 10 best) over the last ``days`` days; missing days stay gaps."""
    css_ppi = 96
    figure = Figure(
        figsize=(PROGRESS_CSS[0] / css_ppi, PROGRESS_CSS[1] / css_ppi),
        dpi=css_ppi * PROGRESS_SCALE,
        layout="constrained",  # room for every label, measured: nothing is cut off at the edges
    )
    axes = figure.add_subplot()
    start = today - timedelta(days=days - 1)
    by_day = dict(points)
    xs = [start + timedelta(days=n) for n in range(days)]
    ys = [by_day.get(day, float("nan")) for day in xs]
    # Not clipped at the axes: a dot on the first day or at 10 is drawn whole.
    axes.plot(xs, ys, color=BLUE, linewidth=2, marker="o", markersize=4, gid="mood", clip_on=False)
    axes.set_ylim(-0.5, 10.5)
    axes.set_yticks([0, 5, 10], labels=["0 worst", "5", "10 best"], fontsize=PROGRESS_FONT_PT)
    axes.set_xlim(start - timedelta(days=0.5), today + timedelta(days=0.5))
    axes.set_xticks([start, today], labels=[start.strftime("%-d %b"), "today"], fontsize=PROGRESS_FONT_PT)
    # The outer labels sit inside the picture: the first date starts at its tick, "today" ends at its own.
    first_label, last_label = axes.get_xticklabels()
    first_label.set_horizontalalignment("left")
    last_label.set_horizontalalignment("right")
    axes.tick_params(colors="#374151", length=0)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    return figure


def mood_progress_png(points: list[tuple[date, int]], today: date, days: int) -> bytes:
    """The patient's mood chart as PNG bytes, PROGRESS_SCALE times PROGRESS_CSS in pixels."""
    return render(mood_progress_figure(points, today, days), "png")


# --- The clinician's charts (issue "sessions, dashboard and charts") -----------------------------------------------
#
# Each chart is built as a Figure first (tests inspect it), then rendered. Every axis says which way is better
# (GEN-R1); colours come from the Okabe-Ito palette, and each series also differs by marker or line style, so
# nothing depends on telling colours apart. Sessions are dashed vertical lines on every panel.

ORANGE = "#E69F00"
GREEN = "#009E73"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
SKY = "#56B4E9"
SESSION_COLOUR = "#4b5563"
FAINT = "#e5e7eb"

# (key, axis label with its direction, colour, marker, y limits)
DAILY_PANELS = (
    ("mood", "Mood 0–10\n(higher is better)", BLUE, "o", (-0.5, 10.5)),
    ("craving", "Strongest craving 0–10\n(higher is worse)", VERMILLION, "s", (-0.5, 10.5)),
    ("sleep_hours", "Total sleep, hours\n(higher is more sleep)", GREEN, "^", (0, 12)),
    ("pain", "Pain 0–10\n(higher is worse)", PURPLE, "D", (-0.5, 10.5)),
)


@dataclass(frozen=True)
class DailySeries:
    """A patient's daily outcomes between two local dates, and their session dates."""

    first: date
    last: date
    mood: dict[date, float]
    craving: dict[date, float]
    sleep_hours: dict[date, float]
    pain: dict[date, float]
    sessions: list[date]
    # Per tracked substance: its craving ratings, and the days it was used (SUD-R1's day, not the check-in's).
    # When either is given, one craving panel per substance replaces the pooled "strongest craving" panel.
    substance_cravings: dict[str, dict[date, float]] = field(default_factory=dict)
    use_days: dict[str, set[date]] = field(default_factory=dict)


def _day_range(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _mark_sessions(axes, sessions: list[date], first: date, last: date) -> None:
    for day in sessions:
        if first <= day <= last:
            axes.axvline(day, color=SESSION_COLOUR, linestyle="--", linewidth=1, gid="session")


# Drawn for the screen: a page shows a chart at CSS_PPI CSS pixels an inch (the CSS inch), and the picture holds
# SCALE device pixels for each (sharp on high-density screens). Text is FONT_PT points, which at CSS_PPI is
# FONT_PT x 96 / 72 = 14 CSS pixels: no smaller than the page's small print (.cell-detail, 0.85rem = 13.6 px).
CSS_PPI = 96
SCALE = 2
DPI = CSS_PPI * SCALE  # every clinician chart; Agg truncates the pixel size (inches x DPI)
FONT_PT = 10.5
LEGEND_PT = FONT_PT
ASSESSMENTS_SIZE = (9, 6.25)


SUBSTANCE_STYLES = ((VERMILLION, "s"), (ORANGE, "v"), (PURPLE, "P"), (SKY, "X"), (GREEN, "*"), (BLUE, "h"))
USE_ROW = 11.2  # the height of the days-of-use marker row above a craving panel's 0-10 scale


def _substance_name(code: str) -> str:
    from .models import SUBSTANCES

    return SUBSTANCES.get(code, code.capitalize())


def outcome_panels(series: DailySeries) -> list[tuple]:
    """The panels the patient has data for (mood always): (key, label, colour, marker, limits). A patient who
    tracks substances gets one craving panel per substance (key ``craving:<code>``), with the days of use."""
    substances = list(dict.fromkeys([*series.substance_cravings, *series.use_days]))
    panels = []
    for panel in DAILY_PANELS:
        if panel[0] == "craving" and substances:
            for index, code in enumerate(substances):
                colour, marker = SUBSTANCE_STYLES[index % len(SUBSTANCE_STYLES)]
                label = f"{_substance_name(code)} craving 0–10\n(higher is worse)"
                panels.append((f"craving:{code}", label, colour, marker, (-0.5, USE_ROW + 0.8)))
        elif getattr(series, panel[0]):
            panels.append(panel)
    return panels or [DAILY_PANELS[0]]


def _panel_values(series: DailySeries, key: str) -> dict[date, float]:
    if key.startswith("craving:"):
        return series.substance_cravings.get(key.split(":", 1)[1], {})
    return getattr(series, key)


def outcomes_size(series: DailySeries) -> tuple[float, float]:
    return (9, 2.25 * len(outcome_panels(series)) + 0.75)  # sizes in quarter inches: whole CSS pixels


def _calendar_start_and_weeks(days: list[date]) -> tuple[date, int]:
    start = days[0] - timedelta(days=days[0].weekday())
    return start, (days[-1] - start).days // 7 + 1


def adherence_size(states: dict[date, str]) -> tuple[float, float]:
    _, weeks = _calendar_start_and_weeks(sorted(states))
    return (max(6.0, 0.3125 * weeks + 2.25), 4.0)


def pixels(inches: tuple[float, float]) -> tuple[int, int]:
    """The CSS size a page gives a chart of ``inches`` (the picture has SCALE times as many pixels)."""
    return int(inches[0] * CSS_PPI), int(inches[1] * CSS_PPI)


def _outcome_margins(figure: Figure, panels: int) -> dict:
    """Fixed margins, in inches, for the outcome panels. Their labels are fixed text (two-line axis labels,
    0-12 ticks, dates), so the space they need is known; measuring it on every render, as the constrained
    layout does, was over a third of the drawing time (bench/run.py, profiled)."""
    width, height = figure.get_size_inches()
    left, right, top, bottom, gap = 0.95, 0.4, 0.35, 0.35, 0.55
    panel_height = (height - top - bottom - gap * (panels - 1)) / panels
    return {
        "left": left / width,
        "right": 1 - right / width,
        "top": 1 - top / height,
        "bottom": bottom / height,
        "hspace": gap / panel_height,
    }


def outcomes_figure(series: DailySeries) -> Figure:
    """Mood, craving, sleep time and pain (the panels the patient has data for) as daily points with a 7-day
    mean; a day without an entry is a gap in both, never a line drawn across it."""
    from .analytics import rolling_mean

    panels = outcome_panels(series)
    figure = Figure(figsize=outcomes_size(series), dpi=DPI)
    axes_list = figure.subplots(
        len(panels), 1, sharex=True, squeeze=False, gridspec_kw=_outcome_margins(figure, len(panels))
    )[:, 0]
    days = _day_range(series.first, series.last)
    for axes, (key, label, colour, marker, limits) in zip(axes_list, panels, strict=True):
        values = _panel_values(series, key)
        points = sorted((day, value) for day, value in values.items() if series.first <= day <= series.last)
        axes.plot(
            [d for d, _ in points], [v for _, v in points], linestyle="none", marker=marker, markersize=3,
            color=colour, alpha=0.45, gid=f"{key}-points", label="daily entry",
        )  # fmt: skip
        means = rolling_mean(values, series.first, series.last)
        axes.plot(
            days, [float("nan") if means[d] is None else means[d] for d in days], color=colour, linewidth=2,
            gid=f"{key}-mean", label="7-day mean",
        )  # fmt: skip
        if key.startswith("craving:"):
            code = key.split(":", 1)[1]
            used = sorted(day for day in series.use_days.get(code, ()) if series.first <= day <= series.last)
            axes.plot(
                used, [USE_ROW] * len(used), linestyle="none", marker="|", markersize=9, markeredgewidth=2,
                color="#111827", gid=f"{key}-use", label="day of use",
            )  # fmt: skip
            axes.set_yticks([0, 5, 10])
            if axes is not axes_list[0]:
                axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=LEGEND_PT, ncols=3, frameon=False)
        _mark_sessions(axes, series.sessions, series.first, series.last)
        axes.set_ylabel(label, fontsize=FONT_PT)
        axes.set_ylim(*limits)
        axes.grid(axis="y", color=FAINT, linewidth=0.8)
        axes.tick_params(labelsize=FONT_PT)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
    axes_list[0].plot([], [], color=SESSION_COLOUR, linestyle="--", linewidth=1, label="dosing session")
    axes_list[0].legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=LEGEND_PT, ncols=4, frameon=False)
    axes_list[-1].set_xlim(series.first - timedelta(days=0.5), series.last + timedelta(days=0.5))
    _page_dates(axes_list[-1])
    return figure


def _page_dates(axes) -> None:
    """Dates as the pages write them ("1 Dec"), never ISO."""
    from matplotlib.dates import AutoDateLocator, DateFormatter

    axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))
    axes.xaxis.set_major_formatter(DateFormatter("%-d %b"))


def outcomes_summary(series: DailySeries) -> str:
    """One sentence: recent mood against the week before the first session (or before the last 7 days)."""
    last_week = [v for d, v in series.mood.items() if series.last - timedelta(days=6) <= d <= series.last]
    if not last_week:
        return "No mood entries in the last 7 days."
    sentence = f"Mood averaged {mean(last_week):.1f} over the last 7 days"
    first_session = min(series.sessions, default=None)
    if first_session is not None:
        before = [v for d, v in series.mood.items() if first_session - timedelta(days=7) <= d < first_session]
        if before:
            direction = (
                "up" if mean(last_week) > mean(before) else "down" if mean(last_week) < mean(before) else "level"
            )
            sentence += f", {direction} from {mean(before):.1f} in the week before the first session"
    sentence += f"; {len(series.sessions)} session{'s' if len(series.sessions) != 1 else ''} marked."
    return sentence


# --- The questionnaires chart: one panel per instrument of the patient (journal/instruments.py) ----------------


@dataclass(frozen=True)
class InstrumentForms:
    """One instrument's scored forms in the chart's range, as plain data: ``key`` names the definition in
    ``instruments``; each form is (local date, total, the instrument's ``scores``), oldest first."""

    key: str
    forms: list[tuple[date, int, dict]]
    baseline: int | None = None  # the stored baseline's total (PHQ-R9, PCL-R8, PEG-R4)
    # The cut-point in force when no form in the range carries one: the clinic's PCL-5 cut-point, the AUDIT-C
    # threshold for the patient's recorded sex. A form's own (stored with it) wins: it is what it was judged by.
    cut_point: int | None = None


@dataclass(frozen=True)
class AssessmentSeries:
    phq9: list[tuple[date, int]]
    gad7: list[tuple[date, int]]
    baseline: dict[str, int]  # instrument -> baseline total
    sessions: list[date]
    first: date
    last: date
    # Every instrument of the patient (``instruments.for_patient``), in page order. Empty: the PHQ-9 and GAD-7
    # from the two lists above (what the report still passes).
    instruments: tuple[InstrumentForms, ...] = ()

    def panels(self) -> tuple[InstrumentForms, ...]:
        if self.instruments:
            return self.instruments
        return tuple(
            InstrumentForms(key, [(day, total, {}) for day, total in getattr(self, key)], self.baseline.get(key))
            for key in ("phq9", "gad7")
        )


@dataclass(frozen=True)
class Level:
    """A horizontal line on an instrument's panel, in the panel's units, with its legend label."""

    value: float
    label: str
    gid: str
    colour: str
    style: str | tuple


BASELINE_COLOUR = "#111827"
CUT_STYLE = (0, (6, 2, 1, 2, 1, 2))  # dash-dot-dot: neither the sessions' dashes nor the change lines' styles
PANEL_STYLES = {  # (colour, marker) of each instrument's totals
    "phq9": (BLUE, "o"),
    "phq8": (BLUE, "o"),
    "gad7": (ORANGE, "s"),
    "pcl5": (VERMILLION, "D"),
    "peg": (PURPLE, "^"),
    "pacs": (GREEN, "v"),
    "auditc": (SKY, "P"),
}
PANEL_HEIGHT = 3.125  # inches a panel (with its legend): 300 CSS px, whole pixels at SCALE


def assessments_size(series: AssessmentSeries) -> tuple[float, float]:
    return (ASSESSMENTS_SIZE[0], PANEL_HEIGHT * len(series.panels()))


def _definition(key: str):
    from . import instruments

    return instruments.ALL[key]


def _peg_score(total: int, scores: dict) -> float:
    """PEG-R3: the chart draws the score (the mean, 0-10) stored with the form; decisions use the sum."""
    from .scales import peg_tenths

    return scores.get("score", peg_tenths(total) / 10)


def _value(forms: InstrumentForms, total: int, scores: dict) -> float:
    return _peg_score(total, scores) if _definition(forms.key).chart_total == "score" else total


def _top(forms: InstrumentForms) -> int:
    definition = _definition(forms.key)
    return 10 if definition.chart_total == "score" else definition.total_max


def cut_point_in_force(forms: InstrumentForms) -> tuple[int | None, str]:
    """The PCL-5 cut-point or AUDIT-C threshold the latest form was judged by (stored with it), else the current
    setting; and whose it is, in words."""
    stored = "cut_point" if forms.key == "pcl5" else "threshold"
    for _day, _total, scores in reversed(forms.forms):
        if scores.get(stored) is not None:
            return scores[stored], "stored with the latest form"
    return forms.cut_point, "the current setting"


def _auditc_basis(threshold: int) -> str:
    from .scales import AUDITC_THRESHOLDS

    return "men" if threshold == AUDITC_THRESHOLDS["male"] else "women and when sex is not recorded"


# SPEC 6.4 MAY: a change of 1.0 point of the PEG's mean (3 of its sum) marked as the minimal important difference
# estimate (trials gave mostly 1.0-1.75 points). The legend calls it an estimate, so it is not read as a second
# success rule beside PEG-R4's 30 %.
PEG_MID_SUM = 3
PEG_MID_LABEL = "estimate of the minimal important difference: 1.0 point below baseline"


def _peg_mid_level(baseline_sum: int) -> float:
    """The line 1.0 point under the baseline's score, as the dots are drawn: a form is on or under it exactly
    when its sum is at least 3 below the baseline's (the rounded scores keep that order: peg_tenths(s - 3) is
    peg_tenths(s) - 10)."""
    from .scales import peg_tenths

    return peg_tenths(baseline_sum - PEG_MID_SUM) / 10


def panel_levels(forms: InstrumentForms) -> list[Level]:
    """The baseline, the change rule's thresholds and the cut-points of one instrument, as lines in the units the
    panel draws. A threshold that no total on the scale can reach (under 0) is left out."""
    key, baseline = forms.key, forms.baseline
    definition = _definition(key)
    levels = []
    if baseline is not None:
        shown = f"{_peg_score(baseline, {}):.1f}" if definition.chart_total == "score" else str(baseline)
        levels.append(Level(_value(forms, baseline, {}), f"baseline {shown}", f"{key}-baseline", BASELINE_COLOUR, "-"))
    if key in ("phq9", "phq8"):  # PHQ-R9 (SAFE-R4: the PHQ-8 by the same rule): 2 x total <= baseline
        if baseline:
            levels.append(Level(baseline / 2, "response: at least 50 % below baseline", f"{key}-response", GREEN, ":"))
        levels.append(Level(4.5, "remission: under 5", f"{key}-remission", SKY, "-."))
    elif key == "pcl5" and baseline is not None:  # PCL-R8
        from .scales import PCL5_MEANINGFUL_POINTS, PCL5_RESPONSE_POINTS

        for points, label, gid, colour, style in (
            (PCL5_RESPONSE_POINTS, "response", "response", GREEN, ":"),
            (PCL5_MEANINGFUL_POINTS, "clinically meaningful", "meaningful", SKY, "-."),
        ):
            if baseline - points >= 0:
                levels.append(
                    Level(baseline - points, f"{label}: {points} points below baseline", f"pcl5-{gid}", colour, style)
                )
    elif key == "peg" and baseline is not None:
        if baseline:  # PEG-R4: 10 x (baseline - current) >= 3 x baseline, i.e. at most 70 %
            levels.append(
                Level(0.7 * baseline / 3, "improved: at least 30 % below baseline", "peg-improved", GREEN, ":")
            )
        if baseline >= PEG_MID_SUM:  # SPEC 6.4 (MAY): an estimate only, never a second success rule
            levels.append(Level(_peg_mid_level(baseline), PEG_MID_LABEL, "peg-mid", SKY, "-."))
    if key == "pcl5":
        cut, whose = cut_point_in_force(forms)
        if cut is not None:  # PCL-R6/R7: the cut-point in force, never a diagnosis
            label = f"screening cut-point: {cut} or more, {whose}"
            levels.append(Level(cut - 0.5, label, "pcl5-cut-point", VERMILLION, CUT_STYLE))
    elif key == "auditc":
        threshold, whose = cut_point_in_force(forms)
        if threshold is not None:  # AUDC-R5: the threshold for the patient's recorded sex
            label = f"positive screen: {threshold} or more, the threshold for {_auditc_basis(threshold)}, {whose}"
            levels.append(Level(threshold - 0.5, label, "auditc-threshold", VERMILLION, CUT_STYLE))
    elif not definition.bands:  # PACS-R5: the published reference lines, "15 or more" drawn under 15
        for line in definition.reference_lines:
            levels.append(Level(line.value - 0.5, line.label, f"{key}-reference-{line.value}", VERMILLION, CUT_STYLE))
    return levels


def _band_spans(forms: InstrumentForms) -> list[tuple[float, float, str]]:
    """The severity bands (SPEC 1.3, 2.3) as (bottom, top, label) in drawing units: each band's totals inside."""
    definition = _definition(forms.key)
    edges = [low for low, _ in definition.bands] + [definition.total_max + 1]
    return [
        (edges[index] - 0.5, edges[index + 1] - 0.5, band.replace("_", " "))
        for index, (_, band) in enumerate(definition.bands)
    ]


def assessments_figure(series: AssessmentSeries) -> Figure:
    """Each of the patient's questionnaires on its own panel and scale, against the dosing sessions: its totals
    (the PEG its score, 0-10), its severity bands or cut-points, the baseline and the lines of its own change
    rule: PHQ-9 response (half the baseline: 2 x total <= baseline, PHQ-R9) and remission (under 5); PCL-5 5 and
    10 points below the baseline (PCL-R8) and the cut-point stored with the latest form; PEG 30 % below the
    baseline (PEG-R4) and 1.0 point below it, labelled as the minimal important difference estimate (SPEC 6.4);
    PACS the reference lines at 15 and 21 (PACS-R5); AUDIT-C the positive-screen threshold (AUDC-R5). The GAD-7
    has no response or remission line: none is validated (GAD-R2)."""
    panels = series.panels()
    figure = Figure(figsize=assessments_size(series), dpi=DPI, layout="constrained")
    axes_list = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    greys = ("#ffffff", "#f3f4f6", "#e5e7eb", "#d1d5db", "#c4c8cf")
    for axes, forms in zip(axes_list, panels, strict=True):
        definition = _definition(forms.key)
        colour, marker = PANEL_STYLES.get(forms.key, (BLUE, "o"))
        top = _top(forms)
        for index, (bottom, ceiling, label) in enumerate(_band_spans(forms)):
            axes.axhspan(bottom, ceiling, color=greys[index % len(greys)], zorder=0, gid=f"band-{label}")
            axes.text(
                1.005, (bottom + ceiling) / 2, label, transform=axes.get_yaxis_transform(), fontsize=FONT_PT,
                va="center", color="#374151",
            )  # fmt: skip
        unit = "score" if definition.chart_total == "score" else "total"
        axes.plot(
            [day for day, _, _ in forms.forms], [_value(forms, total, scores) for _, total, scores in forms.forms],
            color=colour, marker=marker, linewidth=1.5, markersize=5, gid=f"{forms.key}-totals",
            label=f"{definition.name} {unit}",
        )  # fmt: skip
        for level in panel_levels(forms):
            axes.axhline(
                level.value, color=level.colour, linestyle=level.style, linewidth=1.5 if level.style != "-" else 1,
                gid=level.gid, label=level.label,
            )  # fmt: skip
        _mark_sessions(axes, series.sessions, series.first, series.last)
        axes.set_ylim(-0.5, top + 0.5)
        step = 10 if top > 40 else 2 if top <= 12 else 5
        axes.set_yticks(range(0, top + 1, step))
        scale = f"{definition.name} score 0–10" if unit == "score" else f"{definition.name} total"
        axes.set_ylabel(f"{scale}\n(higher is worse)", fontsize=FONT_PT)
        axes.tick_params(labelsize=FONT_PT)
        if axes is axes_list[0]:
            axes.plot([], [], color=SESSION_COLOUR, linestyle="--", linewidth=1, label="dosing session")
        labels = axes.get_legend_handles_labels()[1]
        longest = max(len(label) for label in labels)
        columns = 3 if longest <= 30 else 2 if longest <= 48 else 1  # every column inside the picture's width
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=LEGEND_PT, ncols=columns, frameon=False)
    axes_list[-1].set_xlim(series.first - timedelta(days=0.5), series.last + timedelta(days=0.5))
    _page_dates(axes_list[-1])
    return figure


def _instrument_sentence(forms: InstrumentForms) -> str:
    """What one panel shows, in words: the latest form against the baseline by the instrument's rule, and the
    lines drawn (the text alternative lists what the picture does)."""
    definition = _definition(forms.key)
    name = definition.name
    if not forms.forms:
        sentence = f"No {name} in this period"
    else:
        day, total, scores = forms.forms[-1]
        shown = f"{_peg_score(total, scores):.1f}" if definition.chart_total == "score" else str(total)
        sentence = f"Latest {name} {shown} on {day:%-d %b %Y}"
        if forms.baseline is not None:
            sentence += f", against a baseline of {_baseline_shown(forms)}: {_verdict(forms, total)}"
        sentence += "".join(f", {flag}" for flag in _result_flags(forms.key, scores))
    lines = [level.label for level in panel_levels(forms) if not level.gid.endswith("-baseline")]
    if forms.key == "gad7":  # GAD-R2: said, so the missing lines are not read as an omission
        lines.append("no validated response or remission rule")
    if forms.baseline is None:
        lines.append("no baseline")
    if lines:
        sentence += f" ({'; '.join(lines)})"
    return sentence


def _result_flags(key: str, scores: dict) -> list[str]:
    """What a form's own result says, as the pages word it: the PCL-5's two flags (PCL-R7, never a diagnosis)
    and the AUDIT-C screen (AUDC-R5)."""
    if key == "pcl5":
        flags = ["score at or above screening cut-point"] if scores.get("probable_ptsd") else []
        return flags + (["provisional DSM-5 symptom pattern"] if scores.get("provisional_ptsd") else [])
    if key == "auditc" and scores.get("positive") is not None:
        return ["positive screen" if scores["positive"] else "negative screen"]
    return []


def _baseline_shown(forms: InstrumentForms) -> str:
    if _definition(forms.key).chart_total == "score":
        return f"{_peg_score(forms.baseline, {}):.1f}"
    return str(forms.baseline)


def _verdict(forms: InstrumentForms, total: int) -> str:
    """The latest form by the instrument's own change rule (``Instrument.judge``)."""
    definition = _definition(forms.key)
    judged = definition.judge(forms.baseline, total)
    if forms.key in ("phq9", "phq8"):
        if judged["remission"]:
            return "remission"
        return "response" if judged["response"] else "no response yet"
    if forms.key == "pcl5":
        change = total - forms.baseline
        moved = f"{abs(change)} points {'lower' if change < 0 else 'higher'}" if change else "no change"
        if judged["pcl_clinically_meaningful"]:
            return f"{moved}, a clinically meaningful improvement"
        if judged["pcl_response"]:
            return f"{moved}, a response"
        return f"{moved}, worsening" if judged["worsening"] else f"{moved}, no response yet"
    if forms.key == "peg":
        if judged["peg_pct_reduction"] is None:
            return "no percentage from a baseline of 0"
        pct = judged["peg_pct_reduction"]
        moved = f"{abs(pct):g} % {'lower' if pct > 0 else 'higher'}" if pct else "no change"
        return f"{moved}, {'improved' if judged['peg_improved_30'] else 'not yet 30 % lower'}"
    change = total - forms.baseline
    return f"{'+' if change > 0 else ''}{change} from baseline"


def assessments_summary(series: AssessmentSeries) -> str:
    """The chart's text alternative: one sentence a panel, with the same facts as the picture."""
    return ". ".join(_instrument_sentence(forms) for forms in series.panels()) + "."


ADHERENCE_COLOURS = {"on_time": BLUE, "retrospective": SKY, "missed": "#ffffff", "not_scheduled": "#d1d5db"}
# A missed day is an empty, outlined square; a day not expected (before enrolment, today and after) is grey and
# hatched, with no outline: the two differ in fill, pattern and edge, not in colour alone.
ADHERENCE_HATCH = {"not_scheduled": "////"}
ADHERENCE_LABELS = {
    "on_time": "on time",
    "retrospective": "filled in later",
    "missed": "missed",
    "not_scheduled": "not expected (before enrolment, today, future)",
}


def adherence_states(entries: dict[date, bool], first: date, last: date, active_since: date, today: date) -> dict:
    """Each day's state: on time, back-filled (retrospective), missed, or not scheduled."""
    states = {}
    for day in _day_range(first, last):
        if day in entries:
            states[day] = "on_time" if entries[day] else "retrospective"
        elif day < active_since or day >= today:
            states[day] = "not_scheduled"
        else:
            states[day] = "missed"
    return states


def adherence_figure(states: dict[date, str], sessions: list[date]) -> Figure:
    """A calendar: one column per week, one row per weekday; a missed day is an empty, outlined square and
    a session day carries a dot, so nothing depends on colour alone."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle

    start, weeks = _calendar_start_and_weeks(sorted(states))
    figure = Figure(figsize=adherence_size(states), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    for day, state in states.items():
        column, row = (day - start).days // 7, day.weekday()
        axes.add_patch(
            Rectangle(
                (column, row), 0.9, 0.9, facecolor=ADHERENCE_COLOURS[state], edgecolor="#374151",
                linewidth=1 if state == "missed" else 0, gid=f"day-{day.isoformat()}-{state}",
                hatch=ADHERENCE_HATCH.get(state),
            )
        )  # fmt: skip
    session_days = [day for day in sessions if day in states]
    axes.plot(
        [(d - start).days // 7 + 0.45 for d in session_days], [d.weekday() + 0.45 for d in session_days],
        linestyle="none", marker="o", markersize=6, color="#111827", gid="sessions", label="dosing session",
    )  # fmt: skip
    axes.set_xlim(-0.2, weeks + 0.1)
    axes.set_ylim(7, -0.2)
    axes.set_yticks(
        [n + 0.45 for n in range(7)], labels=["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], fontsize=FONT_PT
    )
    ticks = list(range(0, weeks, max(1, -(-weeks // 6))))  # at most 6 dates: none overlaps another
    axes.set_xticks([t + 0.45 for t in ticks], labels=[(start + timedelta(weeks=t)).strftime("%-d %b") for t in ticks])
    axes.tick_params(labelsize=FONT_PT, length=0)
    for side in axes.spines.values():
        side.set_visible(False)
    handles = [
        Patch(
            facecolor=ADHERENCE_COLOURS[k],
            edgecolor="#374151",
            linewidth=1 if k == "missed" else 0,
            hatch=ADHERENCE_HATCH.get(k),
            label=v,
        )
        for k, v in ADHERENCE_LABELS.items()
    ]
    handles.append(Line2D([], [], linestyle="none", marker="o", markersize=6, color="#111827", label="dosing session"))
    axes.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2, fontsize=LEGEND_PT, frameon=False
    )
    return figure


def adherence_summary(states: dict[date, str]) -> str:
    scheduled = [s for s in states.values() if s != "not_scheduled"]
    if not scheduled:
        return "No diary days scheduled in this period."
    done = sum(1 for s in scheduled if s != "missed")
    late = sum(1 for s in scheduled if s == "retrospective")
    return (
        f"{done} of {len(scheduled)} diary days completed ({round(100 * done / len(scheduled))} %), "
        f"{late} of them filled in later."
    )


def render(figure: Figure, fmt: str) -> bytes:
    """PNG or SVG bytes, reproducible for the same data (no timestamps or software tags in the file).

    An SVG keeps nothing that names another host: matplotlib's prolog points at the W3C DTD and its metadata
    at Dublin Core and Creative Commons URIs, which a picture does not need (nothing is fetched from them,
    but nothing the journal serves names another origin)."""
    buffer = io.BytesIO()
    if fmt == "png":
        figure.savefig(buffer, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": 1})
        return buffer.getvalue()
    if fmt == "svg":
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        content = _SVG_DOCTYPE.sub(b"", buffer.getvalue(), count=1)
        return _SVG_METADATA.sub(b"", content, count=1)
    raise ValueError(fmt)


_SVG_DOCTYPE = re.compile(rb"<!DOCTYPE[^>]*>\s*")
_SVG_METADATA = re.compile(rb"\s*<metadata>.*?</metadata>", re.DOTALL)
