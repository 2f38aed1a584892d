"""The visit report: one patient's summary, charts, open alerts and sessions as a PDF for the care team.

No Flask. Drawn with ReportLab's page-layout engine (platypus): page 1 holds the summary, the open alerts and
the sessions (flowing on if they are long), then one page of daily outcomes and one of questionnaires and diary
adherence, the last 30 days, and each questionnaire's baseline, latest form and change by its own rule. Text
is set in DejaVu Sans, the font matplotlib ships and draws the charts with: it is read from the installed
package (no font is fetched), and unlike the PDF standard fonts it covers names written in Greek, Cyrillic and
extended Latin letters.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape  # nosec B406 # escapes text for ReportLab's markup; parses no XML

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Table,
    TableStyle,
)
from sqlalchemy.orm import object_session

from . import chart_cache, charts, diary, patient_data, session_checks
from .alerts import KIND_LABELS
from .models import ROUTES, Alert, SessionStatus
from .patient_data import PatientData
from .scoring import BAND_LABELS
from .session_checks import SEVERE_RATING

FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
CHART_DPI = 150  # the charts are drawn for the screen at 72 dpi; print wants more
MARGIN = 0.7 * inch
FOOTER_Y = 0.45 * inch
GREY = colors.HexColor("#4b5563")
RULE = colors.HexColor("#d1d5db")
SEVERITY_LABELS = {"high": "High", "medium": "Medium", "low": "Low"}
STATUS_LABELS = {SessionStatus.PLANNED: "Planned", SessionStatus.GIVEN: "Given", SessionStatus.CANCELLED: "Cancelled"}
MAX_DURABILITY_ROWS = 6


def _register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


STYLES = {
    "title": ParagraphStyle("title", fontName=BOLD, fontSize=16, leading=20, spaceAfter=4),
    "subtitle": ParagraphStyle("subtitle", fontName=FONT, fontSize=9.5, leading=13, textColor=GREY),
    "h2": ParagraphStyle("h2", fontName=BOLD, fontSize=12, leading=15, spaceBefore=12, spaceAfter=5),
    "body": ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12),
    "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10),
    "head": ParagraphStyle("head", fontName=BOLD, fontSize=8, leading=10),
    "caption": ParagraphStyle("caption", fontName=FONT, fontSize=9, leading=12, textColor=GREY, spaceBefore=4),
}


def _p(text: str, style: str = "body") -> Paragraph:
    """A paragraph of plain text: escaped, since ReportLab reads paragraphs as markup (a name may hold '<')."""
    return Paragraph(escape(text), STYLES[style])


def _day(value) -> str:
    return value.strftime("%-d %b %Y")


def _yes_no(value: bool | None, unknown: str = "Not yet measurable") -> str:
    return unknown if value is None else "Yes" if value else "No"


def _baseline_text(summary: dict, when) -> str:
    """The depression baseline, who chose it (the rule or a clinician), or why there is none (PHQ-R9)."""
    state = next(item for item in summary["baselines"] if item["instrument"] == summary["depression_instrument"])
    if state["total"] is None:
        return state["note"] or "Not set"
    chooser = "the rule" if state["chosen_by"] == "rule" else (state["chosen_by_name"] or "a clinician")
    return f"{state['total']} on {when(state['completed_at'])}, chosen by {chooser}"


def summary_rows(data: PatientData, summary: dict) -> list[tuple[str, str]]:
    """The summary facts as (label, sentence) pairs: what the first page shows."""

    def when(instant: datetime) -> str:
        return data.local(instant).strftime("%-d %b %Y")

    def latest(key: str, name: str) -> str:
        form = summary[key]
        if form is None:
            return f"No {name} yet"
        if form["total"] is None:
            return f"Unscored (item 9 unanswered) on {when(form['completed_at'])}"
        text = f"{form['total']} ({BAND_LABELS.get(form['band'], form['band'])}) on {when(form['completed_at'])}"
        if form["change_from_baseline"] is not None:
            text += f"; {form['change_from_baseline']:+d} from baseline"
        return text

    depression = summary["depression_name"]  # the PHQ-9, or the PHQ-8 where the clinic chose it (SAFE-R4)
    rows = [(f"Latest {depression}", latest("depression", depression))]
    rows.append((f"{depression} baseline", _baseline_text(summary, when)))
    response = _yes_no(summary["response"])
    if summary["pct_reduction"] is not None:
        response += f" ({summary['pct_reduction']:g} % lower than baseline)"
    rows.append((f"Response ({depression} at least 50 % below baseline)", response))
    rows.append((f"Remission ({depression} under 5)", _yes_no(summary["remission"])))
    if summary["baseline_below_usual"]:
        rows.append(("Note", "The baseline is under 10: response and remission usually assume 10 or more."))
    rows.append(("Latest GAD-7", latest("gad7", "GAD-7")))
    if summary["adherence_pct"] is None:
        rows.append(("Diary, last 14 days", "No diary days scheduled yet"))
    else:
        rows.append(
            (
                "Diary, last 14 days",
                f"{summary['adherence_pct']:g} % of {summary['adherence_scheduled']} days: "
                f"{summary['adherence_on_time']} on time, {summary['adherence_backfilled']} filled in later",
            )
        )
    if summary["percent_days_abstinent"] is not None:
        rows.append(
            (
                "Days without use",
                f"{summary['percent_days_abstinent']:g} % of {summary['abstinence_reported_days']} reported days",
            )
        )
    for item in summary.get("substances", []):
        rows.append((f"{item['name']}, days without use", item["line"]))
    if summary.get("pain"):
        rows.append(("Daily pain against the week before treatment", summary["pain_line"]))
    booster = "Yes: " + "; ".join(summary["booster_reasons"]) if summary["consider_booster_review"] else "No"
    rows.append(("Consider booster review", booster))
    days_since = summary["days_since_last_session"]
    rows.append(("Last session given", "None yet" if days_since is None else f"{days_since} days ago"))
    upcoming = summary["next_session"]
    rows.append(("Next planned session", "None planned" if upcoming is None else _local_time(data, upcoming)))
    for item in summary["durability"][-MAX_DURABILITY_ROWS:]:
        if item["days"] is not None:
            lasted = f"mood back to its pre-session level after {item['days']} days"
        elif item["at_least_days"] is not None:
            lasted = f"effect held at least {item['at_least_days']} days (still holding, or the next session came)"
        else:
            lasted = "not enough mood entries to tell"
        rows.append((f"Session of {_day(item['session'])}", lasted))
    return rows


def _local_time(data: PatientData, instant: datetime) -> str:
    return instant.astimezone(data.zone).strftime("%-d %b %Y, %H:%M %Z")


def _table(header: list[str], rows: list[list[str]], widths: list[float]) -> Table:
    table = Table(
        [[_p(text, "head") for text in header], *[[_p(text, "cell") for text in row] for row in rows]],
        colWidths=widths,
        repeatRows=1,
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.4, RULE),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _chart(figure, width: float, max_height: float) -> Image:
    """A matplotlib figure as a PNG scaled to fit ``width`` x ``max_height``, keeping its proportions."""
    figure.set_dpi(CHART_DPI)
    fig_width, fig_height = figure.get_size_inches()
    scale = min(width / (fig_width * inch), max_height / (fig_height * inch), 1.0)  # shrink to fit, never enlarge
    return Image(
        io.BytesIO(charts.render(figure, "png")), width=fig_width * inch * scale, height=fig_height * inch * scale
    )


def build(data: PatientData, summary: dict, alerts: list[Alert], now: datetime) -> bytes:
    """The report as PDF bytes. ``summary`` is ``patient_data.summary(data, now)``; ``alerts`` are the patient's
    open alerts, most urgent first."""
    _register_fonts()
    name = data.patient.user.name
    period = f"{_day(data.first)} to {_day(data.last)}"
    width = LETTER[0] - 2 * MARGIN
    height = LETTER[1] - 2 * MARGIN - 0.3 * inch

    def local_time(instant: datetime) -> str:
        return _local_time(data, instant)

    story = [
        _p(f"Outcome report: {name}", "title"),
        _p(
            f"{period} ({(data.last - data.first).days + 1} days). Prepared {local_time(now)} for the care team. "
            f"Times are the patient's local time ({data.patient.user.timezone}).",
            "subtitle",
        ),
        _p("Confidential health information.", "subtitle"),
        _p("Summary", "h2"),
    ]
    summary_table = Table(
        [[_p(label, "head"), _p(text, "cell")] for label, text in summary_rows(data, summary)],
        colWidths=[2.3 * inch, width - 2.3 * inch],
        hAlign="LEFT",
    )
    summary_table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE)])
    )
    story.append(summary_table)

    story.append(_p("Open alerts", "h2"))
    if alerts:
        story.append(
            _table(
                ["Raised", "Priority", "What", "Reason"],
                [
                    [
                        local_time(a.created_at),
                        SEVERITY_LABELS.get(a.severity, a.severity),
                        KIND_LABELS.get(a.kind, a.kind),
                        a.reason,
                    ]
                    for a in alerts
                ],
                [1.45 * inch, 0.65 * inch, 1.7 * inch, width - 3.8 * inch],
            )
        )
    else:
        story.append(_p("No open alerts."))

    story.append(_p("Sessions", "h2"))
    shown = [s for s in data.sessions if data.local(s.start) >= data.first]
    if shown:
        story.append(
            _table(
                ["Date", "Status", "Route", "Product", "Dose", "BP before / after", "CADSS"],
                [
                    [
                        local_time(s.start),
                        STATUS_LABELS.get(s.status, str(s.status)),
                        ROUTES.get(s.route, s.route),
                        s.product,
                        f"{s.dose:g} {s.dose_unit}",
                        _blood_pressure(s),
                        "" if s.dissociation_score is None else str(s.dissociation_score),
                    ]
                    for s in shown
                ],
                [1.45 * inch, 0.65 * inch, 0.85 * inch, 1.2 * inch, 0.75 * inch, 1.3 * inch, width - 6.2 * inch],
            )
        )
    else:
        story.append(_p("No sessions in this period."))
    story += session_check_story(data, shown, width)

    daily = patient_data.daily_series(data)
    story += [
        PageBreak(),
        _p("Daily outcomes", "h2"),
        _chart(charts.outcomes_figure(daily), width, height - 1.2 * inch),
        _p(charts.outcomes_summary(daily), "caption"),
        PageBreak(),
    ]
    forms = chart_cache.assessment_series(data)  # a panel for each of the patient's questionnaires
    story.append(
        KeepTogether(
            [
                _p("Questionnaires", "h2"),
                _chart(charts.assessments_figure(forms), width, height * 0.5),
                _p(charts.assessments_summary(forms), "caption"),
            ]
        )
    )
    states = patient_data.adherence_by_day(data)
    story.append(
        KeepTogether(
            [
                _p("Diary adherence", "h2"),
                _chart(charts.adherence_figure(states, data.given_days), width, height * 0.3),
                _p(charts.adherence_summary(states), "caption"),
            ]
        )
    )
    story += days_story(data, width)
    # Last: page 1 (the summary, alerts and sessions) and the two pages of charts are full as they are.
    story += instruments_story(data, summary, width)

    return build_pdf(story, f"{name} · {period} · Confidential", "Outcome report", canvasmaker=_NumberedCanvas)


def build_pdf(story: list, footer_text: str, title: str, canvasmaker=Canvas) -> bytes:
    """A letter-size PDF of ``story`` with the footer on every page. The file's metadata names nobody (only its
    ``title``); the pages do."""

    def footer(canvas, _document) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(GREY)
        canvas.drawString(MARGIN, FOOTER_Y, footer_text)
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author="Journal",
        creator="Journal",
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer, canvasmaker=canvasmaker)
    return buffer.getvalue()


class _NumberedCanvas(Canvas):
    """Holds each page until the end, so that every footer can say "page 2 of 3" (a missing page shows)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._held: list[dict] = []

    def showPage(self):
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        for state in self._held:
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(GREY)
            self.drawRightString(LETTER[0] - MARGIN, FOOTER_Y, f"Page {self._pageNumber} of {len(self._held)}")
            super().showPage()
        super().save()


def instruments_story(data: PatientData, summary: dict, width: float) -> list:
    """Each questionnaire of the patient's indications in one compact table: its baseline (and who chose it), its
    latest form, and the change judged by its own rule, in the same sentences as the patient page."""

    def when(instant: datetime) -> str:
        return data.local(instant).strftime("%-d %b %Y")

    cut_point = data.patient.user.clinic.pcl5_cut_point
    rows = []
    for item in summary["instruments"]:
        lines = dict(patient_data.instrument_lines(item, when, cut_point))
        latest = lines.pop("Latest")
        if item["instrument"] == "pcl5" and item["latest"] is not None:
            # PCL-R7: both flags, labelled as on the page, with the cut-point in force.
            latest += (
                f"; {patient_data.PCL5_PATTERN_LABEL}: {lines[patient_data.PCL5_PATTERN_LABEL]}"
                f"; {patient_data.PCL5_CUT_POINT_LABEL}: {lines[patient_data.PCL5_CUT_POINT_LABEL]}"
            )
        if "Positive screen" in lines:
            latest += f"; positive screen: {lines['Positive screen']}"
        if "Note" in lines:  # AUDC-R6
            latest += f". {lines['Note']}"
        rows.append([item["name"], lines["Baseline"], latest, f"{lines['Change']}. {lines['Rule']}"])
    table = _table(
        ["Questionnaire", "Baseline", "Latest", "Change, by its own rule"],
        rows,
        [1.05 * inch, 1.8 * inch, 1.7 * inch, width - 4.55 * inch],
    )
    return [_p("Each questionnaire: baseline, latest and change", "h2"), table]


def session_check_story(data: PatientData, shown: list, width: float) -> list:
    """The post-session checks' answers (KET-R3) of the sessions in the report, one row per answered check."""
    checks = session_checks.checks_for_sessions(object_session(data.patient), [s.id for s in shown])
    rows = []
    for record in shown:
        for check in checks.get(record.id, []):
            if check.skipped:
                said = "Skipped."
            else:
                parts = [
                    f"{label} {value}/10{' (severe)' if value >= SEVERE_RATING else ''}"
                    for _i, label, value in check.ratings
                ]
                if check.drove is not None:
                    parts.insert(0, "DROVE on the day of the session" if check.drove else "Did not drive")
                said = "; ".join(parts) or "No ratings given."
            rows.append([_local_time(data, record.start), check.label, _local_time(data, check.completed_at), said])
    if not rows:
        return []
    return [
        _p("Checks after sessions", "h2"),
        _table(
            ["Session", "Check", "Answered", "Answers"],
            rows,
            [1.45 * inch, 1.15 * inch, 1.45 * inch, width - 4.05 * inch],
        ),
    ]


def days_story(data: PatientData, width: float) -> list:
    """The last 30 days, one row each, most recent first, as on the patient's page; notes whole (paper has no day
    page). A missing day is shown as missing, never as zero."""
    rows = []
    for day in diary.last_days(data):
        if day.missing:
            rows.append([_day(day.day), "No check-in", "", "", "", "", ""])
            continue
        c = day.checkin
        use = "; ".join(_use_text(s) for s in day.substances)
        sleep = f"{c.sleep.tst_min / 60:.1f} h, {day.sleep_quality.lower()}" if c.sleep is not None else "–"
        urinary = "Not asked" if day.urinary is None else ", ".join(day.urinary) or "None"
        rows.append(
            [
                _day(day.day),
                f"Mood {c.mood}" + (f"; pain {c.pain}" if c.pain is not None else ""),
                use or "–",
                sleep,
                f"{', '.join(day.side_effects) or 'None'}; urinary: {urinary}",
                c.note or "–",
                day.entry,
            ]
        )
    return [
        PageBreak(),
        _p(f"Last {len(rows)} days", "h2"),
        _p("Most recent first, in the patient's own dates. Use is about the day of the check-in.", "caption"),
        _table(
            ["Day", "Mood, pain", "Craving and use", "Sleep", "Side effects, urinary", "Note", "Entered"],
            rows,
            [0.6 * inch, 0.65 * inch, 1.3 * inch, 0.75 * inch, 1.3 * inch, width - 5.6 * inch, 1.0 * inch],
        ),
    ]


def _use_text(substance: diary.SubstanceDay) -> str:
    craving = substance.craving if substance.craving is not None else "–"
    if substance.used is None:
        use = "use not answered"
    elif substance.used:
        use = f"used ({substance.amount})" if substance.amount else "used"
    else:
        use = "not used"
    return f"{substance.name}: craving {craving}, {use}"


def _blood_pressure(session) -> str:
    def reading(systolic, diastolic, rate) -> str:
        if systolic is None or diastolic is None:
            return "–"
        return f"{systolic}/{diastolic}" + (f", {rate}/min" if rate is not None else "")

    pre = reading(session.bp_systolic_pre, session.bp_diastolic_pre, session.heart_rate_pre)
    post = reading(session.bp_systolic_post, session.bp_diastolic_post, session.heart_rate_post)
    return "" if pre == post == "–" else f"{pre} / {post}"
