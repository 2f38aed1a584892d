"""A patient's charts (PNG or SVG, cached by data version, with ETags) and summary, for their clinicians."""

from __future__ import annotations

from flask import Response, current_app, request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from .. import audit, chart_cache, patient_data
from ..access import get_patient_or_404, patient_in_path_required
from ..db import db, utcnow
from ..models import Role
from ..schemas import StrictSchema
from ..security import roles_required, talisman

blp = Blueprint(
    "api_charts", __name__, url_prefix="/api/v1/patients", description="A patient's charts and outcome summary"
)

# Health data: no browser, proxy or service worker keeps a copy. A client that keeps one itself may still send the
# ETag in If-None-Match and get a 304 without the chart being drawn again.
CHART_CACHE_CONTROL = "private, no-store"
# matplotlib's SVG draws with inline styles, which the site-wide policy refuses when a chart is opened on its
# own. A chart has its own policy: inline styles, and nothing else at all (no script, no fetch, no frame).
CHART_POLICY = {"default-src": "'none'", "style-src": "'unsafe-inline'", "frame-ancestors": "'none'"}
chart_policy = talisman(content_security_policy=CHART_POLICY)


class ChartQuerySchema(StrictSchema):
    days = fields.Integer(
        load_default=chart_cache.DEFAULT_DAYS,
        validate=validate.OneOf(
            chart_cache.RANGES, error=f"Give one of {', '.join(map(str, chart_cache.RANGES))} days."
        ),
        metadata={"description": "How many days the chart covers, ending today in the patient's zone."},
    )


class LatestScoreSchema(Schema):
    total = fields.Integer(required=True)
    band = fields.String(required=True, metadata={"description": "minimal, mild, moderate, ... (SPEC 1.3, 2.3)"})
    completed_at = fields.AwareDateTime(required=True)
    change_from_baseline = fields.Integer(allow_none=True, required=True)


class DurabilitySchema(Schema):
    session = fields.Date(required=True, metadata={"description": "The session's local date."})
    days = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Days until the 7-day mean mood fell back to its level before the session."},
    )
    censored = fields.Boolean(
        required=True, metadata={"description": "The next session or today came first: it lasted at least ..."}
    )
    at_least_days = fields.Integer(allow_none=True, required=True)


class SubstanceSummarySchema(Schema):
    """One tracked substance over the summary's period (SUD-R3). A day counts only when it has a report of this
    substance: ``pda`` = (reported_days - use_days) / reported_days x 100."""

    substance = fields.String(required=True, metadata={"description": "The substance's code, e.g. alcohol."})
    pda = fields.Float(allow_none=True, required=True, metadata={"description": "Percent days abstinent."})
    use_days = fields.Integer(required=True)
    reported_days = fields.Integer(required=True, metadata={"description": "The denominator."})
    heavy_drinking_days = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Alcohol only: days with at least the threshold of standard drinks."},
    )
    heavy_drinking_threshold = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Drinks a day; sex is not recorded yet, so the lower (female) threshold of 4."},
    )
    amount_days = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "Alcohol only: use days whose amount was a number of drinks (others not counted)."},
    )


class BaselineSummarySchema(Schema):
    """One instrument's baseline (PHQ-R9): who chose it (the rule or a clinician), or why there is none."""

    instrument = fields.String(required=True)
    assessment_id = fields.Integer(allow_none=True, required=True)
    total = fields.Integer(allow_none=True, required=True)
    completed_at = fields.AwareDateTime(allow_none=True, required=True)
    chosen_by = fields.String(allow_none=True, required=True, metadata={"description": "rule | clinician"})
    chosen_by_name = fields.String(allow_none=True, required=True)
    chosen_at = fields.AwareDateTime(allow_none=True, required=True)
    first_session = fields.AwareDateTime(
        allow_none=True,
        required=True,
        metadata={"description": "Start of the course's first given session, which the 14 days count back from."},
    )
    missing = fields.String(
        allow_none=True, required=True, metadata={"description": "no_given_session | no_form_in_window | not_chosen"}
    )
    note = fields.String(allow_none=True, required=True)
    score = fields.Float(metadata={"description": "PEG only: the baseline's mean of the three items, one decimal."})


class InstrumentFormSchema(Schema):
    """An instrument's latest scored form: its total and what the instrument reports beyond it (SPEC's names)."""

    assessment_id = fields.Integer(required=True)
    total = fields.Integer(
        required=True, metadata={"description": "The sum of the items (PEG: ``peg_sum``, 0-30, which decides)."}
    )
    band = fields.String(allow_none=True, required=True, metadata={"description": "PHQ and GAD-7 only."})
    completed_at = fields.AwareDateTime(required=True)
    clusters = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "PCL-5: B, C, D and E subtotals"}
    )
    provisional_ptsd = fields.Boolean(metadata={"description": "PCL-5: the provisional DSM-5 symptom pattern"})
    probable_ptsd = fields.Boolean(metadata={"description": "PCL-5: total at or above the screening cut-point"})
    cut_point = fields.Integer(metadata={"description": "PCL-5: the cut-point in force when it was scored"})
    score = fields.Float(metadata={"description": "PEG: the mean of the three items, one decimal (0.0-10.0)"})
    peg_sum = fields.Integer(metadata={"description": "PEG: the sum of the three items (0-30)"})
    positive = fields.Boolean(metadata={"description": "AUDIT-C: a positive screen at the threshold used"})
    threshold = fields.Integer(metadata={"description": "AUDIT-C: 4 for men, 3 for women and when not recorded"})
    threshold_basis = fields.String(metadata={"description": "AUDIT-C: male, female or default-lower"})
    skipped = fields.Boolean(metadata={"description": "AUDIT-C: items 2 and 3 not asked after Never (stored as 0)"})
    all_points_from_item1 = fields.Boolean(metadata={"description": "AUDIT-C: every point from item 1 (AUDC-R6)"})


class InstrumentFlagsSchema(Schema):
    """The instrument's own change flags against the baseline; only its own keys are present."""

    pcl_response = fields.Boolean(metadata={"description": "PCL-5: at least 5 points below baseline"})
    pcl_clinically_meaningful = fields.Boolean(metadata={"description": "PCL-5: at least 10 points below baseline"})
    worsening = fields.Boolean(metadata={"description": "PCL-5: at least 5 points above baseline"})
    peg_improved_30 = fields.Boolean(
        allow_none=True, metadata={"description": "PEG: at least 30 % below baseline (null for a baseline of 0)"}
    )
    peg_pct_reduction = fields.Float(allow_none=True, metadata={"description": "PEG: % below baseline, display only"})
    mid_change = fields.Boolean(metadata={"description": "PEG: 1.0 point of the mean from baseline (an MID estimate)"})


class InstrumentSummarySchema(Schema):
    """One of the questionnaires the patient's indications call for: its baseline, latest form, the change between
    them and the instrument's own rule. Change and its judgement are null until a scored form follows the
    baseline."""

    instrument = fields.String(
        required=True, metadata={"description": "phq9 | phq8 | gad7 | pcl5 | peg | pacs | auditc"}
    )
    name = fields.String(required=True)
    baseline = fields.Nested(BaselineSummarySchema, required=True)
    baseline_missing = fields.Boolean(required=True)
    baseline_missing_reason = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "no_given_session | no_form_in_window | not_chosen; null with a baseline"},
    )
    latest = fields.Nested(InstrumentFormSchema, allow_none=True, required=True)
    change = fields.Integer(
        allow_none=True, required=True, metadata={"description": "latest - baseline (negative is lower)"}
    )
    response = fields.Boolean(
        allow_none=True,
        required=True,
        metadata={
            "description": "PHQ-9/PHQ-8: 2 x latest <= baseline; PCL-5: 5 points lower; PEG: 30 % lower; "
            "null where the instrument defines none (GAD-7, PACS, AUDIT-C) or before a form follows the baseline."
        },
    )
    remission = fields.Boolean(allow_none=True, required=True, metadata={"description": "PHQ-9/PHQ-8: under 5."})
    pct_reduction = fields.Float(allow_none=True, required=True, metadata={"description": "PHQ-9/PHQ-8, display."})
    baseline_below_usual = fields.Boolean(
        required=True, metadata={"description": "PHQ-9/PHQ-8: a baseline under 10 (SPEC 1.6)."}
    )
    flags = fields.Nested(InstrumentFlagsSchema, required=True)
    rule = fields.String(
        required=True, metadata={"description": "response_remission | pcl5_points | peg_30_percent | none"}
    )
    change_rule = fields.String(required=True, metadata={"description": "The rule in words, for legends."})


class PainChangeSchema(Schema):
    """PAIN-R2: mean daily pain in the week before the first session of the course and in the latest week (each
    needs 3 rated days), and the decrease with its IMMPACT level."""

    before_mean = fields.Float(allow_none=True, required=True)
    before_days = fields.Integer(required=True)
    latest_mean = fields.Float(allow_none=True, required=True)
    latest_days = fields.Integer(required=True)
    pct_decrease = fields.Float(allow_none=True, required=True, metadata={"description": "Negative: an increase."})
    flag = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "minimal (10 % or more) | moderate (30 % or more) | substantial (50 % or more)"},
    )


class PatientSummarySchema(Schema):
    """GET /patients/{id}/summary. Response is a total at least 50 % below ``baseline_total`` (2 x latest <=
    baseline), remission a total under 5 (PHQ-R9); both are null until a form follows the baseline. They read the
    clinic's depression questionnaire, ``depression_instrument``: the PHQ-9, or the PHQ-8 where the clinic chose it
    (SAFE-R4, same cut-points)."""

    patient_id = fields.Integer(required=True)
    adherence_pct = fields.Float(allow_none=True, required=True, metadata={"description": "Last 14 days (EMA-R4)."})
    adherence_on_time = fields.Integer(required=True)
    adherence_backfilled = fields.Integer(required=True)
    adherence_scheduled = fields.Integer(required=True)
    depression_instrument = fields.String(
        required=True, metadata={"description": "phq9, or phq8 where the clinic chose it (SAFE-R4)."}
    )
    depression = fields.Nested(
        LatestScoreSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The latest form of depression_instrument."},
    )
    phq9 = fields.Nested(
        LatestScoreSchema, allow_none=True, required=True, metadata={"description": "The latest PHQ-9 form."}
    )
    gad7 = fields.Nested(LatestScoreSchema, allow_none=True, required=True)
    baseline_total = fields.Integer(
        allow_none=True, required=True, metadata={"description": "The baseline of depression_instrument."}
    )
    baseline_missing = fields.Boolean(
        required=True, metadata={"description": "depression_instrument has no baseline (PHQ-R9)."}
    )
    baselines = fields.List(fields.Nested(BaselineSummarySchema), required=True)
    instruments = fields.List(
        fields.Nested(InstrumentSummarySchema),
        required=True,
        metadata={"description": "Per questionnaire of the patient's indications: baseline, latest, change, rule."},
    )
    response = fields.Boolean(allow_none=True, required=True)
    remission = fields.Boolean(allow_none=True, required=True)
    pct_reduction = fields.Float(allow_none=True, required=True)
    baseline_below_usual = fields.Boolean(
        required=True, metadata={"description": "Baseline under 10: outside the usual definitions (SPEC 1.6)."}
    )
    consider_booster_review = fields.Boolean(required=True, metadata={"description": "KET-R2"})
    booster_reasons = fields.List(fields.String(), required=True)
    days_since_last_session = fields.Integer(allow_none=True, required=True)
    next_session = fields.AwareDateTime(allow_none=True, required=True)
    percent_days_abstinent = fields.Float(allow_none=True, required=True, metadata={"description": "SUD-R3"})
    abstinence_reported_days = fields.Integer(
        required=True, metadata={"description": "The denominator: days with a valid report."}
    )
    durability = fields.List(fields.Nested(DurabilitySchema), required=True)
    pain = fields.Nested(
        PainChangeSchema, allow_none=True, required=True, metadata={"description": "Null unless pain is tracked."}
    )
    substances = fields.List(
        fields.Nested(SubstanceSummarySchema),
        required=True,
        metadata={"description": "Per tracked substance: percent days abstinent and heavy drinking days (SUD-R3)."},
    )


def chart_response(patient_id: int, name: str, fmt: str, days: int = chart_cache.DEFAULT_DAYS) -> Response:
    """The chart for the API and the clinician's page alike: 304 when the client's ETag is current (without
    rendering or reading the cache), otherwise the cached or freshly drawn bytes. One audit row either way."""
    now = utcnow()
    patient = get_patient_or_404(current_user, patient_id, action=None)
    key = chart_cache.key_for(patient, name, fmt, days, now)
    audit.record(current_user, "chart.read", patient_id, detail=f"{name}.{fmt}, {days} days")
    db.session.commit()
    if request.if_none_match.contains_weak(key.etag):
        response = current_app.response_class(status=304)
        del response.headers["Content-Type"]
    else:
        content = chart_cache.get_or_render(db.session, patient, key, now)
        response = current_app.response_class(content, mimetype=key.mimetype)
    response.set_etag(key.etag)
    response.headers["Cache-Control"] = CHART_CACHE_CONTROL
    return response


IMAGE = {"schema": {"type": "string", "format": "binary"}}


@blp.route("/<id:patient_id>/charts/<any(outcomes,assessments,adherence):name>.<any(png,svg):fmt>", methods=["GET"])
@roles_required(Role.CLINICIAN)
@patient_in_path_required
@blp.arguments(ChartQuerySchema, location="query", unknown=RAISE)
@blp.doc(
    responses={
        "200": {"description": "The chart", "content": {"image/png": IMAGE, "image/svg+xml": IMAGE}},
        "304": {"description": "Not modified: the ETag in If-None-Match is still current."},
    }
)
@chart_policy
def get_chart(args, patient_id: int, name: str, fmt: str):
    """A chart of the patient's data, every outcome drawn against the dosing sessions (KET-R1), each axis
    saying which way is better (GEN-R1): ``outcomes`` (mood, craving, sleep, pain), ``assessments`` (a panel
    for each questionnaire of the patient's indications, over its bands or cut-points, with its baseline and the
    lines of its change rule) or ``adherence`` (diary days).

    Served with an ETag and ``Cache-Control: private, no-store``: send ``If-None-Match`` to get 304 while
    nothing in the patient's data has changed."""
    return chart_response(patient_id, name, fmt, args["days"])


@blp.route("/<id:patient_id>/summary", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.response(200, PatientSummarySchema)
def get_summary(patient_id: int):
    """Adherence, the latest PHQ-9 and GAD-7 with their change from baseline, response and remission against
    the stored PHQ-9 baseline (PHQ-R9), each questionnaire of the patient's indications with its baseline,
    latest form, change and its own rule (``instruments``: PCL-R8, PEG-R4), the booster-review flag (KET-R2),
    percent days abstinent with its denominator (SUD-R3) and how long each session's effect lasted."""
    patient = get_patient_or_404(current_user, patient_id, action="summary.read")
    now = utcnow()
    return patient_data.summary(patient_data.load(db.session, patient, now), now)
