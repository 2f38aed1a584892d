"""Absolute links for things that leave the app (invitations, e-mails), built on the configured base URL."""

from __future__ import annotations

from flask import current_app, url_for
from werkzeug.routing import IntegerConverter


def external_url(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)


def invitation_url(token: str) -> str:
    return external_url("auth.invitation", token=token)


class IdConverter(IntegerConverter):
    """``<id:name>`` in a route: a record id, 1 to 2**31 - 1. A larger number names nothing, so the route
    answers 404 instead of passing the database a value it refuses (PostgreSQL's integer is 32-bit)."""

    MAX = 2**31 - 1

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=self.MAX)


def id_parameter_schema(_converter) -> dict:
    """How an ``<id:...>`` path parameter appears in the OpenAPI document."""
    return {"type": "integer", "minimum": 1, "maximum": IdConverter.MAX}
