"""What the journal keeps on a shared phone, and what binds each piece of it to one person.

Phones are shared (a partner's, a family tablet, a clinic loaner), so nothing kept in the browser may outlive the
sign-in it was made in, or be read or sent by somebody else:

- The **person cookie** names one sign-in. It is set beside the session cookie, with the same lifetime, and is
  readable by the service worker (not HttpOnly; it is no credential by itself), which keeps offline copies only
  in a cache named for it and deletes every other one. A session that arrives without it, or with another
  sign-in's, is signed out: so a browser whose cookies were cleared, or a sign-out made offline (the page
  deletes the cookie), leaves nothing behind that still opens the account.
- The **queue owner** tag and **queue key** belong to an account. An entry queued offline is encrypted with the
  key (AES-GCM in the page) and stored under the tag, and the tag is sent with the form: the server refuses an
  entry whose tag is another account's. Another account's pages carry another key, so they can neither read
  nor send it; the owner's pages, in any later sign-in, can.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import Flask, current_app, request, session
from flask_login import current_user

from .models import User

PERSON_COOKIE = "journal_person"
_SESSION_KEY = "person_tag"


def _derived(purpose: str, user: User) -> bytes:
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, f"journal.device.{purpose}:{user.id}".encode(), hashlib.sha256).digest()


def queue_owner(user: User) -> str:
    """The opaque tag stored with this account's queued entries and sent with its check-in forms."""
    return base64.urlsafe_b64encode(_derived("queue-owner", user)[:18]).decode()


def queue_key(user: User) -> str:
    """The AES-256 key (base64url) with which this account's pages encrypt what they queue on the phone."""
    return base64.urlsafe_b64encode(_derived("queue-key", user)).decode().rstrip("=")


def start_person() -> None:
    """Called at sign-in (a fresh session): a new tag, so nothing kept for an earlier sign-in is used again."""
    session[_SESSION_KEY] = secrets.token_urlsafe(18)


def person_matches() -> bool:
    """Does this signed-in request come with its sign-in's person cookie?"""
    tag = session.get(_SESSION_KEY)
    return bool(tag) and hmac.compare_digest(request.cookies.get(PERSON_COOKIE, ""), tag)


def set_person_cookie(response):
    """After every page: the signed-in person's cookie renewed with the session's, anyone else's removed."""
    if request.path.startswith(("/api/", "/static/")):
        return response
    tag = session.get(_SESSION_KEY) if current_user.is_authenticated else None
    app: Flask = current_app
    if tag:
        lifetime = app.permanent_session_lifetime if session.permanent else None
        response.set_cookie(
            PERSON_COOKIE,
            tag,
            max_age=int(lifetime.total_seconds()) if lifetime else None,
            secure=app.config["SESSION_COOKIE_SECURE"],
            httponly=False,  # read by the service worker and the page: it names a cache, and opens nothing alone
            samesite="Lax",
        )
    elif PERSON_COOKIE in request.cookies:
        response.delete_cookie(PERSON_COOKIE, secure=app.config["SESSION_COOKIE_SECURE"], samesite="Lax")
    return response


def _page_values() -> dict:
    """For base.html: the signed-in patient's queue tag and key, which their pages give journal.js."""
    if not (current_user.is_authenticated and current_user.role == "patient"):
        return {}
    return {"queue_owner": queue_owner(current_user), "queue_key": queue_key(current_user)}


def init_app(app: Flask) -> None:
    app.context_processor(_page_values)
