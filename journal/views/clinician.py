"""Clinicians' pages: their patients, enrolment, care teams, questionnaires, sessions, charts and the alerts
inbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import aliased

from .. import audit, chart_cache, dashboard, diary, instruments, patient_data, scoring, session_checks
from ..access import get_alert_or_404, get_patient_or_404, open_alerts_for, patient_list
from ..accounts import EnrolmentError, PatientDetails, create_invitation, enrol_patient, request_password_reset
from ..alerts import KIND_LABELS, AlertError, RecentData, SessionsAround, acknowledge, recent_data, sessions_around
from ..api.charts import chart_policy, chart_response
from ..api.sessions import record_response
from ..assessments import AssessmentError, Change, history, set_baseline, submit
from ..db import commit_retrying_on_conflict, db, utcnow
from ..links import invitation_url
from ..models import (
    DOSE_UNITS,
    ROUTES,
    SUBSTANCES,
    Alert,
    Assessment,
    CareTeamMember,
    DosingSession,
    EntrySource,
    Patient,
    Role,
    User,
)
from ..people import (
    SEXES,
    DetailsError,
    enrolment_programme,
    everyone_questionnaires,
    indication_effects,
    start_indications,
)
from ..questionnaires import ANSWERS, DIFFICULTY_ANSWERS, DIFFICULTY_QUESTION
from ..schemas import (
    AcknowledgeSchema,
    AssessmentSchema,
    BaselineSchema,
    CareTeamAddSchema,
    DosingSessionSchema,
    PatientEnrolmentSchema,
    flat_errors,
    form_input,
    iana_zones,
)
from ..scoring import BAND_LABELS
from ..security import roles_required
from ..sessions import (
    SessionChanged,
    SessionError,
    audit_detail,
    check_version,
    last_writer,
    save_session,
    session_version,
)
from ..vitals import CONCOMITANT_CLASSES, SEDATION_SCALE, concomitant_answers, vitals_warnings
from . import describe_wait, local_time
from .people import phone_errors

bp = Blueprint("clinician", __name__, url_prefix="/clinician")

INBOX_LIMIT = 500
INSTRUMENT_NAMES = {key: definition.name for key, definition in instruments.ALL.items()}
SEVERITY_LABELS = {"high": "High priority", "medium": "Medium priority", "low": "Low priority"}
SOURCE_LABELS = {EntrySource.PATIENT: "Patient, in the app", EntrySource.CLINICIAN: "Paper, entered by staff"}
USUAL_BASELINE = 10  # SPEC 1.6: response and remission are usually measured from a PHQ-9 baseline of 10 or more


# --- Shared helpers ---------------------------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_user.timezone)


# --- Patients ---------------------------------------------------------------------------------------------------


@bp.get("/patients")
@roles_required(Role.CLINICIAN)
def patients():
    # Audited first: a commit expires loaded rows, and rendering expired rows would query once per patient.
    audit.record(current_user, "patient.list")
    db.session.commit()
    search = dashboard.read_search(request.args.get("q"))
    rows = db.session.scalars(dashboard.matching(patient_list(current_user), search)).all()
    alerts = db.session.scalars(open_alerts_for(current_user)).all()
    # Named whether or not the search matched them: the open alerts are listed above the search.
    alerted = {alert.patient_id for alert in alerts}
    names = {id_: name for id_, name in db.session.execute(select(User.id, User.name).where(User.id.in_(alerted)))}
    return render_template(
        "clinician/patients.html",
        patients=rows,
        search=search,
        search_action=url_for("clinician.patients"),
        search_count=len(rows),
        alerts=alerts,
        names=names,
        kind_labels=KIND_LABELS,
        severity_labels=SEVERITY_LABELS,
        local_time=local_time,
        zone=_zone(),
    )


@bp.route("/patients/new", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def enrol():
    errors: dict = {}
    values = request.form
    if request.method == "POST":
        schema = PatientEnrolmentSchema()
        raw = form_input(schema, request.form)
        try:
            data = enrolment_programme(schema.load(raw), utcnow())
            # A simultaneous enrolment of the same e-mail that commits first makes this one a sequential duplicate.
            patient, token = commit_retrying_on_conflict(db.session, lambda: _enrol(data))
        except ValidationError as error:  # the numbers checked too, so that every problem shows at once
            errors = {**phone_errors(raw, error.messages, current_user.timezone), **flat_errors(error.messages)}
        except DetailsError as error:  # a number that cannot be called, an indication without its daily item
            errors = {field: [message] for field, message in error.errors.items()}
        except EnrolmentError as error:
            db.session.rollback()
            errors = {field: [message] for field, message in error.errors.items()}  # every number refused at once
        else:
            return _show_invitation(patient, token, f"{patient.name} is enrolled")
    return render_template(
        "clinician/enrol.html",
        errors=errors,
        values=values,
        substances=SUBSTANCES,
        sexes=SEXES,
        indications=indication_effects(current_user.clinic),
        everyone=everyone_questionnaires(current_user.clinic),
        zones=sorted(iana_zones()),
        default_zone=current_user.timezone,
    ), 400 if errors else 200


def _enrol(data: dict) -> tuple[User, str]:
    """Enrol the patient on the clinician's care team, audited; the patient and their raw invitation token."""
    data = dict(data)
    indications = data.pop("indications")
    patient, token = enrol_patient(
        db.session, current_user, PatientDetails(**data), utcnow(), current_app.config["INVITATION_DAYS"]
    )
    start_indications(db.session, patient.patient, indications)
    audit.record(current_user, "patient.create", patient.id)
    audit.record(current_user, "invitation.create", patient.id)
    return patient, token


def _show_invitation(patient: User, token: str, heading: str):
    """The new link, shown in the answer to the POST that made it and nowhere else: never kept in the session
    cookie, and only its hash is stored."""
    return render_template(
        "invitation_link.html",
        heading=heading,
        account=patient,
        url=invitation_url(token),
        back_url=url_for("clinician.patient", patient_id=patient.id),
        back_label=f"Open {patient.name}'s page",
    )


@bp.get("/patients/<id:patient_id>")
@roles_required(Role.CLINICIAN)
def patient(patient_id: int):
    return _render_patient(get_patient_or_404(current_user, patient_id))


@bp.get("/patients/<id:patient_id>/days/<day>")
@roles_required(Role.CLINICIAN)
def patient_day(patient_id: int, day: str):
    """One day of the patient's whole: every answer and the full note. Opening it marks the note seen."""
    try:
        local_date = date.fromisoformat(day)
    except ValueError:
        abort(404)
    patient = get_patient_or_404(current_user, patient_id, detail=f"day {local_date.isoformat()}")
    record = diary.one_day(db.session, patient, local_date)
    if record.checkin is not None and diary.mark_seen(db.session, current_user, [record.checkin], utcnow()):
        db.session.commit()
    return render_template(
        "clinician/day.html", patient=patient, record=record, sleep_format=_minutes, local_time=local_time, zone=_zone()
    )


def _minutes(minutes: int) -> str:
    return f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass(frozen=True)
class QuestionnaireRow:
    """One form in the patient's questionnaire table, with what the table says about it."""

    form: Assessment
    change: Change
    after_baseline: bool  # response is measured only for forms after the baseline


def _questionnaire_rows(patient_id: int) -> tuple[list[QuestionnaireRow], dict[str, Assessment]]:
    annotated = history(db.session, patient_id)
    baselines = {form.instrument: form for form, change in annotated if change.is_baseline}
    rows = []
    for form, change in annotated:
        base = baselines.get(form.instrument)
        after = base is not None and (form.completed_at, form.id) > (base.completed_at, base.id)
        rows.append(QuestionnaireRow(form, change, after))
    return rows, baselines


def _render_patient(
    patient: Patient,
    *,
    errors: dict | None = None,
    session_form: dict | None = None,
    session_errors: dict | None = None,
    status: int = 200,
):
    colleagues = db.session.scalars(
        select(User)
        .where(User.clinic_id == current_user.clinic_id, User.role == Role.CLINICIAN, User.disabled_at.is_(None))
        .where(User.id.not_in([c.id for c in patient.clinicians]))
        .order_by(User.name)
    ).all()
    alerts = db.session.scalars(open_alerts_for(current_user).where(Alert.patient_id == patient.user_id)).all()
    rows, baselines = _questionnaire_rows(patient.user_id)
    now = utcnow()
    chart_days = chart_cache.parse_days(request.args.get("days"))  # the range chooser's choice
    if chart_days is None:
        abort(400)
    data = patient_data.load(db.session, patient, now, chart_days)
    summary = patient_data.summary(data, now)
    zone = _zone()

    def when(instant: datetime) -> str:
        return instant.astimezone(zone).strftime("%-d %b %Y")

    cut_point = patient.user.clinic.pcl5_cut_point
    return render_template(
        "clinician/patient.html",
        patient=patient,
        summary=summary,
        # Each questionnaire of the patient's indications, in words: the same sentences as the report's.
        instrument_cards=[
            (item, patient_data.baseline_text(item, when), patient_data.instrument_lines(item, when, cut_point))
            for item in summary["instruments"]
        ],
        paper_instruments=instruments.offered_to(patient.user.clinic),
        charts=chart_cache.describe(data),
        days=diary.last_days(data),
        chart_days=chart_days,
        chart_ranges=chart_cache.RANGES,
        chart_first=data.first,
        sessions=list(reversed(data.sessions)),
        session_checks=session_checks.checks_for_sessions(db.session, [s.id for s in data.sessions]),
        side_effect_counts=session_checks.side_effect_counts(db.session, patient.user_id, data.today),
        session_form=session_form or SESSION_FORM_DEFAULTS,
        session_errors=session_errors or {},
        **session_form_choices(patient),
        alerts=alerts,
        colleagues=colleagues,
        # Otherwise a reader on call for an alert about the patient (access.py): the record without its forms.
        on_care_team=any(clinician.id == current_user.id for clinician in patient.clinicians),
        substances=SUBSTANCES,
        questionnaires=rows,
        baselines=baselines,
        errors=errors or {},
        kind_labels=KIND_LABELS,
        severity_labels=SEVERITY_LABELS,
        instrument_names=INSTRUMENT_NAMES,
        band_labels=BAND_LABELS,
        source_labels=SOURCE_LABELS,
        answers=ANSWERS,
        mcid={key: definition.mcid for key, definition in instruments.ALL.items()},
        usual_baseline=USUAL_BASELINE,
        local_time=local_time,
    ), status


def _render_patient_again(patient: Patient, errors: dict, **kwargs):
    """The patient page once more, with what to fix: a read of the patient's data, so audited as one."""
    db.session.rollback()
    audit.record(current_user, "patient.read", patient.user_id)
    db.session.commit()
    return _render_patient(patient, errors=errors, status=400, **kwargs)


@bp.post("/patients/<id:patient_id>/invitation")
@roles_required(Role.CLINICIAN)
def new_invitation(patient_id: int):
    """A new invitation link for a patient who never activated their account; for an active account, an e-mail
    to the patient with a link to set a new password (no clinician ever sees a link into a patient's account)."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    user, now = patient.user, utcnow()
    if user.activated_at is None:
        token = create_invitation(db.session, user, current_user, now, current_app.config["INVITATION_DAYS"])
        audit.record(current_user, "invitation.create", patient_id)
        db.session.commit()
        return _show_invitation(user, token, f"A new link for {user.name}")
    request_password_reset(db.session, user.email, now, minutes=current_app.config["PASSWORD_RESET_MINUTES"])
    audit.record(current_user, "password_reset.send", patient_id)
    db.session.commit()
    flash("A link to set a new password was sent to the account's e-mail address.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id))


@bp.post("/patients/<id:patient_id>/care-team")
@roles_required(Role.CLINICIAN)
def add_to_care_team(patient_id: int):
    patient = get_patient_or_404(current_user, patient_id, action=None)
    schema = CareTeamAddSchema()
    try:
        clinician_id = schema.load(form_input(schema, request.form))["clinician_id"]
    except ValidationError:
        abort(400)
    clinician = db.session.get(User, clinician_id)
    if clinician is None or clinician.role != Role.CLINICIAN or clinician.clinic_id != current_user.clinic_id:
        abort(400)

    def add_once() -> None:  # a colleague added twice at once: the second finds the first's row
        if db.session.get(CareTeamMember, {"patient_id": patient_id, "clinician_id": clinician.id}) is None:
            db.session.add(CareTeamMember(patient_id=patient.user_id, clinician_id=clinician.id, added_at=utcnow()))
            audit.record(current_user, "careteam.add", patient_id, detail=f"clinician {clinician.id}")

    commit_retrying_on_conflict(db.session, add_once)
    flash(f"{clinician.name} is now on the care team.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id))


@bp.post("/patients/<id:patient_id>/baseline")
@roles_required(Role.CLINICIAN)
def choose_baseline(patient_id: int):
    """Make one of the patient's forms the baseline its questionnaire measures response against (PHQ-R9)."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    schema = BaselineSchema()
    try:
        assessment_id = schema.load(form_input(schema, request.form))["assessment_id"]
        baseline = set_baseline(db.session, patient, assessment_id, current_user, utcnow())
    except ValidationError:
        return _render_patient_again(patient, {"assessment_id": ["Choose a form from the table."]})
    except AssessmentError as error:
        return _render_patient_again(patient, {"assessment_id": [error.message]})
    form = baseline.assessment
    audit.record(current_user, "baseline.set", patient_id, detail=f"{form.instrument} assessment {form.id}")
    db.session.commit()
    when = form.completed_at.astimezone(_zone()).strftime("%-d %b %Y")
    flash(f"The {INSTRUMENT_NAMES.get(form.instrument, form.instrument)} of {when} is now the baseline.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="questionnaires"))


# --- Paper forms: any questionnaire the clinic records, entered from the clinic's copy ------------------------


PACS_HIGHEST = 6  # SPEC 4.4: each PACS item is 0-6


def _paper_instrument_or_404(patient: Patient, key: str) -> instruments.Instrument:
    definition = instruments.get(key)
    if definition is None or definition not in instruments.offered_to(patient.user.clinic):
        abort(404)
    return definition


def _paper_answers(definition: instruments.Instrument, form) -> tuple[list[int | None], dict[str, list[str]]]:
    """The answers as the form gave them, one per item, and the errors at their items. On paper a PHQ or GAD-7
    item may be left blank (prorated, item 9 never: PHQ-R12, PHQ-R7); AUDIT-C items 2 and 3 are not asked after
    "Never" (AUDC-R3); every other item is required (PCL-R9, PEG-R5, PACS-R4)."""
    answers: list[int | None] = []
    errors: dict[str, list[str]] = {}
    blanks_allowed = definition.key in scoring.ITEMS
    for number, item in enumerate(definition.items, start=1):
        name = f"item-{number}"
        value = form.get(name, "").strip()
        # A 0-10 scale (PEG), the labelled answers, or the PACS's unlabelled items 2-5 (0-6, PACS-R3).
        highest = 10 if item.anchors else len(item.answers) - 1 if item.answers else PACS_HIGHEST
        if value == "":
            skipped = definition.key == instruments.AUDITC.key and number > 1 and answers and answers[0] == 0
            if not (blanks_allowed or skipped):
                errors[name] = ["Choose an answer."]
            answers.append(0 if skipped else None)  # AUDC-R3: a question not asked is stored as 0, marked skipped
        elif not value.isdigit() or int(value) > highest:
            errors[name] = [f"Choose a whole number from 0 to {highest}."]
            answers.append(None)
        else:
            answers.append(int(value))
    return answers, errors


def _render_paper_form(patient: Patient, definition, *, values=None, errors=None, status: int = 200):
    return render_template(
        "clinician/paper_form.html",
        patient=patient,
        instrument=definition,
        values=values or {},
        errors=errors or {},
        blanks_allowed=definition.key in scoring.ITEMS,
        difficulty_question=DIFFICULTY_QUESTION,
        difficulty_answers=DIFFICULTY_ANSWERS,
        submission_id=(values or {}).get("submission_id") or uuid.uuid4().hex,
        zone=_zone(),
    ), status


@bp.get("/patients/<id:patient_id>/assessments/<instrument>")
@roles_required(Role.CLINICIAN)
def paper_form(patient_id: int, instrument: str):
    """The form to enter a questionnaire completed on paper, for any instrument the clinic records."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    return _render_paper_form(patient, _paper_instrument_or_404(patient, instrument))


@bp.post("/patients/<id:patient_id>/assessments/<instrument>")
@roles_required(Role.CLINICIAN)
def enter_paper_form(patient_id: int, instrument: str):
    """Score and store a paper form as the API does (``assessments.submit``: the safety pathway, the baseline
    rule), audited; what to fix comes back at its field, and nothing is written until all of it is right."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    definition = _paper_instrument_or_404(patient, instrument)
    answers, errors = _paper_answers(definition, request.form)
    completed_text = request.form.get("completed_at", "").strip()
    completed_at, problem = (None, "Give the date and time the paper form was completed.")
    if completed_text:
        completed_at, problem = _local_instant(completed_text, _zone())
    if problem:
        errors["completed_at"] = [problem]
    assessment = None
    if not errors:
        raw = {
            "instrument": definition.key,
            "answers": answers,
            "completed_at": completed_at.isoformat(),
            "submission_id": request.form.get("submission_id") or None,
        }
        if definition.has_difficulty and request.form.get("difficulty"):
            raw["difficulty"] = request.form["difficulty"]
        try:
            data = AssessmentSchema().load(raw)
            assessment, _created = commit_retrying_on_conflict(db.session, lambda: _store_paper_form(patient, data))
        except ValidationError as error:
            db.session.rollback()
            errors = {
                ("form" if name == "answers" else name): _messages(value) for name, value in error.messages.items()
            }
        except AssessmentError as error:
            db.session.rollback()
            errors = {("form" if error.field in ("answers", "instrument") else error.field): [error.message]}
    if assessment is None:
        values = {name: value for name, value in request.form.items() if name != "csrf_token"}
        return _render_paper_form(patient, definition, values=values, errors=errors, status=400)
    when = assessment.completed_at.astimezone(_zone()).strftime("%-d %b %Y")
    flash(f"The paper {definition.name} of {when} is recorded.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="questionnaires"))


def _store_paper_form(patient: Patient, data: dict) -> tuple[Assessment, bool]:
    assessment, created = submit(db.session, patient, data, utcnow(), current_user)
    if created:
        audit.record(current_user, "assessment.write", patient.user_id, detail=f"assessment {assessment.id}")
    return assessment, created


def _messages(value) -> list[str]:
    if isinstance(value, dict):
        return [text for inner in value.values() for text in _messages(inner)]
    return [str(text) for text in value] if isinstance(value, list) else [str(value)]


# --- Charts and sessions (KET-R1) ------------------------------------------------------------------------------


@bp.get("/patients/<id:patient_id>/charts/<any(outcomes,assessments,adherence):name>.<any(png,svg):fmt>")
@roles_required(Role.CLINICIAN)
@chart_policy
def chart(patient_id: int, name: str, fmt: str):
    """A chart for an <img> on the patient's page: the API's cached picture, with its ETag, but authorised by
    the session cookie (an image request cannot send a bearer token). ``?days=`` as in the API (400 else)."""
    days = chart_cache.parse_days(request.args.get("days"))
    if days is None:
        abort(400)
    return chart_response(patient_id, name, fmt, days)


# Status and route are left unchosen: the clinician picks them (a pre-set "Given, intravenous" was saved unread).
SESSION_FORM_DEFAULTS = {"dose_unit": "mg/kg", "setting": "clinic"}
CONFIRM_VITALS = "confirm_vitals"
SESSION_TIMES = ("start", "discharge_at", "spo2_pre_at", "spo2_post_at", "sedation_at")
YES_NO = {"yes": True, "no": False}  # the form's yes/no choices (transport, medication); unchosen: not recorded
CONCOMITANT = "concomitant_classes"  # in the form, one choice per class: concomitant_classes_<class>


def session_form_input(form, zone: ZoneInfo) -> tuple[dict, dict]:
    """The session form as DosingSessionSchema input, and the errors found on the way. The form's times are the
    clinician's wall-clock times (``<input type="datetime-local">``), made instants here in their zone; an
    empty field is left out, so a required one is reported missing and an optional one takes its default."""
    data = {
        name: value
        for name, value in form_input(DosingSessionSchema(), form).items()
        if not (isinstance(value, str) and not value.strip())
    }
    errors = {}
    for name in SESSION_TIMES:
        if name not in data:
            continue
        instant, problem = _local_instant(data.pop(name).strip(), zone)
        if problem:
            errors[name] = [problem]
        else:
            data[name] = instant.isoformat()
    # A choice of yes, no or not recorded, not a tick box (which would say "no" when nobody asked).
    data.pop("transport_arranged", None)
    transport = form.get("transport_arranged", "").strip()
    if transport:
        data["transport_arranged"] = YES_NO.get(transport, transport)
    # The same choice for each class of medication; anything else is passed on for the schema to refuse.
    classes = {
        key: YES_NO.get(value.strip(), value)
        for key, value in data.pop(CONCOMITANT, {}).items()
        if isinstance(value, str) and value.strip()
    }
    if classes:
        data[CONCOMITANT] = classes
    return data, errors


def session_errors(messages: dict) -> dict[str, list[str]]:
    """The schema's errors by the form's field names (a class of medication as ``concomitant_classes_<class>``),
    in words a form can show."""
    found: dict[str, list[str]] = {}
    for name, value in messages.items():
        if name == CONCOMITANT and isinstance(value, dict):
            for key, inner in value.items():
                found[f"{CONCOMITANT}_{key}"] = [FRIENDLIER.get(m, m) for m in inner]
        else:
            found[name] = [FRIENDLIER.get(m, m) for m in value] if isinstance(value, list) else [str(value)]
    return found


def _local_instant(text: str, zone: ZoneInfo) -> tuple[datetime | None, str | None]:
    try:
        naive = datetime.fromisoformat(text)
        if naive.tzinfo is not None:
            return naive, None
        local = naive.replace(tzinfo=zone)
        # A wall-clock time in the hour skipped when the clocks go forward does not exist; in the repeated
        # hour, the first of the two is meant (fold=0).
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            return None, f"This time does not exist in {zone.key}: the clocks went forward then."
        return local, None
    except (ValueError, OverflowError):
        return None, "Give a date and a time, such as 2026-03-02 10:30."


FRIENDLIER = {
    "Missing data for required field.": "Fill this in.",
    "Field may not be null.": "Fill this in.",
    "Not a valid boolean.": "Choose yes or no.",
}


def _unconfirmed_vitals(data: dict) -> dict:
    """Measures out of the expected range (SPEC 7.4) as errors at their fields, unless the clinician ticked that
    they are right: then they are saved as entered."""
    if request.form.get(CONFIRM_VITALS) == "yes":
        return {}
    errors: dict[str, list[str]] = {}
    for warning in vitals_warnings(data):
        errors.setdefault(warning["field"], []).append(warning["message"])
    if errors:
        errors[CONFIRM_VITALS] = ["If these values are right, tick the box to save them as they are."]
    return errors


def session_form_choices(patient: Patient, record: DosingSession | None = None) -> dict:
    """What the session form offers to choose from: routes, dose units, the sedation scale, the classes of
    medication, and as the monitor a clinician of the patient's care team (or the one the session already names,
    who may have left the team since), in the clinician's own zone."""
    monitors = [(str(c.id), c.name) for c in patient.clinicians if c.role == Role.CLINICIAN and c.disabled_at is None]
    if record is not None and record.monitored_by is not None and str(record.monitored_by_id) not in dict(monitors):
        monitors.append((str(record.monitored_by_id), f"{record.monitored_by.name} (no longer on the care team)"))
    return {
        "routes": ROUTES,
        "dose_units": [(unit, unit) for unit in DOSE_UNITS],
        "sedation_scale": SEDATION_SCALE,
        "concomitant_classes": CONCOMITANT_CLASSES,
        "monitors": monitors,
        "zone": _zone(),
    }


def _render_new_session(patient: Patient, *, form: dict | None = None, errors: dict | None = None, status: int = 200):
    """The form that records a session, on a page of its own at the address it posts to: a failed save comes back
    here, with the error summary at the top, not somewhere down the patient's page."""
    return render_template(
        "clinician/session_new.html",
        patient=patient,
        session_form=form or SESSION_FORM_DEFAULTS,
        session_errors=errors or {},
        **session_form_choices(patient),
    ), status


@bp.get("/patients/<id:patient_id>/sessions")
@roles_required(Role.CLINICIAN)
def new_session(patient_id: int):
    """The form that records a session (the same form as on the patient's page)."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    return _render_new_session(patient)


@bp.post("/patients/<id:patient_id>/sessions")
@roles_required(Role.CLINICIAN)
def add_session(patient_id: int):
    """Record a dosing session, planned or given, with its at-session measures (SPEC 7.4), as the API does."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    raw, errors = session_form_input(request.form, _zone())
    record = None
    try:
        data = DosingSessionSchema().load(raw)
    except ValidationError as error:
        errors = {**session_errors(error.messages), **errors}
    else:
        errors = errors or _unconfirmed_vitals(data)
        if not errors:
            try:
                record = save_session(db.session, patient, data, utcnow(), current_user)
            except SessionError as error:
                errors = {error.field: [error.message]}
    if record is None:
        shown = {name: value for name, value in request.form.items() if name not in ("csrf_token", CONFIRM_VITALS)}
        db.session.rollback()
        return _render_new_session(patient, form=shown, errors=errors, status=400)
    audit.record(current_user, "session.write", patient_id, detail=audit_detail(record))
    db.session.commit()
    flash(f"The session of {local_time(record.start, _zone())} is recorded.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="sessions"))


def _session_or_404(patient_id: int, session_id: int) -> DosingSession:
    record = db.session.get(DosingSession, session_id)
    if record is None or record.patient_id != patient_id:
        abort(404)
    return record


def _form_values(record: DosingSession, zone: ZoneInfo) -> dict:
    """The stored session as the form shows it: times on the clinician's wall clock, numbers as typed."""
    values = {}
    for key, answer in concomitant_answers(record.concomitant_classes).items():
        values[f"{CONCOMITANT}_{key}"] = "" if answer is None else "yes" if answer else "no"
    for name in DosingSessionSchema().fields:
        if name == CONCOMITANT:
            continue
        value = record.course.kind.value if name == "course" and record.course else getattr(record, name, None)
        if isinstance(value, datetime):
            local = value.astimezone(zone).replace(tzinfo=None)
            # A browser's datetime-local input takes at most milliseconds: with more digits it shows (and sends)
            # nothing, and the required start would be lost on saving.
            precision = "milliseconds" if local.microsecond else "seconds" if local.second else "minutes"
            value = local.isoformat(timespec=precision)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, float):
            value = repr(int(value)) if value.is_integer() else repr(value)
        values[name] = "" if value is None else str(getattr(value, "value", value))
    return values


def _render_session(
    patient: Patient,
    record: DosingSession,
    *,
    form: dict,
    version: str,
    errors: dict | None = None,
    conflict: str | None = None,
    status: int = 200,
):
    """The page that changes one session; showing it is a read of the session, audited as one."""
    audit.record(current_user, "session.read", patient.user_id, detail=audit_detail(record))
    db.session.commit()
    return render_template(
        "clinician/session.html",
        patient=patient,
        record=record,
        session_checks=session_checks.checks_for_sessions(db.session, [record.id]),
        version=version,
        session_form=form,
        session_errors=errors or {},
        conflict=conflict,
        warnings=vitals_warnings(record),
        **session_form_choices(patient, record),
        local_time=local_time,
    ), status


@bp.get("/patients/<id:patient_id>/sessions/<id:session_id>")
@roles_required(Role.CLINICIAN)
def edit_session(patient_id: int, session_id: int):
    """The form that changes a session, filled in with it as stored, and carrying the version it shows."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    record = _session_or_404(patient_id, session_id)
    return _render_session(patient, record, form=_form_values(record, _zone()), version=session_version(record))


@bp.post("/patients/<id:patient_id>/sessions/<id:session_id>")
@roles_required(Role.CLINICIAN)
def update_session(patient_id: int, session_id: int):
    """Change a session, as the API's PUT does; if it was changed since the form was opened (the form's version is
    no longer the session's), nothing is written and the page comes back (409) with the current record."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    record = _session_or_404(patient_id, session_id)
    raw, errors = session_form_input(request.form, _zone())
    read_version = request.form.get("version", "")
    shown = {
        name: value for name, value in request.form.items() if name not in ("csrf_token", "version", CONFIRM_VITALS)
    }
    saved = None
    try:
        data = DosingSessionSchema().load(raw)
    except ValidationError as error:
        errors = {**session_errors(error.messages), **errors}
    else:
        errors = errors or _unconfirmed_vitals(data)
        if not errors:
            try:
                check_version(record, read_version)
                saved = save_session(db.session, patient, data, utcnow(), current_user, record)
            except SessionChanged:
                db.session.rollback()  # the record is read again: as the colleague left it
                return _render_session(
                    patient, record, form=shown, version=session_version(record),
                    conflict=_changed_since_opened(record, read_version), status=409,
                )  # fmt: skip
            except SessionError as error:
                errors = {error.field: [error.message]}
    if saved is None:
        db.session.rollback()
        return _render_session(patient, record, form=shown, version=read_version, errors=errors, status=400)
    audit.record(current_user, "session.write", patient_id, detail=audit_detail(saved))
    db.session.commit()
    flash(f"The session of {local_time(saved.start, _zone())} is saved.", "success")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="sessions"))


@bp.get("/patients/<id:patient_id>/sessions/<id:session_id>/record.pdf")
@roles_required(Role.CLINICIAN)
def session_record(patient_id: int, session_id: int):
    """The session's printable one-page record (SPEC 7.4, KET-R8), as the API serves it (audited)."""
    patient = get_patient_or_404(current_user, patient_id, action=None)
    return record_response(current_user, patient, _session_or_404(patient_id, session_id))


def _changed_since_opened(record: DosingSession, read_version: str) -> str:
    if not read_version:
        return (
            "This form did not say which version of the session it was opened with, so nothing was saved; review "
            "the current record below."
        )
    writer = last_writer(db.session, record)
    if writer is None:
        who = "someone else"
    else:
        who = "you, in another window," if writer.id == current_user.id else writer.name
    return (
        f"This session was changed by {who} at {local_time(record.updated_at, _zone())} since you opened it; "
        "review the current record below."
    )


# --- Alerts inbox (SAFE-R3) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    alert: Alert
    patient_name: str
    recent: RecentData
    sessions: SessionsAround
    contact: Patient  # the patient's phone and emergency contact
    on_call: User | None  # whom the rota named when a high-priority alert was routed (SAFE-R3)
    backup: User | None


def _render_inbox(errors: dict | None = None, notes: dict | None = None, status: int = 200):
    """The open alerts about the clinician's patients, most severe then oldest first; the read is audited."""
    # Audited first: a commit expires loaded rows, and rendering expired rows would query once per alert.
    audit.record(current_user, "alert.list")
    db.session.commit()
    now = utcnow()
    about = aliased(User)  # not the care-team query's own user_account, which its subquery names
    contact = aliased(Patient)  # nor its patient table
    found = db.session.execute(
        open_alerts_for(current_user, now)
        .join(about, about.id == Alert.patient_id)
        .join(contact, contact.user_id == Alert.patient_id)
        .add_columns(about.name, about.timezone, contact)
        .limit(INBOX_LIMIT)
    ).all()
    recent = recent_data(db.session, {alert.patient_id: zone for alert, _, zone, _ in found}, now)
    sessions = sessions_around(db.session, list({alert.patient_id for alert, *_ in found}), now)
    named = {alert.on_call_id for alert, *_ in found} | {alert.backup_id for alert, *_ in found}
    staff = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(named - {None})))}
    rows = [
        InboxRow(
            alert,
            name,
            recent[alert.patient_id],
            sessions[alert.patient_id],
            patient,
            staff.get(alert.on_call_id),
            staff.get(alert.backup_id),
        )
        for alert, name, _, patient in found
    ]
    return render_template(
        "clinician/alerts.html",
        rows=rows,
        limited=len(rows) == INBOX_LIMIT,
        errors=errors or {},
        notes=notes or {},
        now=now,
        kind_labels=KIND_LABELS,
        severity_labels=SEVERITY_LABELS,
        answers=ANSWERS,
        depression_name=instruments.depression_instrument(current_user.clinic).name,
        describe_wait=describe_wait,
        local_time=local_time,
        zone=_zone(),
    ), status


@bp.get("/alerts")
@roles_required(Role.CLINICIAN)
def alerts():
    return _render_inbox()


@bp.post("/alerts/<id:alert_id>/ack")
@roles_required(Role.CLINICIAN)
def acknowledge_alert(alert_id: int):
    """Acknowledge an alert with a note of what was done or decided; only the first acknowledgement counts."""
    alert = get_alert_or_404(current_user, alert_id)  # before the form is read: an outsider learns nothing
    if alert.acknowledged_at is not None:
        return _already_acknowledged(alert)
    field = f"note-{alert.id}"
    schema = AcknowledgeSchema()
    try:
        note = schema.load(form_input(schema, request.form))["note"]
        acknowledge(db.session, alert, current_user, note, utcnow())
    except ValidationError as error:
        messages = error.messages.get("note") or ["Say what you did or decided, for the record."]
        return _render_inbox({field: messages}, {alert.id: request.form.get("note", "")}, 400)
    except AlertError as error:
        db.session.rollback()
        if error.status == 409:  # a colleague acknowledged it a moment ago
            return _already_acknowledged(db.session.get(Alert, alert_id))
        return _render_inbox({field: [error.message]}, {alert.id: request.form.get("note", "")}, 400)
    audit.record(current_user, "alert.ack", alert.patient_id, detail=f"alert {alert.id}")
    db.session.commit()
    flash(f"Alert {alert.id} is acknowledged and your note is recorded.", "success")
    return redirect(url_for("clinician.alerts"))


def _already_acknowledged(alert: Alert):
    """409: the first acknowledgement stands; the clinician's own note is shown back so it is not lost."""
    return render_template(
        "clinician/alert_acknowledged.html",
        alert=alert,
        when=local_time(alert.acknowledged_at, _zone()),
        note=request.form.get("note", "").strip(),
    ), 409
