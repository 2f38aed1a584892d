"""Charts: pure functions from plain data to image bytes, drawn with matplotlib's Figure API (never pyplot,
which keeps global state that a web server must not share between requests)."""

from __future__ import annotations

import io
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


def mood_progress_png(points: list[tuple[date, int]], today: date, days: int) -> bytes:
    """A small chart of daily mood (0 worst .. 10 best) over the last ``days`` days; missing days stay gaps."""
    figure = Figure(figsize=(4.2, 1.8), dpi=96)
    axes = figure.add_axes((0.1, 0.2, 0.86, 0.72))
    start = today - timedelta(days=days - 1)
    by_day = dict(points)
    xs = [start + timedelta(days=n) for n in range(days)]
    ys = [by_day.get(day, float("nan")) for day in xs]
    axes.plot(xs, ys, color=BLUE, linewidth=2, marker="o", markersize=3)
    axes.set_ylim(-0.5, 10.5)
    axes.set_yticks([0, 5, 10], labels=["0 worst", "5", "10 best"], fontsize=7)
    axes.set_xlim(start - timedelta(days=0.5), today + timedelta(days=0.5))
    axes.set_xticks([start, today], labels=[start.strftime("%-d %b"), "today"], fontsize=7)
    axes.tick_params(colors=GREY, length=0)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.grid(axis="y", color="#e5e7eb", linewidth=0.8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
