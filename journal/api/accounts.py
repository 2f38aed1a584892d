"""Tokens, the signed-in user, and invitations."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from .. import audit, sms
from ..accounts import (
    PasswordRefused,
    PasswordRejected,
    SignInError,
    accept_invitation,
    authenticate,
    change_password,
    clear_sign_in_failures,
    complete_password_reset,
    issue_api_token,
    request_password_reset,
    revoke_api_token,
)
from ..channels import PushEndpointRefused
from ..config import texts_available
from ..db import commit_retrying_on_conflict, db, utcnow
from ..models import Role
from ..reminders import as_document, device_count, problems, save_push_subscription, settings_for, update_settings
from ..schemas import (
    ActivatedSchema,
    CredentialsSchema,
    MeSchema,
    PasswordChangeSchema,
    PasswordResetRequestedSchema,
    PasswordResetRequestSchema,
    PasswordSchema,
    PushSubscriptionCreatedSchema,
    PushSubscriptionSchema,
    ReminderSettingsSchema,
    SmsConsentSchema,
    SmsConsentStateSchema,
    TokenSchema,
)
from ..security import bearer_token, client_address, limiter, login_rate_limit, per_account, roles_required
from ..views.auth import RESET_LINK_INVALID, reset_requested_message
from ..views.settings import push_limits
from . import PUBLIC
from .mfa import check_token_second_factor

blp = Blueprint("api_accounts", __name__, url_prefix="/api/v1", description="Tokens, the signed-in user, invitations")


@blp.route("/auth/token", methods=["POST"])
@blp.doc(**PUBLIC)
@blp.arguments(CredentialsSchema)
@blp.response(200, TokenSchema)
@limiter.limit(login_rate_limit)
def create_token(credentials):
    """Exchange an e-mail and password for a bearer token that expires."""
    now = utcnow()
    config = current_app.config
    try:
        user = authenticate(db.session, credentials["email"], credentials["password"], now, client=client_address())
    except SignInError as error:
        abort(401, message=error.message)
    check_token_second_factor(user, credentials["otp"], now)
    # Signed in (any second factor checked above this line): forget this address's failures for the account.
    clear_sign_in_failures(db.session, credentials["email"], client_address())
    token, expires_at = issue_api_token(db.session, user, now, config["API_TOKEN_HOURS"])
    db.session.commit()
    return {"token": token, "expires_at": expires_at}


@blp.route("/me", methods=["GET"])
@login_required
@blp.response(200, MeSchema)
def me():
    """The signed-in user."""
    return current_user


@blp.route("/invitations/<token>", methods=["POST"])
@blp.doc(**PUBLIC)
@blp.arguments(PasswordSchema)
@blp.response(200, ActivatedSchema)
@limiter.limit(login_rate_limit)
def activate(body, token: str):
    """Accept an invitation: set the password and activate the account (as the phone page does)."""
    try:
        user = accept_invitation(db.session, token, body["password"], utcnow())
    except PasswordRefused as error:
        abort(422, message=error.message, errors={"json": {"password": [error.message]}})
    if user is None:
        abort(404, message="This invitation link is not valid: it may have been used already or have expired.")
    db.session.commit()
    return user


@blp.route("/me/reminders", methods=["GET"])
@roles_required(Role.PATIENT)
@blp.response(200, ReminderSettingsSchema)
def get_reminders():
    """The signed-in patient's daily reminder settings (local time)."""
    return as_document(settings_for(db.session, current_user))


@blp.route("/me/reminders", methods=["PUT"])
@roles_required(Role.PATIENT)
@blp.arguments(ReminderSettingsSchema)
@blp.response(200, ReminderSettingsSchema)
def put_reminders(values):
    """Change the daily reminder: time (HH:MM local), channels, quiet hours, pause. Settings that could never
    deliver are refused with 422 naming the field: `channels` empty while not paused, or `webpush` with no
    device registered (POST /me/push-subscriptions first); `sms` without consent to texts (POST /me/sms-consent
    first); `time` inside the quiet hours."""
    agreed = sms.consented_number(db.session, current_user) is not None
    if found := problems(values, device_count(db.session, current_user), agreed):
        abort(422, message="These reminder settings could never send a reminder.", errors={"json": found})
    # Two first saves at once both insert the patient's row: the second is then made again as a change.
    settings = commit_retrying_on_conflict(db.session, lambda: update_settings(db.session, current_user, values))
    return as_document(settings)


def sms_consent_state(user) -> dict:
    """Whether the patient agreed to texts at their number, and the words: agreed to, or to agree to."""
    consent = sms.consent_in_force(db.session, user.id)
    phone = user.patient.phone
    if consent is not None and consent.phone == phone:
        return {"agreed": True, "phone": phone, "words": consent.words, "given_at": consent.given_at}
    return {"agreed": False, "phone": phone, "words": sms.words_for(user, current_app.config["SMS_SENDER_NAME"])}


@blp.route("/me/sms-consent", methods=["GET"])
@roles_required(Role.PATIENT)
@blp.response(200, SmsConsentStateSchema)
def get_sms_consent():
    """Whether the signed-in patient agreed to text messages, and the exact words to agree to (or agreed to)."""
    return sms_consent_state(current_user)


@blp.route("/me/sms-consent", methods=["POST"])
@roles_required(Role.PATIENT)
@blp.arguments(SmsConsentSchema)
@blp.response(201, SmsConsentStateSchema)
def give_sms_consent(_body):
    """Agree to text messages at your phone number, in the words GET shows (they, the time and the number are
    stored); a confirmation text follows. Then `sms` may be chosen in PUT /me/reminders. 422 without a phone
    number (`phone`); agreeing again changes nothing."""
    if not texts_available(current_app.config):
        abort(422, message="Text messages are not available on this server yet.")
    try:
        sms.agree(db.session, current_user, utcnow(), sender=current_app.config["SMS_SENDER_NAME"], via="api")
    except sms.ConsentError as error:
        abort(422, message=error.message, errors={"json": {error.field: [error.message]}})
    return sms_consent_state(current_user)


@blp.route("/me/sms-consent", methods=["DELETE"])
@roles_required(Role.PATIENT)
@blp.response(204)
def withdraw_sms_consent():
    """Withdraw consent to text messages: no further text, `sms` leaves the reminder channels, and texts
    waiting to go are cancelled."""
    sms.withdraw(db.session, [current_user.id], utcnow(), via="api")
    db.session.commit()


@blp.route("/me/push-subscriptions", methods=["POST"])
@roles_required(Role.PATIENT)
@blp.arguments(PushSubscriptionSchema)
@blp.response(201, PushSubscriptionCreatedSchema)
def add_push_subscription(subscription):
    """Register this device's Web Push subscription (PushSubscription.toJSON() from the browser). Only a
    browser's push service is accepted (422 otherwise); a device beyond the fifth replaces the oldest."""
    try:
        saved = commit_retrying_on_conflict(
            db.session,  # the same device registered twice at once: the second finds the first's row
            lambda: save_push_subscription(
                db.session, current_user, subscription["endpoint"], **subscription["keys"], **push_limits()
            ),
        )
    except PushEndpointRefused as error:
        db.session.rollback()
        abort(422, message="This is not a browser's push service.", errors={"endpoint": [str(error)]})
    return {"id": saved.id}


# --- Signing out, passwords ------------------------------------------------------------------------------------


@blp.route("/auth/token", methods=["DELETE"])
@login_required
@blp.response(204)
def delete_token():
    """Sign this client out: revoke the bearer token the request is sent with (401 without a valid one)."""
    revoke_api_token(db.session, bearer_token(), utcnow())
    db.session.commit()


@blp.route("/auth/password-reset", methods=["POST"])
@blp.doc(**PUBLIC)
@blp.arguments(PasswordResetRequestSchema)
@blp.response(202, PasswordResetRequestedSchema)
@limiter.limit(login_rate_limit)
def request_reset(body):
    """Ask for an e-mail with a single-use link to set a new password (valid for
    ``JOURNAL_PASSWORD_RESET_MINUTES``, 60 by default). Always 202 with the same body, after the same work,
    whether or not the address has an account; the e-mail goes only to an account that is not disabled."""
    user, _token = request_password_reset(
        db.session, body["email"], utcnow(), minutes=current_app.config["PASSWORD_RESET_MINUTES"]
    )
    # by whoever typed the address: recorded as the account's own request, or as nobody's
    audit.record_account(user, "password_reset.request", user)
    db.session.commit()
    return {"message": reset_requested_message()}


@blp.route("/auth/password-reset/<token>", methods=["POST"])
@blp.doc(**PUBLIC)
@blp.arguments(PasswordSchema)
@blp.response(204)
@limiter.limit(login_rate_limit)
def complete_reset(body, token: str):
    """Set a new password with the link's token (the last segment of the e-mailed link), as the phone page does.
    Every session and token of the account is revoked and its sign-in pauses are lifted; sign in again with
    ``POST /auth/token``. 404 if the link is unknown, used, replaced by a newer one or expired."""
    try:
        user = complete_password_reset(db.session, token, body["password"], utcnow())
    except PasswordRefused as error:
        db.session.rollback()
        abort(422, message=error.message, errors={"json": {"password": [error.message]}})
    if user is None:
        db.session.rollback()
        abort(404, message=RESET_LINK_INVALID)
    audit.record_account(user, "password_reset.complete", user)
    db.session.commit()


@blp.route("/me/password", methods=["PUT"])
@login_required
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
@limiter.limit(login_rate_limit)
@limiter.limit(login_rate_limit, key_func=per_account)
def put_password(body):
    """Change the password. Every session and bearer token of the account is revoked, the one this request
    was sent with too: sign in again with the new password. A wrong ``current_password`` is a 422 naming it,
    and counts as a failed sign-in from this address."""
    try:
        change_password(
            db.session,
            current_user,
            body["current_password"],
            body["new_password"],
            utcnow(),
            client=client_address(),
        )
    except PasswordRejected as error:
        db.session.rollback()
        abort(422, message=error.message, errors={"json": {error.field: [error.message]}})
    audit.record_account(current_user, "password.change", current_user)
    db.session.commit()
