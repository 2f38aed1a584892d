"""Two-step sign-in pages: the code after the password, setting it up, an admin's reset, and the rule that staff
of a clinic that requires it set it up before anything else."""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from markupsafe import Markup
from marshmallow import ValidationError

from .. import audit, mfa
from ..accounts import clear_sign_in_failures
from ..db import db, utcnow
from ..errors import json_error
from ..models import Role, User
from ..schemas import OtpSchema, form_input
from ..security import client_address, is_api_request, limiter, login_rate_limit, roles_required
from . import auth

bp = Blueprint("mfa", __name__)

# How long the code may follow the password: long enough to find the phone, short enough that a browser left
# between the two steps does not stay half signed in.
PENDING_SECONDS = 5 * 60

# What a staff member who must set up two-step sign-in may still reach before they have.
OPEN_WHILE_ENROLLING = {
    "mfa.settings",
    "auth.logout",
    "auth.crisis_help",
    "health.healthz",
    "health.readyz",
    "static",
    "api_mfa.start",
    "api_mfa.confirm",
}


# --- The second step of sign-in ---------------------------------------------------------------------------


def second_step(user: User, next_url: str | None):
    """After a right password for an account with two-step sign-in: remember who is half signed in, without
    signing them in, and ask for the code. Nothing of the session before is kept (session fixation)."""
    session.clear()
    session["mfa_pending"] = {"user": user.get_id(), "since": time.time(), "next": next_url}
    return redirect(url_for("mfa.verify"))


def _pending_user() -> User | None:
    """Whom the code is for: the account whose password was right in the last ``PENDING_SECONDS``, if it is
    still active, has not been signed out everywhere since (the session salt) and still has two-step sign-in."""
    pending = session.get("mfa_pending")
    if not isinstance(pending, dict) or time.time() - float(pending.get("since", 0)) > PENDING_SECONDS:
        return None
    id_part, _, salt = str(pending.get("user", "")).partition(":")
    user = db.session.get(User, int(id_part)) if id_part.isdigit() else None
    if user is None or not user.is_active or user.session_salt != salt or not mfa.is_enabled(user):
        return None
    return user


@bp.route("/login/verify", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def verify():
    if current_user.is_authenticated:
        return redirect(auth.home_url(current_user))
    errors: dict = {}
    if request.method == "POST":
        schema = OtpSchema()
        try:
            data = schema.load(form_input(schema, request.form))
        except ValidationError as error:
            return render_template("mfa/verify.html", errors=error.messages), 400
    user = _pending_user()
    if user is None:
        if session.pop("mfa_pending", None) is not None:
            flash("Sign in again: the code must follow the password within 5 minutes.", "info")
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        now, client = utcnow(), client_address()
        try:
            kind = mfa.verify_second_factor(db.session, user, data["otp"], now, client=client)
        except mfa.MfaError as error:
            errors = {"otp": [error.message]}
        else:
            next_url = session["mfa_pending"].get("next")
            clear_sign_in_failures(db.session, user, client)
            if kind == "recovery":
                audit.record(user, "mfa.recovery_code")
            db.session.commit()
            auth._start_session(user)  # a fresh session: the half-signed-in one is dropped
            if kind == "recovery":
                left = mfa.recovery_codes_left(db.session, user)
                flash(
                    f"You signed in with a recovery code; {left} of them left. If your phone is lost, ask an admin "
                    "to reset your two-step sign-in.",
                    "info",
                )
            return redirect(auth._safe_next(next_url) or auth.home_url(user))
    return render_template("mfa/verify.html", errors=errors), 401 if errors else 200


# --- Setting it up ------------------------------------------------------------------------------------------


def _enrolment_secret(user: User) -> str:
    """The secret this browser is setting up, kept sealed in the session (nothing is written until a code
    confirms it); a new one if there is none yet."""
    pending = session.get("mfa_enrolment")
    if isinstance(pending, dict) and pending.get("user") == user.id:
        secret = mfa.unseal_secret(str(pending.get("sealed", "")))
        if secret is not None:
            return secret
    secret = mfa.new_secret()
    session["mfa_enrolment"] = {"user": user.id, "sealed": mfa.seal_secret(secret)}
    return secret


@bp.route("/settings/mfa", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN, Role.ADMIN)
def settings():
    """Two-step sign-in: its state once on; until then the QR code, the secret to type in, and a code to
    confirm; on confirmation, the ten recovery codes, shown this once."""
    user = current_user
    required = mfa.required_for(user, current_app.config["STAFF_MFA_DEFAULT"])
    if mfa.is_enabled(user):
        if request.method == "POST":
            return redirect(url_for("mfa.settings"))
        left = mfa.recovery_codes_left(db.session, user)
        return render_template("mfa/settings.html", enabled=True, left=left, required=required)
    secret = _enrolment_secret(user)
    errors: dict = {}
    if request.method == "POST":
        schema = OtpSchema()
        try:
            data = schema.load(form_input(schema, request.form))
            codes = mfa.confirm_enrolment(db.session, user, secret, data["otp"], utcnow())
        except ValidationError as error:
            errors = error.messages
        except mfa.MfaError as error:
            db.session.rollback()
            errors = {"otp": [error.message]}
        else:
            audit.record(user, "mfa.enrol")
            db.session.commit()
            session.pop("mfa_enrolment", None)
            # Shown in this answer only (no-store, like every page), never kept anywhere to show again.
            return render_template("mfa/recovery_codes.html", codes=codes, home=auth.home_url(user))
    # segno's SVG of our own otpauth URI (its only text, the title, is ours): markup no one else wrote
    qr = Markup(mfa.qr_svg(mfa.provisioning_uri(user, secret)))  # noqa: S704 # nosec B704
    return render_template(
        "mfa/settings.html",
        enabled=False,
        required=required,
        qr=qr,
        secret=mfa.grouped(secret),
        errors=errors,
    ), 400 if errors else 200


@bp.before_app_request
def _enrolment_gate():
    """Staff of a clinic that requires two-step sign-in and who have not set it up yet reach only its set-up
    page (and sign-out, help); their API tokens get a 403 that says so."""
    if request.endpoint in OPEN_WHILE_ENROLLING or request.endpoint is None:
        return None
    if not current_user.is_authenticated or not current_user.is_staff:
        return None
    if not mfa.must_enrol(current_user, current_app.config["STAFF_MFA_DEFAULT"]):
        return None
    if is_api_request():
        if request.path == "/api/v1/auth/token":  # giving a token back (DELETE) is always allowed
            return None
        return json_error(403, ENROL_ON_THE_WEB, reason="mfa_enrolment_required")
    return redirect(url_for("mfa.settings"))


ENROL_ON_THE_WEB = (
    "Your clinic requires two-step sign-in. Sign in on the web to set it up, then ask for a token with the code "
    "from your authenticator app (otp)."
)


# --- An admin's reset -----------------------------------------------------------------------------------------


@bp.post("/admin/staff/<id:user_id>/mfa-reset")
@roles_required(Role.ADMIN)
def reset(user_id: int):
    """Turn off a staff member's two-step sign-in (a lost phone): they set it up again at their next sign-in.
    Every session and token of theirs ends, and the audit trail says who did it for whom."""
    from .admin import _staff_member_or_404

    user = _staff_member_or_404(user_id)
    if user.id == current_user.id:
        abort(400)  # another admin does it: a stolen session must not be able to take the second factor off
    mfa.reset(db.session, user, utcnow())
    audit.record(current_user, "mfa.reset", detail=f"user {user.id}")
    db.session.commit()
    flash(f"Two-step sign-in for {user.name} is reset, and they are signed out everywhere.", "success")
    return redirect(url_for("admin.staff"))
