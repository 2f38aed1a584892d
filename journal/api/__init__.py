"""The JSON API under /api/v1, described by the OpenAPI 3 document flask-smorest builds from the schemas."""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import json_error
from ..schemas import ErrorSchema
from ..security import is_api_request

api = Api()
# The error body as json_error writes it: ``code`` may be a word such as "otp_required" (journal/errors.py).
api.ERROR_SCHEMA = ErrorSchema

PUBLIC = {"security": []}  # for @blp.doc on the few endpoints that need no bearer token
BODY_METHODS = {"POST", "PUT", "PATCH"}


def refuse_bodies_that_are_not_json():
    """A body over the size limit is a 413 and one that is not JSON a 415, before anything else reads it.

    Without this, the arguments parser passed over a body that was not JSON as if none had been sent, so a
    form-encoded or text/plain body was told its required fields were missing (422), and one over the limit was
    never read, so never refused as too large.
    """
    has_body = request.content_length or "Transfer-Encoding" in request.headers
    if not is_api_request() or request.method not in BODY_METHODS or not has_body:
        return None
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if not request.is_json:
        return json_error(415, "Send the body as JSON, with the header 'Content-Type: application/json'.")
    return None


def init_app(app: Flask) -> None:
    from ..links import IdConverter, id_parameter_schema
    from ..security import csrf
    from . import accounts, alerts, assessments, charts, checkins, exports, mfa, patients, people, sessions

    app.config["API_SPEC_OPTIONS"] = {
        "info": {"description": "Outcome journal for ketamine-assisted therapy. Authenticate with POST /auth/token."},
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    }
    api.init_app(app)
    app.before_request(refuse_bodies_that_are_not_json)
    api.register_converter(IdConverter, id_parameter_schema)
    for module in (accounts, mfa, patients, people, checkins, assessments, alerts, sessions, charts, exports):
        # Bearer tokens only (never the session cookie), so CSRF tokens do not apply here.
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp)
