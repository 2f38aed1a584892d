"""Daily check-ins: a patient's own, and a clinician's entry of a past day from a paper diary."""

from __future__ import annotations

from datetime import date

from flask_login import current_user
from flask_smorest import Blueprint, abort
from marshmallow import RAISE, Schema, fields
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..access import get_patient_or_404, patient_in_path_required
from ..checkins import CheckInError, StaleCheckIn, local_today, save_checkin
from ..db import commit_keeping_loaded, db, utcnow
from ..errors import json_error
from ..models import CheckIn, Patient, Role, User
from ..schemas import CheckInOutSchema, CheckInSchema, StrictSchema
from ..security import roles_required

blp = Blueprint("api_checkins", __name__, url_prefix="/api/v1", description="Daily check-ins")

MAX_RANGE_DAYS = 366


class StaleCheckInSchema(Schema):
    """409: not saved. When the day holds an entry saved later than this one, that entry is kept and returned as
    ``stored``; other conflicts (a day that can no longer be changed) come without it."""

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String()
    errors = fields.Dict()
    stored = fields.Nested(CheckInOutSchema)


class DateRangeSchema(StrictSchema):
    from_ = fields.Date(data_key="from", load_default=None)
    to = fields.Date(load_default=None)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(404, message="Give the day as YYYY-MM-DD.")


def _put(patient: Patient, day: date, data: dict, entered_by: User):
    """Create or replace; a concurrent first write of the same day is retried once as a replace."""
    for attempt in range(2):
        try:
            checkin, created = save_checkin(db.session, patient, day, data, utcnow(), entered_by)
            if entered_by.is_staff:
                audit.record(entered_by, "checkin.write", patient.user_id, detail=day.isoformat())
            commit_keeping_loaded(db.session())
        except StaleCheckIn as error:
            stored = CheckInOutSchema().dump(error.stored)
            db.session.rollback()
            errors = {"json": {error.field: [error.message]}}
            return json_error(409, error.message, errors, extra={"stored": stored})
        except CheckInError as error:
            db.session.rollback()
            abort(error.status, message=error.message, errors={"json": {error.field: [error.message]}})
        except IntegrityError:
            db.session.rollback()
            if attempt:
                raise
            continue
        return checkin, 201 if created else 200
    raise AssertionError("unreachable")


def _range(patient_id: int, args: dict, today: date):
    start, end = args["from_"], args["to"] or today
    if start is not None and end < start:
        abort(422, message="'from' must not be after 'to'.", errors={"query": {"from": ["Must not be after 'to'."]}})
    query = select(CheckIn).where(CheckIn.patient_id == patient_id, CheckIn.local_date <= end)
    if start is not None:
        query = query.where(CheckIn.local_date >= start)
    return db.session.scalars(query.order_by(CheckIn.local_date).limit(MAX_RANGE_DAYS)).all()


@blp.route("/checkins/<day>", methods=["PUT"])
@roles_required(Role.PATIENT)
@blp.arguments(CheckInSchema)
@blp.response(200, CheckInOutSchema)
@blp.alt_response(201, schema=CheckInOutSchema, description="Created")
@blp.alt_response(409, schema=StaleCheckInSchema, description="Not saved: see message (a later save is kept)")
def put_own_checkin(data, day: str):
    """Create or replace the signed-in patient's check-in for a local date (YYYY-MM-DD).

    Safe to retry: the same body, or the same ``submission_id``, records the day once. The day may be today
    or up to 7 days back (then marked retrospective); an entry can be changed on the day it was made. Send
    ``saved_at``, the instant Save was pressed: a save older than the stored entry is answered 409 with that
    entry under ``stored``, and nothing changes, so an offline queue can never replace a newer answer.
    """
    return _put(current_user.patient, _day(day), data, current_user)


@blp.route("/checkins", methods=["GET"])
@roles_required(Role.PATIENT)
@blp.arguments(DateRangeSchema, location="query", unknown=RAISE)
@blp.response(200, CheckInOutSchema(many=True))
def list_own_checkins(args):
    """The signed-in patient's check-ins between ``from`` and ``to`` (local dates, inclusive; at most a year)."""
    return _range(current_user.id, args, local_today(current_user, utcnow()))


@blp.route("/patients/<id:patient_id>/checkins", methods=["GET"])
@roles_required(Role.CLINICIAN)
@blp.arguments(DateRangeSchema, location="query", unknown=RAISE)
@blp.response(200, CheckInOutSchema(many=True))
def list_patient_checkins(args, patient_id: int):
    """A patient's check-ins, for a clinician on their care team."""
    patient = get_patient_or_404(current_user, patient_id, action="checkin.read")
    return _range(patient_id, args, local_today(patient.user, utcnow()))


@blp.route("/patients/<id:patient_id>/checkins/<day>", methods=["PUT"])
@roles_required(Role.CLINICIAN)
@patient_in_path_required
@blp.arguments(CheckInSchema)
@blp.response(200, CheckInOutSchema)
@blp.alt_response(201, schema=CheckInOutSchema, description="Created")
@blp.alt_response(409, schema=StaleCheckInSchema, description="Not saved: see message (a later save is kept)")
def put_patient_checkin(data, patient_id: int, day: str):
    """Enter a past day for a patient from a paper diary or another system (any past date, never a future one).

    Marked as clinician-entered and audited; it never overwrites a day the patient recorded themselves.
    """
    patient = get_patient_or_404(current_user, patient_id, action=None)
    return _put(patient, _day(day), data, current_user)
