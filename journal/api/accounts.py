"""Tokens, the signed-in user, and invitations."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from ..accounts import SignInError, accept_invitation, authenticate, issue_api_token
from ..db import commit_retrying_on_conflict, db, utcnow
from ..models import Role
from ..reminders import as_document, save_push_subscription, settings_for, update_settings
from ..schemas import (
    ActivatedSchema,
    CredentialsSchema,
    MeSchema,
    PasswordSchema,
    PushSubscriptionCreatedSchema,
    PushSubscriptionSchema,
    ReminderSettingsSchema,
    TokenSchema,
)
from ..security import limiter, login_rate_limit, roles_required
from . import PUBLIC

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
        user = authenticate(
            db.session,
            credentials["email"],
            credentials["password"],
            now,
            lockout_threshold=config["LOCKOUT_THRESHOLD"],
            lockout_minutes=config["LOCKOUT_MINUTES"],
        )
    except SignInError as error:
        abort(401, message=error.message)
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
    user = accept_invitation(db.session, token, body["password"], utcnow())
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
    """Change the daily reminder: time (HH:MM local), channels, quiet hours, pause."""
    # Two first saves at once both insert the patient's row: the second is then made again as a change.
    settings = commit_retrying_on_conflict(db.session, lambda: update_settings(db.session, current_user, values))
    return as_document(settings)


@blp.route("/me/push-subscriptions", methods=["POST"])
@roles_required(Role.PATIENT)
@blp.arguments(PushSubscriptionSchema)
@blp.response(201, PushSubscriptionCreatedSchema)
def add_push_subscription(subscription):
    """Register this device's Web Push subscription (PushSubscription.toJSON() from the browser)."""
    saved = commit_retrying_on_conflict(
        db.session,  # the same device registered twice at once: the second finds the first's row
        lambda: save_push_subscription(db.session, current_user, subscription["endpoint"], **subscription["keys"]),
    )
    return {"id": saved.id}
