"""The patient's own pages, made for a phone: home, the daily check-in, and the offline app shell."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import charts
from ..assessments import due_instruments
from ..checkins import (
    BACKFILL_DAYS,
    CRAVING_FREQUENCIES,
    SIDE_EFFECTS,
    SLEEP_QUALITY,
    URINARY_SYMPTOMS,
    CheckInError,
    get_checkin,
    local_today,
    missing_days,
    save_checkin,
    sleep_metrics,
    timing_for,
    urinary_check_due,
)
from ..db import db, utcnow
from ..models import SUBSTANCES, Alert, CheckIn, EntrySource, Role
from ..schemas import CheckInSchema, checkin_form_errors, checkin_form_input, checkin_form_values
from ..security import roles_required
from ..sleep import describe_duration
from .patient_sessions import session_cards_for_home

bp = Blueprint("patient", __name__)

RECENT_DAYS = 30


def _day_or_404(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(404)


def day_label(day: date, today: date) -> str:
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    return day.strftime("%A %-d %B")


@bp.get("/home")
@roles_required(Role.PATIENT)
def home():
    now = utcnow()
    today = local_today(current_user, now)
    recent = db.session.scalars(
        select(CheckIn)
        .where(CheckIn.patient_id == current_user.id, CheckIn.local_date > today - timedelta(days=RECENT_DAYS))
        .order_by(CheckIn.local_date.desc())
    ).all()
    done_today = bool(recent) and recent[0].local_date == today
    mood_points = [(c.local_date, c.mood) for c in recent]
    return render_template(
        "patient/home.html",
        patient=current_user.patient,
        today=today,
        done_today=done_today,
        recent=recent[:7],
        missing=missing_days(db.session, current_user, now),
        progress=charts.mood_progress_summary(mood_points, today),
        has_chart=len(mood_points) >= 2,
        day_label=lambda d: day_label(d, today),
        queued=request.args.get("queued") == "1",
        questionnaires_due=due_instruments(db.session, current_user.patient, now),
        session_cards=session_cards_for_home(),
        # KET-R2: the loss-of-response flag is for the clinician; the patient sees only a neutral word.
        team_may_check_in=db.session.scalar(
            select(Alert.id).where(
                Alert.patient_id == current_user.id, Alert.kind == "booster_review", Alert.acknowledged_at.is_(None)
            )
        )
        is not None,
    )


@bp.get("/home/progress.png")
@roles_required(Role.PATIENT)
def progress_chart():
    today = local_today(current_user, utcnow())
    rows = db.session.execute(
        select(CheckIn.local_date, CheckIn.mood).where(
            CheckIn.patient_id == current_user.id, CheckIn.local_date > today - timedelta(days=RECENT_DAYS)
        )
    ).all()
    png = charts.mood_progress_png([(d, m) for d, m in rows], today, RECENT_DAYS)
    response = current_app.response_class(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/checkin")
@roles_required(Role.PATIENT)
def checkin_today():
    return redirect(url_for("patient.checkin", day=local_today(current_user, utcnow()).isoformat()))


@bp.route("/checkin/<day>", methods=["GET", "POST"])
@roles_required(Role.PATIENT)
def checkin(day: str):
    """The daily check-in for one local date: today, or a missed day up to a week back."""
    the_day = _day_or_404(day)
    now = utcnow()
    patient = current_user.patient
    today = local_today(current_user, now)
    try:
        timing_for(the_day, current_user, now, EntrySource.PATIENT)
    except CheckInError as error:
        return render_template("error.html", code=404, message=error.message), 404
    existing = get_checkin(db.session, current_user.id, the_day)
    if request.method == "GET" and existing is not None and not _editable_today(existing, today):
        return redirect(url_for("patient.checkin_saved", day=day))
    # A POST always goes to save_checkin: a retried submission is recognised there, anything else that may
    # not change the day is refused with 409. Never answer a POST with a success it did not have.

    errors: dict = {}
    values = checkin_form_values(existing, ZoneInfo(current_user.timezone)) if existing is not None else MultiDict()
    status = 200
    if request.method == "POST":
        values = request.form
        try:
            data = CheckInSchema().load(checkin_form_input(request.form, patient, the_day))
            save_checkin(db.session, patient, the_day, data, now, entered_by=current_user)
        except ValidationError as error:
            db.session.rollback()
            errors, status = checkin_form_errors(error.messages, patient), 400
        except CheckInError as error:
            db.session.rollback()
            errors = checkin_form_errors({error.field: [error.message]}, patient)
            status = 409 if error.status == 409 else 400
        else:
            db.session.commit()
            return redirect(url_for("patient.checkin_saved", day=day))
    return render_template(
        "patient/checkin.html",
        patient=patient,
        day=the_day,
        label=day_label(the_day, today),
        retrospective=the_day < today,
        editing=existing is not None,
        values=values,
        errors=errors,
        submission_id=request.form.get("submission_id") or uuid.uuid4().hex,
        substances=SUBSTANCES,
        frequencies=CRAVING_FREQUENCIES,
        side_effects=SIDE_EFFECTS,
        urinary_symptoms=URINARY_SYMPTOMS,
        # Asked when due, and kept on the form when editing a day that answered it.
        ask_urinary=urinary_check_due(db.session, patient, the_day) or bool(existing and existing.urinary is not None),
        qualities=SLEEP_QUALITY,
    ), status


def _editable_today(checkin: CheckIn, today: date) -> bool:
    zone = ZoneInfo(current_user.timezone)
    return checkin.source == EntrySource.PATIENT and checkin.created_at.astimezone(zone).date() == today


@bp.get("/checkin/<day>/saved")
@roles_required(Role.PATIENT)
def checkin_saved(day: str):
    the_day = _day_or_404(day)
    checkin = get_checkin(db.session, current_user.id, the_day)
    if checkin is None:
        return redirect(url_for("patient.checkin", day=day))
    today = local_today(current_user, utcnow())
    metrics = sleep_metrics(checkin.sleep) if checkin.sleep else None
    return render_template(
        "patient/saved.html",
        checkin=checkin,
        label=day_label(the_day, today),
        slept=describe_duration(metrics.tst_min) if metrics else None,
        metrics=metrics,
        editable=_editable_today(checkin, today),
        substances=SUBSTANCES,
    )


@bp.get("/sw.js")
def service_worker():
    """Served from the root so that it may control every page of the journal."""
    script = (Path(current_app.static_folder) / "sw.js").read_bytes()
    return current_app.response_class(script, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@bp.get("/offline")
def offline():
    """What the service worker shows for a page it has no copy of, when there is no connection."""
    return render_template("offline.html", backfill_days=BACKFILL_DAYS)
