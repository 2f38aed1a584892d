"""The JSON API under /api/v1, described by the OpenAPI 3 document flask-smorest builds from the schemas."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

api = Api()

PUBLIC = {"security": []}  # for @blp.doc on the few endpoints that need no bearer token


def init_app(app: Flask) -> None:
    from ..links import IdConverter, id_parameter_schema
    from ..security import csrf
    from . import accounts, alerts, assessments, charts, checkins, exports, patients, sessions

    app.config["API_SPEC_OPTIONS"] = {
        "info": {"description": "Outcome journal for ketamine-assisted therapy. Authenticate with POST /auth/token."},
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    }
    api.init_app(app)
    api.register_converter(IdConverter, id_parameter_schema)
    for module in (accounts, patients, checkins, assessments, alerts, sessions, charts, exports):
        # Bearer tokens only (never the session cookie), so CSRF tokens do not apply here.
        csrf.exempt(module.blp)
        api.register_blueprint(module.blp)
