"""Absolute links for things that leave the app (invitations, e-mails), built on the configured base URL."""

from __future__ import annotations

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)


def invitation_url(token: str) -> str:
    return external_url("auth.invitation", token=token)
