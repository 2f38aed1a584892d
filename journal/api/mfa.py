"""Two-step sign-in through the API: setting it up, and the code a token request carries."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_login import current_user
from flask_smorest import Blueprint, abort

from .. import audit, mfa
from ..db import db, utcnow
from ..models import Role, User
from ..schemas import MfaEnrolmentSchema, MfaStartSchema, OtpSchema, RecoveryCodesSchema
from ..security import client_address, roles_required

blp = Blueprint("api_mfa", __name__, url_prefix="/api/v1", description="Two-step sign-in for staff")

OTP_REQUIRED = "This account signs in in two steps: send the 6-digit code from the authenticator app as otp."


@blp.route("/me/mfa", methods=["POST"])
@roles_required(Role.CLINICIAN, Role.ADMIN)
@blp.arguments(MfaStartSchema, required=False)  # no body: the same as {}
@blp.response(200, MfaEnrolmentSchema)
def start(body):
    """Start setting up two-step sign-in: a secret for an authenticator app, then confirm with a code.

    Asked again, it gives the same secret until the set-up is confirmed (so a retry shows the QR code that may
    have been scanned), or a new one with ``restart``. 409 once two-step sign-in is on."""
    try:
        secret = mfa.start_enrolment(db.session, current_user, restart=body["restart"])
    except mfa.MfaError as error:
        abort(409, message=error.message)
    db.session.commit()
    return {"secret": secret, "otpauth_uri": mfa.provisioning_uri(current_user, secret)}


@blp.route("/me/mfa/confirm", methods=["POST"])
@roles_required(Role.CLINICIAN, Role.ADMIN)
@blp.arguments(OtpSchema)
@blp.response(200, RecoveryCodesSchema)
def confirm(body):
    """Turn two-step sign-in on with a first code from the app; answers the ten single-use recovery codes,
    which are not shown again. 422 for a wrong code, 409 if it was not started or is already on."""
    user = current_user
    secret = mfa.pending_secret(user)
    if secret is None:
        abort(409, message=mfa.ALREADY_ENABLED if mfa.is_enabled(user) else "Start with POST /api/v1/me/mfa.")
    try:
        codes = mfa.confirm_enrolment(db.session, user, secret, body["otp"], utcnow())
    except mfa.MfaError as error:
        db.session.rollback()
        if error.reason == "otp_invalid":
            abort(422, message=error.message, errors={"json": {"otp": [error.message]}})
        abort(409, message=error.message)
    audit.record(user, "mfa.enrol", detail="api")
    db.session.commit()
    return {"recovery_codes": codes}


def check_token_second_factor(user: User, otp: str | None, now: datetime) -> None:
    """For ``POST /auth/token`` after a right password: refuse (abort) unless the second factor is right, or
    the account has none and needs none. Nothing of a refused request is kept but its failure count."""
    if mfa.is_enabled(user):
        if not otp:
            abort(401, message=OTP_REQUIRED, reason="otp_required")
        try:
            kind = mfa.verify_second_factor(db.session, user, otp, now, client=client_address())
        except mfa.MfaError as error:
            abort(401, message=error.message, reason=None if error.reason == "locked" else "otp_invalid")
        if kind == "recovery":
            audit.record(user, "mfa.recovery_code", detail="api")
    elif mfa.must_enrol(user, current_app.config["STAFF_MFA_DEFAULT"]):
        from ..views.mfa import ENROL_ON_THE_WEB

        abort(403, message=ENROL_ON_THE_WEB, reason="mfa_enrolment_required")
