"""Clinic administration: staff accounts, clinic settings, escalations and the audit trail. Admins see no
patient's health data."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import and_, func, or_, select

from .. import audit
from ..accounts import EnrolmentError, create_invitation, create_staff
from ..alerts import care_team
from ..db import db, utcnow
from ..links import invitation_url
from ..models import Alert, AuditEvent, OutboxMessage, OutboxStatus, Role, User
from ..schemas import ClinicSettingsSchema, StaffSchema, form_input, iana_zones
from ..security import roles_required
from . import describe_wait

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 100


def _staff_member_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff or user.clinic_id != current_user.clinic_id:
        abort(404)
    return user


@bp.get("/staff")
@roles_required(Role.ADMIN)
def staff():
    members = db.session.scalars(
        select(User)
        .where(User.clinic_id == current_user.clinic_id, User.role.in_([Role.CLINICIAN, Role.ADMIN]))
        .order_by(User.role, User.name)
    ).all()
    new_invitation = session.pop("new_staff_invitation", None)
    return render_template("admin/staff.html", members=members, new_invitation=new_invitation)


@bp.route("/staff/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_staff():
    errors: dict = {}
    if request.method == "POST":
        schema = StaffSchema()
        try:
            data = schema.load(form_input(schema, request.form))
            now = utcnow()
            user = create_staff(db.session, current_user.clinic_id, now=now, **{**data, "role": Role(data["role"])})
        except ValidationError as error:
            errors = error.messages
        except EnrolmentError as error:
            errors = {error.field: [error.message]}
        else:
            token = create_invitation(db.session, user, current_user, now, current_app.config["INVITATION_DAYS"])
            db.session.commit()
            session["new_staff_invitation"] = {"name": user.name, "url": invitation_url(token)}
            return redirect(url_for("admin.staff"))
    return render_template(
        "admin/new_staff.html",
        errors=errors,
        values=request.form,
        zones=sorted(iana_zones()),
        default_zone=current_user.timezone,
    ), 400 if errors else 200


@bp.post("/staff/<id:user_id>/invitation")
@roles_required(Role.ADMIN)
def staff_invitation(user_id: int):
    user = _staff_member_or_404(user_id)
    token = create_invitation(db.session, user, current_user, utcnow(), current_app.config["INVITATION_DAYS"])
    db.session.commit()
    session["new_staff_invitation"] = {"name": user.name, "url": invitation_url(token)}
    return redirect(url_for("admin.staff"))


@bp.post("/staff/<id:user_id>/access")
@roles_required(Role.ADMIN)
def staff_access(user_id: int):
    """Disable or re-enable a staff account; disabling ends its sessions and tokens at once."""
    user = _staff_member_or_404(user_id)
    if user.id == current_user.id:
        abort(400)
    enabled = request.form.get("enabled")
    if enabled not in ("yes", "no"):
        abort(400)  # the form sends one or the other; anything else is not a request to lock someone out
    if enabled == "yes":
        user.disabled_at = None
    else:
        user.disabled_at = utcnow()
        user.end_all_sessions()
    db.session.commit()
    return redirect(url_for("admin.staff"))


def _parse_day(value: str | None, zone: ZoneInfo, end: bool) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    local = datetime.combine(day, time.max if end else time.min, tzinfo=zone)
    return local.astimezone(UTC)


@bp.get("/audit")
@roles_required(Role.ADMIN)
def audit_log():
    """The audit trail of this clinic's staff, newest first, filtered by who, which patient, what and when."""
    args = request.args
    zone = ZoneInfo(current_user.timezone)
    clinic_staff = select(User.id).where(User.clinic_id == current_user.clinic_id)
    query = select(AuditEvent).where(AuditEvent.actor_id.in_(clinic_staff))
    if actor := args.get("actor", "").strip():
        query = query.where(AuditEvent.actor.has(User.email.contains(actor.lower())))
    if (patient := args.get("patient", "").strip()).isdigit():
        query = query.where(AuditEvent.patient_id == int(patient))
    if action := args.get("action", "").strip():
        query = query.where(AuditEvent.action.startswith(action))
    if start := _parse_day(args.get("from"), zone, end=False):
        query = query.where(AuditEvent.occurred_at >= start)
    if stop := _parse_day(args.get("to"), zone, end=True):
        query = query.where(AuditEvent.occurred_at <= stop)
    page = max(1, args.get("page", 1, type=int) or 1)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    events = db.session.scalars(
        query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(AUDIT_PAGE_SIZE)
        .offset((page - 1) * AUDIT_PAGE_SIZE)
    ).all()
    return render_template(
        "admin/audit.html", events=events, total=total, page=page, page_size=AUDIT_PAGE_SIZE, args=args, zone=zone
    )


@bp.get("/deliveries")
@roles_required(Role.ADMIN)
def deliveries():
    """Messages that failed or wait for a retry, and the delivery log (queued, sent, failed, opened) for this
    clinic's people. No message text is shown because none is stored, only the template's name."""
    clinic_users = select(User.id).where(User.clinic_id == current_user.clinic_id)
    counts = dict(
        db.session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.recipient_id.in_(clinic_users))
            .group_by(OutboxMessage.status)
        ).all()
    )
    troubled = db.session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.recipient_id.in_(clinic_users),
            or_(
                OutboxMessage.status == OutboxStatus.FAILED,
                and_(OutboxMessage.status == OutboxStatus.QUEUED, OutboxMessage.attempts > 0),
            ),
        )
        .order_by(OutboxMessage.created_at.desc())
        .limit(200)
    ).all()
    recent = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.recipient_id.in_(clinic_users))
        .order_by(OutboxMessage.id.desc())
        .limit(100)
    ).all()
    recipients = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({m.recipient_id for m in (*troubled, *recent)})))
    }
    return render_template(
        "admin/deliveries.html",
        counts=counts,
        messages=troubled,
        recent=recent,
        recipients=recipients,
        zone=ZoneInfo(current_user.timezone),
    )


# --- Clinic settings ----------------------------------------------------------------------------------------------

# marshmallow's own wording for an empty or non-numeric field, in the words the rest of the forms use.
FRIENDLIER = {
    "Missing data for required field.": "Fill this in.",
    "Shorter than minimum length 1.": "Fill this in.",
    "Not a valid integer.": "Give a whole number.",
    "Not a valid string.": "Fill this in.",
}


def _friendlier(messages: dict) -> dict[str, list[str]]:
    return {
        field: [FRIENDLIER.get(message, message) for message in (found if isinstance(found, list) else [found])]
        for field, found in messages.items()
    }


@bp.route("/clinic", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def clinic_settings():
    """The clinic's crisis numbers (SAFE-R1, checked at each release: SAFE-R2), questionnaire cadence (PHQ-R13),
    escalation time (SAFE-R3) and the thresholds of its alert rules, which are its own choices."""
    clinic = current_user.clinic
    schema = ClinicSettingsSchema()
    errors: dict = {}
    values = {name: getattr(clinic, name) for name in schema.fields}
    if request.method == "POST":
        submitted = form_input(schema, request.form)
        try:
            data = schema.load(submitted)
        except ValidationError as error:
            errors = _friendlier(error.messages)
            values = {name: submitted.get(name, "") for name in schema.fields}
        else:
            changed = [name for name, value in data.items() if getattr(clinic, name) != value]
            for name, value in data.items():
                setattr(clinic, name, value)
            audit.record(current_user, "clinic.settings", detail=", ".join(changed) or "no change")
            db.session.commit()
            flash("The clinic settings are saved." if changed else "Nothing had changed.", "success")
            return redirect(url_for("admin.clinic_settings"))
    return render_template("admin/clinic.html", clinic=clinic, values=values, errors=errors), 400 if errors else 200


# --- Escalated alerts (SAFE-R3) -------------------------------------------------------------------------------


@bp.get("/alerts")
@roles_required(Role.ADMIN)
def escalations():
    """High-priority alerts nobody acknowledged in time, and whom to call about each: no patient, no reason,
    no health information, only the alert's number, its times and its care team (admins see no patient data)."""
    now = utcnow()
    waiting = db.session.execute(
        select(Alert.id, Alert.patient_id, Alert.created_at, Alert.escalated_at)
        .join(User, User.id == Alert.patient_id)
        .where(
            User.clinic_id == current_user.clinic_id,
            Alert.escalated_at.is_not(None),
            Alert.acknowledged_at.is_(None),
        )
        .order_by(Alert.created_at, Alert.id)
    ).all()
    team = care_team(db.session, [row.patient_id for row in waiting])
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_({c for _, c, _ in team}))).all())
    contacts: dict[int, list[tuple[str, str]]] = {}
    for patient_id, clinician_id, email in team:
        contacts.setdefault(patient_id, []).append((names[clinician_id], email))
    rows = [
        {
            "id": row.id,
            "created_at": row.created_at,
            "escalated_at": row.escalated_at,
            "waiting": now - row.created_at,
            "contacts": sorted(contacts.get(row.patient_id, [])),
        }
        for row in waiting
    ]
    return render_template(
        "admin/alerts.html", rows=rows, zone=ZoneInfo(current_user.timezone), describe_wait=describe_wait
    )
