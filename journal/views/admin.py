"""Clinic administration: staff accounts, clinic settings, escalations and the audit trail. Admins see no
patient's health data."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import and_, false, func, or_, select, true

from .. import audit, schedules
from ..accounts import EnrolmentError, create_invitation, create_staff, request_password_reset, revoke_everything
from ..alerts import care_team
from ..db import commit_retrying_on_conflict, db, utcnow
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
    return render_template("admin/staff.html", members=members)


def _show_invitation(user: User, token: str, heading: str):
    """The new link, shown in the answer to the POST that made it and nowhere else: never kept in the session
    cookie, and only its hash is stored."""
    audit.record(current_user, "invitation.create", detail=f"user {user.id}")
    db.session.commit()
    return render_template(
        "invitation_link.html",
        heading=heading,
        account=user,
        url=invitation_url(token),
        back_url=url_for("admin.staff"),
        back_label="Back to the staff list",
    )


@bp.route("/staff/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_staff():
    errors: dict = {}
    if request.method == "POST":
        schema = StaffSchema()
        now = utcnow()

        def add_staff() -> tuple[User, str]:
            user = create_staff(db.session, current_user.clinic_id, now=now, **{**data, "role": Role(data["role"])})
            audit.record(current_user, "staff.create", detail=f"user {user.id}")
            token = create_invitation(db.session, user, current_user, now, current_app.config["INVITATION_DAYS"])
            return user, token

        try:
            data = schema.load(form_input(schema, request.form))
            # Two admins adding one e-mail at once: the second is then made again, and finds the address taken.
            user, token = commit_retrying_on_conflict(db.session, add_staff)
        except ValidationError as error:
            errors = error.messages
        except EnrolmentError as error:
            db.session.rollback()
            errors = {error.field: [error.message]}
        else:
            return _show_invitation(user, token, f"{user.name} is added")
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
    """A new invitation link for an account never activated; for an active one, an e-mail to its owner with a
    link to set a new password (no admin ever sees a link into someone else's account)."""
    user = _staff_member_or_404(user_id)
    now = utcnow()
    if user.disabled_at is not None:
        flash("This account is disabled. Enable it first.", "error")
        return redirect(url_for("admin.staff"))
    if user.activated_at is None:
        token = create_invitation(db.session, user, current_user, now, current_app.config["INVITATION_DAYS"])
        return _show_invitation(user, token, f"A new link for {user.name}")
    request_password_reset(db.session, user.email, now, minutes=current_app.config["PASSWORD_RESET_MINUTES"])
    audit.record(current_user, "password_reset.send", detail=f"user {user.id}")
    db.session.commit()
    flash("A link to set a new password was sent to the account's e-mail address.", "success")
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
        user.disabled_at = None  # its old sessions and tokens stay revoked
    else:
        user.disabled_at = utcnow()
        revoke_everything(db.session, user, user.disabled_at)
    audit.record(current_user, "staff.enable" if enabled == "yes" else "staff.disable", detail=f"user {user.id}")
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


def _admin_action_starts_with(prefix: str):
    """Events whose action, as an admin sees it (``audit.for_admins``), starts with ``prefix``: a filter must not
    sort the neutral patient-data rows by their real action, or it would name them."""
    shown_in_full = or_(
        AuditEvent.patient_id.is_(None), *(AuditEvent.action.startswith(kind) for kind in audit.ACCOUNT_ACTIONS)
    )
    reads = or_(*(AuditEvent.action.endswith(suffix) for suffix in audit.READ_SUFFIXES))
    neutral = {
        (True, True): true(),
        (True, False): reads,
        (False, True): ~reads,
        (False, False): false(),
    }[audit.PATIENT_READ.startswith(prefix), audit.PATIENT_CHANGE.startswith(prefix)]
    return or_(
        and_(shown_in_full, AuditEvent.action.startswith(prefix, autoescape=True)), and_(~shown_in_full, neutral)
    )


@bp.get("/audit")
@roles_required(Role.ADMIN)
def audit_log():
    """The audit trail of this clinic's people, newest first, filtered by who, what and when. Account actions
    in full; of an action on a patient's data, only who, when and whether it read or changed a record."""
    args = request.args
    zone = ZoneInfo(current_user.timezone)
    clinic_staff = select(User.id).where(User.clinic_id == current_user.clinic_id)
    query = select(AuditEvent).where(AuditEvent.actor_id.in_(clinic_staff))
    if actor := args.get("actor", "").strip():
        query = query.where(AuditEvent.actor.has(User.email.contains(actor.lower(), autoescape=True)))
    if action := args.get("action", "").strip():
        query = query.where(_admin_action_starts_with(action))
    if start := _parse_day(args.get("from"), zone, end=False):
        query = query.where(AuditEvent.occurred_at >= start)
    if stop := _parse_day(args.get("to"), zone, end=True):
        query = query.where(AuditEvent.occurred_at <= stop)
    page = max(1, args.get("page", 1, type=int) or 1)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    events = [
        audit.for_admins(event)
        for event in db.session.scalars(
            query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(AUDIT_PAGE_SIZE)
            .offset((page - 1) * AUDIT_PAGE_SIZE)
        )
    ]
    named = {event.actor_id for event in events} | {event.account_id for event in events}
    emails = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(named - {None}))).all())
    return render_template(
        "admin/audit.html",
        events=events,
        emails=emails,
        total=total,
        page=page,
        page_size=AUDIT_PAGE_SIZE,
        args=args,
        zone=zone,
    )


DELIVERY_LOG_SIZE = 100


@bp.get("/deliveries")
@roles_required(Role.ADMIN)
def deliveries():
    """Messages that failed or wait for a retry, and the delivery log (queued, sent, failed, opened) for this
    clinic's people: channel, status, attempts and times, a neutral category, and staff recipients only."""
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
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(200)
    ).all()
    recent = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.recipient_id.in_(clinic_users))
        # Newest first by when each was queued: a message's id is not its date (a job queues a reminder for its
        # own instant, and a run that catches up queues older messages after newer ones).
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(DELIVERY_LOG_SIZE)
    ).all()
    recipients = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({m.recipient_id for m in (*troubled, *recent)})))
    }
    return render_template(
        "admin/deliveries.html",
        counts=counts,
        messages=[_delivery_row(message, recipients) for message in troubled],
        recent=[_delivery_row(message, recipients) for message in recent],
        log_size=DELIVERY_LOG_SIZE,
        zone=ZoneInfo(current_user.timezone),
    )


# What admins see of a message's purpose: whether it carries a sign-in link, or is any other notification. A
# purpose tied to a person ("side effect check", the morning after a dosing session) would be a health event.
SIGN_IN_TEMPLATES = {"invitation", "password_reset"}


def _delivery_row(message: OutboxMessage, recipients: dict[int, User]) -> dict:
    """A message as admins see it: a staff recipient by address; a patient not at all (nor their address in the
    last error), so that no row ties a person to a message whose time alone could say what it was for."""
    recipient = recipients.get(message.recipient_id)
    error = message.last_error or ""
    if recipient is None or recipient.role == Role.PATIENT:
        to = "a patient" if recipient is not None else ""
        for address in {message.address, recipient.email if recipient else ""} - {""}:
            error = error.replace(address, "[the recipient]")
    else:
        to = recipient.email
    return {
        "created_at": message.created_at,
        "to": to,
        "category": "sign-in link" if message.template in SIGN_IN_TEMPLATES else "notification",
        "channel": message.channel,
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at,
        "last_error": error,
        "sent_at": message.sent_at,
        "opened_at": message.opened_at,
    }


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
    """The clinic's crisis numbers (SAFE-R1, checked at each release: SAFE-R2), questionnaire cadence (PHQ-R13) and
    schedules (journal/schedules.py), the PHQ-8 in place of the PHQ-9 (SAFE-R4), the PCL-5 cut-point (PCL-R6),
    the follow-up reminder (EMA-R2), escalation time (SAFE-R3) and the thresholds of its alert rules, which are its
    own choices. Audited, naming the settings that changed."""
    clinic = current_user.clinic
    schema = ClinicSettingsSchema()
    errors: dict = {}
    schedule_fields = set(schedules.setting_fields())
    values = {name: getattr(clinic, name) for name in schema.fields if name not in schedule_fields}
    values.update(schedules.setting_values(db.session, clinic))
    if request.method == "POST":
        submitted = form_input(schema, request.form)
        try:
            data = schema.load(submitted)
        except ValidationError as error:
            errors = _friendlier(error.messages)
            values = {name: submitted.get(name, "") for name in schema.fields}
        else:
            settings = {name: value for name, value in data.items() if name not in schedule_fields}

            def save() -> list[str]:
                changed = [name for name, value in settings.items() if getattr(clinic, name) != value]
                for name, value in settings.items():
                    setattr(clinic, name, value)
                changed += schedules.save_settings(db.session, clinic, data, current_user, utcnow())
                audit.record(current_user, "clinic.settings", detail=", ".join(changed) or "no change")
                return changed

            # Two admins saving at once may both add a schedule row: the second's retry finds the first's.
            changed = commit_retrying_on_conflict(db.session, save)
            flash("The clinic settings are saved." if changed else "Nothing had changed.", "success")
            return redirect(url_for("admin.clinic_settings"))
    return render_template(
        "admin/clinic.html",
        clinic=clinic,
        values=values,
        errors=errors,
        limits=schedules.LIMITS,
        after=schedules.AFTER_SESSION,
        before=schedules.BEFORE_SESSION,
    ), 400 if errors else 200


# --- Escalated alerts (SAFE-R3) -------------------------------------------------------------------------------


@bp.get("/alerts")
@roles_required(Role.ADMIN)
def escalations():
    """High-priority alerts nobody acknowledged in time, and whom to call about each: no patient, no kind, no
    priority and no number the audit trail could tie to a patient, only its times and its care team."""
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
