"""Sign-in, sign-out, invitations, and the public crisis page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError

from .. import device
from ..accounts import SignInError, accept_invitation, authenticate, open_invitation
from ..assessments import DEFAULT_CRISIS_RESOURCES, crisis_resources
from ..db import db, utcnow
from ..models import Role, User
from ..outbox import record_open
from ..schemas import LoginFormSchema, PasswordSchema, form_input
from ..security import limiter, login_rate_limit

bp = Blueprint("auth", __name__)


def home_url(user: User) -> str:
    if user.role == Role.PATIENT:
        return url_for("patient.home")
    if user.role == Role.CLINICIAN:
        return url_for("dashboard.clinician_dashboard")
    return url_for("admin.staff")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host (an open redirect would help phishing)."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _start_session(user: User) -> None:
    # A fresh session at sign-in, so nothing planted before it (session fixation) carries over.
    session.clear()
    login_user(user)
    session.permanent = not user.is_staff  # staff: ends with the browser, and after idle minutes
    device.start_person()


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    errors: dict = {}
    email = request.form.get("email", "")
    status = 200
    if request.method == "POST":
        schema = LoginFormSchema()
        try:
            data = schema.load(form_input(schema, request.form))
            config = current_app.config
            user = authenticate(
                db.session,
                data["email"],
                data["password"],
                utcnow(),
                lockout_threshold=config["LOCKOUT_THRESHOLD"],
                lockout_minutes=config["LOCKOUT_MINUTES"],
            )
        except ValidationError as error:
            errors, status = error.messages, 400
        except SignInError as error:
            errors, status = {"form": [error.message]}, 401
        else:
            db.session.commit()
            _start_session(user)
            return redirect(_safe_next(data["next"]) or home_url(user))
    return render_template("login.html", errors=errors, email=email, next=request.args.get("next", "")), status


@bp.post("/logout")
@login_required
def logout():
    current_user.end_all_sessions()
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def invitation(token: str):
    invitation = open_invitation(db.session, token, utcnow())
    if invitation is None:
        return render_template("invitation_invalid.html"), 404
    if current_user.is_authenticated and current_user.id != invitation.user_id:
        # e.g. a clinician clicking the link they are about to give a patient: never switch accounts silently
        return render_template("invitation_other_account.html", invitation=invitation), 409
    errors: dict = {}
    if request.method == "POST":
        schema = PasswordSchema()
        try:
            data = schema.load(form_input(schema, request.form))
            if request.form.get("password_confirm") != data["password"]:
                raise ValidationError({"password_confirm": ["The two passwords are not the same."]})
        except ValidationError as error:
            errors = error.messages
        else:
            user = accept_invitation(db.session, token, data["password"], utcnow())
            if user is None:  # used by a simultaneous submission a moment ago
                db.session.rollback()
                return render_template("invitation_invalid.html"), 404
            db.session.commit()
            _start_session(user)
            return redirect(home_url(user))
    return render_template("invitation.html", invitation=invitation, errors=errors), 400 if errors else 200


@bp.get("/m/<token>")
def message_link(token: str):
    """The link in a reminder or alert: notes that it was opened, then leads into the app (sign-in first)."""
    message = record_open(db.session, token, utcnow())
    return redirect(message.link_path if message is not None else url_for("auth.index"))


@bp.get("/help")
def crisis_help():
    """Crisis resources, open to anyone: a person in crisis must not have to sign in first. A signed-in
    person sees their clinic's numbers; anyone else the US defaults."""
    clinic = current_user.clinic if current_user.is_authenticated else None
    return render_template("help.html", resources=crisis_resources(clinic) if clinic else DEFAULT_CRISIS_RESOURCES)
