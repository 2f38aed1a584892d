"""Tokens, the signed-in user, and invitations."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user, login_required
from flask_smorest import Blueprint, abort

from ..accounts import SignInError, accept_invitation, authenticate, issue_api_token
from ..db import db, utcnow
from ..schemas import ActivatedSchema, CredentialsSchema, MeSchema, PasswordSchema, TokenSchema
from ..security import limiter, login_rate_limit
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
