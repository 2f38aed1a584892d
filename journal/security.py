"""Sign-in sessions, bearer tokens, CSRF, rate limits and the security headers on every response."""

from __future__ import annotations

import hashlib
import hmac
import time
from functools import wraps

from flask import Flask, abort, current_app, flash, redirect, request, session, url_for
from flask_limiter import Limiter
from flask_login import LoginManager, current_user, logout_user
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from . import accounts, device
from .accounts import SignInRules, client_network, user_for_api_token
from .db import db, utcnow
from .models import Role, User

login_manager = LoginManager()
csrf = CSRFProtect()


def client_address() -> str:
    """The client as the rate limits and the sign-in pauses count it: the address Flask sees (through ProxyFix
    when JOURNAL_PROXY_FIX is on), with an IPv6 address taken as its /64 network."""
    return client_network(request.remote_addr)


limiter = Limiter(key_func=client_address)


def per_account() -> str:
    """A rate-limit key for the signed-in account, from whatever address (after ``client_address`` limits)."""
    return f"account:{current_user.id}" if current_user.is_authenticated else client_address()


talisman = Talisman()

# Nothing from another origin and no inline script or style, ever.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "manifest-src": "'self'",
    "worker-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    if app.config["PROXY_FIX"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    login_manager.init_app(app)
    # "basic", not "strong": a phone that moves from Wi-Fi to mobile data changes address and must not be
    # signed out mid check-in.
    login_manager.session_protection = "basic"
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"

    csrf.init_app(app)
    limiter.init_app(app)  # RATELIMIT_STORAGE_URI "journal+db://" is journal/ratelimit.py, on the app's engine
    accounts.use_sign_in_rules(sign_in_rules)
    talisman.init_app(
        app,
        force_https=False,  # TLS is terminated in front of the app; HSTS is still sent on HTTPS requests
        strict_transport_security=True,
        strict_transport_security_max_age=31536000,
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="no-referrer",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        permissions_policy={"camera": "()", "microphone": "()", "geolocation": "()", "interest-cohort": "()"},
    )
    app.before_request(_expire_idle_sessions)
    app.after_request(_no_store_for_signed_in_pages)
    app.after_request(device.set_person_cookie)


@login_manager.user_loader
def _load_user_from_session(user_id: str) -> User | None:
    # The API authenticates with bearer tokens only: a session cookie must never authorise an API call,
    # because API routes are exempt from CSRF.
    if is_api_request():
        return None
    id_part, _, salt = user_id.partition(":")
    user = db.session.get(User, int(id_part)) if id_part.isdigit() else None
    if user is None or not user.is_active or user.session_salt != salt:
        return None
    return user


@login_manager.request_loader
def _load_user_from_bearer_token(req) -> User | None:
    if not is_api_request():
        return None
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    # A staff member's token stops working after the idle time that also ends their web session.
    idle = current_app.config["STAFF_IDLE_MINUTES"]
    return user_for_api_token(db.session, token.strip(), utcnow(), staff_idle_minutes=idle)


def bearer_token() -> str | None:
    """The bearer token this API request was sent with, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@login_manager.unauthorized_handler
def _unauthorised():
    if is_api_request():
        from .errors import json_error

        return json_error(401, "Sign in first: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token.")
    flash(login_manager.login_message, "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _expire_idle_sessions():
    """Sign staff out after a period without requests (patients keep a longer, rolling session), and anyone
    whose browser no longer holds the person cookie of this sign-in (see ``device``)."""
    if is_api_request() or request.endpoint == "static" or not current_user.is_authenticated:
        return None
    if not device.person_matches():
        logout_user()
        session.clear()
        return None if request.endpoint in ("auth.login", "auth.logout") else login_manager.unauthorized()
    now = time.time()
    if current_user.is_staff:
        idle_limit = current_app.config["STAFF_IDLE_MINUTES"] * 60
        last_seen = session.get("last_seen", now)
        if now - last_seen > idle_limit:
            logout_user()
            session.clear()
            flash("You were signed out after a period of inactivity.", "info")
            return redirect(url_for("auth.login"))
    session["last_seen"] = now
    return None


def _no_store_for_signed_in_pages(response):
    # Nothing rendered for a person may be kept by a shared, back-button or service-worker cache: every response
    # but the static files says no-store, whatever a view set (a chart's ETag still answers If-None-Match).
    if request.endpoint != "static" and "no-store" not in response.headers.get("Cache-Control", ""):
        response.headers["Cache-Control"] = "no-store"
    return response


def roles_required(*roles: Role):
    """Page or endpoint only for these roles; anyone else signed in gets a 404, as if it did not exist."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def sign_in_rules() -> SignInRules:
    """The running app's rules for counting failed sign-ins (accounts.record_sign_in_failure)."""
    config = current_app.config
    return SignInRules(
        # a key of its own, derived from the secret key, for the digests of addresses in sign_in_failure
        key=hmac.new(str(config["SECRET_KEY"]).encode(), b"sign-in failures", hashlib.sha256).digest(),
        pause_after=int(config["LOCKOUT_THRESHOLD"]),
        max_pause_minutes=int(config["LOCKOUT_MINUTES"]),
        account_ceiling=int(config["LOCKOUT_ACCOUNT_CEILING"]),
    )
