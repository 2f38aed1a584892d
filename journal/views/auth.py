"""Sign-in, sign-out, invitations, and the public crisis page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user
from marshmallow import ValidationError

from .. import audit, device, mfa
from ..accounts import (
    PasswordRefused,
    SignInError,
    accept_invitation,
    authenticate,
    clear_sign_in_failures,
    complete_password_reset,
    open_invitation,
    open_password_reset,
    request_password_reset,
    revoke_everything,
)
from ..assessments import DEFAULT_CRISIS_RESOURCES, crisis_resources
from ..db import db, utcnow
from ..models import Role, User
from ..outbox import record_open
from ..schemas import LoginFormSchema, PasswordResetRequestSchema, PasswordSchema, form_input
from ..security import client_address, limiter, login_rate_limit
from ..wording import N_, Wording
from .mfa import second_step

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
            user = authenticate(db.session, data["email"], data["password"], utcnow(), client=client_address())
        except ValidationError as error:
            errors, status = error.messages, 400
        except SignInError as error:
            errors, status = {"form": error.messages}, 401
        else:
            if mfa.is_enabled(user):  # the code next; the failures are forgotten once it is right
                db.session.commit()
                return second_step(user, _safe_next(data["next"]))
            # Signed in (any second factor checked above this line): forget this address's failures.
            clear_sign_in_failures(db.session, data["email"], client_address())
            db.session.commit()
            _start_session(user)
            return redirect(_safe_next(data["next"]) or home_url(user))
    return render_template("login.html", errors=errors, email=email, next=request.args.get("next", "")), status


@bp.post("/logout")
@login_required
def logout():
    # Every session and bearer token of the account ends: signing out on one device signs out everywhere.
    revoke_everything(db.session, current_user, utcnow())
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
                raise ValidationError({"password_confirm": [N_("The two passwords are not the same.")]})
            user = accept_invitation(db.session, token, data["password"], utcnow())
        except ValidationError as error:
            errors = error.messages
        except PasswordRefused as error:
            errors = {"password": [error.message]}
        else:
            if user is None:  # used by a simultaneous submission a moment ago
                db.session.rollback()
                return render_template("invitation_invalid.html"), 404
            db.session.commit()
            _start_session(user)
            return redirect(home_url(user))
    return render_template("invitation.html", invitation=invitation, errors=errors), 400 if errors else 200


# --- Forgotten password -----------------------------------------------------------------------------------------

RESET_LINK_INVALID = "This link is not valid: it may have been used already, replaced by a newer one, or expired."


def reset_requested_message() -> str:
    """What anyone who asks for a reset is told, the same whether or not the address has an account."""
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    return Wording(
        N_(
            "If an account uses this e-mail address, a message with a link to set a new password is on its way. "
            "The link works once, for %(minutes)d minutes."
        ),
        minutes=minutes,
    )


@bp.route("/password-reset", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def password_reset_request():
    """Ask for an e-mail with a link to set a new password. The answer is the same for any address."""
    errors: dict = {}
    if request.method == "POST":
        schema = PasswordResetRequestSchema()
        try:
            data = schema.load(form_input(schema, request.form))
        except ValidationError as error:
            errors = error.messages
        else:
            minutes = current_app.config["PASSWORD_RESET_MINUTES"]
            user, _token = request_password_reset(db.session, data["email"], utcnow(), minutes=minutes)
            # by whoever typed the address: recorded as the account's own request, or as nobody's
            audit.record_account(user, "password_reset.request", user)
            db.session.commit()
            return render_template("password_reset_sent.html", message=reset_requested_message())
    email = request.form.get("email", "")
    return render_template("password_reset_request.html", errors=errors, email=email), 400 if errors else 200


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def password_reset(token: str):
    """The e-mailed link: choose a new password, then be signed in on this device (every other device is
    signed out)."""
    reset = open_password_reset(db.session, token, utcnow())
    if reset is None:
        return render_template("password_reset_invalid.html"), 404
    if current_user.is_authenticated and current_user.id != reset.user_id:
        # never switch accounts silently on a shared device
        return render_template("invitation_other_account.html", kind="reset"), 409
    errors: dict = {}
    if request.method == "POST":
        schema = PasswordSchema()
        try:
            data = schema.load(form_input(schema, request.form))
            if request.form.get("password_confirm") != data["password"]:
                raise ValidationError({"password_confirm": [N_("The two passwords are not the same.")]})
            user = complete_password_reset(db.session, token, data["password"], utcnow())
        except ValidationError as error:
            errors = error.messages
        except PasswordRefused as error:
            db.session.rollback()
            errors = {"password": [error.message]}
        else:
            if user is None:  # used by a simultaneous submission a moment ago
                db.session.rollback()
                return render_template("password_reset_invalid.html"), 404
            audit.record_account(user, "password_reset.complete", user)
            db.session.commit()
            if mfa.is_enabled(user) or mfa.required_for(user, current_app.config["STAFF_MFA_DEFAULT"]):
                # A link in an e-mail is one factor: the second is still asked, at sign-in.
                flash(N_("Your new password is set. Sign in with it to continue."), "success")
                return redirect(url_for("auth.login"))
            _start_session(user)
            return redirect(home_url(user))
    return render_template("password_reset.html", reset=reset, errors=errors), 400 if errors else 200


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
    if clinic is not None:
        return render_template("help.html", resources=crisis_resources(clinic))
    # No clinic speaks here: the default promise is the journal's own words, so they come from the catalogue.
    resources = DEFAULT_CRISIS_RESOURCES | {"review_promise_es": gettext(DEFAULT_CRISIS_RESOURCES["review_promise"])}
    return render_template("help.html", resources=resources)
