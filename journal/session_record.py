"""The printable record of one dosing session (SPEC 7.4, KET-R8): a single page holding every field of the esketamine
REMS Patient Monitoring Form that the journal stores, so the clinic can complete the form (the journal does not
submit it) or file the page, without a second chart.

No Flask. Drawn with ReportLab as the visit report is (``report.py``: its fonts, styles and paragraph helper). The
content is set inside one frame that shrinks it if it would not fit, so the record is one page whatever its text.
Each field the journal stores but that is empty for the session says "Not recorded" and is listed again at the end,
beside the form's fields the journal has no place for: a blank never passes for a reading, nor a gap for a "no".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape  # nosec B406 # escapes text for ReportLab's markup; parses no XML
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import KeepInFrame, Paragraph, Table, TableStyle

from .models import ROUTES, DosingSession, Patient, SessionStatus, User
from .people import SEXES
from .report import BOLD, FONT, GREY, RULE, STATUS_LABELS, _p, _register_fonts, build_pdf
from .vitals import CONCOMITANT_CLASSES, SEDATION_SCALE, concomitant_answers, observed_minutes, vitals_warnings

NOT_RECORDED = "Not recorded"
NOT_STORED = "Not stored in the journal"
LABEL_WIDTH = 2.9 * inch
SECTION = ParagraphStyle("section", fontName=BOLD, fontSize=9.5, leading=12)
CELL = ParagraphStyle("record-cell", fontName=FONT, fontSize=8.5, leading=10)
EMPTY = ParagraphStyle("record-empty", parent=CELL, textColor=GREY)  # "Not recorded" stands back from readings
MARGIN = 0.5 * inch  # narrower than the report's: the record is held to one page
FRAME_PADDING = 6  # ReportLab's default frame padding, on each side


@dataclass(frozen=True)
class RecordContext:
    """What the record says besides the session itself: who it is about, who wrote and who asked for it."""

    patient: Patient
    first_given: bool  # no given session of this patient starts before this one
    monitored_by: User | None
    entered_by: User | None
    last_writer: User | None
    clinic_name: str
    clinic_phone: str
    viewer: User


@dataclass(frozen=True)
class Row:
    label: str
    value: str | None  # None: empty for this session


# The form's fields the journal has no place for (SPEC 7.4, by the form's item numbers): the page names them, so the
# clinic knows to take them from its own chart.
NOT_STORED_FIELDS = (
    "the monitoring provider's telephone and the setting's address (3)",
    "whether the vital signs were in an acceptable range before administration and before completion (7)",
    "the form's own answer on sedation, dissociation and respiratory depression (9): the readings here inform it",
)


def _reading(
    systolic: int | None, diastolic: int | None, rate: int | None = None, spo2: int | None = None, spo2_at: str = ""
):
    parts = []
    if systolic is not None:
        parts.append(f"{systolic}/{diastolic} mmHg")
    if rate is not None:
        parts.append(f"heart rate {rate}/min")
    if spo2 is not None:
        parts.append(f"SpO2 {spo2} %{spo2_at}")
    return ", ".join(parts) or None


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else "Yes" if value else "No"


def _person(user: User | None) -> str | None:
    return None if user is None else f"{user.name} ({user.email})"


def sections(record: DosingSession, context: RecordContext, zone: ZoneInfo) -> list[tuple[str, list[Row]]]:
    """The record's sections, in the REMS form's order (SPEC 7.4, items 1-9), then the journey home. A reading's
    time is on the patient's clock, with its date when it is not the day the session started."""

    def local(instant: datetime | None) -> str | None:
        return None if instant is None else instant.astimezone(zone).strftime("%-d %b %Y, %H:%M %Z")

    def at(instant: datetime | None) -> str:
        """A reading's time as ' at 10:40' (with its date when it is not the day of the start); '' if none."""
        if instant is None:
            return ""
        moment = instant.astimezone(zone)
        same_day = moment.date() == record.start.astimezone(zone).date()
        return f" at {moment.strftime('%H:%M' if same_day else '%-d %b %Y, %H:%M')}"

    dose = f"{record.dose:g} {record.dose_unit}"
    if record.dose_unit == "mg" and record.dose_mg_per_kg is not None:
        dose += f" ({record.dose_mg_per_kg:g} mg/kg at {record.weight_kg:g} kg)"
    minutes = observed_minutes(record)
    duration = None
    if minutes is not None:
        source = "as recorded" if record.observation_minutes is not None else "from the start to discharge"
        duration = f"{minutes} minutes ({source})"
    sedation = None
    if record.sedation is not None:
        sedation = f"MOAA/S {record.sedation}: {SEDATION_SCALE.get(record.sedation, '')}{at(record.sedation_at)}"
    born = context.patient.birth_date
    classes = concomitant_answers(record.concomitant_classes)
    writer = context.last_writer
    changed = None if writer is None or context.entered_by is None or writer.id == context.entered_by.id else writer
    return [
        (
            "1. Patient",
            [
                Row("Name", context.patient.user.name),
                Row("Birth date", None if born is None else born.strftime("%-d %b %Y")),
                Row("Sex", SEXES.get(context.patient.sex) if context.patient.sex != "unknown" else None),
                Row("First given session recorded in the journal", "Yes" if context.first_given else "No"),
                Row("Enrolled in the REMS", _yes_no(context.patient.rems_enrolled)),
            ],
        ),
        (
            "2. Concomitant medication (may cause sedation or blood-pressure changes)",
            [
                *(Row(name, _yes_no(classes[key])) for key, name in CONCOMITANT_CLASSES.items()),
                Row("Medication relevant to the session", record.concomitant_medication or None),
            ],
        ),
        (
            "3. Monitoring",
            [
                Row("Healthcare provider conducting the monitoring", _person(context.monitored_by)),
                Row("Recorded in the journal by", _person(context.entered_by)),
                *([Row("Last changed by", _person(changed))] if changed is not None else []),
                Row(
                    "Healthcare setting",
                    f"{context.clinic_name} ({'at home' if record.setting == 'home' else 'clinic'})",
                ),
                Row("Setting telephone", context.clinic_phone or None),
            ],
        ),
        (
            "4. Treatment",
            [
                Row("Treatment date and start", local(record.start)),
                Row("Status", STATUS_LABELS.get(record.status, str(record.status))),
                Row("Product and route", f"{record.product}, {ROUTES.get(record.route, record.route)}"),
                Row("Dose administered", dose),
                Row("Lot number", record.lot_number or None),
            ],
        ),
        (
            "5-6. Duration and discharge",
            [
                Row("Treatment duration (start of dosing to end of monitoring)", duration),
                Row("Discharge", local(record.discharge_at)),
                Row(
                    "Would have been ready to leave without the 2-hour minimum",
                    None
                    if record.ready_to_leave_minutes is None
                    else f"{record.ready_to_leave_minutes} minutes after the start of dosing",
                ),
            ],
        ),
        (
            "7-8. Vital signs",
            [
                Row(
                    "Before administration",
                    _reading(
                        record.bp_systolic_pre,
                        record.bp_diastolic_pre,
                        record.heart_rate_pre,
                        record.spo2_pre,
                        at(record.spo2_pre_at),
                    ),
                ),
                Row(
                    "About 40 minutes after administration",
                    _reading(record.bp_systolic_post, record.bp_diastolic_post, record.heart_rate_post),
                ),
                Row(
                    "Before completion of the session",
                    _reading(record.bp_systolic_discharge, record.bp_diastolic_discharge, record.heart_rate_discharge),
                ),
            ],
        ),
        (
            "9. Sedation, dissociation, respiration",
            [
                Row("Sedation at discharge", sedation),
                Row(
                    "Dissociation (CADSS total, about 40 minutes)",
                    None if record.dissociation_score is None else str(record.dissociation_score),
                ),
                Row(
                    "Lowest SpO2 after dosing",
                    None if record.spo2_post is None else f"{record.spo2_post} %{at(record.spo2_post_at)}",
                ),
            ],
        ),
        (
            "Going home",
            [
                Row("Transport home arranged (checked before dosing)", _yes_no(record.transport_arranged)),
                Row("Who took the patient home", record.escort or None),
            ],
        ),
    ]


def empty_fields(parts: list[tuple[str, list[Row]]]) -> list[str]:
    """The labels of the fields left empty."""
    return [row.label for _title, rows in parts for row in rows if row.value is None]


def build(record: DosingSession, context: RecordContext, now: datetime) -> bytes:
    """The session record as the bytes of a one-page PDF."""
    _register_fonts()
    patient = context.patient
    zone = ZoneInfo(patient.user.timezone)
    width = LETTER[0] - 2 * MARGIN - 2 * FRAME_PADDING
    height = LETTER[1] - 2 * MARGIN - 2 * FRAME_PADDING
    parts = sections(record, context, zone)
    story = [
        _p(f"Session record: {patient.user.name}", "title"),
        _p(
            f"Prepared {now.astimezone(zone).strftime('%-d %b %Y, %H:%M %Z')} by {context.viewer.name}. Times are the "
            f"patient's local time ({patient.user.timezone}). The fields of the esketamine REMS Patient Monitoring "
            "Form, in its order, as far as the journal stores them; the journal does not submit the form. "
            "Confidential health information, for the care team.",
            "subtitle",
        ),
    ]
    story.append(_facts(parts, width))
    warnings = vitals_warnings(record)
    story.append(_p("Measures to look at again", "h2"))
    story += [_p(f"• {w['message']}") for w in warnings] or [_p("None.")]
    empty = empty_fields(parts)
    story.append(_p("Empty fields", "h2"))
    story.append(_p(f"{NOT_RECORDED}: " + ("; ".join(empty) + "." if empty else "none.")))
    story.append(_p(f"{NOT_STORED} (take them from the clinic's own chart): " + "; ".join(NOT_STORED_FIELDS) + "."))

    # One page, always: what would not fit is drawn smaller rather than flowing onto a second page.
    return build_pdf(
        [KeepInFrame(width, height, story, mode="shrink")],
        f"{patient.user.name} · Session record · Confidential",
        "Session record",
    )


def _facts(parts: list[tuple[str, list[Row]]], width: float) -> Table:
    """The sections as one table: a heading row across both columns, then a row per field."""
    cells, style = [], []
    for title, rows in parts:
        style += [
            ("SPAN", (0, len(cells)), (1, len(cells))),
            ("LINEBELOW", (0, len(cells)), (1, len(cells)), 0.8, colors.black),
            ("TOPPADDING", (0, len(cells)), (1, len(cells)), 5),
        ]
        cells.append([Paragraph(escape(title), SECTION), ""])
        for row in rows:
            value = NOT_RECORDED if row.value is None else row.value
            cells.append([_p(row.label, "head"), Paragraph(escape(value), EMPTY if row.value is None else CELL)])
            style.append(("LINEBELOW", (0, len(cells) - 1), (1, len(cells) - 1), 0.4, RULE))
    table = Table(cells, colWidths=[LABEL_WIDTH, width - LABEL_WIDTH], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                *style,
            ]
        )
    )
    return table


def first_given(sessions: list[DosingSession], record: DosingSession) -> bool:
    """Whether no given session of the patient starts before ``record`` (sessions: the patient's, any order)."""
    return not any(
        s.status == SessionStatus.GIVEN and (s.start, s.id) < (record.start, record.id) and s.id != record.id
        for s in sessions
    )
