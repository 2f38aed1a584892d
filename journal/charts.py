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

BLUE = "#0072B2"  # Okabe-Ito palette: distinguishable with colour-vision deficiency
GREY = "#6b7280"


def mood_progress_summary(points: list[tuple[date, int]], today: date) -> str:
    """The sentence that goes under (and stands in for) the patient's mood chart."""
    last_week = [mood for day, mood in points if day > today - timedelta(days=7)]
    week_before = [mood for day, mood in points if today - timedelta(days=14) < day <= today - timedelta(days=7)]
    if not last_week:
        return "No mood entries in the last 7 days yet."
    sentence = f"Your mood averaged {mean(last_week):.1f} out of 10 over the last 7 days"
    if week_before:
        sentence += f", compared with {mean(week_before):.1f} the week before"
    return sentence + "."


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


BAND_SHADES = {  # (instrument, band lower edges, greys light to dark)
    "phq9": ((0, 5, 10, 15, 20, 27.5), ("minimal", "mild", "moderate", "moderately severe", "severe")),
    "gad7": ((0, 5, 10, 15, 21.5), ("minimal", "mild", "moderate", "severe")),
}


@dataclass(frozen=True)
class AssessmentSeries:
    phq9: list[tuple[date, int]]
    gad7: list[tuple[date, int]]
    baseline: dict[str, int]  # instrument -> baseline total
    sessions: list[date]
    first: date
    last: date


def assessments_figure(series: AssessmentSeries) -> Figure:
    """PHQ-9 and GAD-7 totals over time over their severity bands, with the baseline; the PHQ-9 also has the
    response line (half the baseline: 2 x total <= baseline, PHQ-R9) and the remission line (under 5). The
    GAD-7 has neither: no validated GAD-7 response or remission exists (GAD-R2), as the page's table says."""
    figure = Figure(figsize=ASSESSMENTS_SIZE, dpi=DPI, layout="constrained")
    axes_pair = figure.subplots(2, 1, sharex=True)
    for axes, key, name, colour, marker in (
        (axes_pair[0], "phq9", "PHQ-9", BLUE, "o"),
        (axes_pair[1], "gad7", "GAD-7", ORANGE, "s"),
    ):
        edges, labels = BAND_SHADES[key]
        greys = ("#ffffff", "#f3f4f6", "#e5e7eb", "#d1d5db", "#c4c8cf")
        for index, label in enumerate(labels):
            axes.axhspan(edges[index] - 0.5, edges[index + 1] - 0.5, color=greys[index], zorder=0, gid=f"band-{label}")
            axes.text(
                1.005, (edges[index] + edges[index + 1] - 1) / 2, label, transform=axes.get_yaxis_transform(),
                fontsize=FONT_PT, va="center", color="#374151",
            )  # fmt: skip
        points = sorted(getattr(series, key))
        axes.plot(
            [d for d, _ in points], [t for _, t in points], color=colour, marker=marker, linewidth=1.5,
            markersize=5, gid=f"{key}-totals", label=f"{name} total",
        )  # fmt: skip
        baseline = series.baseline.get(key)
        if baseline is not None:
            axes.axhline(baseline, color="#111827", linewidth=1, gid=f"{key}-baseline", label=f"baseline {baseline}")
        if baseline is not None and key == "phq9":
            axes.axhline(
                baseline / 2, color=GREEN, linestyle=":", linewidth=1.5, gid=f"{key}-response",
                label="response: 50% below baseline",
            )  # fmt: skip
        if key == "phq9":
            axes.axhline(
                4.5, color=SKY, linestyle="-.", linewidth=1.5, gid=f"{key}-remission", label="remission: under 5"
            )
        _mark_sessions(axes, series.sessions, series.first, series.last)
        axes.set_ylim(-0.5, edges[-1] - 0.5)
        axes.set_yticks(range(0, int(edges[-1]), 5))
        axes.set_ylabel(f"{name} total\n(higher is worse)", fontsize=FONT_PT)
        axes.tick_params(labelsize=FONT_PT)
        axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=LEGEND_PT, ncols=4, frameon=False)
    axes_pair[0].plot([], [], color=SESSION_COLOUR, linestyle="--", linewidth=1, label="dosing session")
    axes_pair[0].legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=LEGEND_PT, ncols=3, frameon=False)
    axes_pair[-1].set_xlim(series.first - timedelta(days=0.5), series.last + timedelta(days=0.5))
    _page_dates(axes_pair[-1])
    return figure


def assessments_summary(series: AssessmentSeries) -> str:
    if not series.phq9:
        return "No PHQ-9 yet."
    latest_day, latest = max(series.phq9)
    sentence = f"Latest PHQ-9 {latest} on {latest_day:%-d %b %Y}"
    baseline = series.baseline.get("phq9")
    if baseline is not None:
        from .scoring import remission, response

        status = "remission" if remission(latest) else "response" if response(baseline, latest) else "no response yet"
        sentence += f", against a baseline of {baseline}: {status}"
    if series.gad7:
        sentence += f"; latest GAD-7 {max(series.gad7)[1]}"
    return sentence + "."


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
